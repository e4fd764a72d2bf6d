"""Starts ferry for integration tests.

    from pylib.vm import FerryVM, require_kvm

    class T(unittest.TestCase):
        def test_boots(self):
            require_kvm(self)
            with FerryVM(smp=2) as vm:
                vm.qmp.cmd('query-status')
                ...

Each FerryVM runs in a fresh temporary directory holding its QMP socket,
serial log, stdout and stderr; leaving the `with` block always kills and
reaps the process and removes the directory (set FERRY_KEEP_TMP=1 to keep
it for a post-mortem).
"""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

try:
    from .qmp import QMPClient, QMPError
except ImportError:
    try:
        from qmp import QMPClient, QMPError
    except ImportError as e2:
        # Only tests that talk QMP need it: let the others run
        QMPClient = QMPError = None
        _QMP_IMPORT_ERROR = e2

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT = 10.0    # seconds for the QMP socket to appear and answer


def kvm_available():
    """True if /dev/kvm can be opened read-write, as ferry needs it."""
    try:
        fd = os.open('/dev/kvm', os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def require_kvm(testcase=None):
    """Skips the calling test when KVM is not usable: a test that needs KVM
    and finds none is skipped, never passed."""
    if kvm_available():
        return
    reason = '/dev/kvm is missing or not read-write for this user'
    if testcase is not None:
        testcase.skipTest(reason)
    raise unittest.SkipTest(reason)


def default_accel():
    """The accelerator a test that does not care should use."""
    return 'kvm' if kvm_available() else 'soft'


def build_dir():
    """$FERRY_BUILD (set by scripts/run-tests), else the repository's build/."""
    return os.path.abspath(os.environ.get('FERRY_BUILD') or
                           os.path.join(REPO, 'build'))


def ferry_binary():
    path = os.path.join(build_dir(), 'ferry')
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f'{path} not found or not executable '
                                '(run make first)')
    return path


def run_ferry(args, timeout=30, **kwargs):
    """Runs ferry with @args to completion: a CompletedProcess with text
    stdout/stderr.  Raises subprocess.TimeoutExpired (after killing it) if
    it outlives @timeout."""
    return subprocess.run([ferry_binary()] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def connect_qmp(path, negotiate=True):
    """A connected QMP client on the unix socket @path."""
    if QMPClient is None:
        raise RuntimeError(f'tests/pylib/qmp.py unavailable: {_QMP_IMPORT_ERROR}')
    client = QMPClient(path)
    try:
        client.connect(negotiate=negotiate)
    except BaseException:
        client.close()
        raise
    return client


def _read(path):
    try:
        with open(path, 'r', errors='replace') as f:
            return f.read()
    except FileNotFoundError:
        return ''


class FerryVM:
    """A ferry process with a QMP socket and a serial log in a temp dir."""

    def __init__(self, extra_args=(), accel=None, mem='512M', smp=1,
                 append=None, paused=False, name=None,
                 start_timeout=START_TIMEOUT, pass_fds=()):
        """@pass_fds: descriptors ferry inherits under the same numbers
        (as libvirt hands over a saved image)."""
        self.proc = None
        self.pass_fds = tuple(pass_fds)
        self.qmp = None
        self._clients = []
        self._files = []
        self.tmpdir = tempfile.mkdtemp(prefix='ferry-')
        self.qmp_path = os.path.join(self.tmpdir, 'qmp.sock')
        self.serial_path = os.path.join(self.tmpdir, 'serial.log')
        self.stdout_path = os.path.join(self.tmpdir, 'stdout.log')
        self.stderr_path = os.path.join(self.tmpdir, 'stderr.log')
        try:
            self.args = [ferry_binary(),
                         '-qmp', f'unix:{self.qmp_path},server=on,wait=off',
                         '-serial', f'file:{self.serial_path}']
            self.args += self._options(accel, mem, smp, append, paused, name)
            self.args += list(extra_args)
            self._launch()
            self.qmp = self._wait_for_qmp(start_timeout)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _options(accel, mem, smp, append, paused, name):
        opts = []
        if accel:
            opts += ['-accel', accel]
        if mem:
            opts += ['-m', str(mem)]
        if smp:
            opts += ['-smp', str(smp)]
        if append is not None:
            opts += ['-append', append]
        if paused:
            opts += ['-S']
        if name:
            opts += ['-name', name]
        return opts

    def _launch(self):
        out = open(self.stdout_path, 'wb')
        err = open(self.stderr_path, 'wb')
        self._files += [out, err]
        # cwd: relative paths in extra_args land in the temp dir
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=err, cwd=self.tmpdir,
                                     pass_fds=self.pass_fds)

    def _died(self):
        return RuntimeError(
            f'ferry exited with status {self.proc.returncode} during '
            f'start-up\ncommand: {" ".join(self.args)}\n'
            f'stderr:\n{self.stderr_text()}')

    def _wait_for_qmp(self, timeout):
        """Connects once the socket answers: it may exist before listen()."""
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self._died()
            if os.path.exists(self.qmp_path):
                try:
                    return connect_qmp(self.qmp_path)
                except OSError as e:
                    last_error = e
            time.sleep(0.05)
        if self.proc.poll() is not None:
            raise self._died()
        raise TimeoutError(
            f'ferry did not answer on {self.qmp_path} within {timeout}s '
            f'(last error: {last_error})\nstderr:\n{self.stderr_text()}')

    def new_client(self, negotiate=True):
        """Another QMP connection to the same VM; closed with the VM."""
        client = connect_qmp(self.qmp_path, negotiate)
        self._clients.append(client)
        return client

    def serial_text(self):
        return _read(self.serial_path)

    def stderr_text(self):
        return _read(self.stderr_path)

    def stdout_text(self):
        return _read(self.stdout_path)

    def wait_serial(self, text, timeout=10.0):
        """Waits until the serial log contains @text; returns the log."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.serial_text()
            if text in log:
                return log
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f'{text!r} not on the serial console after {timeout}s '
                    f'(exit status {self.proc.returncode})\nserial:\n{log}\n'
                    f'stderr:\n{self.stderr_text()}')
            time.sleep(0.05)

    def shutdown(self, timeout=10.0):
        """Quits through QMP and waits; kills on timeout.  Returns the exit
        status (negative: killed by that signal)."""
        if self.proc.poll() is None and self.qmp is not None:
            try:
                self.qmp.cmd('quit')
            except Exception:
                pass    # ferry may close the socket before answering
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def close(self):
        for client in self._clients + [self.qmp]:
            if client is not None:
                try:
                    client.close()
                except Exception:
                    pass
        self._clients, self.qmp = [], None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
        for f in self._files:
            f.close()
        self._files = []
        if os.environ.get('FERRY_KEEP_TMP'):
            print(f'FERRY_KEEP_TMP: kept {self.tmpdir}')
        else:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
