"""Ping-pong: one guest migrated A -> B -> A ... under RAM and disk load,
precopy and postcopy in turn, with faults at seeded random moments in
some hops; each fault ends as the fault grid says (a failed precopy is
retried to a new destination, a paused postcopy is recovered).  At the
end: 0 corrupt pages and sectors, one boot, and the fd count and RSS of
the serving process the same from hop to hop.

Each hop starts a new destination process on the other "host" (as with
QEMU, a process that migrated its guest away does not take one back).
FERRY_PINGPONG_COUNT hops (default 6; `make soak` runs 50),
FERRY_PINGPONG_FAULTS of them with a fault (default a fifth),
FERRY_PINGPONG_SEED picks which and when (default 1; the seed is in the
output, so a failing run can be repeated)."""

import os
import random
import shutil
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
sys.path.insert(0, HERE)
from pylib.procfs import fd_count, rss_kib  # noqa: E402
from pylib.relay import Relay  # noqa: E402
from pylib.vm import (FerryVM,  # noqa: E402
                       require_disk_workload_and_postcopy)
from pylib.waits import free_port, wait_for, wait_verified  # noqa: E402
from test_block_migration import file_disk, make_image  # noqa: E402
from test_fault_grid import KEEPALIVE_MS, status  # noqa: E402
from test_postcopy import Watch  # noqa: E402

MiB = 1 << 20
MEM = '256M'
# the faults a hop can get: (name, postcopy hop?)
FAULTS = [('link reset in precopy', False),
          ('destination killed in precopy', False),
          ('link reset in postcopy', True),
          ('silent link in postcopy', True)]
# an fd count may move by a few (a QMP client, a relay's connection in
# flight); RSS by what the guest's own page cache and the allocator keep
FD_SLACK = 4
RSS_SLACK_KIB = 32 * 1024


def describe(src, dst):
    out = []
    for side, vm in (('source', src), ('destination', dst)):
        if vm.proc.poll() is not None:
            out.append(f'{side}: exited {vm.proc.returncode}')
            continue
        info = vm.qmp.cmd('query-migrate')
        out.append(f"{side}: {info.get('status')} "
                   f"({info.get('error-desc')!r}); log: "
                   f"{vm.stderr_text()[-1500:]}")
    return '\n'.join(out)


