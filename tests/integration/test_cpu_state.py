"""KVM vCPU and VM state through a real ferry process: x-kvm-state-reload
captures every vCPU's state and the VM's and loads it back, as a migration
destination would; the guest's workload must keep verifying its memory
without a corrupt page.  The deeper cases (rewinding to an earlier state
with earlier RAM, and reloading into a brand new VM) are in
tests/unit/test-kvm-state.c."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.waits import wait_for  # noqa: E402
from pylib.vm import FerryVM, require_kvm  # noqa: E402
from pylib.qmp import QMPError  # noqa: E402


class KVMStateReload(unittest.TestCase):
    def setUp(self):
        require_kvm(self)

    def workload(self, vm):
        return vm.qmp.cmd('x-query-workload')

    def wait_passes(self, vm, passes, timeout=30):
        w = wait_for(lambda: (lambda w: w if w['full-verify-passes'] >= passes
                              else None)(self.workload(vm)), timeout)
        self.assertIsNotNone(w, f'no {passes} full verify pass(es) within '
                             f'{timeout}s: {self.workload(vm)}\n'
                             f'{vm.serial_text()}\n{vm.stderr_text()}')
        return w

    def test_reload_keeps_the_guest_running(self):
        with FerryVM(accel='kvm', mem='256M', smp=2,
                     append='dirty-rate=64M') as vm:
            before = self.wait_passes(vm, 1)
            for _ in range(3):
                vm.qmp.cmd('stop')
                first = vm.qmp.cmd('x-kvm-state-reload')
                self.assertEqual([c['cpu'] for c in first], [0, 1])
                for c in first:
                    # the workload runs in ring 3 on every vCPU
                    self.assertEqual((c['cpl'], c['mp-state']), (3, 0), c)
                    self.assertGreater(c['tsc'], 0)
                # what was loaded reads back unchanged
                again = vm.qmp.cmd('x-kvm-state-reload')
                self.assertEqual([c['rip'] for c in again],
                                 [c['rip'] for c in first])
                vm.qmp.cmd('cont')
                time.sleep(0.3)
            after = self.wait_passes(vm, before['full-verify-passes'] + 2)
            self.assertEqual(after['corrupt-pages'], 0,
                             vm.stderr_text())
            self.assertGreater(after['rounds'], before['rounds'])
            self.assertNotIn('panic', vm.stderr_text())

    def test_reload_needs_a_stopped_vm(self):
        with FerryVM(accel='kvm', mem='128M', append='dirty-rate=0') as vm:
            with self.assertRaises(QMPError) as cm:
                vm.qmp.cmd('x-kvm-state-reload')
            self.assertEqual(cm.exception.error_class, 'GenericError')
            self.assertIn('stop', cm.exception.desc)


class SoftAccel(unittest.TestCase):
    def test_reload_refused_without_kvm(self):
        with FerryVM(accel='soft', mem='64M', append='dirty-rate=0') as vm:
            vm.qmp.cmd('stop')
            with self.assertRaises(QMPError) as cm:
                vm.qmp.cmd('x-kvm-state-reload')
            self.assertEqual(cm.exception.error_class, 'KVMMissingCap')


if __name__ == '__main__':
    unittest.main()
