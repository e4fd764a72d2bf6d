"""The fault grid (fault_grid_table.py): for every cell that can happen,
a real source and destination (KVM, the test guest writing RAM and its
pvblk disk on a shared image), the migration held in the row's state,
the column's fault, and the cell's expected end, checked with the
guest's verifier (0 corrupt pages and sectors, one boot) and "never
running on both sides" (the destination's events against the source's).

Each cell is a subtest named "STATE / FAULT"; FERRY_GRID_CELLS=
"active/link reset,device/*" runs some.  A cell's pair of VMs lives only
for that cell."""

import fnmatch
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
sys.path.insert(0, HERE)
import fault_grid_table as table  # noqa: E402
from pylib.qmp import QMPError  # noqa: E402
from pylib.procfs import stop_process  # noqa: E402
from pylib.relay import Relay  # noqa: E402
from pylib.tlscerts import psk_dir  # noqa: E402
from pylib.vm import (FerryVM,  # noqa: E402
                       require_disk_workload_and_postcopy)
from pylib.waits import free_port, wait_for, wait_verified  # noqa: E402
from test_block_migration import file_disk, make_image  # noqa: E402
from test_postcopy import Watch  # noqa: E402

KiB = 1 << 10
MiB = 1 << 20
# short enough that a silent link is noticed within a test, long enough
# that a loaded 2-core machine does not go quiet for that long between
# two keepalives (1000 ms did, once in a few dozen recoveries)
KEEPALIVE_MS = 2000
MEM = '128M'
PSK_KEY = '5e11' * 8
ENDED = ('completed', 'failed', 'cancelled')
PRECOPY_ROWS = ('setup', 'active', 'pre-switchover', 'device')


def status(vm):
    return vm.qmp.cmd('query-migrate').get('status')


def alive(vm):
    return vm.proc.poll() is None


