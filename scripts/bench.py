#!/usr/bin/env python3
"""`make bench`: ferry's live migration side by side with QEMU's.

Same guest binary (build/guest/ferry-guest.elf, a Multiboot v1 ELF32 that
both ferry and `qemu-system-x86_64 -kernel` boot), same machine, same run.

Cases (each over tcp:127.0.0.1 and over a unix socket, loopback, unless
said otherwise; `--transport tls` adds tcp:127.0.0.1 with TLS, x509
certificates made by certtool at the start of the run, tls-creds on both
sides, so `--case idle-4G --transport tcp --transport tls` shows TLS's
cost):
  idle-1G     -m 1G, dirty-rate=0: the guest fills all its RAM once, then
              only reads it (so every page is non-zero)
  idle-4G     the same with -m 4G
  dirty-1G    -m 1G, dirty-rate=256M: the guest dirties 256 MB/s
  postcopy-4G -m 4G, dirty-rate=max (the guest dirties flat out), tcp only:
              capability postcopy-ram on both sides, postcopy-blocktime on
              the destination; `migrate`, then `migrate-start-postcopy` as
              soon as the source sends MIGRATION_PASS with pass 2 (the first
              full pass over RAM ended), then `cont` on the destination
              (still inmigrate: like autostart, the guest runs as soon as
              RUN arrives)
  postcopy-preempt-4G  the same plus capability postcopy-preempt (both)
  postcopy-recovery-4G  postcopy-4G through a loopback relay
              (tests/pylib/relay.py), max-postcopy-bandwidth 256 MiB/s on
              the source so postcopy lasts a while; ~1 s after the source's
              MIGRATION postcopy-active the relay is cut (RST both ways),
              both sides must go postcopy-paused; then migrate-recover
              tcp:127.0.0.1:NEWPORT on the destination, `migrate` with
              resume=true to that port (direct, no relay) on the source,
              and the migration must complete as postcopy-4G does.  Part of
              the full run, not of --case postcopy.
  compress-1G -m 1G, dirty-rate=0, fill=compressible (the guest's pages
              compress about 4:1), tcp only: max-bandwidth 200 MiB/s on
              the source, multifd with 2 channels (--multifd N: N) on both
              sides, run three ways as compress-1G-none, -zlib and -zstd
              (multifd-compression); a summary table puts each against
              none.  Part of the full run, not of --quick.

For each case and hypervisor:
  total-time  query-migrate total-time on the source (ms)
  downtime    query-migrate downtime on the source (ms)
  throughput  ram.transferred / total-time (MiB/s): bytes on the wire
              (ferry: compressed; QEMU 7.2 counts multifd pages
              uncompressed)
  RAM throughput  guest RAM moved: (ram.normal + ram.duplicate) pages /
              total-time (MiB/s)
  src/dst CPU utime+stime of the whole process during the migration
              (/proc/PID/stat deltas, from `migrate` until both sides
              report completed); "VMM" columns leave out the vCPU threads
              (ferry: "vcpuN", QEMU: "CPU N/KVM" with debug-threads=on)
  CPU s/GiB   source + destination CPU over the guest's RAM in GiB; "no
              vCPUs" the same without the vCPU threads (what migrating and
              compressing cost: the guest's vCPUs spin all along)
  dst peak RSS VmHWM of the destination, right after the migration
  guest-observed blackout  the longest time the guest's workload loop
              stood still (the gap between two of its rounds, by its TSC,
              which keeps running across a migration), two ways: "no vCPU
              ran" is the longest time no vCPU came round at all (the whole
              guest stood still: max-guest-stall-us, window-guest-stall-us),
              "longest stall of one vCPU" also counts one vCPU's host thread
              waiting for a core while the others ran (max-stall-us,
              window-stall-us); from `migrate` (in
              postcopy cases: from `migrate-start-postcopy`) to the
              destination's first report after it runs, so it spans the
              switchover and the guest's first rounds after it.  ferry:
              x-workload-reset-stall on the source, then x-query-workload
              once the destination's guest reported a round;
              QEMU: the counters lines' windows (the longest stall
              since the previous line, ~2 s): the source's lines after
              `migrate` and each vCPU's first line on the destination (so
              up to 2 s before `migrate` count too)
  STOP -> RESUME  from the source's STOP event to the destination's
              RESUME event, by their timestamps (ms): the VM's blackout as
              the two hypervisors saw it: a check of the guest-observed
              rows that does not rest on the guest's clock (QEMU gives a
              guest its TSC back as it was at a `stop` when it gets `cont`,
              so a stop on one host is invisible to its guest; across
              QEMU's migrations here the two agree)
  fill        the guest's first fill and verify of its RAM (s), from the
              start of the source to its first full verify pass
  series      the source's query-migrate every 10 ms: a plot per case and
              transport (throughput and remaining RAM against time, the
              median run of each hypervisor) next to the markdown, by
              gnuplot (scripts/bench_plot.py)
Postcopy cases add, per hypervisor:
  src done    wall clock from `migrate` until the source says completed
  switch      wall clock from `migrate` until `migrate-start-postcopy`
  blocktime   destination query-migrate postcopy-blocktime (ms)
  fault latency  destination query-migrate: x-postcopy-latency-percentiles
              {p50, p99, max} (us, ferry), postcopy-latency (mean, ns,
              QEMU >= 10.1 and ferry), postcopy-latency-dist and
              postcopy-requests; "n/a" where the hypervisor has no such
              field (QEMU 7.2)
  page requests  source query-migrate ram.postcopy-requests
  guest-observed, whole postcopy  ferry: x-query-workload max-stall-us
              at completion (every fault stall after RUN too)
postcopy-recovery-4G adds (times from the MIGRATION events' timestamps,
wall clock, against time.time() taken right before the action):
  cut -> source/destination paused   relay.cut() -> MIGRATION postcopy-paused
  resume -> source/destination postcopy-active   the `migrate` resume
              command sent -> MIGRATION postcopy-active
  sent after the resume   source ram.transferred at completion minus the
              same in postcopy-paused (before the resume)
A run that fails shows FAILED in its column for what it did not measure;
a hypervisor that lacks a setting (a QEMU built without zstd) shows n/a.

Both sides: -smp 2, capability `events`, max-bandwidth 1 TiB/s (QEMU 7.2's
default is 128 MiB/s), downtime-limit 300 ms.  The destination starts with
-S -incoming defer, and gets `cont` right after `migrate` (still
inmigrate: like autostart, the guest runs as soon as the migration lets
it), so the guest can tell its blackout.  After each migration the
destination is checked while it runs: ferry: source postmigrate,
destination running, one more full verify pass counted from the
completion, corrupt-pages 0, boots 1 (no RAM digest: the guest runs; the
integration tests compare digests of stopped guests); QEMU: the guest's
serial counters move on for every vCPU after the completion, and no line
ever has corrupt-pages>0.

Options: --quick (1 GiB cases only), --repeat N (median of N), --no-qemu,
--only ferry|qemu, --qemu-ram memfd (QEMU guest RAM in a memfd backend, as
ferry's), --case/--transport to pick (--case postcopy: postcopy-4G and
postcopy-preempt-4G; postcopy-recovery-4G is its own --case).  Results: a table per case on stdout and
the same in markdown in build/bench/results.md.  Exit status 1 if any
migration failed or a destination check failed.
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, 'tests'))
from pylib.oracle import ram_digest  # noqa: E402
from pylib.qmp import QMPClient, QMPError  # noqa: E402
from pylib.relay import Relay, RelayError  # noqa: E402
import bench_plot  # noqa: E402

CLK_TCK = os.sysconf('SC_CLK_TCK')
SMP = 2
DOWNTIME_LIMIT = 300                 # ms, QEMU's and ferry's default
MAX_BANDWIDTH = 1 << 40              # 1 TiB/s: unlimited for our purposes
QEMU_CPU = 'host,-arch-capabilities'  # -cpu host/max abort here (MSR 0x10a)

CASES = {
    'idle-1G': ('1G', '0'),
    'idle-4G': ('4G', '0'),
    'dirty-1G': ('1G', '256M'),
    'postcopy-4G': ('4G', 'max'),
    'postcopy-preempt-4G': ('4G', 'max'),
    'postcopy-recovery-4G': ('4G', 'max'),
    'compress-1G-none': ('1G', '0'),
    'compress-1G-zlib': ('1G', '0'),
    'compress-1G-zstd': ('1G', '0'),
}
TRANSPORTS = ('tcp', 'unix')
# tcp:127.0.0.1 with TLS (tls-creds-x509, certificates made by certtool at
# the start of the run): only when asked (--transport tls), e.g.
#   scripts/bench.py --case idle-4G --transport tcp --transport tls
TLS_TRANSPORT = 'tls'
# postcopy cases: their capabilities; over tcp only
# recovery: through a relay that is cut in postcopy, then recovered
POSTCOPY = {
    'postcopy-4G': {'preempt': False, 'recovery': False},
    'postcopy-preempt-4G': {'preempt': True, 'recovery': False},
    'postcopy-recovery-4G': {'preempt': False, 'recovery': True},
}
# compression cases: multifd-compression of each; the guest's pages
# compress about 4:1 (fill=compressible), the source sends at most
# COMPRESS_BANDWIDTH bytes/s, multifd has COMPRESS_CHANNELS channels
# (--multifd N: N) on both sides; over tcp only
COMPRESS = {
    'compress-1G-none': 'none',
    'compress-1G-zlib': 'zlib',
    'compress-1G-zstd': 'zstd',
}
COMPRESS_BANDWIDTH = 200 << 20      # bytes/s, max-bandwidth of the source
COMPRESS_CHANNELS = 2
COMPRESS_FILL = 'fill=compressible'
CASE_GROUPS = {'postcopy': ['postcopy-4G', 'postcopy-preempt-4G'],
               'compress-1G': list(COMPRESS)}
POSTCOPY_SWITCH_PASS = 2    # migrate-start-postcopy at MIGRATION_PASS 2
# postcopy-recovery-4G
RECOVERY_POSTCOPY_BANDWIDTH = 256 << 20   # max-postcopy-bandwidth, bytes/s
RECOVERY_CUT_AFTER = 1.0    # s after the source's postcopy-active event
RECOVERY_ACTIVE_TIMEOUT = 60.0      # migrate-start-postcopy -> postcopy-active
RECOVERY_PAUSE_TIMEOUT = 30.0       # cut -> both sides postcopy-paused
RECOVERY_LISTEN_TIMEOUT = 5.0       # migrate-recover retried this long
RECOVERY_RESUME_TIMEOUT = 60.0      # resume -> both sides postcopy-active


def is_recovery(case):
    return POSTCOPY.get(case, {}).get('recovery', False)


def case_transports(case):
    base = ('tcp',) if case in POSTCOPY or case in COMPRESS else TRANSPORTS
    return base + (TLS_TRANSPORT,)


def tls_objects(opts, incoming):
    """-object for the TLS transport (QEMU and ferry take the same)."""
    if not getattr(opts, 'tls_dirs', None):
        return []
    endpoint = 'server' if incoming else 'client'
    return ['-object', f'tls-creds-x509,id=tls0,dir={opts.tls_dirs[endpoint]},'
                       f'endpoint={endpoint}']


def make_tls_dirs(opts):
    """Certificates for 127.0.0.1, made once per run."""
    from pylib.tlscerts import CA, certtool_available
    if not certtool_available():
        raise SystemExit('bench: --transport tls needs certtool '
                         '(Debian gnutls-bin)')
    top = tempfile.mkdtemp(prefix='bench-tls-', dir=opts.tmp)
    ca = CA(top, 'bench-ca')
    opts.tls_dirs = {'server': ca.issue(os.path.join(top, 'server'),
                                        'server', 'bench-destination'),
                     'client': ca.issue(os.path.join(top, 'client'),
                                        'client', 'bench-source')}


def postcopy_caps(case, role):
    """migrate-set-capabilities list for a postcopy case, or []."""
    pc = POSTCOPY.get(case)
    if pc is None:
        return []
    caps = ['postcopy-ram']
    if pc['preempt']:
        caps.append('postcopy-preempt')
    if role == 'dst':
        caps.append('postcopy-blocktime')
    return [{'capability': c, 'state': True} for c in caps]

COUNTERS = re.compile(r'workload: cpu (\d+) rounds=(\d+) pages-written=(\d+) '
                      r'pages-verified=(\d+) passes=(\d+) corrupt-pages=(\d+)')
WINDOW_STALL = re.compile(r'workload: cpu (\d+) .*window-stall-us=(\d+)')
WINDOW_GUEST_STALL = re.compile(
    r'workload: cpu (\d+) .*window-guest-stall-us=(\d+)')


class BenchError(Exception):
    pass


class Unsupported(BenchError):
    """The hypervisor has no such setting: its cells say n/a."""


def wait_for(predicate, timeout, interval=0.05, what='condition'):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f'timed out after {timeout}s waiting for {what}')
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# --- /proc ----------------------------------------------------------------

def _stat_cpu(path):
    """utime+stime in seconds from a /proc/.../stat file."""
    with open(path) as f:
        data = f.read()
    fields = data[data.rindex(')') + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_cpu(pid, vcpu_re):
    """(process CPU seconds, CPU seconds of its vCPU threads)."""
    total = _stat_cpu(f'/proc/{pid}/stat')
    vcpu = 0.0
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/comm') as f:
                comm = f.read().strip()
            if vcpu_re.fullmatch(comm):
                vcpu += _stat_cpu(f'/proc/{pid}/task/{tid}/stat')
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total, vcpu


def system_cpu():
    """(busy, steal) CPU seconds of the whole machine, all CPUs."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


