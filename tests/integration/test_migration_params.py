"""Migration parameters belong to the context from its creation: a
migration whose first command is `migrate` runs with QEMU's defaults, and
max-bandwidth / max-postcopy-bandwidth / downtime-limit changed during a
migration take effect in that migration (QEMU applies them live;
libvirt's `virsh migrate-setspeed` relies on it)."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.oracle import assert_moved_intact  # noqa: E402
from pylib.waits import wait_for, wait_migration_end  # noqa: E402
from pylib.vm import FerryVM  # noqa: E402

MiB = 1 << 20
DEFAULTS = {'max-bandwidth': 0, 'downtime-limit': 300,
            'max-postcopy-bandwidth': 0, 'cpu-throttle-initial': 20,
            'postcopy-setup-timeout': 10000, 'tls-creds': ''}


def transferred(vm):
    return vm.qmp.cmd('query-migrate').get('ram', {}).get('transferred', 0)


def rate_over(vm, seconds):
    """Bytes/s the stream carried over @seconds, one clock for both ends."""
    t0, b0 = time.monotonic(), transferred(vm)
    time.sleep(seconds)
    t1, b1 = time.monotonic(), transferred(vm)
    return (b1 - b0) / (t1 - t0)


class LiveParameters(unittest.TestCase):
    src = dst = None

    def start(self, mem='128M', src_rate='1M'):
        # The soft accelerator: the guest's pages change without KVM, so the
        # test measures the stream, not the machine's page-fault speed.
        self.src = FerryVM(accel='soft', mem=mem, smp=1,
                           append=f'dirty-rate={src_rate}')
        self.dst = FerryVM(accel='soft', mem=mem, smp=1,
                           append='dirty-rate=1M', paused=True,
                           extra_args=['-incoming', 'defer'])

    def tearDown(self):
        for vm in (self.src, self.dst):
            if vm is not None:
                vm.close()

    def migrate(self, uri):
        self.dst.qmp.cmd('migrate-incoming', uri=uri)
        self.src.qmp.cmd('migrate', uri=uri)

    def finish(self):
        info = wait_migration_end(self.src, 120)
        self.assertIsNotNone(info, 'migration did not end')
        self.assertEqual(info['status'], 'completed', info.get('error-desc'))
        assert_moved_intact(self, self.src, self.dst)

    def test_first_command_migrate_sees_the_defaults(self):
        self.start()
        uri = f'unix:{self.dst.tmpdir}/mig.sock'
        self.migrate(uri)       # nothing was set before
        info = self.src.qmp.cmd('query-migrate')
        if info['status'] != 'completed':
            self.assertEqual(info.get('expected-downtime', 300), 300, info)
        params = self.src.qmp.cmd('query-migrate-parameters')
        for name, value in DEFAULTS.items():
            self.assertEqual(params[name], value, name)
        self.finish()

    def test_max_bandwidth_changes_a_running_migration(self):
        slow, fast = 8 * MiB, 512 * MiB
        self.start()
        self.src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': slow})
        self.migrate(f'unix:{self.dst.tmpdir}/mig.sock')
        self.assertTrue(wait_for(lambda: transferred(self.src) > MiB, 30))
        before = rate_over(self.src, 1.0)
        # The limiter is checked between batches of at most 1 MiB (256
        # pages, migration/ram/ram.c), so each 100 ms window may carry one
        # batch more than the limit: at most slow + 10 MiB/s.
        self.assertLessEqual(before, slow + 10 * MiB,
                             f'{before / MiB:.1f} MiB/s')
        self.src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': fast})
        after = rate_over(self.src, 0.5)
        self.assertGreater(after, 2 * (slow + 10 * MiB),
                           f'{before / MiB:.1f} -> {after / MiB:.1f} MiB/s')
        self.finish()

    def test_downtime_limit_is_read_while_running(self):
        # A guest that dirties more than the link carries at a 1 ms limit
        # never converges; raising the limit lets the switchover happen.
        # 64 MiB dirtied at 64 MB/s: every pass resends most of RAM
        self.start(mem='64M', src_rate='64M')
        self.src.qmp.cmd('migrate-set-parameters', **{
            'max-bandwidth': 48 * MiB, 'downtime-limit': 1})
        self.migrate(f'unix:{self.dst.tmpdir}/mig.sock')
        def passes():
            ram = self.src.qmp.cmd('query-migrate').get('ram', {})
            return ram.get('dirty-sync-count', 0)
        self.assertTrue(wait_for(lambda: passes() >= 3, 60))
        self.assertEqual(self.src.qmp.cmd('query-migrate')['status'], 'active')
        self.src.qmp.cmd('migrate-set-parameters', **{
            'downtime-limit': 2000000, 'max-bandwidth': 0})
        self.finish()


if __name__ == '__main__':
    unittest.main()