class Cell:
    """One cell's two VMs, link and knobs."""

    def __init__(self, tc, state, fault):
        self.tc, self.state, self.fault = tc, state, fault
        self.postcopy = state.startswith('postcopy')
        self.tls = fault == 'bad byte'
        self.relay = None
        self.relays = []
        self.frozen = None
        self.image = make_image(tc.tmp, f'disk-{tc.cell_no}.img')
        self.src = tc.vm(self.vm_args('client'), smp=2)
        dst_smp = 1 if fault == 'bad device state' else 2
        self.dst = tc.vm(self.vm_args('server') + ['-incoming', 'defer'],
                         smp=dst_smp, paused=True)
        self.src_watch, self.dst_watch = Watch(self.src), Watch(self.dst)
        caps = ['events', 'return-path']
        if self.postcopy:
            caps.append('postcopy-ram')
        if state in ('pre-switchover', 'device'):
            caps.append('pause-before-switchover')
        for vm in (self.src, self.dst):
            vm.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': c, 'state': True} for c in caps])
            if self.tls:
                vm.qmp.cmd('migrate-set-parameters', **{'tls-creds': 'psk0'})
        if fault == 'disk attach fails' and state != 'setup':
            # attach at activation (after the device state), not early
            self.dst.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'early-block-attach', 'state': False}])
        # a silent destination in postcopy-setup is noticed by this
        # timeout; the other cells must not race it
        quiet = state == 'postcopy-setup' and \
            fault in ('silent link', 'destination frozen')
        self.src.qmp.cmd('migrate-set-parameters', **{
            'postcopy-setup-timeout': 1000 if quiet else 60000,
            'postcopy-keepalive-timeout': KEEPALIVE_MS})
        self.dst.qmp.cmd('migrate-set-parameters', **{
            'postcopy-keepalive-timeout': KEEPALIVE_MS})
        # A guest that has not filled its RAM yet sends mostly zero pages:
        # the migration would complete before the fault's moment comes.
        self.tc.assertTrue(wait_verified(self.src, 1, 60), self.describe())

    def vm_args(self, endpoint):
        return file_disk(self.image) + [
            '-object', f'tls-creds-psk,id=psk0,dir={self.tc.psk},'
                       f'endpoint={endpoint},username=ferry']

    # --- links ---------------------------------------------------------

    def listen(self, port=None):
        port = port or free_port()
        self.dst.qmp.cmd('migrate-incoming', uri=f'tcp:127.0.0.1:{port}',
                         **{'exit-on-error': False})
        return port

    def link(self, port):
        self.relay = Relay('127.0.0.1', port).start()
        self.relays.append(self.relay)
        return self.relay.uri

    def migrate(self, uri=None):
        self.src.qmp.cmd('migrate', uri=uri or self.link(self.listen()))

    def close(self):
        if self.frozen:
            os.kill(self.frozen.proc.pid, signal.SIGCONT)
        for r in self.relays:
            r.close()

    # --- the states ------------------------------------------------------

    def wait_src(self, wanted, timeout=60):
        self.tc.assertTrue(wait_for(lambda: status(self.src) == wanted,
                                    timeout, 0.02),
                           f'source not {wanted}: {self.describe()}')

    def to_active(self):
        self.src.qmp.cmd('migrate-set-parameters',
                         **{'max-bandwidth': 16 * MiB})
        self.migrate()
        self.wait_src('active')
        self.wait_precopy_moving()

    def wait_precopy_moving(self):
        self.tc.assertTrue(self.relay.wait_bytes_up(2 * MiB, 30),
                           f'{self.relay.bytes_up} bytes up: '
                           f'{self.describe()} '
                           f"{self.src.qmp.cmd('query-migrate')}")

    def to_pre_switchover(self):
        self.migrate()
        self.wait_src('pre-switchover')

    def to_device(self):
        self.to_pre_switchover()
        if self.fault not in ('bad device state', 'bad byte',
                              'disk attach fails', 'destination frozen'):
            self.relay.drop_return_path()       # SHUT does not arrive
            self.src.qmp.cmd('migrate-continue', state='pre-switchover')
            self.wait_src('device')
            # the destination loaded and is waiting to be told to run
            self.tc.assertTrue(wait_for(lambda: status(self.dst) ==
                                        'completed', 30), self.describe())

    def start_postcopy_precopy(self):
        self.src.qmp.cmd('migrate-set-parameters', **{
            'max-bandwidth': 16 * MiB, 'max-postcopy-bandwidth': 8 * MiB})
        self.migrate()
        self.wait_src('active')
        self.wait_precopy_moving()

    def to_postcopy_setup(self):
        """Faults the source must notice by itself are in place before
        migrate-start-postcopy; the others hit while it waits for a
        RUN_ACK the held return path does not deliver."""
        self.start_postcopy_precopy()
        if self.fault in ('silent link', 'destination frozen',
                          'bad device state', 'disk attach fails'):
            self.inject()
            self.src.qmp.cmd('migrate-start-postcopy')
            if self.fault == 'disk attach fails':
                # libvirt's cont: refused, naming the image, and the
                # destination stays paused
                with self.tc.assertRaises(QMPError) as cm:
                    self.cont_destination()
                self.tc.assertIn(self.image, str(cm.exception))
            return
        self.relay.drop_return_path()
        self.src.qmp.cmd('migrate-start-postcopy')
        self.wait_src('postcopy-setup')
        self.inject()

    def to_postcopy_active(self):
        self.start_postcopy_precopy()
        self.src.qmp.cmd('migrate-start-postcopy')
        self.cont_destination()
        self.wait_src('postcopy-active')

    def cont_destination(self):
        """As libvirt: cont once the destination is in postcopy-active."""
        self.tc.assertTrue(self.dst_watch.wait_status('postcopy-active', 60),
                           self.describe())
        self.dst.qmp.cmd('cont')

    def to_postcopy_paused(self):
        self.to_postcopy_active()
        self.relay.cut()
        self.wait_both('postcopy-paused')

    def to_postcopy_recover(self):
        self.to_postcopy_paused()
        port = free_port()
        self.dst.qmp.cmd('migrate-recover', uri=f'tcp:127.0.0.1:{port}')
        uri = self.link(port)
        if self.fault == 'bad byte':
            self.relay.corrupt_up()     # the recovery's first bytes
        else:
            self.relay.freeze()
        self.src.qmp.cmd('migrate', uri=uri, resume=True)
        self.tc.assertTrue(wait_for(lambda: status(self.src) in
                                    ('postcopy-recover-setup',
                                     'postcopy-recover'), 30, 0.02),
                           self.describe())

    def wait_both(self, wanted, timeout=60):
        self.tc.assertTrue(
            wait_for(lambda: status(self.src) == wanted and
                     status(self.dst) == wanted, timeout, 0.02),
            f'not both {wanted}: {self.describe()}')

    # --- the faults --------------------------------------------------------

    def inject(self):
        """The fault, in the state reached (or, for setup, before it)."""
        f = self.fault
        if f == 'link reset':
            self.relay.cut()
        elif f == 'silent link':
            self.relay.freeze()
        elif f == 'source killed':
            self.src.proc.kill()
            self.src.proc.wait()
        elif f == 'destination killed':
            self.dst.proc.kill()
            self.dst.proc.wait()
            if self.state in ('device', 'postcopy-setup'):
                # the held return path would hide the end of the dead
                # process's connection (the source would only give up at
                # postcopy-setup-timeout): deliver it, as a reset
                self.relay.cut()
        elif f == 'destination frozen':
            self.frozen = self.dst
            self.tc.assertTrue(stop_process(self.dst.proc.pid))
        elif f == 'bad byte':
            self.relay.corrupt_up()
        elif f == 'disk attach fails':
            os.rename(self.image, self.image + '.gone')

    def describe(self):
        out = []
        for side, vm, w in (('source', self.src, self.src_watch),
                            ('destination', self.dst, self.dst_watch)):
            if not alive(vm):
                out.append(f'{side}: exited {vm.proc.returncode}')
                continue
            if vm is self.frozen:
                out.append(f'{side}: frozen')
                continue
            try:
                info = vm.qmp.cmd('query-migrate')
                out.append(f"{side}: {info.get('status')} "
                           f"({info.get('error-desc')!r}), events "
                           f"{w.statuses()}")
            except Exception as e:
                out.append(f'{side}: {e!r}')
        return '; '.join(out)