def self_cpu():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def foreign_cpu(vms, interval):
    """CPU seconds per second the machine spends outside @vms and us."""
    def sample():
        return system_cpu()[0], sum(vm.cpu()[0] for vm in vms), self_cpu()
    a = sample()
    time.sleep(interval)
    b = sample()
    return ((b[0] - a[0]) - (b[1] - a[1]) - (b[2] - a[2])) / interval


def wait_quiet(vms, opts):
    """Waits until other processes use under --quiet cores; returns the
    seconds waited (or None if the machine never got quiet)."""
    t = time.monotonic()
    while True:
        load = foreign_cpu(vms, 0.5)
        if load < opts.quiet:
            return time.monotonic() - t
        if time.monotonic() - t > opts.quiet_timeout:
            print(f'[machine still busy: {load:.2f} cores used by other '
                  f'processes]', end=' ', flush=True)
            return None
        time.sleep(1)


def mem_bytes(mem):
    """-m's size ("1G", "512M", a plain number of MiB) in bytes."""
    units = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
    if mem[-1].upper() in units:
        return float(mem[:-1]) * units[mem[-1].upper()]
    return float(mem) * (1 << 20)


def proc_status(pid, key):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])     # kB
    return None


# --- the two hypervisors -----------------------------------------------------

class VM:
    """A hypervisor process with a QMP unix socket and a serial log."""
    kind = None
    vcpu_re = None

    def __init__(self, workdir, role, mem, rate, incoming, opts, append=''):
        self.append = append    # more words for the guest's command line
        self.dir = os.path.join(workdir, f'{self.kind}-{role}')
        os.makedirs(self.dir, exist_ok=True)
        self.role = role
        self.qmp_path = os.path.join(self.dir, 'qmp.sock')
        self.serial_path = os.path.join(self.dir, 'serial.log')
        self.err_path = os.path.join(self.dir, 'stderr.log')
        self.args = self.command(mem, rate, incoming, opts)
        self.qmp = None
        with open(self.err_path, 'wb') as err:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, cwd=self.dir)
        try:
            self.qmp = self._connect(20)
            self.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'events', 'state': True}])
            self.qmp.cmd('migrate-set-parameters', **{
                'max-bandwidth': MAX_BANDWIDTH,
                'downtime-limit': DOWNTIME_LIMIT})
        except BaseException:
            self.close()
            raise

    def _connect(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f'{self.kind} exited with status '
                                 f'{self.proc.returncode} at start-up:\n'
                                 f'{" ".join(self.args)}\n{self.stderr()}')
            if os.path.exists(self.qmp_path):
                c = QMPClient(self.qmp_path, timeout=120)
                try:
                    c.connect()
                    return c
                except OSError:
                    c.close()
            if time.monotonic() > deadline:
                raise BenchError(f'{self.kind} QMP did not answer')
            time.sleep(0.05)

    def guest_cmdline(self, rate):
        return f'dirty-rate={rate} {self.append}'.rstrip()

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        try:
            with open(self.err_path, errors='replace') as f:
                return f.read()[-4000:]
        except FileNotFoundError:
            return ''

    def serial(self):
        try:
            with open(self.serial_path, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def cpu(self):
        return proc_cpu(self.pid, self.vcpu_re)

    def close(self):
        if self.qmp is not None:
            try:
                self.qmp.execute('quit', timeout=5)
            except Exception:
                pass
            self.qmp.close()
            self.qmp = None
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class FerryVM(VM):
    kind = 'ferry'
    vcpu_re = re.compile(r'vcpu\d+')

    def command(self, mem, rate, incoming, opts):
        args = [os.path.join(opts.build, 'ferry'), '-accel', 'kvm',
                '-name', f'bench-{self.role}', '-m', mem, '-smp', str(SMP),
                '-append', self.guest_cmdline(rate),
                '-qmp', f'unix:{self.qmp_path},server=on,wait=off',
                '-serial', f'file:{self.serial_path}']
        args += tls_objects(opts, incoming)
        if incoming:
            args += ['-S', '-incoming', 'defer']
        return args

    def wait_filled(self, timeout):
        wait_for(lambda: self.qmp.cmd('x-query-workload')
                 ['full-verify-passes'] >= 1, timeout, 0.2,
                 'the guest to fill and verify its RAM')

    def completion_mark(self):
        """The guest's counters when the migration completed."""
        return self.qmp.cmd('x-query-workload')

    def check_destination(self, src, mark=None):
        """Digests equal, then the guest runs a full verify pass clean.
        After postcopy (@mark: completion_mark() at completion) the guest
        already runs: one more full verify pass since @mark, clean."""
        if mark is not None:
            return self._check_running(src, mark)
        s, d = ram_digest(src), ram_digest(self)
        if s != d:
            raise BenchError(f'RAM digests differ: source {s} destination {d}')
        before = self.qmp.cmd('x-query-workload')
        self.qmp.cmd('cont')
        wait_for(lambda: self.qmp.cmd('x-query-workload')['full-verify-passes']
                 > before['full-verify-passes'], 60, 0.2,
                 'a verify pass on the destination')
        after = self.qmp.cmd('x-query-workload')
        if after['corrupt-pages'] != 0:
            raise BenchError(f'destination found corrupt pages: {after}')
        if after.get('boots', 1) != 1:
            raise BenchError(f'the guest rebooted: {after}')
        return f'digest equal, +1 verify pass, corrupt-pages 0'

    def _check_running(self, src, mark):
        st = src.qmp.cmd('query-status')['status']
        if st != 'postmigrate':
            raise BenchError(f'source is {st}, not postmigrate')
        if mark['corrupt-pages'] != 0:
            raise BenchError(f'destination found corrupt pages: {mark}')
        wait_for(lambda: self.qmp.cmd('x-query-workload')['full-verify-passes']
                 > mark['full-verify-passes'], 120, 0.2,
                 'a verify pass on the destination after the completion')
        after = self.qmp.cmd('x-query-workload')
        if after['corrupt-pages'] != 0:
            raise BenchError(f'destination found corrupt pages: {after}')
        if after.get('boots', 1) != 1:
            raise BenchError(f'the guest rebooted: {after}')
        if after['rounds'] <= mark['rounds']:
            raise BenchError(f'the guest does not run: {mark} -> {after}')
        return ('running, +1 verify pass after completion, corrupt-pages 0, '
                'boots 1')


class QemuVM(VM):
    kind = 'qemu'
    vcpu_re = re.compile(r'CPU \d+/KVM')

    def command(self, mem, rate, incoming, opts):
        machine = 'pc'
        args = [opts.qemu, '-accel', 'kvm', '-cpu', QEMU_CPU,
                '-name', f'bench-{self.role},debug-threads=on',
                '-m', mem, '-smp', str(SMP), '-nodefaults', '-no-user-config',
                '-display', 'none',
                '-kernel', os.path.join(opts.build, 'guest', 'ferry-guest.elf'),
                '-append', self.guest_cmdline(rate),
                '-qmp', f'unix:{self.qmp_path},server=on,wait=off',
                '-serial', f'file:{self.serial_path}']
        if opts.qemu_ram == 'memfd':
            args += ['-object', f'memory-backend-memfd,id=ram0,size={mem}']
            machine += ',memory-backend=ram0'
        args += ['-machine', machine]
        args += tls_objects(opts, incoming)
        if incoming:
            args += ['-S', '-incoming', 'defer']
        return args

    def counters(self):
        """{cpu: [(rounds, written, verified, passes, corrupt), ...]}"""
        out = {}
        for m in COUNTERS.finditer(self.serial()):
            out.setdefault(int(m.group(1)), []).append(
                tuple(int(g) for g in m.groups()[1:]))
        return out

    def _check_serial(self):
        text = self.serial()
        if 'PANIC' in text.upper() or 'corrupt page' in text:
            raise BenchError(f'guest reported a failure:\n{text[-2000:]}')

    def wait_filled(self, timeout):
        def filled():
            self._check_serial()
            c = self.counters()
            return all(c.get(i) and c[i][-1][3] >= 1 for i in range(SMP))
        wait_for(filled, timeout, 0.2, 'the guest to fill and verify its RAM '
                 '(serial counters with passes>=1 for every vCPU)')

    def completion_mark(self):
        """How many counters lines each vCPU printed by the completion."""
        return {i: len(v) for i, v in self.counters().items()}

    def check_destination(self, src, mark=None):
        """cont, then every vCPU prints counters twice more: passes grow,
        corrupt-pages=0 (the destination's serial log starts empty).
        After postcopy (@mark: completion_mark() at completion) the guest
        already runs: no cont, and only the lines after @mark count."""
        if mark is None:
            self.qmp.cmd('cont')
        skip = mark or {}

        def progressed():
            self._check_serial()
            c = self.counters()
            return all(len(c.get(i, [])) >= skip.get(i, 0) + 2 and
                       c[i][-1][3] > c[i][skip.get(i, 0)][3]
                       for i in range(SMP))
        wait_for(progressed, 120 if mark else 60, 0.2,
                 'serial counters on the destination')
        c = self.counters()
        bad = [lines[-1] for lines in c.values() if any(l[4] for l in lines)]
        if bad:
            raise BenchError(f'destination reports corrupt pages: {bad}')
        if mark is not None:
            return ('running, passes grew on every vCPU after completion, '
                    'corrupt-pages=0')
        return 'cont, passes grew on every vCPU, corrupt-pages=0'


class QemuPreallocVM(QemuVM):
    """QEMU as a careful user runs it next to ferry: ferry pre-faults a
    destination's RAM while it waits, QEMU gets -mem-prealloc (on both
    sides: the same settings)."""
    kind = 'qemu-prealloc'

    def command(self, mem, rate, incoming, opts):
        return super().command(mem, rate, incoming, opts) + ['-mem-prealloc']


HYPERVISORS = {'ferry': FerryVM, 'qemu': QemuVM,
               'qemu-prealloc': QemuPreallocVM}
QEMU_KINDS = ('qemu', 'qemu-prealloc')


# --- one migration -----------------------------------------------------------

def wait_switch_pass(src, t0, opts):
    """Blocks until the source sends MIGRATION_PASS with pass >=
    POSTCOPY_SWITCH_PASS (the first full pass over RAM ended); returns
    that pass number.  Fails if the migration ends or fails first."""
    last_check = 0.0
    while True:
        if time.monotonic() - t0 > opts.timeout:
            raise BenchError(f'no MIGRATION_PASS {POSTCOPY_SWITCH_PASS} in '
                             f'{opts.timeout}s: {src.qmp.cmd("query-migrate")}')
        try:
            ev = src.qmp.wait_event('MIGRATION_PASS', timeout=0.2)
        except TimeoutError:
            ev = None
        if ev is not None and ev['data']['pass'] >= POSTCOPY_SWITCH_PASS:
            return ev['data']['pass']
        if time.monotonic() - last_check > 0.5:
            last_check = time.monotonic()
            i = src.qmp.cmd('query-migrate')
            if i.get('status') in ('completed', 'failed', 'cancelled'):
                raise BenchError(f'the migration ended before MIGRATION_PASS '
                                 f'{POSTCOPY_SWITCH_PASS} (no postcopy): {i}\n'
                                 f'{src.stderr()}')


class BlackoutWatch:
    """The guest-observed blackout of one migration (see the module's
    doc): start() on the source when the measurement begins, poll() while
    the migration runs (cheap), wait() once it ended."""

    def __init__(self, src, dst):
        self.src, self.dst = src, dst
        self.ferry = src.kind == 'ferry'
        self.ms = None              # the longest stall of any one vCPU
        self.guest_ms = None        # the longest with no vCPU running
        self.rounds_at_run = None   # ferry: the destination's, once running
        self.src_offset = 0         # QEMU: source serial log at start()

    def start(self):
        if self.ferry:
            self.src.qmp.cmd('x-workload-reset-stall')
        else:
            self.src_offset = len(self.src.serial())

    def poll(self):
        if self.ms is not None:
            return self.ms
        if not self.ferry:
            stall = self.serial_stall(WINDOW_STALL)
            if stall is not None:
                self.ms = stall
                self.guest_ms = self.serial_stall(WINDOW_GUEST_STALL)
        elif self.rounds_at_run is None:
            if self.dst.qmp.cmd('query-status')['status'] == 'running':
                self.rounds_at_run = \
                    self.dst.qmp.cmd('x-query-workload')['rounds']
        else:
            # the value that came with the device state is the source's;
            # the round that spanned the switchover is in the next report
            w = self.dst.qmp.cmd('x-query-workload')
            if w['rounds'] > self.rounds_at_run:
                self.ms = w['max-stall-us'] / 1000
                self.guest_ms = w['max-guest-stall-us'] / 1000
        return self.ms

    def serial_stall(self, pattern):
        """QEMU: the longest of @pattern's window over the source's lines
        since start() and each vCPU's first line on the destination (ms),
        or None until every vCPU printed one there."""
        first = {}
        for m in pattern.finditer(self.dst.serial()):
            first.setdefault(int(m.group(1)), int(m.group(2)))
        if len(first) < SMP:
            return None
        src = [int(m.group(2)) for m in pattern.finditer(
            self.src.serial()[self.src_offset:])]
        return max(src + list(first.values())) / 1000

    def wait(self, timeout=30):
        wait_for(lambda: self.poll() is not None, timeout, 0.05,
                 'the destination guest\'s first report after it ran')
        return self.ms


def _us_to_ms(v):
    return v / 1000 if v is not None else None


def postcopy_results(src_info, dst_info, switch_s, switch_pass,
                     src_done_s, seen):
    ram = src_info.get('ram', {})
    pct = dst_info.get('x-postcopy-latency-percentiles') or {}
    lat = dst_info.get('postcopy-latency')
    return {
        'src_done_s': src_done_s,
        'switch_s': switch_s,
        'switch_pass': switch_pass,
        'blocktime_ms': dst_info.get('postcopy-blocktime'),
        'lat_mean_us': lat / 1000 if lat is not None else None,
        'lat_p50_us': pct.get('p50'),
        'lat_p99_us': pct.get('p99'),
        'lat_max_us': pct.get('max'),
        'lat_dist': dst_info.get('postcopy-latency-dist'),
        'dst_requests': dst_info.get('postcopy-requests'),
        'src_requests': ram.get('postcopy-requests'),
        'postcopy_bytes': ram.get('postcopy-bytes'),
        'run_ack_ms': _us_to_ms(src_info.get('x-postcopy-run-ack-latency')),
        'package_ms': src_info.get('x-postcopy-package-time',
                                   src_info.get('downtime')
                                   if 'x-postcopy-run-ack-latency' not in
                                   src_info else None),
        'run_wait_us': dst_info.get('x-postcopy-run-wait'),
        'src_states': seen,
    }


# --- postcopy recovery ----------------------------------------------------------

def pump_events(vms, timeout):
    """Reads what the QMP sockets of @vms deliver within @timeout seconds
    (split among them): events go to .events, replies stay queued."""
    for vm in vms:
        try:
            vm.qmp.wait_event('BENCH-NO-SUCH-EVENT', timeout=timeout / len(vms))
        except TimeoutError:
            pass


def migration_events(vm, start):
    """@vm's MIGRATION events from index @start of its .events on."""
    return [e for e in vm.qmp.events[start:]
            if e.get('event') == 'MIGRATION']


def migration_statuses(vm, start):
    return [e.get('data', {}).get('status') for e in migration_events(vm, start)]


def event_time(event):
    """An event's timestamp (wall clock, as time.time())."""
    ts = event['timestamp']
    return ts['seconds'] + ts['microseconds'] / 1e6


def stop_to_resume_ms(src, dst):
    """From the source's last STOP event to the destination's first
    RESUME, by the events' wall-clock timestamps (ms), or None.  Both
    hypervisors take them as they stop and start the vCPUs, so this is the
    VM's blackout as the hosts saw it, without the guest's clock."""
    pump_events((src, dst), 0.02)
    stops = [e for e in src.qmp.events if e.get('event') == 'STOP']
    resumes = [e for e in dst.qmp.events if e.get('event') == 'RESUME']
    if not stops or not resumes:
        return None
    return (event_time(resumes[0]) - event_time(stops[-1])) * 1000


def describe_sides(src, dst):
    out = []
    for vm in (src, dst):
        try:
            i = vm.qmp.cmd('query-migrate')
            now = f'{i.get("status")} (error-desc {i.get("error-desc")!r})'
        except Exception as e:
            now = f'query-migrate failed: {type(e).__name__}: {e}'
        out.append(f'{vm.role}: {now}, MIGRATION events '
                   f'{migration_statuses(vm, 0)}')
    return '; '.join(out)


def wait_migration_events(waits, timeout, what, rec, t_ref, src, dst):
    """@waits: [(vm, index into its .events, status, key)].  Blocks until
    every vm emitted MIGRATION @status after its index, and stores in
    rec[key] the ms from @t_ref (time.time()) to that event's timestamp,
    each as soon as found (a failure keeps what was measured).  Fails on a
    'failed'/'cancelled' status or after @timeout seconds."""
    deadline = time.monotonic() + timeout
    vms = list({id(w[0]): w[0] for w in waits}.values())
    while True:
        done = True
        for vm, start, status, key in waits:
            evs = migration_events(vm, start)
            bad = [e['data']['status'] for e in evs
                   if e.get('data', {}).get('status') in ('failed', 'cancelled')]
            if bad:
                raise BenchError(f'{what}: the {vm.role} went {bad[0]} '
                                 f'({describe_sides(src, dst)})\n'
                                 f'{vm.stderr()}')
            if key in rec:
                continue
            hit = [e for e in evs if e.get('data', {}).get('status') == status]
            if hit:
                rec[key] = (event_time(hit[0]) - t_ref) * 1000
            else:
                done = False
        if done:
            return
        for vm in vms:
            if vm.proc.poll() is not None:
                raise BenchError(f'{what}: the {vm.role} exited with status '
                                 f'{vm.proc.returncode}\n{vm.stderr()}')
        if time.monotonic() > deadline:
            missing = [f'{vm.role} {status}' for vm, _, status, key in waits
                       if key not in rec]
            raise BenchError(f'{what}: no MIGRATION {", ".join(missing)} '
                             f'within {timeout:.0f}s ({describe_sides(src, dst)})')
        pump_events(vms, 0.01)


def recover_postcopy(src, dst, relay, rec):
    """postcopy-recovery-4G, from migrate-start-postcopy on: cuts @relay
    RECOVERY_CUT_AFTER s after the source's postcopy-active, waits for both
    sides to pause, recovers directly (no relay).  Fills @rec as it goes."""
    # 1. ~1 s into postcopy-active (the source's event; its events are
    # kept from `migrate` on)
    wait_migration_events([(src, 0, 'postcopy-active', '_src_active')],
                          RECOVERY_ACTIVE_TIMEOUT, 'before the cut', rec, 0.0,
                          src, dst)
    active_t = rec.pop('_src_active') / 1000
    time.sleep(max(0.0, active_t + RECOVERY_CUT_AFTER - time.time()))
    pump_events((src, dst), 0.001)
    st = src.qmp.cmd('query-migrate').get('status')
    if st != 'postcopy-active':
        raise BenchError(f'the source is {st} at the cut time, not '
                         f'postcopy-active: nothing to cut '
                         f'({describe_sides(src, dst)})')
    rec['dst_states_at_cut'] = migration_statuses(dst, 0)
    smark, dmark = len(src.qmp.events), len(dst.qmp.events)

    # 2. the cut
    t_cut = time.time()
    n = relay.cut()
    rec['cut_call_ms'] = (time.time() - t_cut) * 1000
    rec['cut_after_s'] = t_cut - active_t
    rec['cut_connections'] = n
    if not n:
        raise BenchError('relay.cut(): no connection open to cut '
                         f'({describe_sides(src, dst)})')
    wait_migration_events([(src, smark, 'postcopy-paused', 'cut_src_paused_ms'),
                           (dst, dmark, 'postcopy-paused', 'cut_dst_paused_ms')],
                          RECOVERY_PAUSE_TIMEOUT, 'after the cut', rec, t_cut,
                          src, dst)
    rec['states_after_cut'] = (migration_statuses(src, smark),
                               migration_statuses(dst, dmark))
    paused = {vm.role: vm.qmp.cmd('query-migrate') for vm in (src, dst)}
    rec['error_desc'] = {r: i.get('error-desc') for r, i in paused.items()}
    for role, i in paused.items():
        if i.get('status') != 'postcopy-paused':
            raise BenchError(f'{role} is {i.get("status")} after its '
                             f'postcopy-paused event: {i}')
    rec['paused_transferred'] = paused['src'].get('ram', {}).get('transferred')
    if rec['paused_transferred'] is None:
        raise BenchError(f'no ram.transferred on the paused source: '
                         f'{paused["src"]}')

    # 3. recovery: the destination listens on a new port, the source
    # connects there directly
    uri = f'tcp:127.0.0.1:{free_port()}'
    smark, dmark = len(src.qmp.events), len(dst.qmp.events)
    deadline = time.monotonic() + RECOVERY_LISTEN_TIMEOUT
    tries = 0
    while True:
        tries += 1
        try:
            dst.qmp.cmd('migrate-recover', uri=uri)
            break
        except QMPError as e:
            # not expected (both sides reported postcopy-paused already),
            # but a state change racing its event would be forgiven here;
            # the count goes into the run's line
            if time.monotonic() > deadline:
                raise BenchError(f'destination migrate-recover {uri} '
                                 f'({tries} tries): {e}')
            time.sleep(0.05)
    rec['recover_tries'] = tries
    t_resume = time.time()
    try:
        src.qmp.cmd('migrate', uri=uri, resume=True)
    except QMPError as e:
        raise BenchError(f'source migrate {uri} resume=true: {e}')
    rec['resume_call_ms'] = (time.time() - t_resume) * 1000
    wait_migration_events(
        [(src, smark, 'postcopy-active', 'resume_src_active_ms'),
         (dst, dmark, 'postcopy-active', 'resume_dst_active_ms')],
        RECOVERY_RESUME_TIMEOUT, 'after the resume', rec, t_resume, src, dst)
    rec['states_after_resume'] = (migration_statuses(src, smark),
                                  migration_statuses(dst, dmark))


def set_multifd(src, dst, case, opts):
    """Capability multifd on both sides; a compression case also sets its
    multifd-compression and the source's max-bandwidth."""
    channels = opts.multifd or COMPRESS_CHANNELS
    compression = COMPRESS.get(case, opts.multifd_compression)
    for vm in (src, dst):
        vm.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'multifd', 'state': True}])
        vm.qmp.cmd('migrate-set-parameters',
                   **{'multifd-channels': channels})
        try:
            vm.qmp.cmd('migrate-set-parameters',
                       **{'multifd-compression': compression})
        except QMPError as e:
            raise Unsupported(f'{vm.kind}: multifd-compression '
                              f'{compression}: {e}')
    if case in COMPRESS:
        src.qmp.cmd('migrate-set-parameters',
                    **{'max-bandwidth': COMPRESS_BANDWIDTH})


