#!/usr/bin/env python3
"""`make bench`: ferry's live migration side by side with QEMU's.

Same guest binary (build/guest/ferry-guest.elf, a Multiboot v1 ELF32 that
both ferry and `qemu-system-x86_64 -kernel` boot), same machine, same run.

Cases (each over tcp:127.0.0.1 and over a unix socket, loopback):
  idle-1G     -m 1G, dirty-rate=0: the guest fills all its RAM once, then
              only reads it (so every page is non-zero)
  idle-4G     the same with -m 4G
  dirty-1G    -m 1G, dirty-rate=256M: the guest dirties 256 MB/s

For each case and hypervisor:
  total-time  query-migrate total-time on the source (ms)
  downtime    query-migrate downtime on the source (ms)
  throughput  ram.transferred / total-time (MiB/s)
  src/dst CPU utime+stime of the whole process during the migration
              (/proc/PID/stat deltas, from `migrate` until both sides
              report completed); "VMM" columns leave out the vCPU threads
              (ferry: "vcpuN", QEMU: "CPU N/KVM" with debug-threads=on)
  dst peak RSS VmHWM of the destination, right after the migration

Both sides: -smp 2, capability `events`, max-bandwidth 1 TiB/s (QEMU 7.2's
default is 128 MiB/s), downtime-limit 300 ms.  The destination starts with
-S -incoming defer.  After each migration the destination is checked:
ferry: x-ram-digest of source and destination equal, then `cont` and one
more full verify pass with corrupt-pages 0; QEMU: `cont`, then the guest's
serial counters must move on for every vCPU with corrupt-pages=0.

Options: --quick (1 GiB cases only), --repeat N (median of N), --no-qemu,
--qemu-ram memfd (QEMU guest RAM in a memfd backend, as ferry's),
--case/--transport to pick.  Results: a table per case on stdout and
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
from pylib.qmp import QMPClient  # noqa: E402

CLK_TCK = os.sysconf('SC_CLK_TCK')
SMP = 2
DOWNTIME_LIMIT = 300                 # ms, QEMU's and ferry's default
MAX_BANDWIDTH = 1 << 40              # 1 TiB/s: unlimited for our purposes
QEMU_CPU = 'host,-arch-capabilities'  # -cpu host/max abort here (MSR 0x10a)

CASES = {
    'idle-1G': ('1G', '0'),
    'idle-4G': ('4G', '0'),
    'dirty-1G': ('1G', '256M'),
}
TRANSPORTS = ('tcp', 'unix')

COUNTERS = re.compile(r'workload: cpu (\d+) rounds=(\d+) pages-written=(\d+) '
                      r'pages-verified=(\d+) passes=(\d+) corrupt-pages=(\d+)')


class BenchError(Exception):
    pass


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

    def __init__(self, workdir, role, mem, rate, incoming, opts):
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
                '-append', f'dirty-rate={rate}',
                '-qmp', f'unix:{self.qmp_path},server=on,wait=off',
                '-serial', f'file:{self.serial_path}']
        if incoming:
            args += ['-S', '-incoming', 'defer']
        return args

    def wait_filled(self, timeout):
        wait_for(lambda: self.qmp.cmd('x-query-workload')
                 ['full-verify-passes'] >= 1, timeout, 0.2,
                 'the guest to fill and verify its RAM')

    def check_destination(self, src):
        """Digests equal, then the guest runs a full verify pass clean."""
        s, d = src.qmp.cmd('x-ram-digest'), self.qmp.cmd('x-ram-digest')
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
                '-append', f'dirty-rate={rate}',
                '-qmp', f'unix:{self.qmp_path},server=on,wait=off',
                '-serial', f'file:{self.serial_path}']
        if opts.qemu_ram == 'memfd':
            args += ['-object', f'memory-backend-memfd,id=ram0,size={mem}']
            machine += ',memory-backend=ram0'
        args += ['-machine', machine]
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

    def check_destination(self, src):
        """cont, then every vCPU prints counters twice more: passes grow,
        corrupt-pages=0 (the destination's serial log starts empty)."""
        self.qmp.cmd('cont')

        def progressed():
            self._check_serial()
            c = self.counters()
            return all(len(c.get(i, [])) >= 2 and c[i][-1][3] > c[i][0][3]
                       for i in range(SMP))
        wait_for(progressed, 60, 0.2, 'serial counters on the destination')
        c = self.counters()
        bad = [lines[-1] for lines in c.values() if any(l[4] for l in lines)]
        if bad:
            raise BenchError(f'destination reports corrupt pages: {bad}')
        return 'cont, passes grew on every vCPU, corrupt-pages=0'


HYPERVISORS = {'ferry': FerryVM, 'qemu': QemuVM}


# --- one migration -----------------------------------------------------------

def migrate_once(kind, case, transport, opts):
    mem, rate = CASES[case]
    cls = HYPERVISORS[kind]
    workdir = tempfile.mkdtemp(prefix=f'bench-{kind}-', dir=opts.tmp)
    src = dst = None
    try:
        src = cls(workdir, 'src', mem, rate, False, opts)
        dst = cls(workdir, 'dst', mem, rate, True, opts)
        t = time.monotonic()
        src.wait_filled(300)
        fill_s = time.monotonic() - t
        time.sleep(opts.settle)
        waited = wait_quiet((src, dst), opts)
        if transport == 'tcp':
            uri = f'tcp:127.0.0.1:{free_port()}'
        else:
            uri = f'unix:{os.path.join(workdir, "mig.sock")}'
        # listening when migrate-incoming returns (QEMU's query-migrate
        # still says {} until the connection comes)
        dst.qmp.cmd('migrate-incoming', uri=uri)

        cpu0 = (src.cpu(), dst.cpu(), system_cpu(), self_cpu())
        t0 = time.monotonic()
        src.qmp.cmd('migrate', uri=uri)
        src_info = dst_done = None
        while src_info is None or dst_done is None:
            now = time.monotonic()
            if now - t0 > opts.timeout:
                raise BenchError(f'migration did not end in {opts.timeout}s: '
                                 f'{src.qmp.cmd("query-migrate")}')
            if src_info is None:
                i = src.qmp.cmd('query-migrate')
                if i.get('status') in ('completed', 'failed', 'cancelled'):
                    src_info = i
                    if i['status'] != 'completed':
                        raise BenchError(f'source: {i}\n{src.stderr()}')
            if dst_done is None:
                if dst.proc.poll() is not None:
                    raise BenchError(f'destination exited: {dst.stderr()}')
                st = dst.qmp.cmd('query-migrate').get('status')
                if st == 'completed':
                    dst_done = time.monotonic() - t0
                elif st == 'failed':
                    raise BenchError(f'destination failed: {dst.stderr()}')
            time.sleep(0.01)
        cpu1 = (src.cpu(), dst.cpu(), system_cpu(), self_cpu())
        # QEMU 7.2 sets 'completed' before it computes total-time and
        # downtime (migration_calculate_complete): until then both read 0
        deadline = time.monotonic() + 5
        while not src_info.get('total-time') and time.monotonic() < deadline:
            time.sleep(0.02)
            src_info = src.qmp.cmd('query-migrate')
        if not src_info.get('total-time'):
            raise BenchError(f'no total-time after completion: {src_info}')
        hwm = proc_status(dst.pid, 'VmHWM')
        dst_state = dst.qmp.cmd('query-status')['status']
        if dst_state != 'paused':
            raise BenchError(f'destination is {dst_state}, not paused')
        check = dst.check_destination(src)

        ram = src_info.get('ram', {})
        total_ms = src_info['total-time']
        res = {
            'total_ms': total_ms,
            'downtime_ms': src_info['downtime'],
            'setup_ms': src_info.get('setup-time'),
            'transferred': ram.get('transferred', 0),
            'mib_s': ram.get('transferred', 0) / (1 << 20) / (total_ms / 1000)
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
            'dst_hwm_mib': hwm / 1024 if hwm else None,
            'dirty_syncs': ram.get('dirty-sync-count'),
            'fill_s': fill_s,
            'check': check,
        }
        return res
    except BaseException:
        opts.keep_dirs.append(workdir)
        raise
    finally:
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
    ('mib_s', 'throughput (MiB/s)', '{:.0f}', False),
    ('transferred', 'transferred (MiB)', 'MiB', True),
    ('dst_done_s', 'dst done after (s)', '{:.2f}', True),
    ('src_cpu', 'source CPU, all (s)', '{:.2f}', True),
    ('src_vmm_cpu', 'source CPU, no vCPUs (s)', '{:.2f}', True),
    ('dst_cpu', 'destination CPU (s)', '{:.2f}', True),
    ('sys_busy', 'machine CPU busy, all procs (s)', '{:.2f}', True),
    ('sys_steal', 'machine CPU steal (s)', '{:.2f}', True),
    ('foreign_cpu', 'CPU of other processes (s)', '{:.2f}', True),
    ('dst_hwm_mib', 'destination peak RSS (MiB)', '{:.0f}', True),
    ('dirty_syncs', 'dirty-sync-count', '{:.0f}', True),
]


