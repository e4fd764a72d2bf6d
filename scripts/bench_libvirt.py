#!/usr/bin/env python3
"""`virsh migrate --live` under one real libvirt 9.0, ferry against QEMU.

Two private daemons (tests/libvirt-lab) on loopback; one 1 GiB domain per
emulator running the same test guest (build/guest/ferry-guest.elf,
dirty-rate as given), no disk; each is migrated A -> B and back, the
emulators alternating, --repeat times.  Reported: the wall time of the
virsh command, and libvirt's own `domjobinfo --completed` on the source
(time elapsed, downtime, as the destination keeps them).  QEMU runs as libvirt starts it (its -cpu
default), once with default memory and once with
<allocation mode='immediate'/> (-mem-prealloc: ferry pre-faults its
destination), so the comparison is with QEMU as a careful user sets it
up.  Every migration is checked: ferry's verifier (a clean verify pass on
the destination, one boot); QEMU's serial counters going on with
corrupt-pages=0.

    sudo python3 scripts/bench_libvirt.py --repeat 3
"""

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
from pylib import libvirt_lab as lab  # noqa: E402

COUNTERS = re.compile(r'workload: cpu (\d+) rounds=\d+ pages-written=\d+ '
                      r'pages-verified=\d+ passes=(\d+) corrupt-pages=(\d+)')

DOMAIN = """<domain type='kvm'>
  <name>{name}</name>
  <memory unit='MiB'>{mem}</memory>
  {backing}
  <vcpu>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{build}/guest/ferry-guest.elf</kernel>
    <cmdline>dirty-rate={rate}</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>{emulator}</emulator>
    <serial type='file'><source path='{serial}' append='on'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
"""

KINDS = {
    'ferry': dict(emulator=None, backing=''),
    'qemu': dict(emulator='/usr/bin/qemu-system-x86_64', backing=''),
    'qemu-prealloc': dict(emulator='/usr/bin/qemu-system-x86_64',
                          backing="<memoryBacking><allocation mode='immediate'"
                                  "/></memoryBacking>"),
}


class Domain:
    def __init__(self, kind, run_dir, opts):
        self.kind, self.name = kind, f'bench-{kind}'
        self.serial = os.path.join(run_dir, f'{self.name}.serial')
        emulator = KINDS[kind]['emulator'] or os.path.join(opts.build,
                                                           'ferry')
        self.xml = os.path.join(run_dir, f'{self.name}.xml')
        with open(self.xml, 'w') as f:
            f.write(DOMAIN.format(name=self.name, mem=opts.mem,
                                  backing=KINDS[kind]['backing'],
                                  build=opts.build, rate=opts.dirty_rate,
                                  emulator=emulator, serial=self.serial))

    def counters(self):
        try:
            with open(self.serial, errors='replace') as f:
                text = f.read()
        except FileNotFoundError:
            return {}
        out = {}
        for m in COUNTERS.finditer(text):
            out.setdefault(int(m.group(1)), []).append(
                (int(m.group(2)), int(m.group(3))))
        return out

    def filled(self, d):
        if self.kind == 'ferry':
            return d.qmp(self.name, 'x-query-workload')['full-verify-passes'] >= 1
        c = self.counters()
        return all(c.get(i) and c[i][-1][0] >= 1 for i in range(2))

    def mark(self, d):
        if self.kind == 'ferry':
            return d.qmp(self.name, 'x-query-workload')
        return {i: len(v) for i, v in self.counters().items()}

    def check(self, d, mark):
        """The guest went on, cleanly, on @d (after a migration)."""
        if self.kind == 'ferry':
            def done():
                w = d.qmp(self.name, 'x-query-workload')
                return w['full-verify-passes'] > mark['full-verify-passes']
            ok = lab.wait(done, 120, 0.5)
            w = d.qmp(self.name, 'x-query-workload')
            return ok and w['corrupt-pages'] == 0 and w['boots'] == 1
        def grew():
            c = self.counters()
            return all(len(c.get(i, [])) >= mark.get(i, 0) + 2 for i in (0, 1))
        ok = lab.wait(grew, 60, 0.5)
        c = self.counters()
        return ok and all(v[-1][1] == 0 for v in c.values())


def jobinfo(d, name):
    out = d.virsh('domjobinfo', '--completed', name).stdout
    info = {}
    for line in out.splitlines():
        key, _, value = line.partition(':')
        info[key.strip()] = value.strip()
    return info