def migrate_once(kind, case, transport, opts):
    mem, rate = CASES[case]
    postcopy = case in POSTCOPY
    recovery = is_recovery(case)
    cls = HYPERVISORS[kind]
    workdir = tempfile.mkdtemp(prefix=f'bench-{kind}-', dir=opts.tmp)
    src = dst = relay = None
    rec = {}        # recovery measurements, kept by a failure too
    append = COMPRESS_FILL if case in COMPRESS else ''
    try:
        src = cls(workdir, 'src', mem, rate, False, opts, append)
        dst = cls(workdir, 'dst', mem, rate, True, opts, append)
        for vm in (src, dst):
            caps = postcopy_caps(case, vm.role)
            if caps:
                try:
                    vm.qmp.cmd('migrate-set-capabilities', capabilities=caps)
                except QMPError as e:
                    raise BenchError(f'{vm.kind} {vm.role}: '
                                     f'migrate-set-capabilities {caps}: {e}')
        if opts.multifd or case in COMPRESS:
            set_multifd(src, dst, case, opts)
        if recovery:
            src.qmp.cmd('migrate-set-parameters', **{
                'max-postcopy-bandwidth': RECOVERY_POSTCOPY_BANDWIDTH})
        t = time.monotonic()
        src.wait_filled(300)
        fill_s = time.monotonic() - t
        time.sleep(opts.settle)
        waited = wait_quiet((src, dst), opts)
        if transport == TLS_TRANSPORT:
            for vm in (src, dst):
                vm.qmp.cmd('migrate-set-parameters', **{'tls-creds': 'tls0'})
        if transport in ('tcp', TLS_TRANSPORT):
            uri = f'tcp:127.0.0.1:{free_port()}'
        else:
            uri = f'unix:{os.path.join(workdir, "mig.sock")}'
        # listening when migrate-incoming returns (QEMU's query-migrate
        # still says {} until the connection comes)
        dst.qmp.cmd('migrate-incoming', uri=uri)
        src_uri = uri
        if recovery:
            # source -> relay -> destination, so the link can be cut
            relay = Relay('127.0.0.1', int(uri.rsplit(':', 1)[1])).start()
            src_uri = relay.uri

        src.qmp.clear_events()
        dst.qmp.clear_events()
        blackout = BlackoutWatch(src, dst)
        cpu0 = (src.cpu(), dst.cpu(), system_cpu(), self_cpu())
        if not postcopy:
            blackout.start()
        t0 = time.monotonic()
        src.qmp.cmd('migrate', uri=src_uri)
        # the destination is still inmigrate: cont only lets it run as
        # soon as the migration allows (QEMU: autostart; ferry the same)
        dst.qmp.cmd('cont')
        switch_s = switch_pass = None
        if postcopy:
            switch_pass = wait_switch_pass(src, t0, opts)
            blackout.start()
            try:
                src.qmp.cmd('migrate-start-postcopy')
            except Exception as e:
                raise BenchError(f'migrate-start-postcopy: {e}')
            switch_s = time.monotonic() - t0
        if recovery:
            recover_postcopy(src, dst, relay, rec)
        src_info = dst_done = src_done = None
        seen = []       # source states, in the order polled
        series = []     # (s since migrate, transferred, remaining) bytes
        while src_info is None or dst_done is None:
            now = time.monotonic()
            if now - t0 > opts.timeout:
                raise BenchError(f'migration did not end in {opts.timeout}s: '
                                 f'{src.qmp.cmd("query-migrate")}')
            if src_info is None:
                i = src.qmp.cmd('query-migrate')
                st = i.get('status')
                if 'ram' in i:
                    series.append((now - t0, i['ram'].get('transferred', 0),
                                   i['ram'].get('remaining', 0)))
                if st and (not seen or seen[-1] != st):
                    seen.append(st)
                if st in ('completed', 'failed', 'cancelled'):
                    src_info = i
                    src_done = time.monotonic() - t0
                    if st != 'completed':
                        raise BenchError(f'source: {i}\n{src.stderr()}')
                elif st == 'postcopy-paused':
                    raise BenchError(f'source: {i}\n{src.stderr()}')
            if dst_done is None:
                if dst.proc.poll() is not None:
                    raise BenchError(f'destination exited: {dst.stderr()}')
                st = dst.qmp.cmd('query-migrate').get('status')
                if st == 'completed':
                    dst_done = time.monotonic() - t0
                elif st in ('failed', 'postcopy-paused'):
                    raise BenchError(f'destination {st}: {dst.stderr()}')
            blackout.poll()
            time.sleep(0.01)
        cpu1 = (src.cpu(), dst.cpu(), system_cpu(), self_cpu())
        mark = dst.completion_mark()
        blackout_ms = blackout.wait()
        stop_resume_ms = stop_to_resume_ms(src, dst)
        # QEMU 7.2 sets 'completed' before it computes total-time and
        # downtime (migration_calculate_complete): until then both read 0
        deadline = time.monotonic() + 5
        while not src_info.get('total-time') and time.monotonic() < deadline:
            time.sleep(0.02)
            src_info = src.qmp.cmd('query-migrate')
        if not src_info.get('total-time'):
            raise BenchError(f'no total-time after completion: {src_info}')
        hwm = proc_status(dst.pid, 'VmHWM')
        dst_info = dst.qmp.cmd('query-migrate')
        dst_state = dst.qmp.cmd('query-status')['status']
        if postcopy:
            # the MIGRATION events say it even if the polls missed it
            seen_ev = [e['data']['status'] for e in src.qmp.events
                       if e['event'] == 'MIGRATION']
            if 'postcopy-active' not in seen + seen_ev:
                raise BenchError(f'the source never was postcopy-active '
                                 f'(states polled {seen}, events {seen_ev})')
        if dst_state != 'running':
            raise BenchError(f'destination is {dst_state}, not running')
        check = dst.check_destination(src, mark)

        ram = src_info.get('ram', {})
        total_ms = src_info['total-time']
        gib = mem_bytes(mem) / (1 << 30)
        moved = (ram.get('normal', 0) + ram.get('duplicate', 0)) * \
            ram.get('page-size', 4096)
        res = {
            'total_ms': total_ms,
            'downtime_ms': src_info['downtime'],
            'setup_ms': src_info.get('setup-time'),
            'transferred': ram.get('transferred', 0),
            'mib_s': ram.get('transferred', 0) / (1 << 20) / (total_ms / 1000)
            if total_ms else 0,
            'ram_mib_s': moved / (1 << 20) / (total_ms / 1000)
            if total_ms else 0,
            'dst_done_s': dst_done,
            'src_cpu': cpu1[0][0] - cpu0[0][0],
            'src_vmm_cpu': (cpu1[0][0] - cpu1[0][1]) - (cpu0[0][0] - cpu0[0][1]),
            'dst_cpu': cpu1[1][0] - cpu0[1][0],
            'dst_vmm_cpu': (cpu1[1][0] - cpu1[1][1]) - (cpu0[1][0] - cpu0[1][1]),
            'sys_busy': cpu1[2][0] - cpu0[2][0],
            'sys_steal': cpu1[2][1] - cpu0[2][1],
            'foreign_cpu': (cpu1[2][0] - cpu0[2][0]) -
                           (cpu1[0][0] - cpu0[0][0]) -
                           (cpu1[1][0] - cpu0[1][0]) - (cpu1[3] - cpu0[3]),
            'quiet_wait': waited,
            'wire_ratio': moved / ram['transferred']
            if ram.get('transferred') else None,
            'dst_hwm_mib': hwm / 1024 if hwm else None,
            'dirty_syncs': ram.get('dirty-sync-count'),
            'fill_s': fill_s,
            'blackout_ms': blackout_ms,
            'blackout_guest_ms': blackout.guest_ms,
            'stop_resume_ms': stop_resume_ms,
            'series': series,
            'check': check,
        }
        res['cpu_gib'] = (res['src_cpu'] + res['dst_cpu']) / gib
        res['vmm_cpu_gib'] = (res['src_vmm_cpu'] + res['dst_vmm_cpu']) / gib
        if postcopy:
            res.update(postcopy_results(src_info, dst_info, switch_s,
                                        switch_pass, src_done, seen))
            if kind == 'ferry':
                res['stall_ms'] = mark['max-stall-us'] / 1000
                res['guest_stall_ms'] = mark['max-guest-stall-us'] / 1000
        if recovery:
            res.update(rec)
            res['resume_bytes'] = (ram.get('transferred', 0) -
                                   rec['paused_transferred'])
        return res
    except BaseException as e:
        opts.keep_dirs.append(workdir)
        if rec:
            try:
                e.partial = dict(rec)   # shown in the table as measured
            except AttributeError:
                pass
        raise
    finally:
        if relay is not None:
            try:
                relay.close()
            except RelayError:
                pass
        for vm in (dst, src):
            if vm is not None:
                vm.close()
        if workdir not in opts.keep_dirs:
            shutil.rmtree(workdir, ignore_errors=True)


