#!/usr/bin/env python3
"""Live update downtime against guest RAM size, next to a local precopy.

For each size the test guest (2 vCPUs, dirty-rate as given) fills and
verifies its RAM, then ferry live-updates itself --repeat times; each
update reports the host's view (query-live-update downtime-us: vCPUs
stopped in the predecessor until they run in the successor) and the
guest's (x-query-workload max-stall-us, reset just before: the longest
its workload loop stood still, by its own TSC).  For the sizes given by
--precopy-sizes, the same guest is also migrated to a second process on
the same machine over a unix socket, by ferry and by QEMU 7.2 (with
-mem-prealloc, as ferry pre-faults its destination); the destination
starts the guest itself (no -S), so the guest-observed blackout is the
whole switchover.  QEMU's guest reports its stall on the serial line
("max-stall-us=", a maximum since boot, so it counts only when it grew).

    python3 scripts/bench_live_update.py                 # 1, 4, 16 GiB
    python3 scripts/bench_live_update.py --sizes 1G --repeat 3 --no-qemu
"""

import argparse
import os
import re
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
from bench import BenchError, wait_for  # noqa: E402

STALL = re.compile(r'workload: cpu (\d+) .*max-stall-us=(\d+)')


class Ferry(bench.FerryVM):
    """A destination that runs the guest as soon as it arrived."""

    def command(self, mem, rate, incoming, opts):
        args = super().command(mem, rate, incoming, opts)
        return [a for a in args if a != '-S']

    serving = None

    @property
    def pid(self):
        """The process that runs the guest now: the quiet-machine check
        must not count the successor as somebody else's load."""
        return self.serving or self.proc.pid

    def followed(self, pid):
        if self.proc.poll() is None:
            self.proc.wait(30)      # the predecessor exits 0, reap it
        self.serving = pid


class Qemu(bench.QemuVM):
    def command(self, mem, rate, incoming, opts):
        args = super().command(mem, rate, incoming, opts)
        return [a for a in args if a != '-S'] + ['-mem-prealloc']

    def max_stall_us(self):
        found = [int(m.group(2)) for m in STALL.finditer(self.serial())]
        return max(found) if found else 0


def baseline_stall(vm, opts):
    """The guest's longest stall over a second without any update: its
    own noise (host scheduling, exits), to read the updates against."""
    time.sleep(opts.settle)
    bench.wait_quiet((vm,), opts)
    vm.qmp.cmd('x-workload-reset-stall')
    time.sleep(1.5)
    return vm.qmp.cmd('x-query-workload')['max-stall-us']


def live_updates(mem, opts, workdir):
    vm = Ferry(workdir, f'lu-{mem}', mem, opts.dirty_rate, False, opts)
    rows, base = [], []
    try:
        vm.wait_filled(900)
        for _ in range(opts.repeat):
            base.append(baseline_stall(vm, opts))
            time.sleep(opts.settle)
            bench.wait_quiet((vm,), opts)
            vm.qmp.cmd('x-workload-reset-stall')
            vm.qmp.clear_events()
            vm.qmp.cmd('live-update')
            status = None
            while status not in ('completed', 'failed'):
                status = vm.qmp.wait_event('LIVE_UPDATE', 120)['data'][
                    'status']
            info = vm.qmp.cmd('query-live-update')
            if status != 'completed':
                raise BenchError(f'live update failed: {info}')
            vm.followed(info['pid'])
            time.sleep(0.5)     # the guest reports at least every 20 ms
            w = vm.qmp.cmd('x-query-workload')
            if w['corrupt-pages'] or w['boots'] != 1:
                raise BenchError(f'the guest is not intact: {w}')
            rows.append((info['downtime-us'], w['max-stall-us']))
        before = vm.qmp.cmd('x-query-workload')['full-verify-passes']
        wait_for(lambda: vm.qmp.cmd('x-query-workload')['full-verify-passes']
                 > before, 300, 0.2, 'a verify pass after the updates')
    finally:
        vm.close()
    return rows, base


