"""Live update: a new ferry process takes the running guest over.

Every test runs the test guest with RAM and disk load and ends with both
oracles: the guest's memory verifier (corrupt-pages 0, one boot) and its
disk verifier (sectors verified after the update, corrupt-sectors 0, no
I/O error).  Failures come as a table: each fault names where the live
update ends and which process serves the guest afterwards; "never in two
processes" is checked by the guest's own counters (a second runner would
corrupt its verification) and by the process table.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.live_update import (PHASES, UpdatableVM, alive,  # noqa: E402
                               children)
from pylib.oracle import ram_digest  # noqa: E402
from pylib.procfs import fd_count, rss_kib  # noqa: E402
from pylib.qmp import QMPError  # noqa: E402
from pylib.vm import build_dir, kvm_available  # noqa: E402
from pylib.waits import (free_port, wait_for, wait_migration_end,  # noqa: E402
                         wait_verified)

# How many live updates the sequential test makes; `make soak` sets 50.
SEQUENTIAL = int(os.environ.get('FERRY_LIVE_UPDATE_COUNT', '5'))


def make_image(directory):
    path = os.path.join(directory, 'disk.img')
    subprocess.run([os.path.join(build_dir(), 'ferry-img'), 'create', path,
                    '64M'], check=True, capture_output=True)
    return path


class LiveUpdateBase(unittest.TestCase):
    mem = '256M'

    def setUp(self):
        if not kvm_available():
            self.skipTest('/dev/kvm is not usable: the test guest verifies '
                          'its RAM and disk under KVM')
        self.tmp = tempfile.mkdtemp(prefix='ferry-lu-')
        self.image = make_image(self.tmp)
        self.pidfile = os.path.join(self.tmp, 'ferry.pid')
        self.vms = []

    def tearDown(self):
        for vm in self.vms:
            vm.close()
        subprocess.run(['rm', '-rf', self.tmp])

    def start_vm(self, extra=(), paused=False, mem=None, attach_ms=None):
        args = ['-blockdev', f'driver=file,node-name=f0,filename={self.image}']
        drive = 'f0'
        if attach_ms is not None:
            # a slow storage backend: attaching takes that long
            args += ['-blockdev', 'driver=blkdelay,node-name=slow,file=f0,'
                                  f'attach-latency-ms={attach_ms}']
            drive = 'slow'
        args += ['-device', f'pvblk,drive={drive},id=disk0',
                 '-pidfile', self.pidfile, *extra]
        vm = UpdatableVM(mem=mem or self.mem, smp=2,
                         append='dirty-rate=16M disk-rate=2M',
                         paused=paused, extra_args=args)
        self.vms.append(vm)
        return vm

    def ready(self, vm):
        self.assertTrue(wait_verified(vm, 1, 120), 'the guest never verified '
                        'its memory')
        return self.verified_more(vm)

    def verified_more(self, vm):
        """Waits for another full memory pass and more verified sectors;
        checks both oracles and that the guest did not restart."""
        before = vm.qmp.cmd('x-query-workload')
        grown = wait_for(
            lambda: (lambda w: w['full-verify-passes'] >
                     before['full-verify-passes'] and
                     w['disk-sectors-verified'] >
                     before['disk-sectors-verified'] + 64)(
                vm.qmp.cmd('x-query-workload')), 120, 0.2)
        after = vm.qmp.cmd('x-query-workload')
        self.assertTrue(grown, f'the guest made no progress: {after}')
        for key in ('corrupt-pages', 'corrupt-sectors', 'disk-io-errors'):
            self.assertEqual(after[key], 0, after)
        self.assertEqual(after['boots'], 1, after)
        return after

    def pidfile_pid(self):
        with open(self.pidfile) as f:
            return int(f.read())

    def assert_completed(self, vm, seen, info, old_pid):
        self.assertEqual([s['status'] for s in seen], PHASES, seen)
        self.assertEqual(info['status'], 'completed', info)
        self.assertNotEqual(info['pid'], old_pid)
        self.assertGreater(info['downtime-us'], 0)
        self.assertFalse(alive(old_pid), 'the predecessor did not exit')
        self.assertEqual(self.pidfile_pid(), info['pid'])


class LiveUpdate(LiveUpdateBase):

    def hmp_connect(self, path):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(path)
        self.addCleanup(sock.close)
        self.assertIn(b'(qemu) ', self.read_until(sock, b'(qemu) '))
        return sock

    @staticmethod
    def read_until(sock, mark):
        data = b''
        while mark not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data

    def test_guest_moves_with_its_connections(self):
        hmp_path = os.path.join(self.tmp, 'hmp.sock')
        vm = self.start_vm(extra=['-monitor',
                                  f'unix:{hmp_path},server=on,wait=off'])
        watcher = vm.new_client()   # connected before, only listening
        hmp = self.hmp_connect(hmp_path)
        hmp.sendall(b'info sta')    # half a command line, before
        self.ready(vm)
        old = vm.pid
        seen, info = vm.live_update()
        self.assert_completed(vm, seen, info, old)
        self.assertEqual(vm.old_status, 0, 'the predecessor must exit 0')
        # the same connections, still subscribed: no disconnect, no greeting
        statuses = []
        while not statuses or statuses[-1] != 'completed':
            statuses.append(watcher.wait_event('LIVE_UPDATE', 30)['data']
                            ['status'])
        self.assertEqual(statuses, PHASES)
        self.assertEqual(watcher.cmd('query-status')['status'], 'running')
        # the human monitor's half line goes on in the successor
        hmp.sendall(b'tus\n')
        self.assertIn(b'VM status: running', self.read_until(hmp, b'(qemu) '))
        self.assertEqual(vm.qmp.cmd('query-live-update')['pid'], info['pid'])
        # a new client reaches the successor on the same socket
        self.assertEqual(vm.new_client().cmd('query-live-update')['pid'],
                         info['pid'])
        self.assertEqual(
            {b['inserted']['x-state'] for b in vm.qmp.cmd('query-block')},
            {'active'})
        self.verified_more(vm)

    def test_stopped_guest_keeps_every_byte(self):
        """A paused guest stays paused, and its RAM is the same memory."""
        vm = self.start_vm()
        self.ready(vm)
        vm.qmp.cmd('stop')
        before = ram_digest(vm)
        seen, info = vm.live_update()
        self.assertEqual(info['status'], 'completed', info)
        self.assertEqual(vm.qmp.cmd('query-status')['status'], 'paused')
        self.assertEqual(ram_digest(vm), before)
        vm.qmp.cmd('cont')
        self.verified_more(vm)

    def test_ferryctl_follows_the_phases(self):
        vm = self.start_vm()
        self.ready(vm)
        old = vm.pid
        out = subprocess.run([os.path.join(build_dir(), 'ferryctl'), '-s',
                              vm.qmp_path, 'live-update', '-b',
                              os.path.join(build_dir(), 'ferry')],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        for phase in ('warming', 'completed'):
            self.assertIn(phase, out.stdout)
        info = vm.qmp.cmd('query-live-update')
        vm._followed(info['pid'])
        self.assertNotEqual(info['pid'], old)
        self.verified_more(vm)

    def test_sighup_updates(self):
        vm = self.start_vm()
        self.ready(vm)
        old = vm.pid
        vm.qmp.clear_events()
        os.kill(old, signal.SIGHUP)
        seen, info = vm.wait_update()
        self.assert_completed(vm, seen, info, old)
        self.verified_more(vm)


# fault -> (where it fails, what error-desc says)
FAULTS = {
    'crash-after-warming': 'exited while warming',
    # it dies while the predecessor sends the cutover, or just after
    'crash-after-ready': 'the cutover',
    'crash-after-cutover': 'after the cutover',
    'bad-version': 'handoff version',
}


class FaultGrid(LiveUpdateBase):
    """Each fault ends with the predecessor serving, same pid, the
    successor gone, the pidfile unchanged and the guest intact."""

    def assert_predecessor_serves(self, vm, pid, why, info):
        self.assertEqual(info['status'], 'failed', info)
        self.assertIn(why, info.get('error-desc', ''), info)
        self.assertEqual(info['pid'], pid)
        self.assertEqual(vm.pid, pid)
        self.assertTrue(wait_for(lambda: not children(pid), 10, 0.05),
                        f'a successor is left: {children(pid)}')
        self.assertEqual(self.pidfile_pid(), pid)
        self.assertEqual(vm.qmp.cmd('query-status')['status'], 'running')
        self.assertEqual(
            {b['inserted']['x-state'] for b in vm.qmp.cmd('query-block')},
            {'active'})
        self.verified_more(vm)

    def test_successor_faults(self):
        vm = self.start_vm()
        self.ready(vm)
        for fault, why in FAULTS.items():
            with self.subTest(fault=fault):
                seen, info = vm.live_update(**{'x-fault': fault})
                self.assert_predecessor_serves(vm, vm.proc.pid, why, info)
        # and then an update that works
        seen, info = vm.live_update()
        self.assert_completed(vm, seen, info, vm.proc.pid)
        self.verified_more(vm)

    def test_successor_that_cannot_start(self):
        vm = self.start_vm()
        self.ready(vm)
        seen, info = vm.live_update(binary='/bin/false')
        self.assert_predecessor_serves(vm, vm.proc.pid, 'exited while '
                                       'warming', info)
        missing = os.path.join(self.tmp, 'no-such-ferry')
        with self.assertRaises(QMPError) as e:
            vm.qmp.cmd('live-update', binary=missing)
        self.assertIn(missing, str(e.exception))
        self.assertEqual(vm.qmp.cmd('query-live-update')['pid'], vm.proc.pid)
        self.verified_more(vm)

    def test_predecessor_killed_while_warming(self):
        """The successor notices and leaves; nothing of it is left."""
        vm = self.start_vm(attach_ms=3000)
        self.ready(vm)
        vm.start_update()
        self.assertEqual(vm.qmp.wait_event('LIVE_UPDATE', 30)['data']
                         ['status'], 'warming')
        successors = wait_for(lambda: children(vm.pid), 10, 0.02)
        self.assertTrue(successors)
        vm.proc.kill()
        vm.proc.wait()
        self.assertTrue(wait_for(lambda: not any(alive(p) for p in successors),
                                 30, 0.05), 'the successor outlived its '
                        'predecessor while warming')

    def test_predecessor_killed_after_cutover(self):
        """The successor has the device state: it takes over alone."""
        vm = self.start_vm()
        self.ready(vm)
        old = vm.pid
        vm.start_update(**{'x-fault': 'predecessor-crash-after-cutover'})
        self.assertEqual(vm.proc.wait(60), -signal.SIGKILL)
        new = wait_for(lambda: vm.qmp.cmd('query-live-update')['status'] ==
                       'completed', 30, 0.05)
        self.assertTrue(new)
        info = vm.qmp.cmd('query-live-update')
        self.assertNotEqual(info['pid'], old)
        vm.pid = info['pid']
        self.verified_more(vm)


class CprTransfer(LiveUpdateBase):
    """QEMU 10's cpr-transfer procedure, step by step, with ferry."""

    def channel(self, kind, path):
        return {'channel-type': kind,
                'addr': {'transport': 'socket', 'type': 'unix', 'path': path}}

    def test_qemu_procedure(self):
        vm = self.start_vm()
        self.ready(vm)
        cpr = os.path.join(self.tmp, 'cpr.sock')
        main = os.path.join(self.tmp, 'main.sock')
        # the operator starts the new process: the same command line plus
        # the cpr channel; it waits there before opening anything
        with open(os.path.join(self.tmp, 'new.log'), 'wb') as log:
            new = subprocess.Popen(
                vm.args + ['-incoming', json.dumps(self.channel('cpr', cpr)),
                           '-incoming', 'defer'],
                cwd=vm.tmpdir, stdin=subprocess.DEVNULL, stdout=log,
                stderr=log)
        try:
            self.assertTrue(wait_for(lambda: os.path.exists(cpr), 30, 0.02))
            vm.qmp.cmd('migrate-set-parameters', mode='cpr-transfer')
            vm.qmp.clear_events()
            vm.qmp.cmd('migrate', channels=[self.channel('main', main),
                                            self.channel('cpr', cpr)])
            seen, info = vm.wait_update()
            self.assertEqual([s['status'] for s in seen], PHASES, seen)
            self.assertEqual(info['pid'], new.pid)
            self.assertEqual(vm.old_status, 0)
            # QEMU's last step on the new process: nothing left to do
            vm.qmp.cmd('migrate-incoming', uri=f'unix:{main}')
            self.assertEqual(self.pidfile_pid(), new.pid)
            self.verified_more(vm)
        finally:
            new.kill()
            new.wait()

    def test_refusals(self):
        vm = self.start_vm()
        self.ready(vm)
        cpr = os.path.join(self.tmp, 'nobody.sock')
        with self.assertRaises(QMPError) as e:
            vm.qmp.cmd('migrate', channels=[self.channel('cpr', cpr)])
        self.assertIn("'main' channel is required", str(e.exception))
        with self.assertRaises(QMPError) as e:
            vm.qmp.cmd('migrate', channels=[self.channel('main', cpr),
                                            self.channel('cpr', cpr)])
        self.assertIn('needs mode cpr-transfer', str(e.exception))
        vm.qmp.cmd('migrate-set-parameters', mode='cpr-transfer')
        with self.assertRaises(QMPError) as e:
            vm.qmp.cmd('migrate', channels=[self.channel('main', cpr),
                                            self.channel('cpr', cpr)])
        self.assertIn('cannot connect', str(e.exception))
        with self.assertRaises(QMPError) as e:
            vm.qmp.cmd('migrate-set-parameters', mode='cpr-reboot')
        self.assertIn('cpr-reboot is not supported', str(e.exception))
        self.verified_more(vm)