# --- tables --------------------------------------------------------------------

# key, label, format, lower is better
METRICS = [
    ('total_ms', 'total time (ms)', '{:.0f}', True),
    ('downtime_ms', 'downtime (ms)', '{:.0f}', True),
    ('stop_resume_ms', 'source STOP -> destination RESUME (ms)', '{:.1f}',
     True),
    ('blackout_guest_ms', 'guest-observed blackout, no vCPU ran (ms)',
     '{:.1f}', True),
    ('blackout_ms', 'guest-observed, longest stall of one vCPU (ms)',
     '{:.1f}', True),
    ('mib_s', 'throughput (MiB/s)', '{:.0f}', False),
    ('ram_mib_s', 'RAM throughput (MiB/s of guest RAM)', '{:.0f}', False),
    ('transferred', 'transferred (MiB)', 'MiB', True),
    ('dst_done_s', 'dst done after (s)', '{:.2f}', True),
    ('src_cpu', 'source CPU, all (s)', '{:.2f}', True),
    ('src_vmm_cpu', 'source CPU, no vCPUs (s)', '{:.2f}', True),
    ('dst_cpu', 'destination CPU (s)', '{:.2f}', True),
    ('cpu_gib', 'source + destination CPU per GiB of RAM (s)', '{:.2f}',
     True),
    ('vmm_cpu_gib', 'the same without vCPUs (s)', '{:.2f}', True),
    ('sys_busy', 'machine CPU busy, all procs (s)', '{:.2f}', True),
    ('sys_steal', 'machine CPU steal (s)', '{:.2f}', True),
    ('foreign_cpu', 'CPU of other processes (s)', '{:.2f}', True),
    ('dst_hwm_mib', 'destination peak RSS (MiB)', '{:.0f}', True),
    ('dirty_syncs', 'dirty-sync-count', '{:.0f}', True),
    ('fill_s', 'guest\'s first fill + verify (s)', '{:.1f}', True),
]
# postcopy cases add these; "n/a" where a hypervisor has no such field
POSTCOPY_METRICS = [
    ('src_done_s', 'src done after (s)', '{:.2f}', True),
    ('switch_s', 'migrate-start-postcopy after (s)', '{:.2f}', True),
    ('guest_stall_ms', 'guest-observed, whole postcopy: no vCPU ran (ms)',
     '{:.1f}', True),
    ('stall_ms', 'guest-observed, whole postcopy: max stall (ms)', '{:.1f}',
     True),
    ('blocktime_ms', 'postcopy-blocktime (ms)', '{:.0f}', True),
    ('package_ms', 'stop -> package sent (ms, QEMU\'s downtime)',
     '{:.0f}', True),
    ('run_ack_ms', 'package sent -> RUN_ACK read (ms)', '{:.1f}', True),
    ('run_wait_us', 'RUN_ACK sent -> RUN received (us)', '{:.0f}', True),
    ('lat_p50_us', 'fault latency p50 (us)', '{:.0f}', True),
    ('lat_p99_us', 'fault latency p99 (us)', '{:.0f}', True),
    ('lat_max_us', 'fault latency max (us)', '{:.0f}', True),
    ('lat_mean_us', 'fault latency mean (us)', '{:.0f}', True),
    ('src_requests', 'page requests (source)', '{:.0f}', True),
    ('dst_requests', 'page requests (destination)', '{:.0f}', True),
    ('postcopy_bytes', 'sent in postcopy (MiB)', 'MiB', True),
]
# postcopy-recovery-4G adds these (and of POSTCOPY_METRICS only RECOVERY_PC)
RECOVERY_METRICS = [
    ('cut_src_paused_ms', 'cut -> source paused (ms)', '{:.1f}', True),
    ('cut_dst_paused_ms', 'cut -> destination paused (ms)', '{:.1f}', True),
    ('resume_src_active_ms', 'resume -> source postcopy-active (ms)',
     '{:.1f}', True),
    ('resume_dst_active_ms', 'resume -> destination postcopy-active (ms)',
     '{:.1f}', True),
    ('resume_bytes', 'sent after the resume (MiB)', 'MiB', True),
]
RECOVERY_PC = ('src_done_s', 'switch_s', 'blocktime_ms', 'postcopy_bytes')
NA_KEYS = {m[0] for m in POSTCOPY_METRICS}
# compression cases add this (QEMU 7.2 counts multifd pages uncompressed)
COMPRESS_METRICS = [
    ('wire_ratio', 'guest RAM moved / bytes counted on the wire', '{:.2f}',
     False),
]
# the summary of the compression cases: each against none
COMPRESS_SUMMARY = ('total_ms', 'ram_mib_s', 'mib_s', 'blackout_ms',
                    'cpu_gib', 'vmm_cpu_gib', 'wire_ratio')


