"""Postcopy recovery between two real ferry processes: a postcopy
migration that lost its link (a cut, a silent network, migrate-pause)
halts both sides in postcopy-paused, and migrate-recover on the
destination plus migrate resume on the source carry it on to completion.

Each test breaks the link through a Relay (tests/pylib/relay.py), checks
that both sides pause, never fail and report why, then recovers over a
NEW relay: a relay forwards to one fixed address, and the destination
listens on a new port for each recovery.  Every test ends with the
guest's own verifier on the destination (corrupt-pages == 0, boots == 1,
one more full verify pass) and checks the guest never ran on both sides.

The three-cut test cuts at seeded random moments; FERRY_RECOVERY_SEED=N
replays another choice (the seed and the delays are in every failure
message)."""

import os
import random
import subprocess
import sys
import time
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
sys.path.insert(0, HERE)
from pylib.qmp import QMPError  # noqa: E402
from pylib.relay import Relay  # noqa: E402
from pylib.vm import build_dir  # noqa: E402
from pylib.waits import free_port, wait_for  # noqa: E402
from test_postcopy import PostcopyBase  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
PAUSE_TIMEOUT = 5.0         # s: a broken channel pauses both sides by then
LISTEN_TIMEOUT = 10.0       # s: migrate-recover -> postcopy-recover-setup
RECOVER_TIMEOUT = 30.0      # s: resume -> postcopy-active on both sides
COMPLETE_TIMEOUT = 60.0     # s: last recovery -> completed (512M-1G guests)
IN_FLIGHT = 64 * MiB        # pages lost in socket and relay buffers at a cut
DEFAULT_SEED = 20240917

# Return-path message types (docs/migration.md, "The stream")
RP_RECV_BITMAP = 5
RP_RESUME_ACK = 6

RECOVERED = ['postcopy-recover-setup', 'postcopy-recover', 'postcopy-active']


def mark(watch):
    """An index into @watch's events: what happens from now on."""
    watch.pump()
    return len(watch.events)


def since(watch, index):
    """MIGRATION statuses @watch saw from @index on."""
    watch.pump()
    return [e['data']['status'] for e in watch.events[index:]
            if e['event'] == 'MIGRATION']


def first_event(watch, index, status):
    watch.pump()
    for e in watch.events[index:]:
        if e['event'] == 'MIGRATION' and e['data']['status'] == status:
            return e
    return None


def event_time(event):
    ts = event['timestamp']
    return ts['seconds'] + ts['microseconds'] / 1e6


def is_subsequence(wanted, seq):
    it = iter(seq)
    return all(x in it for x in wanted)


def rp_messages(chunk):
    """Types of the return-path messages (be16 type, be16 len, data) that
    start @chunk, as far as they are whole in it."""
    types_seen, off = [], 0
    while off + 4 <= len(chunk):
        kind = int.from_bytes(chunk[off:off + 2], 'big')
        length = int.from_bytes(chunk[off + 2:off + 4], 'big')
        types_seen.append(kind)
        off += 4 + length
    return types_seen