def ms(value):
    return float(value.split()[0]) if value else float('nan')


def migrate_once(dom, src, dst):
    mark = dom.mark(src)
    t0 = time.monotonic()
    src.virsh('migrate', '--live', '--unsafe', dom.name, dst.uri)
    wall = (time.monotonic() - t0) * 1000
    info = jobinfo(dst, dom.name)   # the source's domain is gone
    ok = dom.check(dst, mark)
    if os.environ.get('BENCH_LIBVIRT_DEBUG'):
        print(info, flush=True)
    return dict(wall=wall, elapsed=ms(info.get('Time elapsed')),
                downtime=ms(info.get('Total downtime')), ok=ok)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--mem', type=int, default=1024, help='MiB')
    ap.add_argument('--dirty-rate', default='0')
    ap.add_argument('--kinds', default='ferry,qemu,qemu-prealloc')
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--out', default=None)
    opts = ap.parse_args()
    opts.build = os.path.abspath(opts.build)
    os.environ['FERRY_BUILD'] = opts.build
    why = lab.missing()
    if why:
        print(f'bench_libvirt: {why}', file=sys.stderr)
        return 1
    out = opts.out or os.path.join(opts.build, 'bench', 'libvirt-results.md')
    kinds = opts.kinds.split(',')
    tmp = tempfile.mkdtemp(prefix='ferry-bench-libvirt-')
    base = random.randrange(20000, 40000, 100)
    a = lab.Daemon(os.path.join(tmp, 'lab'), 'A', base,
                   '5a1e0000-0000-4000-8000-0000000000aa',
                   (base + 10, base + 29), '127.0.0.2')
    b = lab.Daemon(os.path.join(tmp, 'lab'), 'B', base + 1,
                   '5a1e0000-0000-4000-8000-0000000000bb',
                   (base + 30, base + 49), '127.0.0.3')
    runs = {k: [] for k in kinds}
    try:
        a.start()
        b.start()
        run_dir = os.path.join(tmp, 'run')
        os.makedirs(run_dir)
        doms = {k: Domain(k, run_dir, opts) for k in kinds}
        where = {}
        for k in kinds:
            a.virsh('create', doms[k].xml)
            where[k] = (a, b)
            if not lab.wait(lambda: doms[k].filled(a), 180, 1):
                raise RuntimeError(f'{k}: the guest never filled its RAM')
        for i in range(opts.repeat):
            for k in (kinds if i % 2 == 0 else kinds[::-1]):
                src, dst = where[k]
                time.sleep(1)
                r = migrate_once(doms[k], src, dst)
                runs[k].append(r)
                where[k] = (dst, src)
                print(f'{k}: {r}', flush=True)
    finally:
        a.stop()
        b.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    write(out, opts, runs)
    return 0 if all(r['ok'] for v in runs.values() for r in v) else 1


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def write(out, opts, runs):
    os.makedirs(os.path.dirname(out), exist_ok=True)
    lines = ['# virsh migrate --live under libvirt 9.0: ferry and QEMU', '',
             f'Command: `python3 scripts/bench_libvirt.py '
             f'{" ".join(sys.argv[1:])}`  ',
             f'{opts.mem} MiB, 2 vCPUs, test guest dirty-rate={opts.dirty_rate},'
             f' medians of {opts.repeat} (A->B and back, alternating).', '',
             '| emulator | virsh migrate wall (ms) | libvirt: time elapsed '
             '(ms) | libvirt: total downtime (ms) | checked |',
             '|---|---:|---:|---:|---|']
    for k, v in runs.items():
        if not v:
            continue
        lines.append(f'| {k} | {med(v, "wall"):.0f} | {med(v, "elapsed"):.0f}'
                     f' | {med(v, "downtime"):.0f} | '
                     f'{"all ok" if all(r["ok"] for r in v) else "FAILED"} |')
    lines += ['', 'Runs:', '']
    for k, v in runs.items():
        for r in v:
            lines.append(f'- {k}: wall {r["wall"]:.0f} ms, elapsed '
                         f'{r["elapsed"]:.0f} ms, downtime {r["downtime"]:.0f}'
                         f' ms, {"ok" if r["ok"] else "FAILED"}')
    with open(out, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))
    print(f'bench_libvirt: wrote {out}')


if __name__ == '__main__':
    sys.exit(main())