def case_metrics(case):
    if is_recovery(case):
        return (METRICS[:1] + RECOVERY_METRICS + METRICS[1:] +
                [m for m in POSTCOPY_METRICS if m[0] in RECOVERY_PC])
    if case in COMPRESS:
        return METRICS + COMPRESS_METRICS
    return METRICS + POSTCOPY_METRICS if case in POSTCOPY else METRICS


def fmt(fmtstr, v, missing='-'):
    if v is None:
        return missing
    if fmtstr == 'MiB':
        return f'{v / (1 << 20):.0f}'
    return fmtstr.format(v)


def median(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def case_table(results, case, transport, kinds, failed=None, na=()):
    """Rows of [metric, ferry, qemu, ratio] for one case.  A hypervisor
    without a successful run but with failed ones (@failed: {key: [what
    each failed run measured]}) shows FAILED where they measured nothing;
    one that lacks the case's setting (@na: keys) n/a."""
    failed = failed or {}
    rows = []
    for key, label, f, lower in case_metrics(case):
        vals, cells = {}, []
        for k in kinds:
            runs = results.get((k, case, transport), [])
            bad = failed.get((k, case, transport), [])
            if (k, case, transport) in na and not runs:
                vals[k] = None
                cells.append('n/a')
            elif runs or not bad:
                vals[k] = median(runs, key)
                cells.append(fmt(f, vals[k], 'n/a' if key in NA_KEYS else '-'))
            else:
                vals[k] = None
                cells.append(fmt(f, median(bad, key), 'FAILED'))
        row = [label] + cells
        for q in (k for k in kinds if k in QEMU_KINDS and 'ferry' in kinds):
            a, b = vals.get('ferry'), vals.get(q)
            if a is not None and b is not None and a > 0 and b > 0:
                r = b / a if lower else a / b
                row.append(f'{r:.2f}x')
            else:
                row.append('-')
        rows.append(row)
    return rows


def compress_table(results, transport, kinds, na=()):
    """(header, rows): one row per hypervisor and multifd-compression of
    the compression cases, with its speedup (total time) over none."""
    labels = {m[0]: (m[1], m[2]) for m in METRICS + COMPRESS_METRICS}
    header = (['hypervisor', 'multifd-compression'] +
              [labels[k][0] for k in COMPRESS_SUMMARY] +
              ['speedup over none (total time)'])
    rows = []
    for k in kinds:
        base = median(results.get((k, 'compress-1G-none', transport), []),
                      'total_ms')
        for case, method in COMPRESS.items():
            key = (k, case, transport)
            runs = results.get(key, [])
            missing = 'n/a' if key in na else '-'
            total = median(runs, 'total_ms')
            rows.append([k, method] +
                        [fmt(labels[m][1], median(runs, m), missing)
                         for m in COMPRESS_SUMMARY] +
                        [f'{base / total:.2f}x' if base and total else
                         missing])
    return header, rows


def text_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows)
              for i in range(len(header))]
    line = lambda r: '  '.join(str(c).rjust(w) if i else str(c).ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths)))
    return '\n'.join([line(header), line(['-' * w for w in widths])] +
                     [line(r) for r in rows])