class PingPong(unittest.TestCase):
    def setUp(self):
        require_disk_workload_and_postcopy(self)
        self.tmp = tempfile.mkdtemp(prefix='ferry-pingpong-')
        self.image = make_image(self.tmp)
        self.vms, self.relays = [], []

    def tearDown(self):
        for r in self.relays:
            r.close()
        for vm in self.vms:
            vm.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, incoming):
        vm = FerryVM(mem=MEM, smp=2, paused=incoming,
                     append='dirty-rate=16M disk-rate=2M',
                     extra_args=file_disk(self.image) +
                     (['-incoming', 'defer'] if incoming else []))
        self.vms.append(vm)
        vm.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': c, 'state': True}
            for c in ('events', 'return-path', 'postcopy-ram')])
        vm.qmp.cmd('migrate-set-parameters', **{
            'postcopy-keepalive-timeout': KEEPALIVE_MS})
        return vm

    def retire(self, vm):
        vm.close()
        self.vms.remove(vm)

    def link(self, dst):
        port = free_port()
        dst.qmp.cmd('migrate-incoming', uri=f'tcp:127.0.0.1:{port}',
                    **{'exit-on-error': False})
        relay = Relay('127.0.0.1', port).start()
        self.relays.append(relay)
        return relay

    def test_pingpong(self):
        count = int(os.environ.get('FERRY_PINGPONG_COUNT', '6'))
        nfaults = int(os.environ.get('FERRY_PINGPONG_FAULTS',
                                     str(max(1, count // 5))))
        seed = int(os.environ.get('FERRY_PINGPONG_SEED', '1'))
        rng = random.Random(seed)
        faulty = set(rng.sample(range(count), nfaults))
        print(f'ping-pong: {count} hops, faults in {sorted(faulty)}, '
              f'seed {seed}')
        src = self.start(incoming=False)
        self.assertTrue(wait_verified(src, 1, 120))
        samples = []
        for hop in range(count):
            postcopy = hop % 2 == 1
            fault = None
            if hop in faulty:
                fault = rng.choice([f for f, pc in FAULTS if pc == postcopy])
            samples.append((fd_count(src.proc.pid), rss_kib(src.proc.pid)))
            # no subTest: a hop that failed leaves nothing to go on with
            print(f'ping-pong: hop {hop}, {"postcopy" if postcopy else "precopy"}'
                  f'{", " + fault if fault else ""}')
            src = self.hop(src, postcopy, fault, rng)
        self.assert_intact(src)
        self.assert_steady(samples)

    def hop(self, src, postcopy, fault, rng):
        """Moves the guest off @src; returns the process it runs in."""
        src.qmp.cmd('migrate-set-parameters', **{
            'max-bandwidth': 64 * MiB if fault else 0,
            'max-postcopy-bandwidth': 16 * MiB if fault else 0})
        while True:
            dst = self.start(incoming=True)
            src_watch, dst_watch = Watch(src), Watch(dst)
            relay = self.link(dst)
            src.qmp.cmd('migrate', uri=relay.uri)
            if postcopy:
                self.assertTrue(relay.wait_bytes_up(8 * MiB, 60))
                src.qmp.cmd('migrate-start-postcopy')
                self.assertTrue(dst_watch.wait_status('postcopy-active', 60))
                dst.qmp.cmd('cont')
            if fault:
                # a seeded moment: after this many more bytes
                self.assertTrue(relay.wait_bytes_up(
                    relay.bytes_up + rng.randrange(1, 16) * MiB, 60))
                self.inject(fault, relay, dst)
                if not postcopy:
                    self.failed_cleanly(src, dst, dst_watch)
                    fault = None
                    src.qmp.cmd('migrate-set-parameters',
                                **{'max-bandwidth': 0})
                    continue        # the retry, to a new destination
                self.recover(src, dst)
            self.completed(src, dst, src_watch, postcopy)
            self.retire(src)
            return dst

    def inject(self, fault, relay, dst):
        if fault.startswith('link reset'):
            relay.cut()
        elif fault.startswith('silent link'):
            relay.freeze()
        elif fault.startswith('destination killed'):
            dst.proc.kill()
            dst.proc.wait()

    def failed_cleanly(self, src, dst, dst_watch):
        self.assertTrue(wait_for(lambda: status(src) == 'failed', 60, 0.05),
                        status(src))
        self.assertTrue(wait_for(lambda: src.qmp.cmd('query-status')
                                 ['running'], 30))
        if dst.proc.poll() is None:
            self.assertNotIn('RESUME', dst_watch.names())
        self.retire(dst)

    def recover(self, src, dst):
        both = lambda: status(src) == status(dst) == 'postcopy-paused'  # noqa
        self.assertTrue(wait_for(both, 60, 0.05), describe(src, dst))
        relay = self.link_recover(dst)
        src.qmp.cmd('migrate-set-parameters',
                    **{'max-postcopy-bandwidth': 0})
        src.qmp.cmd('migrate', uri=relay.uri, resume=True)

    def link_recover(self, dst):
        port = free_port()
        dst.qmp.cmd('migrate-recover', uri=f'tcp:127.0.0.1:{port}')
        relay = Relay('127.0.0.1', port).start()
        self.relays.append(relay)
        return relay

    def completed(self, src, dst, src_watch, postcopy):
        self.assertTrue(wait_for(lambda: status(src) == 'completed', 120,
                                 0.05), describe(src, dst))
        self.assertTrue(wait_for(lambda: status(dst) == 'completed', 60,
                                 0.05), describe(src, dst))
        self.assertFalse(src_watch.resumed_after_stop(),
                         'the source ran again after handing over')
        if not postcopy:
            dst.qmp.cmd('cont')
        self.assertTrue(wait_for(lambda: dst.qmp.cmd('query-status')
                                 ['running'], 30))
        w = dst.qmp.cmd('x-query-workload')
        for key in ('corrupt-pages', 'corrupt-sectors', 'disk-io-errors'):
            self.assertEqual(w[key], 0, f'{key}: {w}')
        self.assertEqual(w['boots'], 1, w)

    def assert_intact(self, vm):
        before = vm.qmp.cmd('x-query-workload')
        w = wait_verified(vm, before['full-verify-passes'] + 1, 180)
        self.assertTrue(w)
        for key in ('corrupt-pages', 'corrupt-sectors', 'disk-io-errors'):
            self.assertEqual(w[key], 0, f'{key}: {w}')
        self.assertEqual(w['boots'], 1, w)
        self.assertGreater(w['disk-sectors-verified'], 0, w)

    def assert_steady(self, samples):
        """The serving process looks the same at every hop: the first
        sample is after boot, so hops 1.. are compared with each other
        (the first hop's process filled its RAM; later ones were filled
        by a migration)."""
        later = samples[1:] or samples
        fds = [f for f, _ in later]
        rss = [r for _, r in later]
        print(f'ping-pong: fds {fds}, rss KiB {rss}')
        self.assertLessEqual(max(fds) - min(fds), FD_SLACK, fds)
        self.assertLessEqual(max(rss) - min(rss), RSS_SLACK_KIB, rss)


if __name__ == '__main__':
    unittest.main()
