"""The http block driver against a real web server: nginx from Debian,
started on loopback by the test, serves a base image made by ferry-img;
the test guest reads it through its pvblk disk and verifies every sector
it reads.  A corrupted sector on the server is caught by the guest, the
VM migrates with its disk on the server, and a server that goes away
turns into I/O errors, never a hung VMM."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.oracle import assert_moved_intact  # noqa: E402
from pylib.vm import FerryVM, build_dir, kvm_available  # noqa: E402
from pylib.waits import free_port, wait_for, wait_migration_end  # noqa: E402
from pylib.webserver import WebServer  # noqa: E402

SECTOR = 512


def http_disk(url):
    return ['-blockdev', f'driver=http,node-name=h0,url={url}',
            '-device', 'pvblk,drive=h0,id=disk0']


class HttpDisk(unittest.TestCase):

    def setUp(self):
        if not kvm_available():
            self.skipTest('/dev/kvm is not usable: the disk workload runs '
                          'in the test guest')
        self.dir = tempfile.mkdtemp(prefix='ferry-http-')
        self.image = os.path.join(self.dir, 'base.img')
        subprocess.run([os.path.join(build_dir(), 'ferry-img'), 'create',
                        self.image, '16M'], check=True, capture_output=True)
        self.vms = []
        self.web = None

    def tearDown(self):
        for vm in self.vms:
            vm.close()
        if self.web:
            self.web.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def serve(self):
        self.web = WebServer(self.dir)
        return self.web.url('base.img')

    def start_vm(self, url, incoming=False):
        vm = FerryVM(mem='256M', smp=2,
                     append='dirty-rate=8M disk-rate=4M', paused=incoming,
                     extra_args=http_disk(url) +
                     (['-incoming', 'defer'] if incoming else []))
        self.vms.append(vm)
        vm.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'return-path', 'state': True}])
        return vm

    def wait_sectors(self, vm, more=2048, timeout=60):
        before = vm.qmp.cmd('x-query-workload')['disk-sectors-verified']
        ok = wait_for(lambda: vm.qmp.cmd('x-query-workload')
                      ['disk-sectors-verified'] >= before + more, timeout, 0.2)
        w = vm.qmp.cmd('x-query-workload')
        self.assertTrue(ok, f'the guest did not read enough: {w}')
        return w

    def test_guest_reads_and_verifies_the_base_image(self):
        vm = self.start_vm(self.serve())
        w = self.wait_sectors(vm)
        self.assertEqual(w['corrupt-sectors'], 0, w)
        self.assertEqual(w['disk-sectors-written'], 0, 'read-only disk')
        [blk] = vm.qmp.cmd('query-block')
        ins = blk['inserted']
        self.assertEqual((ins['drv'], ins['ro'], ins['x-state']),
                         ('http', True, 'active'))
        self.assertEqual(ins['image']['virtual-size'], 16 << 20)
        self.assertEqual(blk['qdev'], 'disk0')

    def test_a_corrupt_sector_on_the_server_is_caught(self):
        # the guest sweeps the whole disk; spoil a few sectors it will read
        with open(self.image, 'r+b') as f:
            for sector in (100, 5000, 20000):
                f.seek(sector * SECTOR + 64)
                f.write(b'\xde\xad' * 8)
        vm = self.start_vm(self.serve())
        ok = wait_for(lambda: vm.qmp.cmd('x-query-workload')
                      ['corrupt-sectors'] > 0, 60, 0.2)
        self.assertTrue(ok, vm.qmp.cmd('x-query-workload'))

    def test_migrates_with_its_disk_on_the_server(self):
        url = self.serve()
        src = self.start_vm(url)
        dst = self.start_vm(url, incoming=True)
        self.wait_sectors(src)
        port = free_port()
        dst.qmp.cmd('migrate-incoming', uri=f'tcp:127.0.0.1:{port}')
        src.qmp.cmd('migrate', uri=f'tcp:127.0.0.1:{port}')
        info = wait_migration_end(src, 120)
        self.assertEqual(info['status'], 'completed', info.get('error-desc'))
        assert_moved_intact(self, src, dst)
        w = self.wait_sectors(dst)
        self.assertEqual((w['corrupt-sectors'], w['disk-io-errors']), (0, 0),
                         w)

    def test_destination_that_cannot_attach_fails_at_once(self):
        """The destination's early attach finds no image (HTTP 404): the
        migration fails while precopy runs, the source keeps its guest."""
        url = self.serve()
        src = self.start_vm(url)
        dst = self.start_vm(self.web.url('missing.img'), incoming=True)
        self.wait_sectors(src, more=256)
        src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': 32 << 20})
        port = free_port()
        dst.qmp.cmd('migrate-incoming', uri=f'tcp:127.0.0.1:{port}')
        src.qmp.cmd('migrate', uri=f'tcp:127.0.0.1:{port}')
        info = wait_migration_end(src, 60)
        self.assertEqual(info['status'], 'failed')
        # long before the 256 MiB at 32 MiB/s could have gone through
        self.assertLess(info['total-time'], 5000, info)
        self.assertEqual(dst.proc.wait(30), 1)
        err = dst.stderr_text()
        self.assertIn('attaching the disks failed', err)
        self.assertIn('404', err)
        self.assertEqual(src.qmp.cmd('query-status')['status'], 'running')
        w = self.wait_sectors(src, more=256)
        self.assertEqual((w['corrupt-sectors'], w['corrupt-pages']), (0, 0))

    def test_server_gone_is_an_io_error_not_a_hang(self):
        vm = self.start_vm(self.serve())
        self.wait_sectors(vm, more=256)
        self.assertEqual(vm.qmp.cmd('x-query-workload')['disk-io-errors'], 0)
        self.web.close()
        self.web = None
        # the guest sees its reads fail; the VMM keeps answering meanwhile
        self.assertTrue(wait_for(lambda: vm.qmp.cmd('x-query-workload')
                                 ['disk-io-errors'] > 0, 30, 0.1),
                        vm.qmp.cmd('x-query-workload'))
        for _ in range(20):
            self.assertEqual(vm.qmp.cmd('query-status')['status'], 'running')
        w = vm.qmp.cmd('x-query-workload')
        self.assertEqual((w['corrupt-pages'], w['corrupt-sectors']), (0, 0), w)


if __name__ == '__main__':
    unittest.main()
