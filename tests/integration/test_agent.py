"""The guest agent's calls across a migration, between real ferry
processes: `ferry-agent load` keeps calls in flight the whole time
(x-guest-sleep spanning the blackout, x-guest-incr to catch a call run
twice, x-guest-echo), and the test orchestrates its bridge as docs/agent.md
describes: set_migrating before the migration, resume_on_conn to the
guest's new chardev socket once it runs there, set_migrating(false) after.
Each test ends with every call answered exactly once, the counters equal
to the calls made, and the guest's memory verifier clean.

A live update moves the channel's connection itself: the bridge is not
told and must not notice.

Also: outside a migration, a lost transport fails every waiter within
100 ms."""

import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
sys.path.insert(0, HERE)
from pylib.agent import (AgentLoad, ChannelRelay, agent_call,  # noqa: E402
                         agent_socket, assert_exactly_once, channel_args,
                         wait_agent)
from pylib.live_update import UpdatableVM  # noqa: E402
from pylib.vm import FerryVM, kvm_available  # noqa: E402
from pylib.waits import (free_port, wait_for, wait_migration_end,  # noqa: E402
                         wait_verified)
from test_postcopy import Watch  # noqa: E402

WARMUP_CALLS = 100          # answered before the migration starts
AFTER_CALLS = 100           # answered on the new transport before the end


def assert_guest_clean(tc, vm):
    """One more full verify pass, no corrupt page, never rebooted."""
    before = vm.qmp.cmd('x-query-workload')
    tc.assertTrue(wait_verified(vm, before['full-verify-passes'] + 1, 120))
    after = vm.qmp.cmd('x-query-workload')
    tc.assertEqual(after['corrupt-pages'], 0)
    tc.assertEqual(after['boots'], 1)


def assert_counters(tc, vm, st):
    """The guest's own counters: one more x-guest-incr answers n + 1."""
    for key, c in st['incr'].items():
        got = agent_call(vm, {'execute': 'x-guest-incr',
                              'arguments': {'key': key}})
        tc.assertEqual(got, c['calls'] + 1, (key, st))


class AgentBase:
    mem = '256M'
    rate = '64M'
    smp = 2

    def setUp(self):
        if not kvm_available():
            self.skipTest('/dev/kvm is not usable')
        self.vms, self.loads = [], []
        self.src = self.start_vm()
        wait_agent(self.src)

    def tearDown(self):
        for load in self.loads:
            load.close()
        for vm in self.vms:
            vm.close()

    def start_vm(self, incoming=False, paused=False):
        extra = channel_args() + (['-incoming', 'defer'] if incoming else [])
        vm = FerryVM(mem=self.mem, smp=self.smp, extra_args=extra,
                     append=f'dirty-rate={self.rate}', paused=paused)
        self.vms.append(vm)
        return vm

    def start_load(self, vm, **kw):
        load = AgentLoad(agent_socket(vm), **kw)
        self.loads.append(load)
        load.wait_ok(WARMUP_CALLS)
        return load

    def finish(self, load, vm):
        """Traffic on the guest's new home, tolerance off, the end."""
        base = load.stats()['ok']
        load.wait_ok(base + AFTER_CALLS)
        load.migrating(False)
        st = load.stop()
        assert_exactly_once(self, st)
        self.assertEqual(st['bridge']['state'], 'normal', st)
        assert_counters(self, vm, st)
        assert_guest_clean(self, vm)
        return st

    def migrate(self, dst, caps=()):
        port = free_port()
        for vm in (self.src, dst):
            vm.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': c, 'state': True} for c in ('events',) + caps])
        dst.qmp.cmd('migrate-incoming', uri=f'tcp:127.0.0.1:{port}')
        self.src.qmp.cmd('migrate', uri=f'tcp:127.0.0.1:{port}')


