"""The human monitor through its three doors: ferryctl over the QMP
socket, -monitor unix:/stdio, and (in test_qmp_commands)
human-monitor-command.  All run the same HMP code."""

import os
import select
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.vm import FerryVM, build_dir, default_accel, ferry_binary  # noqa
from pylib.qmp import QMPClient  # noqa: E402

PROMPT = b'(qemu) '


def ferryctl(*args, timeout=20):
    return subprocess.run([os.path.join(build_dir(), 'ferryctl')] +
                          list(args), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class FerryctlTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vm = FerryVM(accel=default_accel(), mem='64M')

    @classmethod
    def tearDownClass(cls):
        cls.vm.close()

    def ctl(self, *args):
        return ferryctl('-s', self.vm.qmp_path, *args)

    def test_info_status_stop_cont(self):
        r = self.ctl('info', 'status')
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (0, 'VM status: running\n', ''))
        r = self.ctl('stop')
        self.assertEqual((r.returncode, r.stdout), (0, ''))
        # the QMP client sees the event ferryctl caused
        self.vm.qmp.wait_event('STOP', 5)
        self.assertEqual(self.ctl('info', 'status').stdout,
                         'VM status: paused\n')
        self.assertEqual(self.ctl('cont').returncode, 0)
        self.vm.qmp.wait_event('RESUME', 5)
        self.assertEqual(self.vm.qmp.cmd('query-status')['status'],
                         'running')

    def test_info_version_and_help(self):
        r = self.ctl('info', 'version')
        self.assertRegex(r.stdout, r'^7\.2\.0 \(ferry \d+\.\d+\.\d+\)\n$')
        r = self.ctl('help')
        self.assertIn('info [subcommand] -- ', r.stdout)
        self.assertEqual(r.returncode, 0)

    def test_json(self):
        r = self.ctl('--json', 'info', 'status')
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r'^\{"return": \{"running": true, '
                         r'"status": "running"\}, "id": \d+\}\n$')

    def test_addresses(self):
        for addr in (self.vm.qmp_path, 'unix:' + self.vm.qmp_path):
            r = ferryctl('-s', addr, 'info', 'status')
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_errors(self):
        r = self.ctl('frobnicate')
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "ferryctl: unknown command: 'frobnicate'\n")
        r = self.ctl('stop', 'now')
        self.assertEqual(r.returncode, 1)
        self.assertIn("unexpected argument 'now'", r.stderr)
        r = ferryctl('-s', self.vm.qmp_path + '.missing', 'info', 'status')
        self.assertEqual(r.returncode, 2)
        self.assertIn('cannot connect', r.stderr)
        r = ferryctl('info', 'status')
        self.assertEqual(r.returncode, 2)
        self.assertIn('usage', r.stderr)

    def test_qmp_error_exit_status(self):
        with FerryVM(accel=default_accel(), mem='64M',
                     extra_args=['-incoming', 'defer']) as vm:
            r = ferryctl('-s', vm.qmp_path, 'cont')
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stderr, 'ferryctl: An incoming migration is '
                             'expected before this command can be executed\n')

    def test_not_a_qmp_server(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 's')
            srv = socket.socket(socket.AF_UNIX)
            srv.bind(path)
            srv.listen(1)
            proc = subprocess.Popen(
                [os.path.join(build_dir(), 'ferryctl'), '-s', path,
                 '--timeout', '5', 'info', 'status'],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            conn, _ = srv.accept()
            conn.sendall(b'{"hello": "world"}\n')
            out, err = proc.communicate(timeout=20)
            conn.close()
            srv.close()
            self.assertEqual(proc.returncode, 2)
            self.assertIn('not a QMP server', err)

    def test_quit(self):
        with FerryVM(accel=default_accel(), mem='64M') as vm:
            r = ferryctl('-s', vm.qmp_path, 'quit')
            self.assertEqual(r.returncode, 0, r.stderr)
            ev = vm.qmp.wait_event('SHUTDOWN', 5)
            self.assertEqual(ev['data']['reason'], 'host-qmp-quit')
            self.assertEqual(vm.proc.wait(10), 0)


class HmpSocket:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b''

    def until_prompt(self):
        """The output up to the next prompt (several may be buffered)."""
        while PROMPT not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise ConnectionError('monitor closed')
            self.buf += data
        out, _, self.buf = self.buf.partition(PROMPT)
        return out

    def close(self):
        self.sock.close()

    def run(self, line):
        self.sock.sendall(line.encode() + b'\n')
        return self.until_prompt()


class MonitorSocketTests(unittest.TestCase):
    def test_monitor_unix(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'hmp.sock')
            with FerryVM(accel=default_accel(), mem='64M', extra_args=[
                    '-monitor', f'unix:{path},server=on,wait=off']) as vm:
                a, b = HmpSocket(path), HmpSocket(path)
                self.assertRegex(a.until_prompt(),
                                 rb'^ferry \S+ monitor - type \'help\'')
                b.until_prompt()
                self.assertEqual(a.run('info status'),
                                 b'VM status: running\r\n')
                self.assertEqual(a.run('stop'), b'')
                vm.qmp.wait_event('STOP', 5)
                self.assertEqual(b.run('info status'),
                                 b'VM status: paused\r\n')
                self.assertEqual(b.run('frob'), b"unknown command: 'frob'\r\n")
                self.assertEqual(a.run('x' * 10000),
                                 b'Error: line too long\r\n')
                self.assertEqual(a.run(''), b'')
                a.sock.sendall(b'cont\r\ninfo status\r\n')
                self.assertEqual(a.until_prompt(), b'')
                self.assertEqual(a.until_prompt(), b'VM status: running\r\n')
                a.close()
                self.assertRegex(b.run('info version'), rb'\(ferry [0-9.]+\)\r\n$')
                b.sock.sendall(b'quit\n')
                self.assertEqual(vm.proc.wait(10), 0)
                b.close()

    def test_monitor_bad_spec(self):
        r = subprocess.run([ferry_binary(), '-accel', default_accel(),
                            '-m', '64M', '-monitor', 'telnet:x:1'],
                           capture_output=True, text=True, timeout=20,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1)
        self.assertIn('-monitor', r.stderr)


class MonitorStdioTests(unittest.TestCase):
    buf = b''

    def test_monitor_stdio(self):
        with tempfile.TemporaryDirectory() as d:
            qmp_path = os.path.join(d, 'qmp.sock')
            proc = subprocess.Popen(
                [ferry_binary(), '-accel', default_accel(), '-m', '64M',
                 '-monitor', 'stdio', '-serial', 'none',
                 '-qmp', f'unix:{qmp_path},server=on,wait=off'],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE)
            try:
                out = self.read_until(proc, PROMPT)
                self.assertIn(b'monitor - type', out)
                proc.stdin.write(b'info status\n')
                proc.stdin.flush()
                self.assertIn(b'VM status: running\r\n',
                              self.read_until(proc, PROMPT))
                proc.stdin.write(b'stop\ninfo status\n')
                proc.stdin.flush()
                self.read_until(proc, PROMPT)
                self.assertIn(b'VM status: paused\r\n',
                              self.read_until(proc, PROMPT))
                # the QMP server works alongside
                with QMPClient(qmp_path) as c:
                    c.connect()
                    self.assertEqual(c.cmd('query-status')['status'],
                                     'paused')
                proc.stdin.write(b'quit\n')
                proc.stdin.flush()
                self.assertEqual(proc.wait(10), 0)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                for f in (proc.stdin, proc.stdout, proc.stderr):
                    f.close()

    def read_until(self, proc, marker, timeout=10):
        """stdout up to and including the next @marker."""
        deadline = time.monotonic() + timeout
        fd = proc.stdout.fileno()
        while marker not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError(f'no {marker!r} on stdout; got '
                                   f'{self.buf!r}')
            chunk = os.read(fd, 4096)
            if not chunk:
                raise EOFError(f'stdout closed; got {self.buf!r}')
            self.buf += chunk
        out, _, self.buf = self.buf.partition(marker)
        return out + marker


if __name__ == '__main__':
    unittest.main()
