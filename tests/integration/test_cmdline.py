"""The command line of build/ferry: errors, -help, -version, -daemonize,
-pidfile and -D, seen from outside as a user (or a management tool) sees
them."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from pylib.vm import (REPO, FerryVM, connect_qmp, default_accel,  # noqa: E402
                      pid_alive, run_ferry)

TIMESTAMP = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \d+/')


def wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class CommandLineErrors(unittest.TestCase):
    """Malformed command lines: exit status 1 and one line naming the
    option, "ferry: -OPT: ...", before any VM is created."""

    def assert_rejected(self, args, message):
        r = run_ferry(args)
        self.assertEqual(r.returncode, 1, f'{args}: stderr: {r.stderr}')
        first = r.stderr.splitlines()[0] if r.stderr else ''
        self.assertTrue(first.startswith(f'ferry: {message}'),
                        f'{args}: expected "ferry: {message}...", '
                        f'got: {r.stderr!r}')
        return r

    def test_unknown_option(self):
        self.assert_rejected(['-foo'], '-foo: invalid option')
        self.assert_rejected(['--foo'], '--foo: invalid option')
        self.assert_rejected(['-m', '1G', '-bogus', '-S'],
                             '-bogus: invalid option')

    def test_positional_argument(self):
        self.assert_rejected(['disk.img'], "'disk.img': unexpected argument")

    def test_missing_argument(self):
        for opt in ('-m', '-smp', '-accel', '-serial', '-qmp', '-D',
                    '-pidfile', '-kernel'):
            with self.subTest(opt=opt):
                self.assert_rejected([opt], f'{opt}: requires an argument')

    def test_malformed_m(self):
        for arg, why in (('abc', "invalid size 'abc'"),
                         ('0', "invalid size '0'"),
                         ('4097k', "invalid size '4097k'"),
                         ('2T', "invalid size '2T'"),
                         ('1G,slots=2', "Unknown parameter 'slots'"),
                         ('1G,size=2G', "Parameter 'size' is given twice")):
            with self.subTest(arg=arg):
                self.assert_rejected(['-m', arg], f'-m: {why}')

    def test_malformed_smp(self):
        for arg in ('0', '65', 'abc', '-1'):
            with self.subTest(arg=arg):
                self.assert_rejected(['-smp', arg],
                                     f"-smp: invalid number of CPUs '{arg}'")
        self.assert_rejected(['-smp', '2,sockets=2,cores=2'],
                             '-smp: sockets (2) * dies (1) * cores (2) * '
                             'threads (1) = 4 does not match')
        self.assert_rejected(['-smp', '2,maxcpus=4'],
                             '-smp: maxcpus (4) must equal the number of '
                             'CPUs (2)')

    def test_malformed_accel(self):
        r = self.assert_rejected(['-accel', 'xen'],
                                 "-accel: invalid accelerator 'xen'")
        for name in ('kvm', 'tcg', 'soft'):
            self.assertIn(name, r.stderr)

    def test_malformed_serial(self):
        for arg in ('file:', '/tmp/x', 'tcp::4444', 'chardev:'):
            with self.subTest(arg=arg):
                self.assert_rejected(['-serial', arg],
                                     f"-serial: invalid serial spec '{arg}'")

    def test_daemonize_with_stdio(self):
        self.assert_rejected(['-daemonize', '-serial', 'stdio'],
                             '-daemonize: cannot be used with -serial stdio')

    def test_unwritable_logfile(self):
        self.assert_rejected(['-D', '/nonexistent-dir/ferry.log', '-S'],
                             "-D: cannot open log file "
                             "'/nonexistent-dir/ferry.log'")


class HelpAndVersion(unittest.TestCase):
    def test_version(self):
        with open(os.path.join(REPO, 'VERSION')) as f:
            version = f.read().strip()
        for opt in ('-version', '--version'):
            with self.subTest(opt=opt):
                r = run_ferry([opt])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn('ferry', r.stdout.lower())
                self.assertIn(version, r.stdout)
                self.assertEqual(r.stderr, '')

    def test_help(self):
        for opt in ('-h', '-help', '--help'):
            with self.subTest(opt=opt):
                r = run_ferry([opt])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn('usage: ferry', r.stdout)
                for listed in ('-m ', '-smp ', '-accel ', '-qmp ', '-serial ',
                               '-daemonize', '-pidfile ', '-D ', '-incoming '):
                    self.assertIn(listed, r.stdout)

    def test_help_stops_parsing(self):
        # As in QEMU: what follows -help is not even looked at
        r = run_ferry(['-help', '-no-such-option'])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('usage: ferry', r.stdout)


class Daemon(unittest.TestCase):
    """-daemonize, -pidfile and -D together, as a management tool uses
    them: the launching process exits 0 only once the daemon is ready."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix='ferry-daemon-')
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name
        self.pidfile = os.path.join(self.dir, 'ferry.pid')
        self.sock = os.path.join(self.dir, 'qmp.sock')
        self.log = os.path.join(self.dir, 'ferry.log')
        self.pids = []
        self.addCleanup(self.kill_daemons)

    def kill_daemons(self):
        for pid in self.pids:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                wait_gone(pid, 5)

    def daemon_args(self, *extra):
        return ['-daemonize', '-pidfile', self.pidfile, '-S', '-m', '64M',
                '-accel', default_accel(),
                '-qmp', f'unix:{self.sock},server=on,wait=off',
                '-serial', f'file:{os.path.join(self.dir, "serial.log")}',
                *extra]

    def start_daemon(self, *extra):
        r = run_ferry(self.daemon_args(*extra))
        self.assertEqual(r.returncode, 0,
                         f'the launching process failed: {r.stderr}')
        self.assertTrue(os.path.exists(self.pidfile),
                        'no pidfile when the launching process exited')
        with open(self.pidfile) as f:
            text = f.read()
        self.assertRegex(text, r'^\d+\n$')
        pid = int(text)
        self.pids.append(pid)
        return pid

    def test_daemonize_pidfile(self):
        pid = self.start_daemon('-D', self.log)
        self.assertTrue(pid_alive(pid), f'daemon {pid} is not running')
        # Detached: its own session, not ours
        self.assertNotEqual(os.getsid(pid), os.getsid(0))
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            self.assertIn(b'ferry', f.read().split(b'\0')[0])
        # Ready when the parent exited: QMP answers at once
        client = connect_qmp(self.sock)
        try:
            client.cmd('quit')
        except Exception:
            pass    # the socket may close before the answer
        finally:
            client.close()
        self.assertTrue(wait_gone(pid, 10), 'daemon did not quit')
        self.assertFalse(os.path.exists(self.pidfile),
                         'pidfile left behind after quit')
        with open(self.log) as f:
            lines = f.read().splitlines()
        self.assertTrue(lines, '-D log is empty')
        self.assertRegex(lines[0], TIMESTAMP)

    def test_pidfile_is_locked(self):
        pid = self.start_daemon()
        other = os.path.join(self.dir, 'other.sock')
        try:
            r = run_ferry(['-pidfile', self.pidfile, '-S', '-m', '64M',
                           '-accel', default_accel(),
                           '-qmp', f'unix:{other},server=on,wait=off'],
                          timeout=15)
        except subprocess.TimeoutExpired:
            self.fail('a second ferry ran with a locked pidfile')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('-pidfile', r.stderr)
        # The first daemon's pidfile is untouched
        with open(self.pidfile) as f:
            self.assertEqual(int(f.read()), pid)

    def test_failed_startup_fails_the_launcher(self):
        # The daemon fails after forking (its second QMP server cannot
        # listen): the launcher must not report success, and the daemon's
        # error must reach the launcher's stderr
        bad = '/nonexistent-dir/qmp.sock'
        r = run_ferry(self.daemon_args('-qmp',
                                       f'unix:{bad},server=on,wait=off'),
                      timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(bad, r.stderr)
        self.assertFalse(os.path.exists(self.pidfile),
                         'pidfile left behind by a failed start')


class LogFile(unittest.TestCase):
    def test_logfile_written(self):
        with tempfile.TemporaryDirectory(prefix='ferry-log-') as tmp:
            log = os.path.join(tmp, 'ferry.log')
            with FerryVM(extra_args=['-D', log], accel=default_accel(),
                         mem='64M', paused=True) as vm:
                self.assertEqual(vm.shutdown(), 0, vm.stderr_text())
            with open(log) as f:
                lines = f.read().splitlines()
            self.assertTrue(lines, '-D log is empty')
            self.assertRegex(lines[0], TIMESTAMP)


if __name__ == '__main__':
    unittest.main()