class FaultGrid(unittest.TestCase):
    def setUp(self):
        require_disk_workload_and_postcopy(self)
        self.tmp = tempfile.mkdtemp(prefix='ferry-grid-')
        # a cleanup, not tearDown: it must run after the cleanups that
        # unmount the out-of-space cells' filesystems inside it
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.psk = psk_dir(self.tmp, 'psk', 'ferry', PSK_KEY)
        self.vms = []
        self.cell_no = 0

    def tearDown(self):
        for vm in self.vms:
            vm.close()

    def vm(self, extra, smp, paused=False):
        vm = FerryVM(mem=MEM, smp=smp, paused=paused, extra_args=extra,
                     append='dirty-rate=8M disk-rate=2M')
        self.vms.append(vm)
        return vm

    def wanted(self, state, fault):
        pick = os.environ.get('FERRY_GRID_CELLS')
        if not pick:
            return True
        return any(fnmatch.fnmatchcase(f'{state}/{fault}', p.strip())
                   for p in pick.split(','))

    def test_grid(self):
        ran = 0
        for state, fault, entry in table.cells():
            if not table.is_end(entry) or not self.wanted(state, fault):
                continue
            ran += 1
            with self.subTest(cell=f'{state} / {fault}'):
                self.cell_no += 1
                self.run_cell(state, fault, entry)
        if not os.environ.get('FERRY_GRID_CELLS'):
            self.assertEqual(ran, sum(table.is_end(e)
                                      for _, _, e in table.cells()))

    def run_cell(self, state, fault, end):
        if fault == 'out of space':
            return self.out_of_space_cell(state, end)
        c = Cell(self, state, fault)
        try:
            self.reach_and_inject(c)
            getattr(self, 'end_' + end.replace(' ', '_').replace(',', ''))(c)
        finally:
            c.close()
            for vm in (c.src, c.dst):
                vm.close()
                self.vms.remove(vm)

    def reach_and_inject(self, c):
        if c.state == 'setup':
            return self.setup_cell(c)
        getattr(c, 'to_' + c.state.replace('-', '_'))()
        if c.state == 'postcopy-setup':
            return          # to_postcopy_setup injected at its moment
        if c.state != 'postcopy-recover' or c.fault != 'bad byte':
            c.inject()
        if c.state == 'pre-switchover' and c.fault in (
                'silent link', 'destination frozen'):
            c.src.qmp.cmd('migrate-continue', state='pre-switchover')
        elif c.state == 'device' and c.fault in (
                'bad device state', 'bad byte', 'disk attach fails',
                'destination frozen'):
            c.src.qmp.cmd('migrate-continue', state='pre-switchover')

    def setup_cell(self, c):
        """The fault first, then `migrate`."""
        f = c.fault
        if f == 'silent link':
            return self.blackhole_migrate(c)
        port = c.listen()
        uri = c.link(port)
        if f == 'link reset':
            c.relay.refuse()
        elif f in ('destination killed', 'destination frozen',
                   'disk attach fails', 'bad byte'):
            c.inject()
        c.migrate(uri)
        if f == 'source killed':
            c.inject()

    def blackhole_migrate(self, c):
        """A listener whose accept queue is full: connect() never ends."""
        hole = socket.socket()
        hole.bind(('127.0.0.1', 0))
        hole.listen(0)
        port = hole.getsockname()[1]
        fillers = []
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(('127.0.0.1', port))
            fillers.append(s)
        self.addCleanup(lambda: [s.close() for s in fillers + [hole]])
        c.migrate(f'tcp:127.0.0.1:{port}')
        time.sleep(1)
        self.assertEqual(status(c.src), 'setup', c.describe())

    # --- the ends ----------------------------------------------------------

    def assert_guest_intact(self, vm, extra_passes=1, timeout=180):
        before = vm.qmp.cmd('x-query-workload')
        w = wait_verified(vm, before['full-verify-passes'] + extra_passes,
                          timeout)
        self.assertTrue(w, f'no verify pass: {vm.qmp.cmd("x-query-workload")}')
        for key in ('corrupt-pages', 'corrupt-sectors', 'disk-io-errors'):
            self.assertEqual(w[key], 0, f'{key}: {w}')
        self.assertEqual(w['boots'], 1, w)

    def assert_destination_never_ran(self, c):
        if c.frozen is c.dst:
            os.kill(c.dst.proc.pid, signal.SIGCONT)
            c.frozen = None
        if alive(c.dst):
            self.assertNotIn('RESUME', c.dst_watch.names(), c.describe())
            self.assertFalse(c.dst.qmp.cmd('query-status')['running'],
                             c.describe())

    def end_source_runs(self, c):
        self.assertTrue(wait_for(lambda: status(c.src) in ENDED, 60, 0.05),
                        c.describe())
        self.assertEqual(status(c.src), 'failed', c.describe())
        self.assertTrue(wait_for(lambda: c.src.qmp.cmd('query-status')
                                 ['running'], 30), c.describe())
        self.assert_destination_never_ran(c)
        self.assert_guest_intact(c.src)

    def end_source_runs_after_cancel(self, c):
        time.sleep(1)
        self.assertNotIn(status(c.src), ENDED, c.describe())
        self.assertFalse(c.src.qmp.cmd('query-status')['running'] and
                         c.state in ('pre-switchover', 'device'),
                         c.describe())
        c.src.qmp.cmd('migrate_cancel')
        self.assertTrue(wait_for(lambda: status(c.src) == 'cancelled', 30,
                                 0.05), c.describe())
        self.assertTrue(wait_for(lambda: c.src.qmp.cmd('query-status')
                                 ['running'], 30), c.describe())
        self.assert_destination_never_ran(c)
        self.assert_guest_intact(c.src)

    def end_destination_never_runs(self, c):
        self.assertTrue(wait_for(lambda: not alive(c.dst) or
                                 status(c.dst) in ('failed', 'setup', None,
                                                   'none',
                                                   'postcopy-paused'),
                                 30, 0.05), c.describe())
        time.sleep(0.5)
        self.assert_destination_never_ran(c)

    def end_source_resumes_when_the_destination_is_gone(self, c):
        if not wait_for(lambda: status(c.src) in ENDED, 2, 0.05):
            c.src.qmp.cmd('migrate_cancel')     # a silent link
        self.assertTrue(wait_for(lambda: status(c.src) in ENDED, 30, 0.05),
                        c.describe())
        time.sleep(0.5)
        self.assertFalse(c.src.qmp.cmd('query-status')['running'],
                         c.describe())
        self.assert_destination_never_ran(c)
        c.dst.proc.kill()
        c.dst.proc.wait()
        c.src.qmp.cmd('cont')
        self.assert_guest_intact(c.src)

    def end_destination_completes(self, c):
        self.assertEqual(status(c.dst), 'completed', c.describe())
        c.dst.qmp.cmd('cont')
        self.assert_guest_intact(c.dst)

    def end_both_pause_recovery_completes(self, c):
        if c.frozen is None:
            c.wait_both('postcopy-paused')
        else:
            c.wait_src('postcopy-paused')   # a frozen side reports nothing
        self.assertFalse(c.src.qmp.cmd('query-status')['running'])
        if c.frozen is not None:
            os.kill(c.dst.proc.pid, signal.SIGCONT)
            c.frozen = None
            # its link is dead: it notices on its own (keepalive)
            c.wait_both('postcopy-paused')
        for r in c.relays:
            r.close()
        c.relays = []
        port = free_port()
        c.dst.qmp.cmd('migrate-recover', uri=f'tcp:127.0.0.1:{port}')
        c.src.qmp.cmd('migrate-set-parameters',
                      **{'max-postcopy-bandwidth': 0})
        c.src.qmp.cmd('migrate', uri=c.link(port), resume=True)
        self.assertTrue(wait_for(lambda: status(c.src) == 'completed', 120,
                                 0.05), c.describe())
        self.assertTrue(wait_for(lambda: status(c.dst) == 'completed', 60,
                                 0.05), c.describe())
        self.assertFalse(c.src_watch.resumed_after_stop(), c.describe())
        self.assert_guest_intact(c.dst)

    def end_source_stays_paused(self, c):
        self.assertTrue(wait_for(lambda: status(c.src) == 'postcopy-paused',
                                 60, 0.05), c.describe())
        time.sleep(0.5)
        self.assertEqual(status(c.src), 'postcopy-paused', c.describe())
        self.assertFalse(c.src.qmp.cmd('query-status')['running'])
        self.assertFalse(c.src_watch.resumed_after_stop(), c.describe())

    def end_destination_stays_paused(self, c):
        self.assertTrue(wait_for(lambda: status(c.dst) == 'postcopy-paused',
                                 60, 0.05), c.describe())
        time.sleep(0.5)
        self.assertEqual(status(c.dst), 'postcopy-paused', c.describe())

    def end_destination_waits_for_cont(self, c):
        self.assertTrue(wait_for(lambda: status(c.src) == 'postcopy-active',
                                 60, 0.05), c.describe())
        time.sleep(0.5)
        self.assertFalse(c.dst.qmp.cmd('query-status')['running'],
                         c.describe())
        os.rename(c.image + '.gone', c.image)
        c.src.qmp.cmd('migrate-set-parameters',
                      **{'max-postcopy-bandwidth': 0})
        c.dst.qmp.cmd('cont')
        self.assertTrue(wait_for(lambda: status(c.src) == 'completed', 120,
                                 0.05), c.describe())
        self.assertFalse(c.src_watch.resumed_after_stop(), c.describe())
        self.assert_guest_intact(c.dst)

    # --- out of space: a file: migration ----------------------------------

    def out_of_space_cell(self, state, end):
        mnt = tempfile.mkdtemp(prefix='space-', dir=self.tmp)
        # pre-switchover: the guest's RAM fits, the device state does not
        # (the filesystem is filled while the source waits). active: 64 KiB
        # stay free, less than the headers of the 32768 pages of the first
        # pass alone, so the stream cannot fit however few pages the guest
        # has written yet, while the setup's few bytes do
        size = '200M' if state == 'pre-switchover' else '64M'
        subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}',
                        'tmpfs', mnt], check=True)
        self.addCleanup(subprocess.run, ['umount', '-l', mnt])
        image = make_image(self.tmp, f'space-{state}.img')
        src = self.vm(file_disk(image), smp=2)
        if state == 'pre-switchover':
            src.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'pause-before-switchover', 'state': True}])
        elif state == 'setup':
            fill(mnt)
        else:
            fill(mnt, leave=64 * KiB)
        src.qmp.cmd('migrate', uri=f'file:{os.path.join(mnt, "image")}')
        if state == 'pre-switchover':
            self.assertTrue(wait_for(lambda: status(src) == 'pre-switchover',
                                     60, 0.05), status(src))
            fill(mnt)
            src.qmp.cmd('migrate-continue', state='pre-switchover')
        self.assertTrue(wait_for(lambda: status(src) in ENDED, 60, 0.05))
        info = src.qmp.cmd('query-migrate')
        self.assertEqual(info['status'], 'failed', info)
        self.assertIn('No space left', info.get('error-desc', ''), info)
        self.assertTrue(wait_for(lambda: src.qmp.cmd('query-status')
                                 ['running'], 30))
        self.assert_guest_intact(src)


