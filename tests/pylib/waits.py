"""Waiting helpers shared by the integration tests."""

import socket
import time


def wait_for(predicate, timeout, interval=0.1):
    """Polls @predicate until it returns something true or @timeout
    seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def wait_progressing(poll, done, progress, stall):
    """Polls until done(value) holds, for as long as progress(value)
    keeps changing: None once it stood still for @stall seconds.  For
    work whose length depends on the machine's load (a guest filling
    gigabytes on shared cores), where only a lack of progress is a
    failure."""
    last, since = None, time.monotonic()
    while True:
        value = poll()
        if done(value):
            return value
        mark = progress(value)
        if mark != last:
            last, since = mark, time.monotonic()
        elif time.monotonic() - since > stall:
            return None
        time.sleep(0.2)


def guest_progress(w):
    """What grows while the test guest works (x-query-workload)."""
    return (w['pages-written'], w['pages-verified'], w['full-verify-passes'])


def wait_verified(vm, passes=1, timeout=60):
    """The guest's counters once it completed @passes full verify passes
    of its memory, or None after @timeout seconds."""
    def done():
        w = vm.qmp.cmd('x-query-workload')
        return w if w['full-verify-passes'] >= passes else None
    return wait_for(done, timeout, 0.2)


def wait_migration_end(vm, timeout=120):
    """query-migrate once the migration completed, failed or was
    cancelled, or None after @timeout seconds."""
    def ended():
        info = vm.qmp.cmd('query-migrate')
        return info if info.get('status') in ('completed', 'failed',
                                              'cancelled') else None
    return wait_for(ended, timeout, 0.05)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