class LiveUpdateAndMigration(LiveUpdateBase):

    def start_destination(self):
        dst = UpdatableVM(mem=self.mem, smp=2, paused=True,
                          extra_args=['-incoming', 'defer',
                                      '-blockdev', 'driver=file,node-name=f0,'
                                      f'filename={self.image}',
                                      '-device', 'pvblk,drive=f0,id=disk0'])
        self.vms.append(dst)
        return dst

    def migrate_to(self, src, dst, port):
        """A precopy to @dst listening on @port, then its guest verifies."""
        src.qmp.cmd('migrate', uri=f'tcp:127.0.0.1:{port}')
        self.assertEqual(wait_migration_end(src, 180)['status'], 'completed')
        self.assertTrue(wait_for(lambda: dst.qmp.cmd('query-migrate')
                                 .get('status') == 'completed', 30))
        dst.qmp.cmd('cont')
        self.verified_more(dst)

    def test_waiting_destination_keeps_its_address(self):
        """A destination listening for its source is updated: the
        successor listens on the same socket, and the migration that comes
        afterwards lands there."""
        dst = self.start_destination()
        port = free_port()
        dst.qmp.cmd('migrate-incoming', uri=f'tcp:127.0.0.1:{port}')
        old = dst.pid
        seen, info = dst.live_update()
        self.assertEqual(info['status'], 'completed', info)
        self.assertNotEqual(info['pid'], old)
        self.assertEqual(dst.qmp.cmd('query-status')['status'], 'inmigrate')
        src = self.start_vm()
        self.ready(src)
        self.migrate_to(src, dst, port)

    def test_refused_during_migration_then_migrates_after(self):
        src = self.start_vm()
        self.ready(src)
        dst = self.start_destination()
        port = free_port()
        src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': 8 << 20})
        dst.qmp.cmd('migrate-incoming', uri=f'tcp:127.0.0.1:{port}')
        src.qmp.cmd('migrate', uri=f'tcp:127.0.0.1:{port}')
        with self.assertRaises(QMPError) as e:
            src.qmp.cmd('live-update')
        self.assertIn('migration', str(e.exception))
        src.qmp.cmd('migrate_cancel')
        self.assertEqual(wait_migration_end(src, 60)['status'], 'cancelled')
        dst.close()
        self.vms.remove(dst)
        self.verified_more(src)

        seen, info = src.live_update()
        self.assertEqual(info['status'], 'completed', info)
        dst = self.start_destination()
        port = free_port()
        src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': 1 << 40})
        dst.qmp.cmd('migrate-incoming', uri=f'tcp:127.0.0.1:{port}')
        self.migrate_to(src, dst, port)


class Sequential(LiveUpdateBase):

    def test_sequential_updates_leak_nothing(self):
        vm = self.start_vm()
        self.ready(vm)
        fds, rss = fd_count(vm.pid), rss_kib(vm.pid)
        downtimes = []
        for i in range(SEQUENTIAL):
            old = vm.pid
            seen, info = vm.live_update()
            self.assert_completed(vm, seen, info, old)
            downtimes.append(info['downtime-us'])
            self.verified_more(vm)
        print(f'{SEQUENTIAL} live updates: downtime us min {min(downtimes)} '
              f'max {max(downtimes)}; fds {fds} -> {fd_count(vm.pid)}; '
              f'RSS KiB {rss} -> {rss_kib(vm.pid)}')
        self.assertEqual(fd_count(vm.pid), fds)
        # guest RAM is shared, not copied: RSS may not grow by a guest
        self.assertLess(rss_kib(vm.pid), rss + 64 * 1024)


if __name__ == '__main__':
    unittest.main()