class GridTable(unittest.TestCase):
    """The table itself: complete, its pointers real, and the same in
    docs/reliability.md."""

    def test_every_cell_is_filled(self):
        for state, _ in table.STATES:
            self.assertEqual(set(table.GRID[state]),
                             {f for f, _ in table.FAULTS}, state)
        for _, _, entry in table.cells():
            self.assertTrue(entry.strip())

    def test_pointers_name_existing_tests(self):
        for state, fault, entry in table.cells():
            if not table.is_elsewhere(entry):
                continue
            path, name = entry.split('::')
            cls, method = name.split('.')
            with open(os.path.join(HERE, path)) as f:
                text = f.read()
            self.assertIn(f'class {cls}(', text, entry)
            self.assertIn(f'def {method}(', text, entry)

    def test_docs_carry_the_table(self):
        root = os.path.dirname(os.path.dirname(HERE))
        spec = importlib.util.spec_from_file_location(
            'fault_grid_doc', os.path.join(root, 'scripts',
                                           'fault-grid-table.py'))
        doc = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(doc)
        with open(os.path.join(root, 'docs', 'reliability.md')) as f:
            text = f.read()
        self.assertIn(doc.render(), text, 'docs/reliability.md is not '
                      'what scripts/fault-grid-table.py prints: paste it')


def fill(mnt, leave=0):
    """Fills the filesystem at @mnt up to its last byte, then gives back
    @leave bytes."""
    with open(os.path.join(mnt, 'filler'), 'wb', buffering=0) as f:
        chunk = b'\xff' * MiB
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
        if leave:
            f.truncate(max(0, os.fstat(f.fileno()).st_size - leave))


if __name__ == '__main__':
    unittest.main()