class AgentMigration(AgentBase, unittest.TestCase):
    def test_precopy(self):
        """Precopy: the guest stops, moves, runs on; the bridge resumes on
        the destination's channel."""
        load = self.start_load(self.src)
        dst = self.start_vm(incoming=True)
        load.migrating(True)
        self.migrate(dst)
        info = wait_migration_end(self.src, 120)
        self.assertEqual(info['status'], 'completed', info)
        self.assertTrue(wait_for(lambda: dst.qmp.cmd('query-status')
                                 ['status'] == 'running', 30))
        load.resume(agent_socket(dst))
        st = self.finish(load, dst)
        print(f'precopy: {st["calls"]} calls, longest {st["max_ms"]:.0f} ms, '
              f'{st["bridge"]["resent"]} re-sent')

    def test_postcopy(self):
        """Postcopy: the bridge resumes as soon as the destination runs,
        while its pages still come over (the agent's too)."""
        load = self.start_load(self.src)
        dst = self.start_vm(incoming=True, paused=True)
        src_watch, dst_watch = Watch(self.src), Watch(dst)
        self.src.qmp.cmd('migrate-set-parameters',
                         **{'max-bandwidth': 64 << 20,
                            'max-postcopy-bandwidth': 64 << 20})
        load.migrating(True)
        self.migrate(dst, caps=('postcopy-ram',))
        self.assertTrue(src_watch.wait_status('active', 30))
        self.src.qmp.cmd('migrate-start-postcopy')
        self.assertTrue(dst_watch.wait_status('postcopy-active', 60),
                        dst_watch.statuses())
        dst.qmp.cmd('cont')
        load.resume(agent_socket(dst))
        info = wait_migration_end(self.src, 300)
        self.assertEqual(info['status'], 'completed', info)
        self.assertIn('postcopy-active', src_watch.statuses())
        self.finish(load, dst)

    def test_failed_migration(self):
        """The destination dies mid-migration: the guest stays on the
        source, and the bridge resumes on a new connection to the source
        (the rollback case)."""
        load = self.start_load(self.src)
        dst = self.start_vm(incoming=True)
        self.src.qmp.cmd('migrate-set-parameters',
                         **{'max-bandwidth': 16 << 20})
        load.migrating(True)
        self.migrate(dst)
        self.assertTrue(wait_for(lambda: self.src.qmp.cmd('query-migrate')
                                 .get('status') == 'active', 30))
        dst.proc.kill()
        info = wait_migration_end(self.src, 60)
        self.assertEqual(info['status'], 'failed', info)
        self.assertEqual(self.src.qmp.cmd('query-status')['status'],
                         'running')
        load.resume(agent_socket(self.src))
        self.finish(load, self.src)


class AgentLiveUpdate(AgentBase, unittest.TestCase):
    def start_vm(self, incoming=False, paused=False):
        vm = UpdatableVM(mem=self.mem, smp=self.smp, extra_args=channel_args(),
                         append=f'dirty-rate={self.rate}', paused=paused)
        self.vms.append(vm)
        return vm

    def test_live_update(self):
        """The channel's connection itself moves to the new process: the
        bridge, never told (no migrating mode), sees no failure, and calls
        in flight across the cutover are answered once."""
        load = self.start_load(self.src)
        old = self.src.pid
        seen, info = self.src.live_update()
        self.assertEqual(info['status'], 'completed', info)
        self.assertNotEqual(info['pid'], old)
        base = load.stats()['ok']
        load.wait_ok(base + AFTER_CALLS)
        st = load.stop()
        assert_exactly_once(self, st, resumed=False)
        self.assertEqual(st['bridge']['resumes'], 0, st)
        self.assertEqual(st['bridge']['state'], 'normal', st)
        assert_counters(self, self.src, st)
        assert_guest_clean(self, self.src)


class AgentTransportFailure(AgentBase, unittest.TestCase):
    mem = '128M'
    smp = 1

    def hold_slots(self, path):
        """A load whose 8 slots all hold minute-long sleeps."""
        load = AgentLoad(path, inflight=8, sleep_ms=60000)
        self.loads.append(load)
        self.assertTrue(wait_for(lambda: load.stats()['outstanding'] == 8 and
                                 load.stats()['ok'] >= 8, 30))
        return load

    def test_fatal_outside_migration(self):
        """Not migrating: the transport breaks (at a moment the test
        knows: a relay in between is cut), and every waiter gets its
        error within 100 ms."""
        relay_path = os.path.join(self.src.tmpdir, 'relay.sock')
        relay = ChannelRelay(relay_path, agent_socket(self.src))
        self.addCleanup(relay.close)
        load = self.hold_slots(relay_path)
        t0 = time.monotonic()
        relay.cut()
        closed = load.expect('closed', timeout=10)
        self.assertEqual(closed['errors'], 8, closed)
        self.assertIn('connection lost', closed['error'])
        self.assertLess(closed['last_fail'] - t0, 0.100, closed)
        self.assertEqual(closed['bridge']['state'], 'closed')

    def test_guest_process_dies(self):
        """Not migrating: the guest's ferry is killed; every waiter is
        released with the transport's error, none waits for its
        timeout."""
        load = self.hold_slots(agent_socket(self.src))
        os.kill(self.src.proc.pid, signal.SIGKILL)
        closed = load.expect('closed', timeout=10)
        self.assertEqual(closed['errors'], 8, closed)
        self.assertIn('connection lost', closed['error'])


if __name__ == '__main__':
    unittest.main()
