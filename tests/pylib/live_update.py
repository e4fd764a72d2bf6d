"""Live updates in tests: a FerryVM whose serving process changes.

After a live update the guest runs in a process the test did not start
(the predecessor's child).  This module makes the test process a child
subreaper, so such successors are reparented to it when their
predecessor exits and can be reaped and killed like the first one.
"""

import ctypes
import os
import signal
import time

from .vm import FerryVM
from .waits import wait_for

PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

PHASES = ['warming', 'ready', 'cutover', 'completed']


def alive(pid):
    """True while @pid exists and is not a zombie (reaps our zombies)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def children(pid):
    """The pids whose parent is @pid."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


class UpdatableVM(FerryVM):
    """A FerryVM that follows its guest from process to process."""

    pid = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pid = self.proc.pid

    def start_update(self, **args):
        """Sends live-update (its reply is immediate)."""
        self.qmp.clear_events()
        self.qmp.cmd('live-update', **args)

    def wait_update(self, timeout=120):
        """The LIVE_UPDATE statuses up to completed or failed, and
        query-live-update after it."""
        seen = []
        while not seen or seen[-1]['status'] not in ('completed', 'failed'):
            seen.append(self.qmp.wait_event('LIVE_UPDATE', timeout)['data'])
        info = self.qmp.cmd('query-live-update')
        if info['status'] == 'completed':
            self._followed(info['pid'])
        return seen, info

    def live_update(self, timeout=120, **args):
        self.start_update(**args)
        return self.wait_update(timeout)

    def _followed(self, pid):
        old, self.pid = self.pid, pid
        # the predecessor exits 0 once it let go
        deadline = time.monotonic() + 30
        while alive(old) and time.monotonic() < deadline:
            time.sleep(0.02)
        if old == self.proc.pid:
            self.old_status = self.proc.wait(30)
        else:
            self.old_status = None

    def kill_serving(self):
        if self.pid and self.pid != self.proc.pid and alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
            wait_for(lambda: not alive(self.pid), 10, 0.02)

    def close(self):
        try:
            self.kill_serving()
        finally:
            super().close()
