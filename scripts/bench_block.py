#!/usr/bin/env python3
"""`make bench`, block part: downtime against the destination's disk
attach latency, with early-block-attach on and off.

The guest: the same test guest as scripts/bench.py (-m 1G, -smp 2,
dirty-rate=64M), here with a pvblk disk on a 256 MiB raw image both sides
open (made by build/ferry-img) and disk-rate=8M: it writes, reads back and
verifies sectors during the migration.  The destination's disk is a
blkdelay filter over the file whose attach takes L ms (0, 100, 500, 2000):
a slow storage backend (an iSCSI login, a remote volume) that must be
connected before the guest may use it.

Both sides: capabilities events, return-path and (ferry; QEMU 7.2 has
none) switchover-ack,
max-bandwidth 1 TiB/s, downtime-limit 300 ms, precopy over
tcp:127.0.0.1.  The only difference between the rows of one latency is
the destination's capability early-block-attach: on, the destination
attaches while precopy runs and acknowledges the switchover only then; off,
it attaches after loading the device state, inside the downtime.

Rows for reference: ferry without a disk; QEMU without a disk and QEMU
with the same image as a virtio-blk disk on both sides (`-drive
file=IMG,format=raw,if=none -device virtio-blk-pci`; QEMU opens images at
process start, so it has no attach inside the migration to delay; its
downtime includes activating the image on the destination).  The guest
does not drive QEMU's disk (it knows only pvblk), so that row measures the
disk's cost in the switchover alone.

Measured per run: downtime (source query-migrate, ms), total-time (ms),
the destination's attach and activate times (query-block x-attach-time-ms,
x-activate-time-ms).  After each migration: RAM digests equal, `cont`, a
full verify pass with corrupt-pages 0, and (with the disk) more sectors
verified with corrupt-sectors 0.

Options: --repeat N (median of N, default 3), --latency MS (repeatable),
--no-qemu, --build, --out (default BUILD/bench/block-results.md).
"""

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import BenchError, wait_for, free_port  # noqa: E402

MEM = '1G'
RATE = '64M'
DISK_RATE = '8M'
IMAGE_SIZE = '256M'
LATENCIES = (0, 100, 500, 2000)


class DiskFerryVM(bench.FerryVM):
    def __init__(self, workdir, role, incoming, opts, disk_args, disk_rate):
        self.disk_args = disk_args
        self.disk_rate = disk_rate
        super().__init__(workdir, role, MEM, RATE, incoming, opts)

    def command(self, mem, rate, incoming, opts):
        args = super().command(mem, rate, incoming, opts)
        i = args.index('-append') + 1
        if self.disk_rate:
            args[i] += f' disk-rate={self.disk_rate}'
        return args + self.disk_args


class DiskQemuVM(bench.QemuVM):
    def __init__(self, workdir, role, incoming, opts, image):
        self.image = image
        super().__init__(workdir, role, MEM, RATE, incoming, opts)

    def command(self, mem, rate, incoming, opts):
        args = super().command(mem, rate, incoming, opts)
        if self.image:
            args += ['-drive', f'file={self.image},format=raw,if=none,id=d0',
                     '-device', 'virtio-blk-pci,drive=d0']
        return args


def ferry_disk(image, latency):
    args = ['-blockdev', f'driver=file,node-name=f0,filename={image}']
    top = 'f0'
    if latency is not None:
        args += ['-blockdev', f'driver=blkdelay,node-name=d0,file=f0,'
                              f'attach-latency-ms={latency}']
        top = 'd0'
    return args + ['-device', f'pvblk,drive={top},id=disk0']


def block_times(vm):
    for b in vm.qmp.cmd('query-block'):
        ins = b.get('inserted')
        if ins:
            return ins['x-attach-time-ms'], ins['x-activate-time-ms']
    return None, None


def check_disk(dst, before):
    wait_for(lambda: dst.qmp.cmd('x-query-workload')['disk-sectors-verified']
             > before['disk-sectors-verified'] + 64, 60, 0.2,
             'disk sectors verified on the destination')
    after = dst.qmp.cmd('x-query-workload')
    if after['corrupt-sectors'] or after['disk-io-errors']:
        raise BenchError(f'destination found corrupt sectors or I/O '
                         f'errors: {after}')