def md_table(header, rows):
    out = ['| ' + ' | '.join(header) + ' |',
           '|' + '|'.join(['---'] + ['---:'] * (len(header) - 1)) + '|']
    out += ['| ' + ' | '.join(str(c) for c in r) + ' |' for r in rows]
    return '\n'.join(out)


def postcopy_line(r):
    """The postcopy figures of one run, for the individual runs list."""
    if r.get('switch_s') is None:
        return ''
    na = lambda v, f='{:.0f}': 'n/a' if v is None else f.format(v)
    return (f'; postcopy after pass {r["switch_pass"]} at '
            f'{r["switch_s"]:.2f} s, guest max stall over postcopy '
            f'{na(r.get("stall_ms"), "{:.1f}")} ms, '
            f'blocktime {na(r["blocktime_ms"])} ms, '
            f'fault latency p50/p99/max {na(r["lat_p50_us"])}/'
            f'{na(r["lat_p99_us"])}/{na(r["lat_max_us"])} us, mean '
            f'{na(r["lat_mean_us"])} us, latency dist '
            f'{r["lat_dist"] if r["lat_dist"] is not None else "n/a"}, '
            f'requests src {na(r["src_requests"])} dst '
            f'{na(r["dst_requests"])}, source states '
            f'{" > ".join(r["src_states"])}' + recovery_line(r))