def fmt(fmtstr, v):
    if v is None:
        return '-'
    if fmtstr == 'MiB':
        return f'{v / (1 << 20):.0f}'
    return fmtstr.format(v)


def median(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def case_table(results, case, transport, kinds):
    """Rows of [metric, ferry, qemu, ratio] for one case."""
    rows = []
    for key, label, f, lower in METRICS:
        vals = {k: median(results.get((k, case, transport), []), key)
                for k in kinds}
        row = [label] + [fmt(f, vals[k]) for k in kinds]
        if 'qemu' in kinds:
            a, b = vals.get('ferry'), vals.get('qemu')
            if a is not None and b is not None and a > 0 and b > 0:
                r = b / a if lower else a / b
                row.append(f'{r:.2f}x')
            else:
                row.append('-')
        rows.append(row)
    return rows


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


def header_for(kinds, repeat):
    h = ['metric'] + kinds
    if 'qemu' in kinds:
        h.append('ferry advantage')
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
    ap.add_argument('--case', action='append', choices=list(CASES),
                    help='run only this case (repeatable)')
    ap.add_argument('--transport', action='append', choices=TRANSPORTS,
                    help='run only this transport (repeatable)')
    ap.add_argument('--qemu-ram', choices=('default', 'memfd'),
                    default='default', help='QEMU guest RAM backend')
    ap.add_argument('--qemu', default=shutil.which('qemu-system-x86_64') or
                    'qemu-system-x86_64')
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--out', default=None,
                    help='markdown results (default BUILD/bench/results.md)')
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
    opts = ap.parse_args()
    opts.build = os.path.abspath(opts.build)
    opts.keep_dirs = []
    out = opts.out or os.path.join(opts.build, 'bench', 'results.md')

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
    transports = opts.transport or list(TRANSPORTS)
    kinds = ['ferry'] + ([] if opts.no_qemu else ['qemu'])
    if opts.only:
        kinds = [opts.only]
    if 'qemu' in kinds and not shutil.which(opts.qemu):
        print(f'bench: {opts.qemu} not found; use --no-qemu', file=sys.stderr)
        return 1
    results, failures = {}, []
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
              f'{DOWNTIME_LIMIT} ms.  '
              '"ferry advantage" is QEMU/ferry for lower-is-better metrics and '
              'ferry/QEMU for throughput: >1 means ferry is better.', '']
        for case in cases:
            mem, rate = CASES[case]
            for transport in transports:
                if not any((k, case, transport) in results for k in kinds):
                    continue
                title = f'{case} (-m {mem}, dirty-rate={rate}) over {transport}'
                rows = case_table(results, case, transport, kinds)
                runs = ', '.join(f'{k}: {len(results.get((k, case, transport), []))}'
                                 for k in kinds)
                if final:
                    print(f'\n== {title}  [runs {runs}]')
                    print(text_table(header, rows))
                md += [f'## {title}', '', f'Runs: {runs}.', '',
                       md_table(header, rows), '']
                # the raw runs, for the record
                md += ['<details><summary>individual runs</summary>', '']
                for k in kinds:
                    for r in results.get((k, case, transport), []):
                        md.append(f'- {k}: total {r["total_ms"]} ms, downtime '
                                  f'{r["downtime_ms"]} ms, {r["mib_s"]:.0f} MiB/s, '
                                  f'src CPU {r["src_cpu"]:.2f} s, dst CPU '
                                  f'{r["dst_cpu"]:.2f} s, dst HWM '
                                  f'{r["dst_hwm_mib"]:.0f} MiB, other processes '
                                  f'{r["foreign_cpu"]:.2f} CPU s, attempt '
                                  f'{r["attempts"]}')
                md += ['', '</details>', '']
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
                    except BenchError as e:
                        print(f'FAILED\n  {e}', flush=True)
                        failures.append(f'{tag}: {str(e).splitlines()[0]}')
                        continue
                    results.setdefault((kind, case, transport), []).append(r)
                    report(False)
                    print(f'total {r["total_ms"]} ms, downtime '
                          f'{r["downtime_ms"]} ms, {r["mib_s"]:.0f} MiB/s, '
                          f'src CPU {r["src_cpu"]:.2f} s '
                          f'({r["src_vmm_cpu"]:.2f} s VMM), dst CPU '
                          f'{r["dst_cpu"]:.2f} s, machine busy '
                          f'{r["sys_busy"]:.2f} s steal {r["sys_steal"]:.2f} s '
                          f'others {r["foreign_cpu"]:.2f} s, '
                          f'dst HWM {r["dst_hwm_mib"]:.0f} MiB (fill {r["fill_s"]:.1f} s; '
                          f'{r["check"]})', flush=True)

    report(True)
    return 1 if failures else 0


if __name__ == '__main__':
    # SIGTERM (make interrupted, timeout) cleans up like ^C does
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main())
