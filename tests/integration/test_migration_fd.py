"""migrate-incoming fd:N with N the number of a descriptor ferry
inherited, as QEMU takes it: `virsh restore` opens the saved image,
passes it to the new emulator and sends migrate-incoming fd:25.  A
getfd name is still looked up by name, and a number that is not an open
descriptor is refused with a clear error."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.oracle import assert_moved_intact  # noqa: E402
from pylib.vm import FerryVM, default_accel  # noqa: E402
from pylib.waits import wait_migration_end, wait_verified  # noqa: E402


class RestoreFromInheritedFd(unittest.TestCase):
    def setUp(self):
        self.vms = []

    def tearDown(self):
        for vm in self.vms:
            vm.close()

    def vm(self, **kwargs):
        vm = FerryVM(accel=default_accel(), mem='64M', smp=2,
                     append='dirty-rate=4M', **kwargs)
        self.vms.append(vm)
        return vm

    def test_save_then_restore_through_fd_number(self):
        src = self.vm()
        self.assertIsNotNone(wait_verified(src))
        image = os.path.join(src.tmpdir, 'saved.img')
        src.qmp.cmd('migrate', uri=f'file:{image}')
        info = wait_migration_end(src)
        self.assertEqual(info['status'], 'completed', info)

        fd = os.open(image, os.O_RDONLY)
        try:
            dst = self.vm(paused=True, extra_args=['-incoming', 'defer'],
                          pass_fds=[fd])
        finally:
            os.close(fd)        # ferry has its own copy, same number
        dst.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'events', 'state': True}])
        dst.qmp.cmd('migrate-incoming', uri=f'fd:{fd}')
        info = wait_migration_end(dst)
        self.assertEqual(info['status'], 'completed', info)
        assert_moved_intact(self, src, dst)

    def test_number_that_is_not_open_is_refused(self):
        dst = self.vm(paused=True, extra_args=['-incoming', 'defer'])
        reply = dst.qmp.execute('migrate-incoming', {'uri': 'fd:987'})
        self.assertIn('error', reply)
        self.assertIn("'987' is not an open file descriptor",
                      reply['error']['desc'])
        reply = dst.qmp.execute('migrate-incoming', {'uri': 'fd:migrate'})
        self.assertIn("named 'migrate' has not been found",
                      reply['error']['desc'])


if __name__ == '__main__':
    unittest.main()