def migrate_once(row, opts, workdir):
    kind, latency, early = row['kind'], row.get('latency'), row.get('early')
    disk = row['disk']
    image = None
    if disk:
        image = os.path.join(workdir, 'disk.img')
        subprocess.run([os.path.join(opts.build, 'ferry-img'), 'create',
                        image, IMAGE_SIZE], check=True, capture_output=True)
    src = dst = None
    try:
        if kind == 'ferry':
            src = DiskFerryVM(workdir, 'src', False, opts,
                              ferry_disk(image, None) if disk else [],
                              DISK_RATE if disk else None)
            dst = DiskFerryVM(workdir, 'dst', True, opts,
                              ferry_disk(image, latency) if disk else [],
                              DISK_RATE if disk else None)
        else:
            src = DiskQemuVM(workdir, 'src', False, opts, image)
            dst = DiskQemuVM(workdir, 'dst', True, opts, image)
        caps = [{'capability': 'return-path', 'state': True}]
        if kind == 'ferry':     # QEMU 7.2 has no switchover-ack (8.1 has)
            caps.append({'capability': 'switchover-ack', 'state': True})
        for vm in (src, dst):
            vm.qmp.cmd('migrate-set-capabilities', capabilities=caps)
        if kind == 'ferry':
            dst.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'early-block-attach', 'state': bool(early)}])
        src.wait_filled(300)
        time.sleep(opts.settle)
        bench.wait_quiet((src, dst), opts)
        uri = f'tcp:127.0.0.1:{free_port()}'
        dst.qmp.cmd('migrate-incoming', uri=uri)
        src.qmp.cmd('migrate', uri=uri)
        info = wait_for(lambda: (lambda i: i if i.get('status') in
                                 ('completed', 'failed', 'cancelled')
                                 else None)(src.qmp.cmd('query-migrate')),
                        opts.timeout, 0.05, 'the migration to end')
        if info['status'] != 'completed':
            raise BenchError(f'migration {info["status"]}: '
                             f'{info.get("error-desc")}')
        wait_for(lambda: dst.qmp.cmd('query-migrate').get('status') ==
                 'completed', 30, 0.05, 'the destination to complete')
        res = {'downtime': info['downtime'], 'total': info['total-time']}
        if kind == 'ferry' and disk:
            res['attach'], res['activate'] = block_times(dst)
        before = dst.qmp.cmd('x-query-workload') if kind == 'ferry' else None
        dst.check_destination(src)
        if kind == 'ferry' and disk:
            check_disk(dst, before)
        return res
    finally:
        for vm in (src, dst):
            if vm:
                vm.close()


def rows(opts):
    out = [{'kind': 'ferry', 'disk': False, 'name': 'ferry, no disk'}]
    for lat in opts.latency or LATENCIES:
        for early in (True, False):
            out.append({'kind': 'ferry', 'disk': True, 'latency': lat,
                        'early': early,
                        'name': f'ferry, attach {lat} ms, early-block-attach '
                                f'{"on" if early else "off"}'})
    if not opts.no_qemu:
        out.append({'kind': 'qemu', 'disk': False, 'name': 'QEMU, no disk'})
        out.append({'kind': 'qemu', 'disk': True,
                    'name': 'QEMU, virtio-blk on the same raw image'})
    return out


def fmt(v, spec='{:.0f}'):
    return '-' if v is None else spec.format(v)


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--latency', type=int, action='append')
    ap.add_argument('--no-qemu', action='store_true')
    ap.add_argument('--qemu', default=shutil.which('qemu-system-x86_64') or
                    'qemu-system-x86_64')
    ap.add_argument('--qemu-ram', default='default')
    ap.add_argument('--build', default=os.path.join(bench.ROOT, 'build'))
    ap.add_argument('--out', default=None)
    ap.add_argument('--settle', type=float, default=1.0)
    ap.add_argument('--timeout', type=float, default=300.0)
    ap.add_argument('--quiet', type=float, default=0.15)
    ap.add_argument('--quiet-timeout', type=float, default=120.0)
    ap.add_argument('--tmp', default=None)
    opts = ap.parse_args()
    opts.build = os.path.abspath(opts.build)
    out = opts.out or os.path.join(opts.build, 'bench', 'block-results.md')
    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        print('bench_block: /dev/kvm is not usable', file=sys.stderr)
        return 1
    if not opts.no_qemu and not shutil.which(opts.qemu):
        print(f'bench_block: {opts.qemu} not found; use --no-qemu',
              file=sys.stderr)
        return 1
    started = datetime.datetime.now()
    table, failures = [], 0
    for row in rows(opts):
        runs = []
        for i in range(opts.repeat):
            workdir = tempfile.mkdtemp(prefix='bench-block-', dir=opts.tmp)
            try:
                runs.append(migrate_once(row, opts, workdir))
                print(f'{row["name"]}: run {i + 1}: {runs[-1]}', flush=True)
            except BenchError as e:
                failures += 1
                print(f'{row["name"]}: run {i + 1} FAILED: {e}', flush=True)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
        table.append((row['name'], runs))
    header = ['configuration', 'downtime ms', 'total ms', 'dst attach ms',
              'dst activate ms', 'runs']
    lines = [f'# Block benchmark: downtime vs attach latency', '',
             f'Run {started:%Y-%m-%d %H:%M}.  Command: `python3 '
             f'scripts/bench_block.py {" ".join(sys.argv[1:])}`'.rstrip(),
             f'(part of `make bench`).  Median of {opts.repeat} run(s); '
             f'-m {MEM}, -smp 2, dirty-rate={RATE}, disk-rate={DISK_RATE}, '
             f'image {IMAGE_SIZE}, switchover-ack on, tcp loopback.', '',
             '| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    for name, runs in table:
        lines.append('| ' + ' | '.join([
            name, fmt(med(runs, 'downtime')), fmt(med(runs, 'total')),
            fmt(med(runs, 'attach'), '{:.1f}'),
            fmt(med(runs, 'activate'), '{:.2f}'),
            f'{len(runs)}/{opts.repeat}']) + ' |')
    text = '\n'.join(lines) + '\n'
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, 'w') as f:
        f.write(text)
    print(text)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
