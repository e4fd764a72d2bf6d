"""system_powerdown and system_reset.  ferry has no ACPI: powerdown
presses a paravirtual power button (guest/include/guest/power-dev.h) that
the test guest polls; it then completes and flushes its disk requests,
reports, and powers off, which ends ferry with SHUTDOWN (guest: true) and
status 0, as `virsh shutdown` expects.  system_reset boots the guest
again (boots counts 2), in a running or a stopped VM."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.vm import FerryVM, build_dir, require_kvm  # noqa: E402
from pylib.waits import wait_for, wait_verified  # noqa: E402


class Power(unittest.TestCase):
    def setUp(self):
        require_kvm(self)       # the button is polled by the guest's code
        self.dir = tempfile.mkdtemp(prefix='ferry-power-')
        self.vms = []

    def tearDown(self):
        for vm in self.vms:
            vm.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def vm(self, extra=(), append='dirty-rate=8M', **kwargs):
        vm = FerryVM(accel='kvm', mem='128M', smp=2, append=append,
                     extra_args=list(extra), **kwargs)
        self.vms.append(vm)
        return vm

    def disk(self):
        img = os.path.join(self.dir, 'disk.img')
        r = subprocess.run([os.path.join(build_dir(), 'ferry-img'), 'create',
                            img, '64M'], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return img, ['-blockdev', f'driver=file,node-name=f0,filename={img}',
                     '-device', 'pvblk,drive=f0,id=disk0']

    def test_powerdown_shuts_the_guest_down_cleanly(self):
        img, args = self.disk()
        vm = self.vm(args, append='dirty-rate=8M disk-rate=4M')
        self.assertTrue(wait_for(lambda: vm.qmp.cmd('x-query-workload')
                                 ['disk-sectors-verified'] > 0, 30, 0.2))
        vm.qmp.cmd('system_powerdown')
        self.assertEqual(vm.qmp.wait_event('POWERDOWN', timeout=5)['event'],
                         'POWERDOWN')
        ev = vm.qmp.wait_event('SHUTDOWN', timeout=10)
        self.assertEqual(ev['data'], {'guest': True,
                                      'reason': 'guest-shutdown'})
        self.assertEqual(vm.proc.wait(10), 0)
        self.assertIn('power button pressed, shutting down', vm.serial_text())
        # what the guest wrote is on the image, nothing torn: ferry-img
        r = subprocess.run([os.path.join(build_dir(), 'ferry-img'), 'check',
                            img], capture_output=True, text=True)
        self.assertRegex(r.stdout, r'[1-9][0-9]* written by a guest, '
                         r'0 blank, 0 corrupt', r.stdout + r.stderr)

    def test_powerdown_with_no_shutdown_pauses(self):
        # libvirt's -no-shutdown: the guest powers off, the process stays,
        # stopped in 'shutdown', until its manager quits (or resets) it
        vm = self.vm(['-no-shutdown'])
        self.assertTrue(wait_verified(vm))
        vm.qmp.cmd('system_powerdown')
        ev = vm.qmp.wait_event('SHUTDOWN', timeout=10)
        self.assertEqual(ev['data'], {'guest': True,
                                      'reason': 'guest-shutdown'})
        vm.qmp.wait_event('STOP', timeout=10)
        self.assertEqual(vm.qmp.cmd('query-status'),
                         {'running': False, 'status': 'shutdown'})
        self.assertIsNone(vm.proc.poll())
        self.assertEqual(vm.shutdown(), 0)

    def test_reset_reboots_a_running_guest(self):
        vm = self.vm()
        self.assertIsNotNone(wait_verified(vm))
        vm.qmp.cmd('system_reset')
        vm.qmp.wait_event('RESET', timeout=5)
        self.assertTrue(wait_for(lambda: vm.qmp.cmd('x-query-workload')
                                 ['boots'] == 2, 30, 0.2))
        before = vm.qmp.cmd('x-query-workload')['full-verify-passes']
        self.assertTrue(wait_for(lambda: vm.qmp.cmd('x-query-workload')
                                 ['full-verify-passes'] > before, 30, 0.2))
        w = vm.qmp.cmd('x-query-workload')
        self.assertEqual((w['corrupt-pages'], w['boots']), (0, 2), w)
        self.assertEqual(vm.qmp.cmd('query-status')['status'], 'running')
        self.assertEqual(vm.serial_text().count('ferry-guest: booting'), 2)

    def test_reset_of_a_stopped_vm_waits_for_cont(self):
        vm = self.vm()
        self.assertIsNotNone(wait_verified(vm))
        vm.qmp.cmd('stop')
        vm.qmp.cmd('system_reset')
        vm.qmp.wait_event('RESET', timeout=5)
        self.assertEqual(vm.qmp.cmd('query-status'),
                         {'running': False, 'status': 'prelaunch'})
        vm.qmp.cmd('cont')
        self.assertTrue(wait_for(lambda: vm.qmp.cmd('x-query-workload')
                                 ['boots'] == 2, 30, 0.2))

    def test_reset_refused_while_incoming(self):
        vm = self.vm(paused=True, extra=['-incoming', 'defer'])
        reply = vm.qmp.execute('system_reset')
        self.assertEqual(reply['error']['class'], 'GenericError', reply)


if __name__ == '__main__':
    unittest.main()
