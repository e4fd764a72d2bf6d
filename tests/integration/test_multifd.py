"""multifd between two real ferry processes under RAM and disk load: RAM
pages of the precopy passes travel over extra connections while the main
stream keeps the device state and the syncs.  Every migration ends with
equal RAM digests of the stopped guests and the guest's own verifier
(corrupt pages and sectors 0, boots 1); every failure with the source
running and an error that names what went wrong."""

import os
import shutil
import socket
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.oracle import assert_moved_intact  # noqa: E402
from pylib.procfs import fd_count  # noqa: E402
from pylib.qmp import QMPError  # noqa: E402
from pylib.relay import Relay  # noqa: E402
from pylib.vm import FerryVM, require_disk_workload_and_postcopy  # noqa: E402
from pylib.waits import (free_port, wait_for, wait_migration_end,  # noqa: E402
                         wait_verified)
from test_block_migration import file_disk, make_image  # noqa: E402
from test_migration import MigrationBase  # noqa: E402
import test_migration_tls as tls  # noqa: E402
from test_migration_tls import need_certtool, set_tls, tls_sessions  # noqa: E402
from test_postcopy_recovery import RecoveryBase  # noqa: E402

MEM = '128M'
MULTIFD_MAGIC = 0x11223344

# (transport, channels, compression, zero-copy): small enough for ~2 min.
# zlib inflates the guest's default (incompressible) pages at about
# 200 MB/s per core and deflates them (igzip, level 1) at about 180: with
# the guest's vCPUs and a loaded machine, not far above the 16M the guest
# dirties, so those cases dirty 2M (MatrixZlib).
MATRIX = [
    ('tcp', 1, 'none', False),
    ('tcp', 2, 'none', False),
    ('tcp', 4, 'none', False),
    ('unix', 1, 'none', False),
    ('unix', 2, 'none', False),
    ('unix', 4, 'none', False),
    ('tcp', 2, 'zlib', False),
    ('tcp', 4, 'zstd', False),
    ('unix', 1, 'zstd', False),
    ('tcp', 2, 'none', True),
    ('tcp', 4, 'none', True),
]


def multifd_init(channel_id, magic=MULTIFD_MAGIC, version=1):
    """QEMU's MultiFDInit_t: magic, version, uuid (ferry: zero), id."""
    return struct.pack('>II16sB39x', magic, version, bytes(16), channel_id)


class MultifdBase:
    rate = '16M'
    fill = 'incompressible'     # the guest's fill= (the default)

    def setUp(self):
        require_disk_workload_and_postcopy(self)
        self.tmp = tempfile.mkdtemp(prefix='ferry-multifd-')
        self.image = make_image(self.tmp)
        self.relay = None
        self.src = self.start_vm()
        self.dst = self.start_vm(incoming=True)
        self.assertTrue(wait_verified(self.src, 1, 120))

    def tearDown(self):
        if self.relay:
            self.relay.close()
        for vm in (getattr(self, 'src', None), getattr(self, 'dst', None)):
            if vm:
                vm.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_vm(self, incoming=False):
        vm = FerryVM(mem=MEM, smp=2, paused=incoming,
                     append=f'dirty-rate={self.rate} fill={self.fill} '
                            f'disk-rate=2M',
                     extra_args=file_disk(self.image) +
                     (['-incoming', 'defer'] if incoming else []))
        vm.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'events', 'state': True}])
        return vm

    def enable(self, channels=2, compression='none', zero_copy=False,
               extra_caps=(), vms=None):
        caps = [{'capability': 'multifd', 'state': True}]
        caps += [{'capability': c, 'state': True} for c in extra_caps]
        for vm in vms or (self.src, self.dst):
            vm.qmp.cmd('migrate-set-capabilities', capabilities=caps)
            vm.qmp.cmd('migrate-set-parameters', **{
                'multifd-channels': channels,
                'multifd-compression': compression})
        if zero_copy:
            self.src.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'zero-copy-send', 'state': True}])

    def uri(self, transport):
        if transport == 'unix':
            return 'unix:' + os.path.join(self.dst.tmpdir, 'mig.sock')
        return f'tcp:127.0.0.1:{free_port()}'

    def wait_end(self, vm, timeout=120):
        info = wait_migration_end(vm, timeout)
        self.assertIsNotNone(info, 'migration did not end')
        return info

    def assert_source_runs_intact(self):
        self.assertTrue(wait_for(lambda: self.src.qmp.cmd('query-status')
                                 ['status'] == 'running', 10))
        before = self.src.qmp.cmd('x-query-workload')
        w = wait_verified(self.src, before['full-verify-passes'] + 1, 120)
        self.assertTrue(w)
        self.assertEqual(w['corrupt-pages'], 0, w)
        self.assertEqual(w['corrupt-sectors'], 0, w)
        self.assertEqual(w['boots'], 1, w)

    def assert_disk_intact(self):
        w = self.dst.qmp.cmd('x-query-workload')
        for key in ('corrupt-pages', 'corrupt-sectors', 'disk-io-errors'):
            self.assertEqual(w[key], 0, f'{key}: {w}')