def recovery_line(r):
    """The recovery figures of one run (postcopy-recovery-4G)."""
    if r.get('cut_after_s') is None:
        return ''
    ms = lambda k: 'n/a' if r.get(k) is None else f'{r[k]:.1f}'
    states = lambda k: ('n/a' if r.get(k) is None else
                        ' / '.join('>'.join(x) for x in r[k]))
    return (f'; cut {r["cut_after_s"]:.2f} s after source postcopy-active '
            f'({r.get("cut_connections")} connection(s), cut() took '
            f'{ms("cut_call_ms")} ms), paused src/dst after '
            f'{ms("cut_src_paused_ms")}/{ms("cut_dst_paused_ms")} ms '
            f'(events src/dst {states("states_after_cut")}; error-desc '
            f'{r.get("error_desc")}), migrate-recover tries '
            f'{r.get("recover_tries", "n/a")}, resume command took '
            f'{ms("resume_call_ms")} ms, postcopy-active src/dst after '
            f'{ms("resume_src_active_ms")}/{ms("resume_dst_active_ms")} ms '
            f'(events src/dst {states("states_after_resume")}), sent after '
            f'the resume {r.get("resume_bytes", "n/a")} bytes')


def median_run(runs):
    """The run with the median total time (the lower of the middle two)."""
    return sorted(runs, key=lambda r: r['total_ms'])[(len(runs) - 1) // 2]


def plot_case(results, case, transport, kinds, title, out):
    """Draws the median run of each hypervisor into plots/ next to @out;
    returns the markdown lines that show it."""
    runs = {k: median_run(results[(k, case, transport)])['series']
            for k in kinds if results.get((k, case, transport))}
    name = f'{case}-{transport}.svg'
    svg = os.path.join(os.path.dirname(out), 'plots', name)
    os.makedirs(os.path.dirname(svg), exist_ok=True)
    why_not = bench_plot.write_plot(svg, title, runs)
    if why_not:
        return [f'(no plot: {why_not})', '']
    return [f'![{title}: throughput and remaining RAM](plots/{name})', '']


def header_for(kinds, repeat):
    h = ['metric'] + kinds
    if 'ferry' in kinds:
        h += [f'ferry advantage vs {q}' for q in kinds if q in QEMU_KINDS]
    return h


def machine_description(opts):
    cpu = ''
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    kvm = 'unknown'
    try:
        with open('/proc/modules') as f:
            mods = [l.split()[0] for l in f]
        kvm = ', '.join(m for m in mods if m.startswith('kvm')) or 'built in'
    except OSError:
        pass
    qv = ''
    if not opts.no_qemu:
        try:
            qv = subprocess.run([opts.qemu, '-version'], capture_output=True,
                                text=True).stdout.splitlines()[0]
        except Exception:
            qv = '?'
    return (f'{os.cpu_count()} CPUs ({cpu}), kernel {platform.release()}, '
            f'KVM modules: {kvm}' + (f'; {qv}' if qv else ''))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='1 GiB cases only')
    ap.add_argument('--repeat', type=int, default=1, help='median of N runs')
    ap.add_argument('--no-qemu', action='store_true', help='ferry only')
    ap.add_argument('--only', choices=list(HYPERVISORS),
                    help='run one hypervisor alone')
    ap.add_argument('--case', action='append',
                    choices=list(CASES) + list(CASE_GROUPS),
                    help='run only this case (repeatable); "postcopy": '
                    'both postcopy cases')
    ap.add_argument('--transport', action='append',
                    choices=TRANSPORTS + (TLS_TRANSPORT,),
                    help='run only this transport (repeatable)')
    ap.add_argument('--qemu-ram', choices=('default', 'memfd'),
                    default='default', help='QEMU guest RAM backend')
    ap.add_argument('--qemu', default=shutil.which('qemu-system-x86_64') or
                    'qemu-system-x86_64')
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--out', default=None,
                    help='markdown results (default BUILD/bench/results.md)')
    ap.add_argument('--mem', default=None,
                    help='guest RAM of every case run (e.g. 1G), instead of '
                         'the size in its name: to iterate fast')
    ap.add_argument('--settle', type=float, default=1.0,
                    help='seconds to wait after the fill before migrating')
    ap.add_argument('--timeout', type=float, default=300.0,
                    help='limit per migration, seconds')
    ap.add_argument('--quiet', type=float, default=0.15,
                    help='migrate only once other processes use fewer cores '
                    'than this (the machine may be shared)')
    ap.add_argument('--quiet-timeout', type=float, default=300.0,
                    help='seconds to wait for a quiet machine')
    ap.add_argument('--max-foreign', type=float, default=0.5,
                    help='re-run a migration (up to --retries times) during '
                    'which other processes used more CPU seconds than this')
    ap.add_argument('--retries', type=int, default=2)
    ap.add_argument('--tmp', default=None, help='directory for temp dirs')
    ap.add_argument('--multifd', type=int, default=0, metavar='N',
                    help='capability multifd with N channels, both sides')
    ap.add_argument('--multifd-compression', default='none',
                    choices=('none', 'zlib', 'zstd'))
    opts = ap.parse_args()
    opts.build = os.path.abspath(opts.build)
    opts.keep_dirs = []
    out = opts.out or os.path.join(opts.build, 'bench', 'results.md')
    if opts.mem:
        for case, (_, rate) in CASES.items():
            CASES[case] = (opts.mem, rate)   # the titles show the -m run

    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        print('bench: /dev/kvm is not usable; nothing to measure',
              file=sys.stderr)
        return 1
    for f in ('ferry', 'guest/ferry-guest.elf'):
        if not os.path.exists(os.path.join(opts.build, f)):
            print(f'bench: {opts.build}/{f} missing (run make)', file=sys.stderr)
            return 1

    cases = opts.case or (['idle-1G', 'dirty-1G'] if opts.quick
                          else list(CASES))
    cases = list(dict.fromkeys(c for name in cases
                               for c in CASE_GROUPS.get(name, [name])))
    transports = opts.transport or list(TRANSPORTS)
    if TLS_TRANSPORT in transports:
        make_tls_dirs(opts)
    for case in cases:
        if not set(transports) & set(case_transports(case)):
            print(f'bench: {case} runs over '
                  f'{"/".join(case_transports(case))} only: skipped',
                  file=sys.stderr)
    kinds = ['ferry'] + ([] if opts.no_qemu else list(QEMU_KINDS))
    if opts.only:
        kinds = [opts.only]
    if set(kinds) & set(QEMU_KINDS) and not shutil.which(opts.qemu):
        print(f'bench: {opts.qemu} not found; use --no-qemu', file=sys.stderr)
        return 1
    results, failures = {}, []
    failed = {}     # (kind, case, transport) -> [partial measurements]
    na = set()      # (kind, case, transport) the hypervisor cannot run
    started = datetime.datetime.now()
    machine = machine_description(opts)
    print(f'bench: {machine}', flush=True)

    def report(final):
        header = header_for(kinds, opts.repeat)
        md = [f'# Migration benchmark results', '',
              f'Run {started:%Y-%m-%d %H:%M}; {machine}.  ',
              f'Command: `python3 scripts/bench.py {" ".join(sys.argv[1:])}`'.rstrip()
              + '  ',
              f'Each value is the median of {opts.repeat} run(s).  QEMU: '
              f'`-accel kvm -cpu {QEMU_CPU} -machine pc`, guest RAM '
              f'{"memfd backend" if opts.qemu_ram == "memfd" else "default (anonymous)"}.  '
              f'Both: -smp {SMP}, max-bandwidth {MAX_BANDWIDTH}, downtime-limit '
              f'{DOWNTIME_LIMIT} ms' +
              (f', multifd with {opts.multifd} channels, compression '
               f'{opts.multifd_compression}' if opts.multifd else '') + '.  '
              '"ferry advantage" is QEMU/ferry for lower-is-better metrics and '
              'ferry/QEMU for throughput: >1 means ferry is better.', '']
        for case in cases:
            mem, rate = CASES[case]
            for transport in transports:
                if not any((k, case, transport) in results or
                           (k, case, transport) in failed or
                           (k, case, transport) in na for k in kinds):
                    continue
                title = f'{case} (-m {mem}, dirty-rate={rate}) over {transport}'
                if case in POSTCOPY:
                    title += (', postcopy-ram' + (' + postcopy-preempt'
                              if POSTCOPY[case]['preempt'] else ''))
                if is_recovery(case):
                    title += (f', relay cut {RECOVERY_CUT_AFTER:g} s into '
                              f'postcopy, max-postcopy-bandwidth '
                              f'{RECOVERY_POSTCOPY_BANDWIDTH >> 20} MiB/s')
                if case in COMPRESS:
                    title += (f', {COMPRESS_FILL}, multifd '
                              f'{opts.multifd or COMPRESS_CHANNELS} channels, '
                              f'multifd-compression {COMPRESS[case]}, '
                              f'max-bandwidth {COMPRESS_BANDWIDTH >> 20} MiB/s '
                              f'on the source')
                rows = case_table(results, case, transport, kinds, failed, na)
                runs = ', '.join(
                    f'{k}: {len(results.get((k, case, transport), []))}' +
                    (f' ({len(failed[(k, case, transport)])} FAILED)'
                     if (k, case, transport) in failed else '')
                    for k in kinds)
                if final:
                    print(f'\n== {title}  [runs {runs}]')
                    print(text_table(header, rows))
                md += [f'## {title}', '', f'Runs: {runs}.', '',
                       md_table(header, rows), '']
                md += plot_case(results, case, transport, kinds, title, out)
                # the raw runs, for the record
                md += ['<details><summary>individual runs</summary>', '']
                for k in kinds:
                    for r in results.get((k, case, transport), []):
                        md.append(f'- {k}: total {r["total_ms"]} ms, downtime '
                                  f'{r["downtime_ms"]} ms, blackout '
                                  f'{fmt("{:.1f}", r.get("blackout_ms"))} ms, '
                                  f'{r["mib_s"]:.0f} MiB/s, '
                                  f'src CPU {r["src_cpu"]:.2f} s, dst CPU '
                                  f'{r["dst_cpu"]:.2f} s, dst HWM '
                                  f'{r["dst_hwm_mib"]:.0f} MiB, other processes '
                                  f'{r["foreign_cpu"]:.2f} CPU s, attempt '
                                  f'{r["attempts"]}' + postcopy_line(r))
                md += ['', '</details>', '']
        if set(cases) & set(COMPRESS) and 'tcp' in transports:
            h, rows = compress_table(results, 'tcp', kinds, na)
            title = (f'compress-1G over tcp: each multifd-compression against '
                     f'none (max-bandwidth {COMPRESS_BANDWIDTH >> 20} MiB/s)')
            if final:
                print(f'\n== {title}')
                print(text_table(h, rows))
            md += [f'## {title}', '', md_table(h, rows), '']
        if failures:
            if final:
                print('\nFAILURES:')
            md += ['## Failures', '']
            for f in failures:
                if final:
                    print(f'  {f}')
                md.append(f'- {f}')
            if final and opts.keep_dirs:
                print(f'  kept for a post-mortem: {" ".join(opts.keep_dirs)}')
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, 'w') as f:
            f.write('\n'.join(md) + '\n')
        if final:
            print(f'\nbench: wrote {out}')

    # Sequential; within a repeat the hypervisors alternate, so slow drift
    # of the machine hits both alike.
    for case in cases:
        for transport in transports:
            if transport not in case_transports(case):
                continue
            for n in range(opts.repeat):
                for kind in kinds:
                    tag = f'{kind} {case} {transport} #{n + 1}'
                    print(f'bench: {tag} ...', end=' ', flush=True)
                    try:
                        for attempt in range(opts.retries + 1):
                            r = migrate_once(kind, case, transport, opts)
                            if r['foreign_cpu'] <= opts.max_foreign:
                                break
                            print(f'[other processes used '
                                  f'{r["foreign_cpu"]:.2f} CPU s: '
                                  f'{"again" if attempt < opts.retries else "kept"}]',
                                  end=' ', flush=True)
                        r['attempts'] = attempt + 1
                    except Unsupported as e:
                        print(f'n/a ({e})', flush=True)
                        na.add((kind, case, transport))
                        continue
                    except (BenchError, QMPError, ConnectionError,
                            TimeoutError, OSError, RelayError) as e:
                        # QMPError: a command refused; the others: a VM
                        # that died or stopped answering mid-run, or the
                        # relay (postcopy-recovery-4G)
                        partial = getattr(e, 'partial', None) or {}
                        if not isinstance(e, BenchError):
                            e = BenchError(f'{type(e).__name__}: {e}')
                        print(f'FAILED\n  {e}', flush=True)
                        if partial:
                            print(f'  measured before the failure: '
                                  f'{recovery_line(partial)[2:] or partial}',
                                  flush=True)
                        failures.append(f'{tag}: {str(e).splitlines()[0]}')
                        failed.setdefault((kind, case, transport),
                                          []).append(partial)
                        report(False)
                        continue
                    results.setdefault((kind, case, transport), []).append(r)
                    report(False)
                    print(f'total {r["total_ms"]} ms, downtime '
                          f'{r["downtime_ms"]} ms, blackout '
                          f'{fmt("{:.1f}", r.get("blackout_ms"))} ms, '
                          f'{r["mib_s"]:.0f} MiB/s, '
                          f'src CPU {r["src_cpu"]:.2f} s '
                          f'({r["src_vmm_cpu"]:.2f} s VMM), dst CPU '
                          f'{r["dst_cpu"]:.2f} s, machine busy '
                          f'{r["sys_busy"]:.2f} s steal {r["sys_steal"]:.2f} s '
                          f'others {r["foreign_cpu"]:.2f} s, '
                          f'dst HWM {r["dst_hwm_mib"]:.0f} MiB (fill {r["fill_s"]:.1f} s; '
                          f'{r["check"]}){postcopy_line(r)}', flush=True)

    report(True)
    return 1 if failures else 0


if __name__ == '__main__':
    # SIGTERM (make interrupted, timeout) cleans up like ^C does
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main())
