#!/usr/bin/env python3
"""`make demo`: a live migration you can watch.

1. Starts build/ferry with the built-in guest (-m 512M -smp 2, the guest
   dirtying 64 MiB/s) and shows its serial console and, once a second, its
   workload counters (QMP x-query-workload) until it verified its memory.
2. Starts a second ferry with `-incoming defer -S` and migrates the running
   guest to it over a unix socket, printing progress as it goes.
3. With both sides stopped, compares the RAM digests (x-ram-digest), then
   lets the destination run and watches the guest verify its memory there.
With KVM the guest also has a pvblk disk on an image both sides open
(made by build/ferry-img) and writes and verifies sectors (disk-rate=4M);
the destination attaches it while precopy runs.
Exit status 1 if the guest saw a corrupt page or sector, or anything else
failed.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, 'tests'))
from pylib.oracle import ram_digest  # noqa: E402
from pylib.vm import FerryVM, kvm_available  # noqa: E402

PAGE = 4096


class SerialTail:
    """Hands out the complete lines appended to the serial log."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b''

    def new_lines(self):
        try:
            with open(self.path, 'rb') as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        lines = (self.partial + data).split(b'\n')
        self.partial = lines.pop()
        return [l.decode('utf-8', 'replace').rstrip('\r') for l in lines]


def get(info, key):
    """QAPI names use dashes; accept underscores too."""
    return info.get(key, info.get(key.replace('-', '_'), 0))


def status_line(elapsed, info, prev, interval):
    written = get(info, 'pages-written')
    rate = (written - get(prev, 'pages-written')) * PAGE / (1 << 20) / interval
    return (f'[{elapsed:5.1f}s] rounds {get(info, "rounds"):>6}  '
            f'written {written:>9}  verified {get(info, "pages-verified"):>9}  '
            f'full-verify-passes {get(info, "full-verify-passes")}  '
            f'corrupt-pages {get(info, "corrupt-pages")}  '
            f'({rate:.0f} MiB/s written)' +
            (f'  disk: written {get(info, "disk-sectors-written")} '
             f'verified {get(info, "disk-sectors-verified")} '
             f'corrupt-sectors {get(info, "corrupt-sectors")}'
             if get(info, 'disk-sectors-verified') else ''))


def watch(vm, duration, passes):
    """Prints serial output and counters; returns the last counters."""
    serial = SerialTail(vm.serial_path)
    start = time.monotonic()
    next_status = start + 1
    info = prev = vm.qmp.cmd('x-query-workload')
    prev_time = start
    while True:
        for line in serial.new_lines():
            print(f'serial | {line}', flush=True)
        if vm.proc.poll() is not None:
            raise RuntimeError(f'ferry exited with status {vm.proc.returncode}'
                               f'\n{vm.stderr_text()}')
        now = time.monotonic()
        if now >= next_status:
            info = vm.qmp.cmd('x-query-workload')
            print(status_line(now - start, info, prev, now - prev_time),
                  flush=True)
            prev, prev_time = info, now
            next_status += 1
            if get(info, 'corrupt-pages') or get(info, 'corrupt-sectors') or \
                    get(info, 'full-verify-passes') >= passes:
                break
        if now - start >= duration:
            break
        time.sleep(0.05)
    for line in serial.new_lines():
        print(f'serial | {line}', flush=True)
    return info


def verdict(info, passes, status):
    """Returns the list of problems (empty: success)."""
    problems = []
    if get(info, 'corrupt-pages'):
        problems.append(f'the guest found {get(info, "corrupt-pages")} '
                        'corrupt pages')
    if get(info, 'corrupt-sectors'):
        problems.append(f'the guest found {get(info, "corrupt-sectors")} '
                        'corrupt disk sectors')
    if get(info, 'disk-io-errors'):
        problems.append(f'{get(info, "disk-io-errors")} disk requests failed')
    if not get(info, 'rounds'):
        problems.append('the guest made no progress')
    if status != 0:
        problems.append(f'ferry exited with status {status}')
    if not problems and get(info, 'full-verify-passes') < passes:
        print(f'demo: note: only {get(info, "full-verify-passes")} of '
              f'{passes} full verify passes in the time given')
    return problems


def disk_args(image):
    if not image:
        return []
    return ['-blockdev', f'driver=file,node-name=disk,filename={image}',
            '-device', 'pvblk,drive=disk,id=disk0']


def start_destination(accel, append, image):
    print('demo: starting the destination: -incoming defer -S', flush=True)
    return FerryVM(accel=accel, mem='512M', smp=2, name='demo-destination',
                   append=append, paused=True,
                   extra_args=['-incoming', 'defer'] + disk_args(image))


