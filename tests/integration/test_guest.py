"""The built-in test guest under each accelerator: it verifies its memory,
catches a byte poked behind its back, and the VMM's RAM digest matches an
independent hash of the guest's memfd."""

import hashlib
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.oracle import ram_digest  # noqa: E402
from pylib.procfs import proc_status  # noqa: E402
from pylib.waits import (guest_progress, wait_for,  # noqa: E402
                         wait_progressing)
from pylib.vm import FerryVM, require_kvm  # noqa: E402
from pylib.qmp import QMPError  # noqa: E402

POKE_GPA = 256 << 20        # a page under test in a 512 MiB guest


def memfd_sha256(pid, name='ferry:pc.ram'):
    """Hashes the guest RAM memfd from outside ferry, via /proc."""
    fd_dir = f'/proc/{pid}/fd'
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith(f'/memfd:{name}'):
            h = hashlib.sha256()
            with open(os.path.join(fd_dir, fd), 'rb') as f:
                for chunk in iter(lambda: f.read(1 << 22), b''):
                    h.update(chunk)
            return h.hexdigest()
    raise AssertionError(f'no memfd {name} in {fd_dir}')


def shmem_rss(pid):
    """Bytes of shared memory (the guest RAM memfd) resident in @pid."""
    return proc_status(pid, 'RssShmem')


