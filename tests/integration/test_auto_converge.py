"""auto-converge: a soft guest dirtying flat out (-m 512M -smp 2, about
4 GB/s) cannot converge over a bandwidth-limited migration; with the
capability on, the vCPUs are throttled step by step (QEMU's rules) until
it does, and the destination runs on intact.  Without it the migration
is still going after three passes and cancels cleanly."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.vm import FerryVM  # noqa: E402
from pylib.oracle import assert_moved_intact  # noqa: E402
from pylib.procfs import thread_cpu_s  # noqa: E402
from pylib.waits import wait_for  # noqa: E402

END_STATES = ('completed', 'failed', 'cancelled')
# Far below the guest's dirty rate, high enough that a pass takes about a
# second: auto-converge steps once per two passes of at least a second.
BANDWIDTH = 512 << 20
COMPLETE_WITHIN = 90        # seconds; about 15 to 50 on a 2-CPU host


class AutoConverge(unittest.TestCase):
    def setUp(self):
        self.src = self.start_vm()
        self.dst = self.start_vm(incoming=True)
        self.wait_verified(self.src)
        self.src.qmp.cmd('migrate-set-parameters', **{
            'max-bandwidth': BANDWIDTH, 'downtime-limit': 300,
            # QEMU's defaults but for the step, 20 instead of 10: five
            # steps to the top instead of nine keep the test short
            'cpu-throttle-increment': 20})

    def tearDown(self):
        for vm in (getattr(self, 'src', None), getattr(self, 'dst', None)):
            if vm:
                vm.close()

    @staticmethod
    def start_vm(incoming=False):
        extra = ['-incoming', 'defer'] if incoming else []
        return FerryVM(accel='soft', mem='512M', smp=2,
                       append='dirty-rate=max', paused=incoming,
                       extra_args=extra)

    def wait_verified(self, vm, passes=1, timeout=60):
        ok = wait_for(lambda: vm.qmp.cmd('x-query-workload')
                      ['full-verify-passes'] >= passes, timeout, 0.2)
        self.assertTrue(ok, f'no verify pass: {vm.qmp.cmd("x-query-workload")}')

    def set_auto_converge(self, on):
        self.src.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'auto-converge', 'state': on}])

    def start_migration(self):
        path = os.path.join(self.dst.tmpdir, 'mig.sock')
        self.dst.qmp.cmd('migrate-incoming', uri=f'unix:{path}')
        self.src.qmp.cmd('migrate', uri=f'unix:{path}')

    def pages_written_rate(self, seconds=1.0, vm=None):
        """The guest's pages written per second (the source's by
        default)."""
        vm = vm or self.src
        a = vm.qmp.cmd('x-query-workload')['pages-written']
        t = time.monotonic()
        time.sleep(seconds)
        b = vm.qmp.cmd('x-query-workload')['pages-written']
        return (b - a) / (time.monotonic() - t)

    def vcpu_busy(self, seconds):
        """{vCPU thread: the share of @seconds it ran} on the source."""
        a = thread_cpu_s(self.src.proc.pid, 'vcpu')
        t = time.monotonic()
        time.sleep(seconds)
        b = thread_cpu_s(self.src.proc.pid, 'vcpu')
        wall = time.monotonic() - t
        return {name: (b[name] - a[name]) / wall for name in a if name in b}

    def test_throttles_until_it_converges(self):
        self.set_auto_converge(True)
        info = self.src.qmp.cmd('query-migrate')
        self.assertNotIn('cpu-throttle-percentage', info)
        unthrottled = self.pages_written_rate()
        t0 = time.monotonic()
        self.start_migration()
        highest, rate_seen, info = 0, None, {}
        while time.monotonic() - t0 < COMPLETE_WITHIN:
            info = self.src.qmp.cmd('query-migrate')
            if info.get('status') in END_STATES:
                break
            pct = info.get('cpu-throttle-percentage', 0)
            if info.get('status') == 'active':
                self.assertIn('cpu-throttle-percentage', info)
            highest = max(highest, pct)
            if pct >= 60 and rate_seen is None:
                busy = self.vcpu_busy(1.0)
                # measured while still active at that throttle
                if self.src.qmp.cmd('query-migrate').get('status') == 'active':
                    rate_seen = (pct, busy)
                continue
            time.sleep(0.1)
        took = time.monotonic() - t0
        print(f'\nauto-converge: completed in {took:.1f} s, throttle up '
              f'to {highest}%, {info.get("ram", {}).get("dirty-sync-count")} '
              f'passes, downtime {info.get("downtime")} ms; guest pages/s '
              f'{unthrottled:.0f} unthrottled; vCPU busy share at '
              f'{rate_seen}', file=sys.stderr)
        self.assertEqual(info.get('status'), 'completed',
                         f'not completed after {took:.0f} s: {info}')
        self.assertGreater(highest, 0)
        self.assertLessEqual(info['downtime'], 300)
        # throttling ends with the migration
        self.assertEqual(info.get('cpu-throttle-percentage'), 0)
        self.assert_destination_intact()
        # Throttled at 60% or more, each vCPU slept most of the time.  Its
        # thread's CPU time says so whatever else the machine runs (a
        # guest's write rate would depend on that: load only lowers the
        # share, so this cannot pass by chance).
        if rate_seen is not None:
            self.assertLess(max(rate_seen[1].values()), 0.5, rate_seen)

    def test_without_it_never_converges(self):
        self.set_auto_converge(False)
        self.start_migration()
        # three passes over RAM, each resending what the guest dirtied
        # faster than the link carries, and still no switchover
        self.assertTrue(wait_for(lambda: self.src.qmp.cmd('query-migrate')
                                 .get('ram', {}).get('dirty-sync-count', 0)
                                 >= 4, 60, 0.1))
        info = self.src.qmp.cmd('query-migrate')
        self.assertEqual(info['status'], 'active', info)
        self.assertNotIn('cpu-throttle-percentage', info)
        # the guest was not throttled: still writing flat out
        self.assertGreater(self.pages_written_rate(0.5), 0)
        self.src.qmp.cmd('migrate_cancel')
        info = wait_for(lambda: (lambda i: i if i.get('status') in END_STATES
                                 else None)(self.src.qmp.cmd('query-migrate')),
                        30)
        self.assertEqual(info['status'], 'cancelled')
        self.assertEqual(self.src.qmp.cmd('query-status')['status'], 'running')
        before = self.src.qmp.cmd('x-query-workload')
        self.wait_verified(self.src, before['full-verify-passes'] + 1)
        self.assertEqual(self.src.qmp.cmd('x-query-workload')['corrupt-pages'], 0)

    def test_cancel_while_throttled(self):
        """A throttled guest is released when the migration ends early."""
        self.set_auto_converge(True)
        self.src.qmp.cmd('migrate-set-parameters', **{
            'max-bandwidth': 256 << 20, 'cpu-throttle-initial': 99})
        self.start_migration()
        self.assertTrue(wait_for(lambda: self.src.qmp.cmd('query-migrate')
                                 .get('cpu-throttle-percentage', 0) > 0, 60, 0.2))
        self.src.qmp.cmd('migrate_cancel')
        info = wait_for(lambda: (lambda i: i if i.get('status') in END_STATES
                                 else None)(self.src.qmp.cmd('query-migrate')),
                        30)
        self.assertEqual(info['status'], 'cancelled')
        self.assertEqual(info.get('cpu-throttle-percentage'), 0)
        time.sleep(1.1)         # a sleep begun at 99% ends
        self.assertGreater(self.pages_written_rate(0.5), 100000)
        before = self.src.qmp.cmd('x-query-workload')
        self.wait_verified(self.src, before['full-verify-passes'] + 1)
        self.assertEqual(self.src.qmp.cmd('x-query-workload')['corrupt-pages'], 0)

    def assert_destination_intact(self):
        assert_moved_intact(self, self.src, self.dst)

if __name__ == '__main__':
    unittest.main()
