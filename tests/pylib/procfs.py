"""What /proc says of a process: its descriptors and its memory."""

import os
import signal
import time


def fd_count(pid):
    return len(os.listdir(f'/proc/{pid}/fd'))


def proc_status(pid, key):
    """A size from /proc/PID/status (VmHWM, RssAnon, RssShmem), in bytes."""
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024
    raise AssertionError(f'no {key} in /proc/{pid}/status')


def _threads(pid):
    """(name, fields after the name) of each of @pid's threads, from
    /proc/PID/task/TID/stat; a thread that ended meanwhile is left out."""
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/stat') as f:
                stat = f.read()
        except FileNotFoundError:
            continue
        yield (stat[stat.index('(') + 1:stat.rindex(')')],
               stat[stat.rindex(')') + 2:].split())


def thread_cpu_s(pid, prefix):
    """{thread name: utime + stime in seconds} of @pid's threads whose
    name starts with @prefix."""
    tick = os.sysconf('SC_CLK_TCK')
    return {name: (int(f[11]) + int(f[12])) / tick
            for name, f in _threads(pid) if name.startswith(prefix)}


SCHED_OTHER, SCHED_FIFO = 0, 1


def thread_scheduling(pid, name):
    """(policy, realtime priority, nice) of each of @pid's threads named
    @name (fields 41, 40 and 19 of /proc/PID/task/TID/stat)."""
    return [(int(f[38]), int(f[37]), int(f[16]))
            for n, f in _threads(pid) if n == name]


def thread_states(pid):
    """The scheduler state letter of each of @pid's threads (R, S, T...)."""
    return [f[0] for _, f in _threads(pid)]


def stop_process(pid, timeout=10.0):
    """SIGSTOP @pid and wait until every thread of it is stopped.  kill()
    returns once the signal is queued: the kernel wakes one thread, which
    then stops the others, so on a busy host the rest may run on for a
    while.  True once all are stopped."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s in 'Tt' for s in thread_states(pid)):
            return True
        time.sleep(0.001)
    return False


def rss_kib(pid):
    """VmRSS in KiB; 0 for a process that has none (a zombie)."""
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0