class GuestTests:
    accel = None

    def setUp(self):
        if self.accel == 'kvm':
            require_kvm(self)

    def vm(self, **kwargs):
        kwargs.setdefault('mem', '512M')
        kwargs.setdefault('smp', 2)
        kwargs.setdefault('append', 'dirty-rate=64M')
        return FerryVM(accel=self.accel, **kwargs)

    @staticmethod
    def workload(vm):
        return vm.qmp.cmd('x-query-workload')

    def wait_verified(self, vm, passes=1, stall=30):
        """Waits for @passes full verify passes while the guest makes
        progress: how long a fill takes depends on the machine's load."""
        w = wait_progressing(lambda: self.workload(vm),
                             lambda w: w['full-verify-passes'] >= passes,
                             guest_progress, stall)
        self.assertIsNotNone(w, f'no progress for {stall}s before {passes} '
                             f'full verify pass(es): {self.workload(vm)}\n'
                             f'{vm.serial_text()}\n{vm.stderr_text()}')
        return w

    def test_verifies_memory_while_dirtying(self):
        with self.vm() as vm:
            w = self.wait_verified(vm)
            self.assertEqual(w['corrupt-pages'], 0)
            self.assertGreater(w['pages-verified'], 0)
            self.assertEqual(w['boots'], 1)
            # dirty-rate=64M: about 16384 pages/s must keep being written
            t0, before = time.monotonic(), w['pages-written']
            time.sleep(2)
            after = self.workload(vm)['pages-written']
            rate = (after - before) / (time.monotonic() - t0)
            self.assertGreater(rate, 16384 * 0.5, f'dirty rate {rate:.0f} pages/s')
            self.assertLess(rate, 16384 * 1.5, f'dirty rate {rate:.0f} pages/s')
            self.assertEqual(self.workload(vm)['corrupt-pages'], 0)

    def test_poke_is_caught(self):
        with self.vm(append='dirty-rate=0') as vm:
            self.wait_verified(vm)
            self.assertEqual(self.workload(vm)['corrupt-pages'], 0)
            # The page's first byte is the low byte of its frame number:
            # writing its complement is a change, whatever the generation.
            pfn_low = (POKE_GPA >> 12) & 0xff
            vm.qmp.cmd('x-poke', addr=POKE_GPA, value=pfn_low ^ 0xff)
            w = wait_for(lambda: (lambda w: w if w['corrupt-pages'] > 0
                                  else None)(self.workload(vm)), 15)
            self.assertIsNotNone(w, 'the guest did not notice the poke')
            self.assertEqual(w['corrupt-pages'], 1)
            # repaired: counted once, not on every pass
            passes = w['full-verify-passes']
            self.wait_verified(vm, passes + 2)
            self.assertEqual(self.workload(vm)['corrupt-pages'], 1)
            self.assertIn(f'pfn 0x{POKE_GPA >> 12:x}', vm.stderr_text())

    def test_poke_outside_ram_is_refused(self):
        with self.vm(append='dirty-rate=0') as vm:
            with self.assertRaises(QMPError) as cm:
                vm.qmp.cmd('x-poke', addr=0xfe000000, value=1)
            self.assertEqual(cm.exception.error_class, 'GenericError')

    def test_ram_is_populated_from_the_start(self):
        """Guest RAM is faulted in by background threads while the guest is
        still in prelaunch (-S), unless -machine x-prefault=off."""
        size = 256 << 20
        with self.vm(mem='256M', paused=True) as vm:
            self.assertTrue(wait_for(lambda: shmem_rss(vm.proc.pid) >= size,
                                     60, 0.1),
                            f'{shmem_rss(vm.proc.pid)} bytes resident')
            self.assertEqual(vm.qmp.cmd('query-status')['status'],
                             'prelaunch')
        with self.vm(mem='256M', paused=True,
                     extra_args=['-machine', 'x-prefault=off']) as vm:
            time.sleep(1)
            self.assertLess(shmem_rss(vm.proc.pid), size // 8)

    def test_ram_digest(self):
        # small: the test hashes the whole RAM six times
        with self.vm(mem='128M') as vm:
            self.wait_verified(vm)
            with self.assertRaises(QMPError) as cm:
                vm.qmp.cmd('x-ram-digest')
            self.assertIn('stop', cm.exception.desc.lower())
            vm.qmp.cmd('stop')
            d1 = ram_digest(vm)
            self.assertEqual([(d['id'], d['size']) for d in d1],
                             [('pc.ram', 128 << 20)])
            self.assertRegex(d1[0]['sha256'], '^[0-9a-f]{64}$')
            # nothing moves while stopped, and an outside hash agrees
            time.sleep(0.5)
            self.assertEqual(ram_digest(vm), d1)
            self.assertEqual(memfd_sha256(vm.proc.pid), d1[0]['sha256'])
            vm.qmp.cmd('cont')
            time.sleep(0.5)
            vm.qmp.cmd('stop')
            d2 = ram_digest(vm)
            self.assertNotEqual(d2[0]['sha256'], d1[0]['sha256'])
            self.assertEqual(memfd_sha256(vm.proc.pid), d2[0]['sha256'])

    def test_stop_freezes_and_cont_resumes(self):
        with self.vm() as vm:
            self.wait_verified(vm)
            vm.qmp.cmd('stop')
            vm.qmp.wait_event('STOP', 5)
            status = vm.qmp.cmd('query-status')
            self.assertEqual((status['status'], status['running']), ('paused', False))
            frozen = self.workload(vm)
            time.sleep(1)
            self.assertEqual(self.workload(vm), frozen)
            vm.qmp.cmd('cont')
            vm.qmp.wait_event('RESUME', 5)
            self.assertTrue(wait_for(lambda: self.workload(vm)['pages-verified']
                                     > frozen['pages-verified'], 5))
            self.assertEqual(self.workload(vm)['corrupt-pages'], 0)

    def test_stop_is_a_stall_the_guest_sees(self):
        """The guest's clock runs on while it is stopped, so a stop shows
        in max-stall-us and, as no vCPU ran, in max-guest-stall-us."""
        with self.vm() as vm:
            self.wait_verified(vm)
            vm.qmp.cmd('x-workload-reset-stall')
            vm.qmp.cmd('stop')
            time.sleep(0.5)
            vm.qmp.cmd('cont')
            self.assertTrue(wait_for(lambda: self.workload(vm)
                                     ['max-guest-stall-us'] >= 500000, 10),
                            self.workload(vm))
            w = self.workload(vm)
            self.assertGreaterEqual(w['max-stall-us'],
                                    w['max-guest-stall-us'])

    def test_start_paused(self):
        with self.vm(paused=True) as vm:
            self.assertEqual(vm.qmp.cmd('query-status')['status'], 'prelaunch')
            time.sleep(1)
            self.assertEqual(self.workload(vm)['pages-written'], 0)
            vm.qmp.cmd('cont')
            self.wait_verified(vm)

    def test_quit(self):
        with self.vm() as vm:
            self.wait_verified(vm)
            vm.qmp.cmd('quit')
            ev = vm.qmp.wait_event('SHUTDOWN', 5)
            self.assertEqual(ev['data'], {'guest': False, 'reason': 'host-qmp-quit'})
            self.assertEqual(vm.proc.wait(10), 0)


class KVMGuestTests(GuestTests, unittest.TestCase):
    accel = 'kvm'

    def test_serial_console(self):
        with self.vm() as vm:
            self.wait_verified(vm)
            text = vm.serial_text()
            self.assertIn('ferry-guest: 2 cpus', text)
            self.assertIn('workload: memory filled, verifying', text)

    def test_memory_above_4g(self):
        # 3.5 GiB: pc.ram is split at 3 GiB and its last 512 MiB continue
        # at 4 GiB.  The first fill touches all of it, which is slow on our
        # KVM hosts (docs/kvm-host.md) and slower still on shared cores:
        # wait_verified waits as long as the guest makes progress.
        size = 3584 << 20
        with self.vm(mem='3584M', append='dirty-rate=0') as vm:
            w = self.wait_verified(vm)
            self.assertGreater(w['pages-verified'], size // 4096 * 0.98)
            self.assertEqual(w['corrupt-pages'], 0)
            high = (4 << 30) + (256 << 20)  # guest-physical, above 4 GiB
            vm.qmp.cmd('x-poke', addr=high, value=((high >> 12) & 0xff) ^ 0xff)
            self.assertTrue(wait_for(lambda: self.workload(vm)['corrupt-pages'] == 1, 30))


class SoftGuestTests(GuestTests, unittest.TestCase):
    accel = 'soft'


if __name__ == '__main__':
    unittest.main()