class MatrixCase(MultifdBase):
    min_multifd_bytes = 64 << 20    # of a 128 MiB guest's pages

    def run_case(self, transport, channels, compression, zero_copy):
        self.enable(channels, compression, zero_copy)
        uri = self.uri(transport)
        self.dst.qmp.cmd('migrate-incoming', uri=uri)
        self.src.qmp.cmd('migrate', uri=uri)
        info = self.wait_end(self.src)
        self.assertEqual(info['status'], 'completed', info.get('error-desc'))
        self.assertGreater(info['ram']['multifd-bytes'],
                           self.min_multifd_bytes, info)
        if zero_copy:
            # loopback: the kernel defers every zero-copy send to a copy
            missed = info['ram']['dirty-sync-missed-zero-copy']
            self.assertGreaterEqual(missed, 1, info)
            self.assertLessEqual(missed, info['ram']['dirty-sync-count'], info)
            hmp = self.src.qmp.cmd('human-monitor-command',
                                   **{'command-line': 'info migrate'})
            self.assertIn(f'Zero-copy-send fallbacks happened: {missed} '
                          f'times', hmp)
        assert_moved_intact(self, self.src, self.dst)
        self.assert_disk_intact()
        return info


class Matrix(MatrixCase, unittest.TestCase):
    pass


class MatrixZlib(MatrixCase, unittest.TestCase):
    rate = '2M'


class ZeroCopyDirtying(MatrixCase, unittest.TestCase):
    """The guest re-dirties pages while their zero-copy sends are still
    in flight: they go again in a later round, and each round waits for
    its sends' completions before its SYNC, so no older copy lands after
    a newer one."""
    rate = '96M'

    def test_tcp_4ch_zerocopy_dirtying(self):
        info = self.run_case('tcp', 4, 'none', True)
        self.assertGreaterEqual(info['ram']['dirty-sync-count'], 3, info)


class Compressible(MatrixCase, unittest.TestCase):
    """A guest whose pages compress about 4:1 (fill=compressible): zlib
    moves it intact, and what went on the wire, pages and all, is at most
    half of the non-zero pages' bytes (ram.transferred against
    ram.normal-bytes: QEMU 7.2 has no compression counters for multifd)."""
    rate = '2M'
    fill = 'compressible'
    min_multifd_bytes = 16 << 20

    def test_tcp_2ch_zlib_compressible(self):
        info = self.run_case('tcp', 2, 'zlib', False)
        ram = info['ram']
        self.assertGreater(ram['normal-bytes'], 64 << 20, ram)
        self.assertLessEqual(ram['transferred'], ram['normal-bytes'] // 2,
                             ram)
        self.assertLessEqual(ram['multifd-bytes'], ram['normal-bytes'] // 2,
                             ram)