class RecoveryBase(PostcopyBase):
    mem = '512M'
    bandwidth = 32 * MiB        # max-postcopy-bandwidth until unthrottle()

    def setUp(self):
        self.relays, self.procs = [], []
        self.link = None        # the relay carrying the migration now
        try:
            super().setUp()
        except unittest.SkipTest:
            raise
        except BaseException:
            self.tearDown()
            raise

    def tearDown(self):
        for p in getattr(self, 'procs', []):
            if p.poll() is None:
                p.kill()
            try:
                p.communicate(timeout=10)
            except Exception:
                pass
        for r in getattr(self, 'relays', []) + [getattr(self, 'relay', None)]:
            if r is not None:
                try:
                    r.close()
                except Exception:
                    pass
        self.relay = None
        super().tearDown()

    # --- helpers ---------------------------------------------------------

    def new_relay(self, port):
        relay = Relay('127.0.0.1', port)
        self.relays.append(relay)
        return relay.start()

    def describe(self):
        """Both sides' statuses and error-desc, for failure messages."""
        parts = []
        for side, vm, watch in (('source', self.src, self.src_watch),
                                ('destination', self.dst, self.dst_watch)):
            try:
                info = vm.qmp.cmd('query-migrate')
                now = f"{info.get('status')} ({info.get('error-desc')!r})"
            except Exception as e:
                now = f'query-migrate failed: {e!r}'
            try:
                seen = watch.statuses()
            except Exception as e:
                seen = repr(e)
            parts.append(f'{side}: now {now}, events {seen}')
        for p in getattr(self, 'procs', []):
            if p.poll() is not None:
                try:
                    out, err = p.communicate(timeout=1)
                except Exception:
                    out = err = '?'
                parts.append(f'{" ".join(p.args[3:])} exited '
                             f'{p.returncode}: {out!r} {err!r}')
        return '; '.join(parts)

    def start_postcopy_migration(self, after=0.5, direct=False):
        """Precopy for @after seconds, then postcopy, through a relay
        unless @direct; returns once the source is in postcopy-active."""
        self.src.qmp.cmd('migrate-set-parameters',
                         **{'max-postcopy-bandwidth': self.bandwidth})
        self.start(via_relay=not direct, start_postcopy_after=after)
        if self.relay is not None:
            self.relays.append(self.relay)
            self.link = self.relay
        self.start_postcopy()
        self.cont_destination_when_active()
        self.assertTrue(self.src_watch.wait_status('postcopy-active', 60),
                        self.describe())

    def unthrottle(self):
        """What libvirt does before a resume: set max-postcopy-bandwidth
        (here: no limit, so the rest goes fast)."""
        self.src.qmp.cmd('migrate-set-parameters',
                         **{'max-postcopy-bandwidth': 0})

    def wait_paused(self, smark, dmark, timeout=PAUSE_TIMEOUT):
        """Both sides emit postcopy-paused after the marks, within
        @timeout seconds, and never failed; returns the two events."""
        found = {}
        sides = (('source', self.src_watch, smark),
                 ('destination', self.dst_watch, dmark))
        deadline = time.monotonic() + timeout
        while len(found) < 2 and time.monotonic() < deadline:
            for side, watch, index in sides:
                if side not in found:
                    ev = first_event(watch, index, 'postcopy-paused')
                    if ev:
                        found[side] = ev
        self.assertEqual(set(found), {'source', 'destination'},
                         f'not both in postcopy-paused within {timeout}s: '
                         f'{self.describe()}')
        for side, watch, index in sides:
            self.assertNotIn('failed', since(watch, index), side)
        return found

    def assert_paused(self):
        """Both sides report postcopy-paused with an error-desc, the source
        guest is stopped and never resumed; returns the source's
        query-migrate."""
        infos = {}
        for side, vm in (('source', self.src), ('destination', self.dst)):
            info = vm.qmp.cmd('query-migrate')
            self.assertEqual(info.get('status'), 'postcopy-paused',
                             f'{side}: {info}')
            self.assertTrue(info.get('error-desc'),
                            f'{side} gives no error-desc in postcopy-paused: '
                            f'{info}')
            infos[side] = info
        self.assertFalse(self.src.qmp.cmd('query-status')['running'])
        self.assertFalse(self.src_watch.resumed_after_stop(),
                         self.src_watch.names())
        self.assertNotIn('failed', self.src_watch.statuses())
        self.assertNotIn('failed', self.dst_watch.statuses())
        # what the destination's guest checked so far is intact
        self.assertEqual(self.dst.qmp.cmd('x-query-workload')
                         ['corrupt-pages'], 0)
        return infos['source']

    def cut(self):
        """Cuts the link in postcopy-active; both sides pause."""
        smark, dmark = mark(self.src_watch), mark(self.dst_watch)
        self.assertGreater(self.link.cut(), 0, 'no connection to cut')
        self.wait_paused(smark, dmark)
        return self.assert_paused()

    def listen(self):
        """migrate-recover on the destination at a new port; returns the
        port and the destination's mark, once it is listening."""
        port = free_port()
        dmark = mark(self.dst_watch)
        self.dst.qmp.cmd('migrate-recover', uri=f'tcp:127.0.0.1:{port}')
        self.assertTrue(
            wait_for(lambda: 'postcopy-recover-setup' in
                     since(self.dst_watch, dmark), LISTEN_TIMEOUT, 0.01),
            f'destination not in postcopy-recover-setup after '
            f'migrate-recover: {self.describe()}')
        return port, dmark

    def resume(self, uri):
        self.src.qmp.cmd('migrate', uri=uri, resume=True)

    def ferryctl_args(self, *words):
        return [os.path.join(build_dir(), 'ferryctl'), '-s',
                self.src.qmp_path] + list(words)

    def resume_ferryctl(self, uri):
        """HMP 'migrate -r URI' through ferryctl: it waits for the end of
        the migration, so it runs in the background (self.ferryctl)."""
        self.ferryctl = subprocess.Popen(
            self.ferryctl_args('migrate', '-r', uri), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(self.ferryctl)

    def ferryctl(self, vm, *words, timeout=30):
        return subprocess.run(
            [os.path.join(build_dir(), 'ferryctl'), '-s', vm.qmp_path] +
            list(words), stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=timeout)

    def recover(self, resume=None, arm=None, direct=False):
        """Destination listens on a new port, the source resumes to it
        (through a new relay unless @direct; @arm(relay) runs before the
        source connects).  Returns the recovery's relay, uri and marks."""
        port, dmark = self.listen()
        uri, relay = f'tcp:127.0.0.1:{port}', None
        if not direct:
            relay = self.new_relay(port)
            if arm:
                arm(relay)
            uri = relay.uri
        smark = mark(self.src_watch)
        (resume or self.resume)(uri)
        return types.SimpleNamespace(relay=relay, uri=uri, port=port,
                                     smark=smark, dmark=dmark)

    def wait_recovered(self, rec, timeout=RECOVER_TIMEOUT):
        """Both sides went postcopy-recover-setup -> postcopy-recover ->
        postcopy-active since the recovery began."""
        def done():
            return (is_subsequence(RECOVERED, since(self.src_watch, rec.smark))
                    and is_subsequence(RECOVERED,
                                       since(self.dst_watch, rec.dmark)))
        self.assertTrue(wait_for(done, timeout, 0.01),
                        f'recovery did not reach postcopy-active within '
                        f'{timeout}s: {self.describe()}')
        if rec.relay is not None:
            self.link = rec.relay
        self.assertNotIn('failed', self.src_watch.statuses())
        self.assertNotIn('failed', self.dst_watch.statuses())

    def finish(self, timeout=COMPLETE_TIMEOUT):
        """The migration completes (a new pause ends the wait at once) and
        the destination's guest verifies; returns the source's
        query-migrate."""
        ends = ('completed', 'failed', 'cancelled', 'postcopy-paused')

        def ended():
            info = self.src.qmp.cmd('query-migrate')
            return info if info.get('status') in ends else None
        info = wait_for(ended, timeout, 0.1)
        self.assertIsNotNone(info, f'not completed within {timeout}s: '
                             f'{self.describe()}')
        self.assertEqual(info['status'], 'completed', self.describe())
        info = self.assert_completed_and_verified()
        self.assertNotIn('failed', self.src_watch.statuses())
        self.assertNotIn('failed', self.dst_watch.statuses())
        return info


# The three-cut case's guest: 1 GiB in make check, the 4 GiB in
# make soak (its first fill alone takes half a minute here).
THREE_CUTS_GIB = int(os.environ.get('FERRY_RECOVERY_GIB', '1'))


class RecoveryThreeCuts(RecoveryBase, unittest.TestCase):
    """The guest dirtying flat out, the link cut three times in
    postcopy-active; each time both sides pause and recover, the last time
    through ferryctl; only what was missing is resent.  The postcopy
    bandwidth does not hold back the pages the destination's guest faults
    on while it verifies its memory: those took all of 1 GiB in about 4 s
    of postcopy here.  So the three cuts come within the first 2.2 s of
    postcopy-active, at random."""
    mem = f'{THREE_CUTS_GIB}G'
    bandwidth = THREE_CUTS_GIB * 64 * MiB

    def test_three_cuts_in_postcopy(self):
        seed = int(os.environ.get('FERRY_RECOVERY_SEED', DEFAULT_SEED))
        print(f'FERRY_RECOVERY_SEED={seed}', file=sys.stderr, flush=True)
        rng = random.Random(seed)
        delays = []
        # Precopy at the same cap, so that what is left for postcopy does
        # not depend on how fast this machine ran precopy.
        self.src.qmp.cmd('migrate-set-parameters',
                         **{'max-bandwidth': self.bandwidth})
        self.start_postcopy_migration(after=1.0)
        pauses = []
        for n in range(3):
            delays.append(round(rng.uniform(0.2, 1.0) if n == 0
                                else rng.uniform(0.0, 0.6), 3))
            ctx = f'seed {seed}, delays {delays}'
            time.sleep(delays[-1])
            self.assertEqual(self.src.qmp.cmd('query-migrate')['status'],
                             'postcopy-active',
                             f'cut {n + 1} not in postcopy-active ({ctx}): '
                             f'{self.describe()}')
            try:
                pauses.append(self.cut()['ram'])
            except AssertionError as e:
                raise AssertionError(f'cut {n + 1} ({ctx}): {e}') from None
            if n < 2:
                rec = self.recover()
            else:
                self.unthrottle()
                rec = self.recover(resume=self.resume_ferryctl)
            self.wait_recovered(rec)
        ctx = f'seed {seed}, delays {delays}'
        info = self.finish(timeout=120)
        try:
            out, err = self.ferryctl.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.ferryctl.kill()
            out, err = self.ferryctl.communicate()
            self.fail(f'ferryctl migrate -r still waits after completion: '
                      f'{out!r} {err!r}')
        self.assertEqual(self.ferryctl.returncode, 0, err)
        self.assertIn('migration completed', out)

        # No full resend: after each resume the source sends at most what
        # it had not sent at the pause, plus what the cut lost in flight.
        ram = info['ram']
        ends = [p['postcopy-bytes'] for p in pauses[1:]] + \
            [ram['postcopy-bytes']]
        for n, (pause, end) in enumerate(zip(pauses, ends)):
            sent = end - pause['postcopy-bytes']
            self.assertGreaterEqual(sent, 0, f'ram.postcopy-bytes went back '
                                    f'after resume {n + 1} ({ctx})')
            self.assertLessEqual(
                sent, pause['remaining'] + IN_FLIGHT,
                f'after resume {n + 1} the source sent {sent >> 20} MiB, '
                f'{pause["remaining"] >> 20} MiB remained at the pause '
                f'({ctx}; pauses {pauses}, final {ram})')
        self.assertGreater(ends[-1], pauses[-1]['postcopy-bytes'],
                           f'the rest is not counted in ram.postcopy-bytes '
                           f'({ctx}): {pauses}, final {ram}')
        after = ram['postcopy-bytes'] - pauses[0]['postcopy-bytes']
        self.assertLessEqual(after, pauses[0]['remaining'] + 3 * IN_FLIGHT,
                             f'{ctx}: {pauses}, final {ram}')
        self.assertLess(ram['transferred'],
                        2 * THREE_CUTS_GIB * GiB + IN_FLIGHT,
                        f'{ctx}: {ram}')


class Recovery(RecoveryBase, unittest.TestCase):

    def test_cut_during_recovery(self):
        """The new link dies in the recovery's handshake (the destination's
        answer to the first RECV_BITMAP never reaches the source): both
        pause again, a second recovery completes."""
        self.start_postcopy_migration()
        time.sleep(0.5)
        self.cut()

        armed = {}

        def arm(relay):
            armed['fired'] = relay.cut_when(
                lambda chunk: any(t in (RP_RECV_BITMAP, RP_RESUME_ACK)
                                  for t in rp_messages(chunk)))
        rec = self.recover(arm=arm)
        self.assertTrue(armed['fired'].wait(RECOVER_TIMEOUT),
                        f'no RECV_BITMAP from the destination on the new '
                        f'link: {self.describe()}')
        self.wait_paused(rec.smark, rec.dmark)
        src = since(self.src_watch, rec.smark)
        self.assertIn('postcopy-recover', src)
        self.assertNotIn('postcopy-active', src)
        self.assert_paused()

        self.unthrottle()
        rec = self.recover()
        self.wait_recovered(rec)
        self.finish()

    def test_resume_to_refused_address(self):
        """A resume to an address nothing listens on, then to one that
        resets the connection: each time the source is back in
        postcopy-paused and can retry; the destination keeps listening.
        The third resume completes."""
        self.start_postcopy_migration()
        time.sleep(0.5)
        self.cut()
        port, dmark = self.listen()

        def back_in_paused(smark, refused_at_once, text=''):
            """The attempt ended (refused by the command, or a new
            postcopy-paused event) and the source is paused again."""
            if not (refused_at_once or
                    'postcopy-paused' in since(self.src_watch, smark)):
                return False
            info = self.src.qmp.cmd('query-migrate')
            return (info.get('status') == 'postcopy-paused' and
                    text in (info.get('error-desc') or ''))

        bad = free_port()
        while bad == port:
            bad = free_port()
        smark = mark(self.src_watch)
        refused_at_once = False
        try:
            self.resume(f'tcp:127.0.0.1:{bad}')
        except QMPError:
            refused_at_once = True  # fine, as long as it is paused again
        self.assertTrue(
            wait_for(lambda: back_in_paused(smark, refused_at_once, str(bad)),
                     10, 0.05),
            f'source not back in postcopy-paused with an error-desc naming '
            f'port {bad}: {self.describe()}')

        refusing = self.new_relay(port)
        refusing.refuse()
        smark = mark(self.src_watch)
        refused_at_once = False
        try:
            self.resume(refusing.uri)
        except QMPError:
            refused_at_once = True
        self.assertTrue(
            wait_for(lambda: back_in_paused(smark, refused_at_once), 10, 0.05),
            f'source not back in postcopy-paused after a reset: '
            f'{self.describe()}')
        self.assertGreaterEqual(refusing.connections, 1)
        self.assertTrue(self.src.qmp.cmd('query-migrate').get('error-desc'))
        self.assertNotIn('failed', self.src_watch.statuses())
        self.assertFalse(self.src_watch.resumed_after_stop())
        # the destination never saw either attempt: still listening
        self.assertEqual(self.dst.qmp.cmd('query-migrate')['status'],
                         'postcopy-recover-setup', self.describe())

        self.unthrottle()
        good = self.new_relay(port)
        smark = mark(self.src_watch)
        self.resume(good.uri)
        self.wait_recovered(types.SimpleNamespace(
            relay=good, smark=smark, dmark=dmark))
        self.finish()

    def test_migrate_pause(self):
        """libvirt's 'virsh domjobabort --postcopy': migrate-pause on the
        source pauses both sides; libvirt then sets the postcopy bandwidth,
        recovers, and the migration completes."""
        self.start_postcopy_migration(direct=True)
        time.sleep(0.5)
        smark, dmark = mark(self.src_watch), mark(self.dst_watch)
        self.src.qmp.cmd('migrate-pause')
        self.wait_paused(smark, dmark)
        self.assert_paused()
        with self.assertRaises(QMPError) as cm:
            self.src.qmp.cmd('migrate-pause')     # not in postcopy-active
        self.assertEqual(cm.exception.error_class, 'GenericError')
        r = self.ferryctl(self.src, 'info', 'migrate')
        self.assertIn('Migration status: postcopy-paused', r.stdout)
        self.assertIn('Migration error:', r.stdout)

        self.unthrottle()
        rec = self.recover(direct=True)
        self.wait_recovered(rec)
        self.finish()

    def test_silent_network_keepalive(self):
        """A link that goes silent in postcopy-active: with
        postcopy-keepalive-timeout 1000 both sides pause within about a
        second, instead of waiting for TCP to give up."""
        for vm in (self.src, self.dst):
            p = vm.qmp.cmd('query-migrate-parameters')
            self.assertEqual(p.get('postcopy-keepalive-timeout'), 5000, p)
            for bad in (0, 99, 600001):
                with self.assertRaises(QMPError, msg=bad):
                    vm.qmp.cmd('migrate-set-parameters',
                               **{'postcopy-keepalive-timeout': bad})
            for good in (100, 600000, 1000):
                vm.qmp.cmd('migrate-set-parameters',
                           **{'postcopy-keepalive-timeout': good})
            self.assertEqual(vm.qmp.cmd('query-migrate-parameters')
                             ['postcopy-keepalive-timeout'], 1000)
        self.start_postcopy_migration()
        time.sleep(0.5)
        smark, dmark = mark(self.src_watch), mark(self.dst_watch)
        frozen_at = time.time()
        self.link.freeze()
        events = self.wait_paused(smark, dmark, timeout=10)
        for side, ev in events.items():
            self.assertLess(event_time(ev) - frozen_at, 3.0,
                            f'{side} paused {event_time(ev) - frozen_at:.2f}s '
                            f'after the link went silent')
        self.assert_paused()

        self.unthrottle()
        rec = self.recover()    # the frozen relay stays frozen
        self.wait_recovered(rec)
        self.finish()

    def test_cancel_refused(self):
        """migrate_cancel is refused in postcopy-active and in
        postcopy-paused, through QMP and HMP; recovery completes."""
        self.start_postcopy_migration()
        with self.assertRaises(QMPError) as cm:
            self.src.qmp.cmd('migrate_cancel')
        self.assertIn('cannot be cancelled', str(cm.exception))
        time.sleep(0.3)
        self.cut()
        with self.assertRaises(QMPError) as cm:
            self.src.qmp.cmd('migrate_cancel')
        self.assertIn('cannot be cancelled', str(cm.exception))
        r = self.ferryctl(self.src, 'migrate_cancel')
        self.assertEqual(r.returncode, 1, r)
        self.assertIn('cannot be cancelled', r.stderr)
        self.assertEqual(self.src.qmp.cmd('query-migrate')['status'],
                         'postcopy-paused')
        for s in ('cancelling', 'cancelled'):
            self.assertNotIn(s, self.src_watch.statuses())

        self.unthrottle()
        rec = self.recover()
        self.wait_recovered(rec)
        self.finish()

    def test_recovery_commands_refused_when_not_paused(self):
        """migrate resume:true, migrate-recover and migrate-pause are
        errors outside the state they are for: idle, precopy,
        postcopy-active, completed.  None of them disturbs the
        migration."""
        def refused(vm, command, **args):
            with self.assertRaises(QMPError, msg=f'{command} {args}') as cm:
                vm.qmp.cmd(command, **args)
            self.assertEqual(cm.exception.error_class, 'GenericError',
                             str(cm.exception))

        def all_refused(phase):
            with self.subTest(phase=phase):
                refused(self.src, 'migrate',
                        uri=f'tcp:127.0.0.1:{free_port()}', resume=True)
                refused(self.dst, 'migrate-recover',
                        uri=f'tcp:127.0.0.1:{free_port()}')
                if phase != 'postcopy-active':
                    refused(self.src, 'migrate-pause')

        all_refused('idle')
        r = self.ferryctl(self.src, 'migrate_pause')
        self.assertEqual(r.returncode, 1, r)
        self.assertNotIn('unknown command', r.stderr)
        r = self.ferryctl(self.src, 'migrate', '-d', '-r',
                          f'tcp:127.0.0.1:{free_port()}')
        self.assertEqual(r.returncode, 1, r)

        self.src.qmp.cmd('migrate-set-parameters',
                         **{'max-postcopy-bandwidth': self.bandwidth})
        self.start(start_postcopy_after=0)
        self.assertEqual(self.src.qmp.cmd('query-migrate')['status'],
                         'active')
        all_refused('precopy')
        self.start_postcopy()
        self.cont_destination_when_active()
        self.assertTrue(self.src_watch.wait_status('postcopy-active', 60))
        all_refused('postcopy-active')
        self.unthrottle()
        self.finish()
        self.assertNotIn('postcopy-paused', self.src_watch.statuses())
        self.assertNotIn('postcopy-paused', self.dst_watch.statuses())
        all_refused('completed')


class RecoveryPreempt(RecoveryBase, unittest.TestCase):
    """With postcopy-preempt the recovery connects both channels again."""
    preempt = True
    mem = '1G'
    bandwidth = 64 * MiB

    def test_cut_and_recover_with_preempt(self):
        self.start_postcopy_migration()
        time.sleep(0.5)
        self.assertGreaterEqual(self.link.connections, 2)
        self.cut()
        self.unthrottle()
        rec = self.recover()
        self.wait_recovered(rec)
        self.finish()
        self.assertGreaterEqual(rec.relay.connections, 2,
                                'the preempt channel was not reconnected')


if __name__ == '__main__':
    unittest.main()
