"""Precopy live migration between two real ferry processes: every
transport, cancel, a destination that dies, and a corrupt stream.  Each
test ends with the guest's own verifier (and, where both sides are
stopped, equal RAM digests)."""

import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.oracle import assert_moved_intact  # noqa: E402
from pylib.procfs import stop_process  # noqa: E402
from pylib.waits import (free_port, wait_for, wait_migration_end,  # noqa: E402
                         wait_verified)
from pylib.vm import FerryVM, kvm_available  # noqa: E402
from pylib.qmp import QMPError  # noqa: E402

class MigrationBase:
    accel = 'soft'
    mem = '256M'
    rate = '16M'

    def setUp(self):
        if self.accel == 'kvm' and not kvm_available():
            self.skipTest('/dev/kvm is not usable')
        self.src = self.start_vm()
        self.dst = self.start_vm(incoming=True)
        for vm in (self.src, self.dst):
            vm.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'events', 'state': True}])
        self.wait_verified(self.src)

    def tearDown(self):
        for vm in (getattr(self, 'src', None), getattr(self, 'dst', None)):
            if vm:
                vm.close()

    def start_vm(self, incoming=False, mem=None):
        extra = ['-incoming', 'defer'] if incoming else []
        return FerryVM(accel=self.accel, mem=mem or self.mem, smp=2,
                       append=f'dirty-rate={self.rate}', paused=incoming,
                       extra_args=extra)

    def wait_verified(self, vm, passes=1, timeout=60):
        self.assertTrue(wait_verified(vm, passes, timeout),
                        f'no verify pass: {vm.qmp.cmd("x-query-workload")}')

    def wait_end(self, vm, timeout=120):
        info = wait_migration_end(vm, timeout)
        self.assertIsNotNone(info, 'migration did not end')
        return info

    def migrate(self, uri_out, uri_in=None):
        self.dst.qmp.cmd('migrate-incoming', uri=uri_in or uri_out)
        self.src.qmp.cmd('migrate', uri=uri_out)
        return self.wait_end(self.src)

    def save_snapshot(self):
        """Migrates the source to a file; returns query-migrate and the path."""
        path = os.path.join(self.src.tmpdir, 'snapshot')
        self.src.qmp.cmd('migrate', uri=f'file:{path}')
        info = self.wait_end(self.src)
        self.assertEqual(info['status'], 'completed', info.get('error-desc'))
        return info, path

    def assert_moved_intact(self, info):
        self.assertEqual(info['status'], 'completed', info.get('error-desc'))
        assert_moved_intact(self, self.src, self.dst)

    def assert_source_runs_intact(self):
        self.assertEqual(self.src.qmp.cmd('query-status')['status'], 'running')
        before = self.src.qmp.cmd('x-query-workload')
        self.wait_verified(self.src, before['full-verify-passes'] + 1)
        self.assertEqual(self.src.qmp.cmd('x-query-workload')['corrupt-pages'], 0)


class CommonTransports:
    """Transports every accelerator's tests cover."""

    def test_unix(self):
        path = os.path.join(self.dst.tmpdir, 'mig.sock')
        self.assert_moved_intact(self.migrate(f'unix:{path}'))

    def test_file_snapshot(self):
        info, path = self.save_snapshot()
        self.dst.qmp.cmd('migrate-incoming', uri=f'file:{path}')
        self.assert_moved_intact(info)


class Transports(CommonTransports, MigrationBase, unittest.TestCase):

    def test_exec(self):
        path = os.path.join(self.dst.tmpdir, 'stream')
        os.mkfifo(path)
        self.dst.qmp.cmd('migrate-incoming', uri=f'exec:cat {path}')
        self.src.qmp.cmd('migrate', uri=f'exec:cat > {path}')
        self.assert_moved_intact(self.wait_end(self.src))


    def test_fd(self):
        listener = socket.socket(socket.AF_UNIX)
        path = os.path.join(self.dst.tmpdir, 'fd.sock')
        listener.bind(path)
        listener.listen(1)
        out = socket.socket(socket.AF_UNIX)
        out.connect(path)
        inc, _ = listener.accept()
        # both ends passed with SCM_RIGHTS, the way libvirt does it
        for vm, sock in ((self.src, out), (self.dst, inc)):
            c = vm.new_client()
            socket.send_fds(c.sock, [b'{"execute": "getfd", "arguments": '
                                     b'{"fdname": "migrate"}}'], [sock.fileno()])
            self.assertIn('return', c.recv())
            sock.close()
        listener.close()
        self.assert_moved_intact(self.migrate('fd:migrate'))


