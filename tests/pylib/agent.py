"""The guest agent from a test: a VM's pvchannel arguments, and
`ferry-agent load` (tools/ferry-agent/load.c) as a subprocess driven line
by line on stdin.  The load mode owns the bridge (libferry-agent); the
test is the orchestrator that tells it when a migration starts, where the
guest went, and when it is over."""

import json
import os
import queue
import socket
import subprocess
import threading
import time

from .vm import build_dir

CHANNEL = 'org.qemu.guest_agent.0'
SOCKET = 'ga.sock'          # relative: ferry runs in the VM's temp dir


def channel_args(socket=SOCKET):
    """-chardev and -device for the agent channel."""
    return ['-chardev', f'socket,id=ga0,path={socket},server=on,wait=off',
            '-device', f'pvchannel,chardev=ga0,name={CHANNEL}']


def agent_socket(vm):
    return os.path.join(vm.tmpdir, SOCKET)


def wait_agent(vm, timeout=60):
    """The guest's agent set its channel up."""
    vm.wait_serial('agent: listening on', timeout)


def agent_binary():
    return os.path.join(build_dir(), 'ferry-agent')


def agent_call(vm, request, timeout=30):
    """One `ferry-agent call` on @vm's channel: the parsed return value."""
    out = subprocess.run([agent_binary(), '-s', agent_socket(vm), 'call',
                          json.dumps(request)], capture_output=True,
                         text=True, timeout=timeout, check=True)
    return json.loads(out.stdout)


class AgentLoad:
    """`ferry-agent load` on @path: several calls in flight at all times."""

    def __init__(self, path, inflight=8, sleep_ms=300, keys=4,
                 timeout_ms=120000):
        self.proc = subprocess.Popen(
            [agent_binary(), '-s', path, '-t', str(timeout_ms), 'load',
             '--inflight', str(inflight), '--sleep-ms', str(sleep_ms),
             '--keys', str(keys)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.events = []
        threading.Thread(target=self._read, daemon=True).start()
        self.expect('ok', 'started')

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def next(self, timeout=60):
        msg = self.lines.get(timeout=timeout)
        if msg is None:
            raise AssertionError(f'ferry-agent load exited: '
                                 f'{self.proc.wait()} {self.proc.stderr.read()}')
        self.events.append(msg)
        return msg

    def expect(self, event, cmd=None, timeout=60):
        """The next line with @event (and @cmd); fails on a command error."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.next(max(0.1, deadline - time.monotonic()))
            if msg['event'] == 'error':
                raise AssertionError(f'ferry-agent load: {msg}')
            if msg['event'] == event and (cmd is None or
                                          msg.get('cmd') == cmd):
                return msg

    def send(self, line):
        self.proc.stdin.write(line + '\n')
        self.proc.stdin.flush()

    def command(self, line, cmd):
        self.send(line)
        return self.expect('ok', cmd)

    def migrating(self, on):
        return self.command(f'migrating {"on" if on else "off"}', 'migrating')

    def resume(self, path):
        return self.command(f'resume {path}', 'resume')

    def stats(self):
        self.send('stats')
        return self.expect('stats')

    def wait_ok(self, n, timeout=60):
        """Until at least @n calls were answered since start."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.stats()
            if st['ok'] >= n:
                return st
            time.sleep(0.05)
        raise AssertionError(f'fewer than {n} calls answered: {st}')

    def stop(self, timeout=120):
        """Stops starting calls, waits for the outstanding ones; the final
        statistics."""
        self.send('stop')
        st = self.expect('stats', timeout=timeout)
        self.proc.wait(timeout)
        return st

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


class ChannelRelay:
    """A unix socket at @path that forwards one client to @target (a
    channel's socket), so a test can break the agent transport at a moment
    it knows: cut() closes both sides at once."""

    def __init__(self, path, target):
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(1)
        self.target = target
        self.socks = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        client, _ = self.listener.accept()
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(self.target)
        self.socks = [client, upstream]
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(a, b),
                             daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass

    def cut(self):
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.cut()
        self.listener.close()


def assert_exactly_once(tc, st, resumed=True):
    """Every call answered once, none lost or failed, and each counter's
    answers exactly 1..n (a call run twice would repeat or skip one)."""
    tc.assertEqual(st['errors'], 0, st)
    tc.assertEqual(st['outstanding'], 0, st)
    tc.assertEqual(st['ok'], st['calls'], st)
    tc.assertEqual(st['echo_bad'], 0, st)
    for key, c in st['incr'].items():
        tc.assertGreater(c['calls'], 0, (key, st))
        tc.assertEqual(c['repeats'], 0, (key, st))
        tc.assertEqual(c['distinct'], c['calls'], (key, st))
        tc.assertEqual(c['max'], c['calls'], (key, st))
    if resumed:
        tc.assertGreaterEqual(st['bridge']['resumes'], 1, st)
        # calls were outstanding when the transport changed
        tc.assertGreater(st['bridge']['resent'], 0, st)
