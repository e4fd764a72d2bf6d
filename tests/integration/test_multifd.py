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
from pylib.qmp import QMPError  # noqa: E402
from pylib.relay import Relay  # noqa: E402
from pylib.vm import FerryVM, require_disk_workload_and_postcopy  # noqa: E402
from pylib.waits import (free_port, wait_for, wait_migration_end,  # noqa: E402
                         wait_verified)
from test_block_migration import file_disk, make_image  # noqa: E402

MEM = '128M'
MULTIFD_MAGIC = 0x11223344

# (transport, channels, compression, zero-copy): small enough for ~2 min
MATRIX = [
    ('tcp', 1, 'none', False),
    ('tcp', 2, 'none', False),
    ('tcp', 4, 'none', False),
    ('unix', 1, 'none', False),
    ('unix', 2, 'none', False),
    ('unix', 4, 'none', False),
]


def multifd_init(channel_id, magic=MULTIFD_MAGIC, version=1):
    """QEMU's MultiFDInit_t: magic, version, uuid (ferry: zero), id."""
    return struct.pack('>II16sB39x', magic, version, bytes(16), channel_id)


class MultifdBase:
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
                     append='dirty-rate=16M disk-rate=2M',
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


class Matrix(MultifdBase, unittest.TestCase):
    def run_case(self, transport, channels, compression, zero_copy):
        self.enable(channels, compression, zero_copy)
        uri = self.uri(transport)
        self.dst.qmp.cmd('migrate-incoming', uri=uri)
        self.src.qmp.cmd('migrate', uri=uri)
        info = self.wait_end(self.src)
        self.assertEqual(info['status'], 'completed', info.get('error-desc'))
        self.assertGreater(info['ram']['multifd-bytes'], 64 << 20, info)
        assert_moved_intact(self, self.src, self.dst)
        self.assert_disk_intact()


def _add_matrix_tests():
    for transport, channels, compression, zero_copy in MATRIX:
        name = (f'test_{transport}_{channels}ch_{compression}'
                f'{"_zerocopy" if zero_copy else ""}')
        setattr(Matrix, name,
                lambda self, a=(transport, channels, compression, zero_copy):
                self.run_case(*a))


_add_matrix_tests()


if __name__ == '__main__':
    unittest.main()