class Tcp(MigrationBase, unittest.TestCase):
    """tcp with the soft accelerator (the KVM case below is the big one)."""

    def test_tcp(self):
        port = free_port()
        info = self.migrate(f'tcp:127.0.0.1:{port}')
        self.assertLessEqual(info['downtime'], 300)
        self.assert_moved_intact(info)


class KVMTransports(CommonTransports, MigrationBase, unittest.TestCase):
    accel = 'kvm'
    mem = '512M'
    rate = '64M'


class KVMTcpOneGig(Tcp):
    """The issue's case: 1 GiB dirtying 128 MB/s, destination -S, tcp."""
    accel = 'kvm'
    mem = '1G'
    rate = '128M'


class Failures(MigrationBase, unittest.TestCase):
    def slow_migration(self):
        self.src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': 16 << 20})
        port = free_port()
        self.dst.qmp.cmd('migrate-incoming', uri=f'tcp:127.0.0.1:{port}')
        self.src.qmp.cmd('migrate', uri=f'tcp:127.0.0.1:{port}')
        self.assertTrue(wait_for(lambda: self.src.qmp.cmd('query-migrate')
                                 ['status'] == 'active', 10))

    def test_cancel_while_active(self):
        self.slow_migration()
        self.src.qmp.cmd('migrate_cancel')
        self.assertEqual(self.wait_end(self.src)['status'], 'cancelled')
        self.assert_source_runs_intact()

    def test_cancel_in_pre_switchover(self):
        self.src.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'pause-before-switchover', 'state': True}])
        path = os.path.join(self.dst.tmpdir, 'mig.sock')
        self.dst.qmp.cmd('migrate-incoming', uri=f'unix:{path}')
        self.src.qmp.cmd('migrate', uri=f'unix:{path}')
        self.assertTrue(wait_for(lambda: self.src.qmp.cmd('query-migrate')
                                 ['status'] == 'pre-switchover', 60))
        self.assertEqual(self.src.qmp.cmd('query-status')['status'], 'finish-migrate')
        self.src.qmp.cmd('migrate_cancel')
        self.assertEqual(self.wait_end(self.src)['status'], 'cancelled')
        self.assert_source_runs_intact()

    def test_continue_after_pre_switchover(self):
        self.src.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'pause-before-switchover', 'state': True},
            {'capability': 'return-path', 'state': True}])
        self.dst.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'return-path', 'state': True}])
        path = os.path.join(self.dst.tmpdir, 'mig.sock')
        self.dst.qmp.cmd('migrate-incoming', uri=f'unix:{path}')
        self.src.qmp.cmd('migrate', uri=f'unix:{path}')
        self.assertTrue(wait_for(lambda: self.src.qmp.cmd('query-migrate')
                                 ['status'] == 'pre-switchover', 60))
        with self.assertRaises(QMPError):
            self.src.qmp.cmd('migrate-continue', state='active')
        self.src.qmp.cmd('migrate-continue', state='pre-switchover')
        self.assert_moved_intact(self.wait_end(self.src))

    def test_cancel_in_setup(self):
        """A peer that never accepts holds the connect (setup) until TCP
        gives up; migrate_cancel must not wait for that."""
        listener = socket.socket()
        listener.bind(('127.0.0.1', 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):      # fill the accept queue
                c = socket.socket()
                c.setblocking(False)
                c.connect_ex(('127.0.0.1', port))
                fillers.append(c)
            self.src.qmp.cmd('migrate', uri=f'tcp:127.0.0.1:{port}')
            time.sleep(1)
            self.assertEqual(self.src.qmp.cmd('query-migrate')['status'], 'setup')
            start = time.monotonic()
            self.src.qmp.cmd('migrate_cancel')
            self.assertEqual(self.wait_end(self.src, 10)['status'], 'cancelled')
            self.assertLess(time.monotonic() - start, 5)
            self.assert_source_runs_intact()
        finally:
            for c in fillers:
                c.close()
            listener.close()

    def test_cancel_in_device(self):
        """The source waits in 'device' for the destination's SHUT; a frozen
        destination never sends it, and cancelling must resume the guest."""
        for vm in (self.src, self.dst):
            vm.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'return-path', 'state': True}])
        self.src.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'pause-before-switchover', 'state': True}])
        path = os.path.join(self.dst.tmpdir, 'mig.sock')
        self.dst.qmp.cmd('migrate-incoming', uri=f'unix:{path}')
        self.src.qmp.cmd('migrate', uri=f'unix:{path}')
        self.assertTrue(wait_for(lambda: self.src.qmp.cmd('query-migrate')
                                 ['status'] == 'pre-switchover', 60))
        self.assertTrue(stop_process(self.dst.proc.pid))
        try:
            self.src.qmp.cmd('migrate-continue', state='pre-switchover')
            self.assertTrue(wait_for(lambda: self.src.qmp.cmd('query-migrate')
                                     ['status'] == 'device', 10))
            time.sleep(0.5)     # still waiting for SHUT
            self.assertEqual(self.src.qmp.cmd('query-migrate')['status'], 'device')
            self.src.qmp.cmd('migrate_cancel')
            self.assertEqual(self.wait_end(self.src)['status'], 'cancelled')
            self.assert_source_runs_intact()
        finally:
            os.kill(self.dst.proc.pid, signal.SIGKILL)

    def test_destination_killed(self):
        self.slow_migration()
        os.kill(self.dst.proc.pid, signal.SIGKILL)
        info = self.wait_end(self.src)
        self.assertEqual(info['status'], 'failed')
        self.assertTrue(info.get('error-desc'))
        self.assert_source_runs_intact()

    def test_second_migrate_refused(self):
        self.slow_migration()
        with self.assertRaises(QMPError) as cm:
            self.src.qmp.cmd('migrate', uri='unix:/nonexistent')
        self.assertIn('in progress', cm.exception.desc)
        self.src.qmp.cmd('migrate_cancel')
        self.wait_end(self.src)

    def test_connection_refused(self):
        self.src.qmp.cmd('migrate', uri=f'tcp:127.0.0.1:{free_port()}')
        info = self.wait_end(self.src)
        self.assertEqual(info['status'], 'failed')
        self.assertIn('127.0.0.1', info['error-desc'])
        self.assert_source_runs_intact()

    def test_corrupt_stream_never_runs(self):
        _, path = self.save_snapshot()
        with open(path, 'r+b') as f:        # break the configuration section
            f.seek(14)
            f.write(b'X')
        self.dst.qmp.cmd('migrate-incoming', uri=f'file:{path}',
                         **{'exit-on-error': False})
        info = self.wait_end(self.dst)
        self.assertEqual(info['status'], 'failed')
        self.assertIn('machine type', info['error-desc'])
        self.assertEqual(self.dst.qmp.cmd('query-status')['status'], 'inmigrate')
        with self.assertRaises(QMPError):
            self.dst.qmp.cmd('cont')

    def test_corrupt_stream_exits_by_default(self):
        path = os.path.join(self.src.tmpdir, 'snapshot')
        with open(path, 'wb') as f:
            f.write(b'QEVM\x00\x00\x00\x09')
        self.dst.qmp.cmd('migrate-incoming', uri=f'file:{path}')
        self.assertEqual(self.dst.proc.wait(20), 1)
        self.assertIn('version 9', self.dst.stderr_text())


if __name__ == '__main__':
    unittest.main()