def _add_matrix_tests():
    for transport, channels, compression, zero_copy in MATRIX:
        name = (f'test_{transport}_{channels}ch_{compression}'
                f'{"_zerocopy" if zero_copy else ""}')
        cls = MatrixZlib if compression == 'zlib' else Matrix
        def test(self, a=(transport, channels, compression, zero_copy)):
            self.run_case(*a)
        setattr(cls, name, test)


_add_matrix_tests()


class Failures(MultifdBase, unittest.TestCase):
    """Each ends as a single-channel failure does: the source in failed
    or cancelled and running, the destination failed, within bounds."""

    def start_slow(self, uri_out, uri_in, channels=2, zero_copy=False):
        self.enable(channels, zero_copy=zero_copy)
        self.src.qmp.cmd('migrate-set-parameters',
                         **{'max-bandwidth': 32 << 20})
        self.dst.qmp.cmd('migrate-incoming', uri=uri_in,
                         **{'exit-on-error': False})
        self.src.qmp.cmd('migrate', uri=uri_out)

    def via_relay(self):
        port = free_port()
        self.relay = Relay('127.0.0.1', port).start()
        return self.relay.uri, f'tcp:127.0.0.1:{port}'

    def assert_both_failed(self, src_error, dst_error=None, timeout=30):
        start = time.monotonic()
        info = self.wait_end(self.src, timeout)
        self.assertEqual(info['status'], 'failed', info)
        self.assertIn(src_error, info.get('error-desc', ''))
        if dst_error is not None:
            self.assertTrue(wait_for(lambda: self.dst.qmp.cmd('query-migrate')
                                     .get('status') == 'failed', timeout))
            desc = self.dst.qmp.cmd('query-migrate').get('error-desc', '')
            self.assertIn(dst_error, desc)
        self.assertLess(time.monotonic() - start, timeout)
        self.assert_source_runs_intact()

    def test_cancel(self):
        self.cancel_case(zero_copy=False)

    def test_cancel_zero_copy(self):
        self.cancel_case(zero_copy=True)

    def cancel_case(self, zero_copy):
        before = fd_count(self.src.proc.pid)
        uri = self.uri('tcp')
        self.start_slow(uri, uri, channels=4, zero_copy=zero_copy)
        self.assertTrue(wait_for(lambda: self.src.qmp.cmd('query-migrate')
                                 .get('ram', {}).get('multifd-bytes', 0)
                                 > 8 << 20, 30))
        self.src.qmp.cmd('migrate_cancel')
        self.assertEqual(self.wait_end(self.src, 30)['status'], 'cancelled')
        self.assert_source_runs_intact()
        # every channel closed, every thread joined
        self.assertTrue(wait_for(lambda: fd_count(self.src.proc.pid)
                                 <= before, 10),
                        f'{before} fds before, {fd_count(self.src.proc.pid)} '
                        f'after')

    def test_one_channel_cut(self):
        out, inc = self.via_relay()
        self.start_slow(out, inc, channels=2)
        self.assertTrue(self.relay.wait_connections(3, 10))
        self.assertTrue(self.relay.wait_bytes_up(16 << 20, 30))
        self.assertTrue(self.relay.cut_connection(2))   # multifd channel
        # the destination's channel may be waiting at its SYNC and see the
        # main stream end first
        self.assert_both_failed('multifd channel', '')

    def test_channel_never_served(self):
        """The second multifd channel connects but nobody ever reads it."""
        out, inc = self.via_relay()
        self.relay.stall(after=2)
        self.start_slow(out, inc, channels=2)
        self.assert_both_failed('', 'only 1 of 2 channels connected', 40)

    def test_destination_without_multifd(self):
        uri = self.uri('tcp')
        self.enable(2, vms=[self.src])
        self.dst.qmp.cmd('migrate-incoming', uri=uri,
                         **{'exit-on-error': False})
        self.src.qmp.cmd('migrate', uri=uri)
        self.assert_both_failed('', timeout=30)


