"""The pvblk disk and the guest's disk workload: the guest writes and
verifies sector patterns on a raw image made by ferry-img, a sector
corrupted behind its back is caught, -device mistakes get clear messages,
a second ferry cannot open an image in use, and the disk workload moves
intact in a live migration (requests in flight at switchover included)."""

import json
import os
import subprocess
import sys
import tempfile
import shutil
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.oracle import assert_moved_intact  # noqa: E402
from pylib.waits import wait_for, wait_migration_end  # noqa: E402
from pylib.vm import FerryVM, build_dir, require_kvm, run_ferry  # noqa: E402

SECTOR = 512
IMG_SIZE = 64 << 20
IMG_SECTORS = IMG_SIZE // SECTOR


def ferry_img(*args):
    return subprocess.run([os.path.join(build_dir(), 'ferry-img')] + list(args),
                          capture_output=True, text=True, timeout=60)


def disk_args(img, read_only=False, node='f0', dev='disk0'):
    ro = ',read-only=on' if read_only else ''
    return ['-blockdev', f'driver=file,node-name={node},filename={img}{ro}',
            '-device', f'pvblk,drive={node},id={dev}']


class ImageTest(unittest.TestCase):
    """Each test gets a fresh formatted image in a temporary directory."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='ferry-pvblk-')
        self.img = os.path.join(self.dir, 'disk.img')
        r = ferry_img('create', self.img, f'{IMG_SIZE >> 20}M')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.vms = []

    def tearDown(self):
        for vm in self.vms:
            vm.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def vm(self, append='dirty-rate=16M disk-rate=4M', read_only=False,
           extra=(), **kwargs):
        kwargs.setdefault('mem', '256M')
        kwargs.setdefault('smp', 2)
        vm = FerryVM(accel='kvm', append=append,
                     extra_args=disk_args(self.img, read_only) + list(extra),
                     **kwargs)
        self.vms.append(vm)
        return vm

    @staticmethod
    def workload(vm):
        return vm.qmp.cmd('x-query-workload')

    def wait_disk(self, vm, written=1, verified=1, timeout=30):
        """The counters once both reached the minimums."""
        w = wait_for(lambda: (lambda w: w if w['disk-sectors-written'] >= written
                              and w['disk-sectors-verified'] >= verified
                              else None)(self.workload(vm)), timeout, 0.2)
        self.assertIsNotNone(w, f'the disk workload did not progress: '
                             f'{self.workload(vm)}\n{vm.serial_text()}\n'
                             f'{vm.stderr_text()}')
        return w

    def corrupt_sector(self, sector):
        with open(self.img, 'r+b') as f:
            f.seek(sector * SECTOR + 100)
            f.write(b'\xde\xad\xbe\xef' * 4)


class FerryImg(ImageTest):
    def test_create_and_check(self):
        self.assertEqual(os.path.getsize(self.img), IMG_SIZE)
        r = ferry_img('check', self.img)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f'{IMG_SECTORS} sectors', r.stdout)

    def test_check_finds_corruption(self):
        self.corrupt_sector(12345)
        r = ferry_img('check', self.img)
        self.assertEqual(r.returncode, 1)
        self.assertIn('sector 12345 ', r.stdout)

    def test_check_blank_image(self):
        os.truncate(self.img, 0)
        os.truncate(self.img, IMG_SIZE)
        r = ferry_img('check', self.img)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout.splitlines(),
                         [f'{self.img}: {IMG_SECTORS} sectors, all zeros: a '
                          'blank image, not formatted (ferry-img create '
                          'formats one)'])

    def test_check_counts_each_kind(self):
        self.corrupt_sector(12345)
        with open(self.img, 'r+b') as f:
            f.seek(100 * SECTOR)
            f.write(bytes(2 * SECTOR))
        r = ferry_img('check', self.img)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f'{IMG_SECTORS - 3} generation 0, 0 written by a '
                      'guest, 2 blank, 1 corrupt', r.stdout)

    def test_bad_arguments(self):
        self.assertEqual(ferry_img('create', self.img, '1000').returncode, 1)
        self.assertEqual(ferry_img('create', self.img, 'big').returncode, 1)
        self.assertEqual(ferry_img('frobnicate').returncode, 2)


class DiskWorkload(ImageTest):
    def setUp(self):
        require_kvm(self)
        super().setUp()

    def test_writes_and_verifies(self):
        vm = self.vm()
        w = self.wait_disk(vm, written=4096, verified=4096)
        self.assertEqual(w['corrupt-sectors'], 0)
        self.assertEqual(w['corrupt-pages'], 0)
        self.assertIn('disk: pvblk 0, 131072 sectors', vm.serial_text())
        blocks = vm.qmp.cmd('query-block')
        self.assertEqual(len(blocks), 1)
        self.assertEqual(blocks[0]['qdev'], 'disk0')
        self.assertEqual(blocks[0]['inserted']['node-name'], 'f0')
        self.assertEqual(blocks[0]['inserted']['x-state'], 'active')
        self.assertFalse(blocks[0]['inserted']['ro'])
        # disk-rate=4M, half writes and half reads: about 4096 sectors/s each
        t0, before = time.monotonic(), self.workload(vm)
        time.sleep(2)
        after = self.workload(vm)
        rate = ((after['disk-sectors-written'] - before['disk-sectors-written'] +
                 after['disk-sectors-verified'] - before['disk-sectors-verified'])
                / (time.monotonic() - t0))
        self.assertGreater(rate, 8192 * 0.5, f'{rate:.0f} sectors/s')
        self.assertLess(rate, 8192 * 1.5, f'{rate:.0f} sectors/s')
        self.assertEqual(after['corrupt-sectors'], 0)
        self.assertEqual(vm.shutdown(), 0)
        # the writes reached the image: it is no longer as formatted
        r = ferry_img('check', self.img)
        self.assertEqual(r.returncode, 1)
        self.assertIn(' 0 blank, 0 corrupt', r.stdout)
        # and a second boot refuses it rather than count it as corrupt
        vm = self.vm()
        self.assertTrue(wait_for(lambda: 'earlier run' in vm.serial_text(),
                                 30, 0.2), vm.serial_text())
        self.assertEqual(self.workload(vm)['corrupt-sectors'], 0)

    def test_json_options(self):
        """libvirt's JSON form of -blockdev and -device makes the same disk."""
        blockdev = {'driver': 'file', 'node-name': 'f0', 'filename': self.img,
                    'cache': {'direct': False}, 'read-only': False}
        device = {'driver': 'pvblk', 'drive': 'f0', 'id': 'disk0'}
        vm = FerryVM(accel='kvm', append='disk-rate=4M', mem='256M', smp=2,
                     extra_args=['-blockdev', json.dumps(blockdev),
                                 '-device', json.dumps(device)])
        self.vms.append(vm)
        w = self.wait_disk(vm, written=512, verified=512)
        self.assertEqual(w['corrupt-sectors'], 0)
        block = vm.qmp.cmd('query-block')[0]
        self.assertEqual((block['qdev'], block['inserted']['node-name']),
                         ('disk0', 'f0'))

    def test_blank_image_is_refused(self):
        """A blank image (all zeros, never formatted) is refused in one line
        before anything is written: not 131072 corrupt sectors."""
        os.truncate(self.img, 0)
        os.truncate(self.img, IMG_SIZE)
        vm = self.vm()
        line = wait_for(lambda: next((l for l in vm.serial_text().splitlines()
                                      if 'disk:' in l), None), 30, 0.2)
        self.assertIn('disk: pvblk 0 is blank (sector 0 is all zeros), not '
                      'formatted', line or vm.serial_text())
        self.assertTrue(wait_for(lambda: self.workload(vm)['full-verify-passes']
                                 >= 1, 30))
        w = self.workload(vm)
        self.assertEqual((w['corrupt-sectors'], w['disk-sectors-written'],
                          w['disk-sectors-verified'], w['corrupt-pages']),
                         (0, 0, 0, 0))
        self.assertEqual(vm.serial_text().count('disk:'), 1)
        self.assertEqual(vm.shutdown(), 0)
        self.assertIn('all zeros', ferry_img('check', self.img).stdout)

    def test_read_only_disk_is_only_read(self):
        vm = self.vm(read_only=True)
        w = self.wait_disk(vm, written=0, verified=8192)
        self.assertEqual(w['disk-sectors-written'], 0)
        self.assertEqual(w['corrupt-sectors'], 0)
        self.assertIn('read-only', vm.serial_text())
        self.assertTrue(vm.qmp.cmd('query-block')[0]['inserted']['ro'])
        self.assertEqual(vm.shutdown(), 0)
        r = ferry_img('check', self.img)
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_corrupt_sector_is_caught(self):
        # The guest's reads start half a disk ahead of its writes, on
        # sectors as ferry-img formatted them: this one is read long before
        # the writer gets there.
        bad = IMG_SECTORS // 2 + 1000
        self.corrupt_sector(bad)
        vm = self.vm()
        w = wait_for(lambda: (lambda w: w if w['corrupt-sectors'] else None)(
            self.workload(vm)), 30, 0.2)
        self.assertIsNotNone(w, f'the corruption went unnoticed: '
                             f'{self.workload(vm)}')
        self.assertEqual(w['corrupt-sectors'], 1)
        self.assertIn(f'last at sector {bad}', vm.stderr_text())
        # counted once, not on every pass
        time.sleep(2)
        self.assertEqual(self.workload(vm)['corrupt-sectors'], 1)
        self.assertEqual(self.workload(vm)['corrupt-pages'], 0)

    def test_off_without_disk_rate(self):
        vm = self.vm(append='dirty-rate=16M')
        self.assertTrue(wait_for(lambda: self.workload(vm)['full-verify-passes']
                                 >= 1, 30))
        w = self.workload(vm)
        self.assertEqual((w['disk-sectors-written'], w['disk-sectors-verified']),
                         (0, 0))
        self.assertNotIn('disk:', vm.serial_text())

    def test_second_ferry_on_the_image_is_refused(self):
        vm = self.vm()
        self.wait_disk(vm)
        r = run_ferry(['-accel', 'kvm', '-m', '64M'] + disk_args(self.img))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('lock', r.stderr.lower())
        self.assertEqual(self.workload(vm)['corrupt-sectors'], 0)