def precopy(cls, mem, opts, workdir):
    src = cls(workdir, f'src-{mem}', mem, opts.dirty_rate, False, opts)
    dst = None
    try:
        dst = cls(workdir, f'dst-{mem}', mem, opts.dirty_rate, True, opts)
        src.wait_filled(900)
        time.sleep(opts.settle)
        bench.wait_quiet((src, dst), opts)
        before = src.max_stall_us() if cls is Qemu else 0
        if cls is Ferry:
            src.qmp.cmd('x-workload-reset-stall')
        uri = f'unix:{os.path.join(workdir, f"mig-{cls.kind}-{mem}.sock")}'
        dst.qmp.cmd('migrate-incoming', uri=uri)
        src.qmp.cmd('migrate', uri=uri)
        wait_for(lambda: src.qmp.cmd('query-migrate').get('status') in
                 ('completed', 'failed'), opts.timeout, 0.05,
                 'the migration to end')
        info = src.qmp.cmd('query-migrate')
        if info['status'] != 'completed':
            raise BenchError(f'{cls.kind} migration failed: {info}')
        wait_for(lambda: dst.qmp.cmd('query-status')['status'] == 'running',
                 60, 0.05, 'the destination to run')
        if cls is Ferry:
            time.sleep(0.5)
            stall = dst.qmp.cmd('x-query-workload')['max-stall-us']
        else:
            # the serial line comes every 2 s with the maximum since boot
            wait_for(lambda: dst.max_stall_us(), 30, 0.2,
                     'a counters line on the destination')
            stall = dst.max_stall_us()
            stall = stall if stall > before else None
        dst.check_destination(src, mark=dst.completion_mark()
                              if cls is Qemu else
                              dst.qmp.cmd('x-query-workload'))
        return info['downtime'] * 1000, stall, info['total-time']
    finally:
        for vm in (dst, src):
            if vm is not None:
                vm.close()


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_ms(us):
    return '-' if us is None else f'{us / 1000:.1f} ms'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--sizes', default='1G,4G,16G')
    ap.add_argument('--precopy-sizes', default='1G,4G',
                    help='sizes also migrated by precopy (two processes '
                    'must fit in RAM)')
    ap.add_argument('--repeat', type=int, default=5)
    ap.add_argument('--dirty-rate', default='64M')
    ap.add_argument('--no-qemu', action='store_true')
    ap.add_argument('--build', default=os.path.join(bench.ROOT, 'build'))
    ap.add_argument('--qemu', default='qemu-system-x86_64')
    ap.add_argument('--settle', type=float, default=1.0)
    ap.add_argument('--timeout', type=float, default=300.0)
    ap.add_argument('--quiet', type=float, default=0.15)
    ap.add_argument('--quiet-timeout', type=float, default=60.0)
    opts = ap.parse_args()
    opts.qemu_ram = 'default'
    workdir = tempfile.mkdtemp(prefix='bench-lu-')
    print(f'# Live update against RAM size ({opts.repeat} updates per size, '
          f'dirty-rate={opts.dirty_rate})\n')
    print('| guest RAM | how | host downtime | guest-observed blackout '
          '(median / max) |')
    print('|---|---|---:|---:|')
    for mem in opts.sizes.split(','):
        rows, base = live_updates(mem, opts, workdir)
        host = [r[0] for r in rows]
        guest = [r[1] for r in rows]
        print(f'| {mem} | no update (1.5 s of the same guest) | - | '
              f'{fmt_ms(med(base))} / {fmt_ms(max(base))} |')
        print(f'| {mem} | ferry live update | {fmt_ms(med(host))} | '
              f'{fmt_ms(med(guest))} / {fmt_ms(max(guest))} |', flush=True)
        if mem not in opts.precopy_sizes.split(','):
            continue
        kinds = [Ferry] + ([] if opts.no_qemu else [Qemu])
        for cls in kinds:
            runs = [precopy(cls, mem, opts, workdir)
                    for _ in range(max(1, opts.repeat // 2))]
            label = ('ferry precopy' if cls is Ferry else
                     'QEMU 7.2 precopy, -mem-prealloc')
            print(f'| {mem} | {label} (total {med([r[2] for r in runs]):.0f}'
                  f' ms) | {fmt_ms(med([r[0] for r in runs]))} | '
                  f'{fmt_ms(med([r[1] for r in runs]))} / '
                  f'{fmt_ms(max([r[1] or 0 for r in runs]))} |', flush=True)


if __name__ == '__main__':
    main()