class BadInput(MultifdBase, unittest.TestCase):
    """What reaches the destination's listener is untrusted: each bad
    opening fails the incoming migration with an error that says why."""

    CASES = [
        ('wrong magic', [b'GET / HTTP/1.1\r\n\r\n'], 'neither a migration'),
        ('wrong version', [multifd_init(0, version=7)], 'version 7'),
        ('id out of range', [multifd_init(5)], 'id 5 is out of range'),
        ('duplicate id', [multifd_init(1), multifd_init(1)],
         'a second channel with id 1'),
    ]

    def test_bad_openings(self):
        for name, conns, error in self.CASES:
            with self.subTest(name):
                if getattr(self, 'dst', None):
                    self.dst.close()
                self.dst = self.start_vm(incoming=True)
                self.enable(2, vms=[self.dst])
                port = free_port()
                self.dst.qmp.cmd('migrate-incoming',
                                 uri=f'tcp:127.0.0.1:{port}',
                                 **{'exit-on-error': False})
                socks = []
                for data in conns:
                    s = socket.create_connection(('127.0.0.1', port))
                    s.sendall(data)
                    socks.append(s)
                ok = wait_for(lambda: self.dst.qmp.cmd('query-migrate')
                              .get('status') == 'failed', 15)
                info = self.dst.qmp.cmd('query-migrate')
                for s in socks:
                    s.close()
                self.assertTrue(ok, info)
                self.assertIn(error, info.get('error-desc', ''))


class BadParameters(MultifdBase, unittest.TestCase):
    """Each refused with an error that names what is wrong."""

    def setUp(self):    # no migration: one VM is enough
        self.relay = None
        self.tmp = tempfile.mkdtemp(prefix='ferry-multifd-')
        self.src = FerryVM(mem='64M', append='dirty-rate=0')
        self.dst = None

    def test_table(self):
        q = self.src.qmp
        cases = [
            ('channels 0', lambda: q.cmd('migrate-set-parameters',
                                         **{'multifd-channels': 0}),
             'multifd-channels'),
            ('channels 256', lambda: q.cmd('migrate-set-parameters',
                                           **{'multifd-channels': 256}),
             'multifd-channels'),
            ('zlib level 10', lambda: q.cmd('migrate-set-parameters',
                                            **{'multifd-zlib-level': 10}),
             'multifd-zlib-level'),
            ('zstd level 21', lambda: q.cmd('migrate-set-parameters',
                                            **{'multifd-zstd-level': 21}),
             'multifd-zstd-level'),
            ('unknown compression',
             lambda: q.cmd('migrate-set-parameters',
                           **{'multifd-compression': 'lz4'}),
             'lz4'),
            ('exec: with multifd', lambda: self.migrate_multifd('exec:cat'),
             'tcp: or unix:'),
            ('file: with multifd',
             lambda: self.migrate_multifd(f'file:{self.tmp}/x'),
             'tcp: or unix:'),
            ('zero-copy without multifd',
             lambda: self.zero_copy(multifd=False),
             "'zero-copy-send' requires capability 'multifd'"),
            ('zero-copy with zlib',
             lambda: self.zero_copy(params={'multifd-compression': 'zlib'}),
             "non-compressed multifd migration: multifd-compression is "
             "'zlib'"),
            ('zstd with zero-copy',
             lambda: self.zero_copy(after={'multifd-compression': 'zstd'}),
             "multifd-compression is 'zstd'"),
            ('zero-copy over unix:',
             lambda: self.zero_copy(uri=f'unix:{self.tmp}/sock'),
             f"only available over tcp: (MSG_ZEROCOPY is a TCP feature), "
             f"not 'unix:{self.tmp}/sock'"),
            ('zero-copy with TLS',
             lambda: self.zero_copy(params={'tls-creds': 'tls0'}),
             "non-TLS multifd migration: tls-creds is 'tls0'"),
            ('TLS with zero-copy',
             lambda: self.zero_copy(after={'tls-creds': 'tls0'}),
             "tls-creds is 'tls0'"),
            ('multifd off under zero-copy',
             lambda: self.zero_copy(after_caps={'multifd': False}),
             "requires capability 'multifd'"),
        ]
        for name, call, error in cases:
            with self.subTest(name):
                with self.assertRaises(QMPError) as cm:
                    call()
                self.assertIn(error, str(cm.exception))
                q.cmd('migrate-set-capabilities', capabilities=[
                    {'capability': 'zero-copy-send', 'state': False},
                    {'capability': 'multifd', 'state': False}])
                q.cmd('migrate-set-parameters', **{
                    'multifd-compression': 'none', 'tls-creds': ''})
        # each refusal left the source as it was: not migrating
        self.assertEqual(q.cmd('query-migrate').get('status', 'none'),
                         'none')

    def zero_copy(self, multifd=True, params=None, after=None,
                  after_caps=None, uri=None):
        """Sets @params, multifd and zero-copy-send, then @after and
        @after_caps, then migrates to @uri: the step that conflicts
        raises."""
        q = self.src.qmp
        if params:
            q.cmd('migrate-set-parameters', **params)
        caps = [{'capability': 'zero-copy-send', 'state': True}]
        if multifd:
            caps.insert(0, {'capability': 'multifd', 'state': True})
        q.cmd('migrate-set-capabilities', capabilities=caps)
        if after:
            q.cmd('migrate-set-parameters', **after)
        if after_caps:
            q.cmd('migrate-set-capabilities', capabilities=[
                {'capability': c, 'state': v} for c, v in after_caps.items()])
        if uri:
            q.cmd('migrate', uri=uri)

    def migrate_multifd(self, uri):
        self.src.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'multifd', 'state': True}])
        self.src.qmp.cmd('migrate', uri=uri)