class DeviceOptions(ImageTest):
    def fails(self, args, message):
        r = run_ferry(['-m', '64M'] + args)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(message, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        return r.stderr

    def blockdev(self, node='f0'):
        return ['-blockdev', f'driver=file,node-name={node},filename={self.img}']

    def test_unsupported_device(self):
        self.fails(self.blockdev() + ['-device', 'virtio-blk-pci,drive=f0'],
                   "ferry: -device: unsupported device 'virtio-blk-pci' "
                   "(ferry has: pvblk, isa-serial, pvchannel)")

    def test_missing_drive(self):
        self.fails(self.blockdev() + ['-device', 'pvblk,id=d0'],
                   'ferry: -device: pvblk: drive=NODE is required')

    def test_unknown_node(self):
        self.fails(self.blockdev() + ['-device', 'pvblk,drive=nope'],
                   "ferry: -device: pvblk: no block node named 'nope'")

    def test_unknown_option(self):
        self.fails(self.blockdev() + ['-device', 'pvblk,drive=f0,cache=on'],
                   "ferry: -device: pvblk: Unknown parameter 'cache' "
                   "(accepted: driver, drive, id)")

    def test_key_given_twice(self):
        self.fails(self.blockdev() + ['-device', 'pvblk,drive=f0,drive=f0'],
                   "ferry: -device: Parameter 'drive' is given twice")

    def test_node_used_twice(self):
        self.fails(self.blockdev() + ['-device', 'pvblk,drive=f0,id=a',
                                      '-device', 'pvblk,drive=f0,id=b'],
                   "ferry: -device: pvblk: Node 'f0' is already in use")

    def test_duplicate_id(self):
        img2 = os.path.join(self.dir, 'b.img')
        ferry_img('create', img2, '1M')
        self.fails(self.blockdev() +
                   ['-blockdev', f'driver=file,node-name=g0,filename={img2}',
                    '-device', 'pvblk,drive=f0,id=d0',
                    '-device', 'pvblk,drive=g0,id=d0'],
                   "ferry: -device: pvblk: duplicate id 'd0'")

    def test_at_most_four(self):
        args = []
        for i in range(5):
            img = os.path.join(self.dir, f'{i}.img')
            ferry_img('create', img, '1M')
            args += ['-blockdev', f'driver=file,node-name=n{i},filename={img}',
                     '-device', f'pvblk,drive=n{i},id=d{i}']
        self.fails(args, 'ferry: -device: pvblk: at most 4 pvblk devices')

    def test_bad_blockdev_is_prefixed(self):
        self.fails(['-blockdev', 'driver=nosuch,node-name=x'], 'ferry: -blockdev: ')


class Migration(ImageTest):
    """Source and destination share the image, as with shared storage."""

    def setUp(self):
        require_kvm(self)
        super().setUp()

    def delayed_disk(self):
        """The disk behind a 200 ms blkdelay: the guest's 16 request slots
        stay full (its disk-rate asks for more than 16 requests per 200 ms
        carry), so requests are in flight at the stop even when the vCPU
        that reaps and resubmits did not run for a while (a loaded host;
        20 ms was not enough there)."""
        return ['-blockdev', f'driver=file,node-name=f0,filename={self.img}',
                '-blockdev', 'driver=blkdelay,node-name=d0,file=f0,'
                'io-latency-us=200000',
                '-device', 'pvblk,drive=d0,id=disk0']

    def start(self, disk):
        kw = dict(mem='256M', smp=2, append='dirty-rate=16M disk-rate=4M')
        src = FerryVM(accel='kvm', extra_args=disk, **kw)
        self.vms.append(src)
        dst = FerryVM(accel='kvm', paused=True,
                      extra_args=disk + ['-incoming', 'defer'], **kw)
        self.vms.append(dst)
        return src, dst

    def migrate_and_check(self, src, dst):
        self.wait_disk(src, written=4096, verified=4096)
        path = os.path.join(dst.tmpdir, 'mig.sock')
        dst.qmp.cmd('migrate-incoming', uri=f'unix:{path}')
        src.qmp.cmd('migrate', uri=f'unix:{path}')
        info = wait_migration_end(src, 120)
        self.assertIsNotNone(info, 'migration did not end')
        self.assertEqual(info['status'], 'completed', info.get('error-desc'))
        before = self.workload(dst)
        # equal RAM digests: the completions drained at switchover are in
        # the destination's RAM too; then the destination runs
        assert_moved_intact(self, src, dst)
        after = self.wait_disk(dst, before['disk-sectors-written'] + 4096,
                               before['disk-sectors-verified'] + 4096)
        self.assertEqual(after['corrupt-sectors'], 0, dst.stderr_text())
        self.assertEqual(after['corrupt-pages'], 0)
        self.assertEqual(after['disk-io-errors'], 0, dst.stderr_text())
        self.assertEqual(dst.qmp.cmd('query-block')[0]['inserted']['x-state'],
                         'active')

    def test_disk_workload_moves_intact(self):
        self.migrate_and_check(*self.start(disk_args(self.img)))

    def test_requests_in_flight_are_drained(self):
        src, dst = self.start(self.delayed_disk())
        self.migrate_and_check(src, dst)
        self.assertRegex(src.stderr_text(),
                         r'pvblk disk0: drained \d+ request\(s\) in flight')


if __name__ == '__main__':
    unittest.main()