def make_image(build, workdir):
    """A 64 MiB image in the guest's pattern, for its disk workload."""
    path = os.path.join(workdir, 'disk.img')
    subprocess.run([os.path.join(build, 'ferry-img'), 'create', path, '64M'],
                   check=True, capture_output=True)
    print(f'demo: ferry-img create {path} 64M', flush=True)
    return path


def migrate(src, dst):
    """Migrates src to dst over a unix socket; returns query-migrate."""
    path = os.path.join(dst.tmpdir, 'migration.sock')
    for vm in (src, dst):
        vm.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'events', 'state': True},
            {'capability': 'return-path', 'state': True}])
    dst.qmp.cmd('migrate-incoming', uri=f'unix:{path}')
    print(f'demo: migrate unix:{path}', flush=True)
    src.qmp.cmd('migrate', uri=f'unix:{path}')
    while True:
        info = src.qmp.cmd('query-migrate')
        ram = info.get('ram', {})
        if ram:
            total = ram['total'] or 1
            print(f'       {info["status"]:<15} pass {ram["dirty-sync-count"]:<3} '
                  f'sent {ram["transferred"] >> 20:>5} MiB  '
                  f'remaining {ram["remaining"] >> 20:>4} MiB  '
                  f'{ram["mbps"] / 8:>7.1f} MB/s  '
                  f'dirty {ram["dirty-pages-rate"] * 4096 / 1e6:>6.1f} MB/s  '
                  f'{100 * (total - ram["remaining"]) // total:>3}%', flush=True)
        if info['status'] in ('completed', 'failed', 'cancelled'):
            return info
        time.sleep(0.2)


def compare_and_continue(src, dst, args):
    """Returns the problems found after the migration."""
    problems = []
    events = [e['event'] + (f' {e["data"]["status"]}' if e['event'] == 'MIGRATION'
                            else '') for e in src.qmp.events]
    print(f'demo: source events: {", ".join(events)}')
    d1, d2 = ram_digest(src), ram_digest(dst)
    print(f'demo: source      pc.ram sha256 {d1[0]["sha256"]}')
    print(f'demo: destination pc.ram sha256 {d2[0]["sha256"]}')
    if d1 != d2:
        problems.append('the RAM digests differ')
    print('demo: cont on the destination; the guest verifies its memory there',
          flush=True)
    before = dst.qmp.cmd('x-query-workload')
    dst.qmp.cmd('cont')
    info = watch(dst, args.seconds, get(before, 'full-verify-passes') +
                 args.passes)
    if get(info, 'boots') != 1:
        problems.append('the guest restarted on the destination')
    if get(before, 'disk-sectors-written') and \
            get(info, 'disk-sectors-verified') <= get(before, 'disk-sectors-verified'):
        problems.append('the guest verified no disk sector on the destination')
    return problems + verdict(info, 0, 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default='build', help='build directory')
    ap.add_argument('--seconds', type=float, default=15,
                    help='watch each side at most this long (default 15)')
    ap.add_argument('--passes', type=int, default=2,
                    help='full verify passes to watch on each side (default 2)')
    args = ap.parse_args()
    os.environ['FERRY_BUILD'] = os.path.abspath(args.build)
    accel = 'kvm' if kvm_available() else 'soft'
    workdir = tempfile.mkdtemp(prefix='ferry-demo-')
    image, append = None, 'dirty-rate=64M'
    if accel == 'soft':
        print('demo: /dev/kvm is not usable: running with -accel soft '
              '(no disk: the soft accelerator runs only the RAM workload)')
    else:
        image = make_image(os.path.abspath(args.build), workdir)
        append += ' disk-rate=4M'
    print(f'demo: starting the source: {args.build}/ferry -accel {accel} '
          f'-m 512M -smp 2 -append "{append}" {" ".join(disk_args(image))}',
          flush=True)
    try:
        with FerryVM(accel=accel, mem='512M', smp=2, name='demo-source',
                     append=append, extra_args=disk_args(image)) as src, \
                start_destination(accel, append, image) as dst:
            problems = verdict(watch(src, args.seconds, args.passes), 0, 0)
            info = migrate(src, dst)
            if info['status'] != 'completed':
                problems.append(f'migration {info["status"]}: '
                                f'{info.get("error-desc", "")}')
            else:
                print(f'demo: migration completed in {info["total-time"]} ms, '
                      f'downtime {info["downtime"]} ms')
                problems += compare_and_continue(src, dst, args)
            for vm, name in ((src, 'source'), (dst, 'destination')):
                print(f'demo: quit {name}: exit status {vm.shutdown(timeout=10)}')
    except Exception as e:      # report, don't trace back, at a user
        print(f'demo: FAILED: {e}', file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if problems:
        print('demo: FAILED: ' + '; '.join(problems), file=sys.stderr)
        return 1
    print('demo: OK: the guest moved while running; no page'
          f'{" and no sector" if image else ""} was lost')
    return 0


if __name__ == '__main__':
    sys.exit(main())