class MultifdTls(MigrationBase, unittest.TestCase):
    """Every multifd channel shakes hands as the main stream does."""
    accel = 'kvm'
    mem = MEM

    def setUp(self):
        need_certtool(self)
        try:
            super().setUp()
        except BaseException:
            self.tearDown()
            raise

    start_vm = tls.PrecopyTls.start_vm

    def test_x509_three_channels(self):
        for vm in (self.src, self.dst):
            vm.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'multifd', 'state': True}])
            vm.qmp.cmd('migrate-set-parameters', **{'multifd-channels': 3})
        set_tls(self.src, tls_creds='tls0')
        set_tls(self.dst, tls_creds='tls0', tls_authz='auth-ok')
        info = self.migrate(f'tcp:127.0.0.1:{free_port()}')
        self.assertGreater(info['ram']['multifd-bytes'], 64 << 20, info)
        self.assert_moved_intact(info)
        self.assertEqual(tls_sessions(self.src), 4)


class PostcopyMultifd(RecoveryBase, unittest.TestCase):
    """Precopy over multifd, then postcopy on the main channel; recovery
    after the switchover does not involve multifd."""
    mem = '256M'
    bandwidth = 32 << 20

    def setUp(self):
        super().setUp()
        for vm in (self.src, self.dst):
            vm.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'multifd', 'state': True}])
            vm.qmp.cmd('migrate-set-parameters',
                       **{'multifd-channels': 2})

    def test_postcopy_after_multifd(self):
        self.start_postcopy_migration(after=1.0, direct=True)
        self.unthrottle()
        info = self.finish()
        self.assertGreater(info['ram']['multifd-bytes'], 16 << 20, info)

    def test_recovery(self):
        self.start_postcopy_migration(after=1.0)
        time.sleep(0.3)
        self.assertGreaterEqual(self.link.connections, 3)
        self.cut()
        self.unthrottle()
        self.wait_recovered(self.recover())
        self.finish()


class PostcopyMultifdZeroCopy(PostcopyMultifd):
    """The precopy passes with zero-copy-send: the switchover's last
    round waits for its completions like any other."""

    def setUp(self):
        super().setUp()
        self.src.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'zero-copy-send', 'state': True}])

    test_recovery = None


class PostcopyPreemptMultifd(PostcopyMultifd):
    """The preempt channel is the connection after all multifd ones."""
    preempt = True

    test_recovery = None


if __name__ == '__main__':
    unittest.main()
