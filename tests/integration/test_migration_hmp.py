"""Migration through the human monitor: ferryctl drives a whole
migration between two ferry processes, and the settings commands map to
QMP as QEMU's HMP does."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.vm import FerryVM, build_dir  # noqa: E402


def ferryctl(vm, *words, timeout=120):
    return subprocess.run([os.path.join(build_dir(), 'ferryctl'), '-s',
                           vm.qmp_path] + list(words), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


class MigrationHMP(unittest.TestCase):
    def setUp(self):
        self.src = FerryVM(accel='soft', mem='128M', smp=1, append='dirty-rate=8M')
        self.dst = FerryVM(accel='soft', mem='128M', smp=1, append='dirty-rate=8M',
                           paused=True, extra_args=['-incoming', 'defer'])

    def tearDown(self):
        self.src.close()
        self.dst.close()

    def test_ferryctl_migrates(self):
        path = os.path.join(self.dst.tmpdir, 'mig.sock')
        r = ferryctl(self.dst, 'migrate_incoming', f'unix:{path}')
        self.assertEqual(r.returncode, 0, r.stderr)
        r = ferryctl(self.src, 'migrate', f'unix:{path}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('migration completed', r.stdout)
        self.assertIn('downtime', r.stdout)
        r = ferryctl(self.src, 'info', 'migrate')
        self.assertIn('Migration status: completed', r.stdout)
        self.assertIn('total ram: 131072 kbytes', r.stdout)
        self.assertEqual(self.dst.qmp.cmd('query-migrate')['status'], 'completed')
        self.dst.qmp.cmd('cont')
        w = self.dst.qmp.cmd('x-query-workload')
        self.assertEqual((w['corrupt-pages'], w['boots']), (0, 1))

    def test_failed_migration_exit_status(self):
        r = ferryctl(self.src, 'migrate', 'unix:/nonexistent/socket')
        self.assertEqual(r.returncode, 1)
        self.assertIn('migration failed', r.stderr)
        self.assertEqual(self.src.qmp.cmd('query-status')['status'], 'running')

    def test_detach_and_cancel(self):
        ferryctl(self.src, 'migrate_set_parameter', 'max-bandwidth', '8M')
        path = os.path.join(self.dst.tmpdir, 'mig.sock')
        self.dst.qmp.cmd('migrate-incoming', uri=f'unix:{path}')
        r = ferryctl(self.src, 'migrate', '-d', f'unix:{path}', timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(self.src.qmp.cmd('query-migrate')['status'],
                      ('setup', 'active'))
        r = ferryctl(self.src, 'migrate_cancel')
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_settings(self):
        r = ferryctl(self.src, 'migrate_set_capability', 'pause-before-switchover', 'on')
        self.assertEqual(r.returncode, 0, r.stderr)
        caps = {c['capability']: c['state']
                for c in self.src.qmp.cmd('query-migrate-capabilities')}
        self.assertTrue(caps['pause-before-switchover'])
        self.assertIn('pause-before-switchover: on',
                      ferryctl(self.src, 'info', 'migrate_capabilities').stdout)
        r = ferryctl(self.src, 'migrate_set_parameter', 'max-bandwidth', '64M')
        self.assertEqual(r.returncode, 0, r.stderr)
        r = ferryctl(self.src, 'migrate_set_parameter', 'downtime-limit', '50')
        self.assertEqual(r.returncode, 0, r.stderr)
        p = self.src.qmp.cmd('query-migrate-parameters')
        self.assertEqual((p['max-bandwidth'], p['downtime-limit']), (64 << 20, 50))
        self.assertIn('downtime-limit: 50 ms',
                      ferryctl(self.src, 'info', 'migrate_parameters').stdout)
        r = ferryctl(self.src, 'migrate_set_parameter', 'cpu-throttle-initial', '0')
        self.assertEqual(r.returncode, 1)
        self.assertIn('cpu-throttle-initial', r.stderr)
        r = ferryctl(self.src, 'migrate_set_capability', 'xbzrle', 'on')
        self.assertEqual(r.returncode, 1)
        self.assertIn('xbzrle', r.stderr)

    def test_in_process_monitor_does_not_block(self):
        path = os.path.join(self.dst.tmpdir, 'mig.sock')
        self.dst.qmp.cmd('migrate-incoming', uri=f'unix:{path}')
        # migrate without -d inside the VMM returns at once
        self.src.qmp.cmd('human-monitor-command',
                         **{'command-line': f'migrate unix:{path}'})
        out = self.src.qmp.cmd('human-monitor-command',
                               **{'command-line': 'info migrate'})
        self.assertIn('Migration status:', out)


if __name__ == '__main__':
    unittest.main()
