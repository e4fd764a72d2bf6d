#!/usr/bin/env python3
"""`make demo`: boots ferry's self-verifying test guest and watches it.

Starts build/ferry with the built-in guest (-m 512M -smp 2, the guest
dirtying 64 MiB/s), prints the serial console as it arrives and once a
second the guest's workload counters from QMP x-query-workload, until the
guest has verified all of its memory twice (or ~15 s passed).  Then it
pauses the VM, prints the SHA-256 of guest RAM (x-ram-digest) and quits.
Exit status 1 if the guest saw a corrupt page or anything else failed.
"""

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, 'tests'))
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
            f'({rate:.0f} MiB/s written)')


def watch(vm, duration, passes):
    """Prints serial output and counters; returns the last counters."""
    serial = SerialTail(vm.serial_path)
    start = time.monotonic()
    next_status = start + 1
    info = prev = {}
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
            if get(info, 'corrupt-pages') or get(info, 'full-verify-passes') >= passes:
                break
        if now - start >= duration:
            break
        time.sleep(0.05)
    for line in serial.new_lines():
        print(f'serial | {line}', flush=True)
    return info


def finish(vm):
    """Pauses, prints the RAM digests, quits.  Returns ferry's exit status."""
    vm.qmp.cmd('stop')
    print('demo: VM paused (QMP stop); hashing guest RAM (x-ram-digest)...',
          flush=True)
    for block in vm.qmp.cmd('x-ram-digest'):
        print(f'demo: x-ram-digest {block["id"]} ({block["size"] >> 20} MiB) '
              f'sha256 {block["sha256"]}')
    status = vm.shutdown(timeout=10)
    print(f'demo: QMP quit, ferry exited with status {status}')
    return status


def verdict(info, passes, status):
    """Returns the list of problems (empty: success)."""
    problems = []
    if get(info, 'corrupt-pages'):
        problems.append(f'the guest found {get(info, "corrupt-pages")} '
                        'corrupt pages')
    if not get(info, 'rounds'):
        problems.append('the guest made no progress')
    if status != 0:
        problems.append(f'ferry exited with status {status}')
    if not problems and get(info, 'full-verify-passes') < passes:
        print(f'demo: note: only {get(info, "full-verify-passes")} of '
              f'{passes} full verify passes in the time given')
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default='build', help='build directory')
    ap.add_argument('--seconds', type=float, default=15,
                    help='watch at most this long (default 15)')
    ap.add_argument('--passes', type=int, default=2,
                    help='stop after this many full verify passes (default 2)')
    args = ap.parse_args()
    os.environ['FERRY_BUILD'] = os.path.abspath(args.build)

    if kvm_available():
        accel = 'kvm'
    else:
        accel = 'soft'
        print('demo: /dev/kvm is not usable: running with -accel soft')
    print(f'demo: starting {args.build}/ferry -accel {accel} -m 512M -smp 2 '
          '-append dirty-rate=64M', flush=True)
    try:
        with FerryVM(accel=accel, mem='512M', smp=2, name='demo',
                     append='dirty-rate=64M') as vm:
            info = watch(vm, args.seconds, args.passes)
            status = finish(vm)
    except KeyboardInterrupt:
        print('demo: interrupted')
        return 130
    except Exception as e:
        print(f'demo: FAILED: {type(e).__name__}: {e}', file=sys.stderr)
        return 1
    problems = verdict(info, args.passes, status)
    for p in problems:
        print(f'demo: FAILED: {p}', file=sys.stderr)
    if not problems:
        print('demo: OK: guest memory verified, no corrupt pages')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
