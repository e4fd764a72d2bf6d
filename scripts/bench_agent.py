#!/usr/bin/env python3
"""The guest agent's numbers (docs/performance.md, "Guest agent"):

  1. calls per second and p50/p99 call latency on one channel, with 1 and
     with 8 calls in flight (x-guest-sleep of 0 ms, x-guest-incr and
     x-guest-echo in turn), for --seconds each;
  2. the longest a call waited across a precopy migration (all calls, and
     all but the sleeps): `ferry-agent
     load` keeps 8 calls in flight (a quarter of them 300 ms sleeps)
     while the guest migrates to a second ferry, and resumes on its
     channel there as soon as it runs; with the migration's downtime.

The guest: -m 512M -smp 2, dirty-rate=64M, the agent channel of
docs/agent.md.  Every run ends with every call answered exactly once.
Options: --build, --repeat N (median; default 3), --seconds S (default 5).
"""

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))


def steady(build, inflight, seconds):
    """calls/s, p50 and p99 (ms) of one load run on one guest."""
    from pylib.agent import AgentLoad, agent_socket, channel_args, wait_agent
    from pylib.vm import FerryVM

    with FerryVM(mem='512M', smp=2, append='dirty-rate=64M',
                 extra_args=channel_args()) as vm:
        wait_agent(vm)
        load = AgentLoad(agent_socket(vm), inflight=inflight, sleep_ms=0)
        try:
            first = load.wait_ok(50)
            t0 = time.monotonic()
            time.sleep(seconds)
            st = load.stop()
            dt = time.monotonic() - t0
        finally:
            load.close()
    assert st['errors'] == 0 and st['ok'] == st['calls'], st
    return (st['ok'] - first['ok']) / dt, st['p50_ms'], st['p99_ms']


def across_migration(build):
    """The longest call (ms) and the downtime (ms) of one precopy."""
    from pylib.agent import AgentLoad, agent_socket, channel_args, wait_agent
    from pylib.vm import FerryVM
    from pylib.waits import free_port, wait_for, wait_migration_end

    vms = []
    try:
        src = FerryVM(mem='512M', smp=2, append='dirty-rate=64M',
                      extra_args=channel_args())
        vms.append(src)
        dst = FerryVM(mem='512M', smp=2, append='dirty-rate=64M',
                      extra_args=channel_args() + ['-incoming', 'defer'])
        vms.append(dst)
        wait_agent(src)
        load = AgentLoad(agent_socket(src), inflight=8, sleep_ms=300)
        try:
            load.wait_ok(100)
            load.migrating(True)
            port = free_port()
            dst.qmp.cmd('migrate-incoming', uri=f'tcp:127.0.0.1:{port}')
            src.qmp.cmd('migrate', uri=f'tcp:127.0.0.1:{port}')
            info = wait_migration_end(src, 300)
            assert info['status'] == 'completed', info
            assert wait_for(lambda: dst.qmp.cmd('query-status')['status'] ==
                            'running', 30)
            load.resume(agent_socket(dst))
            load.wait_ok(load.stats()['ok'] + 100)
            load.migrating(False)
            st = load.stop()
        finally:
            load.close()
        assert st['errors'] == 0 and st['ok'] == st['calls'], st
        return st['max_ms'], st['max_quick_ms'], info['downtime'], st['calls']
    finally:
        for vm in vms:
            vm.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default='build')
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--seconds', type=float, default=5)
    args = ap.parse_args()
    os.environ['FERRY_BUILD'] = os.path.abspath(args.build)

    print('| calls in flight | calls/s | p50 ms | p99 ms |')
    print('| --- | --- | --- | --- |')
    for inflight in (1, 8):
        runs = [steady(args.build, inflight, args.seconds)
                for _ in range(args.repeat)]
        med = [statistics.median(r[i] for r in runs) for i in range(3)]
        print(f'| {inflight} | {med[0]:.0f} | {med[1]:.2f} | {med[2]:.2f} |',
              flush=True)
    print()
    print('| run | longest call (ms) | longest call but the sleeps (ms) '
          '| downtime (ms) | calls |')
    print('| --- | --- | --- | --- | --- |')
    longest, quick = [], []
    for i in range(args.repeat):
        ms, quick_ms, downtime, calls = across_migration(args.build)
        longest.append(ms)
        quick.append(quick_ms)
        print(f'| {i + 1} | {ms:.0f} | {quick_ms:.0f} | {downtime} | {calls} |',
              flush=True)
    print(f'\nmedian longest call: {statistics.median(longest):.0f} ms, '
          f'but the sleeps: {statistics.median(quick):.0f} ms (a 300 ms '
          f'x-guest-sleep is the longest call without a migration)')


if __name__ == '__main__':
    main()
