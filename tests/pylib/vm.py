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

import json
import os
import shutil
import socket
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


def require_disk_workload_and_postcopy(testcase):
    """Skips @testcase unless the test guest's disk workload (it runs
    under KVM only) and postcopy (userfaultfd for kernel faults: root
    here) are both available."""
    if not kvm_available():
        testcase.skipTest('/dev/kvm is not usable: the disk workload runs '
                          'in the test guest')
    if os.geteuid() != 0:
        testcase.skipTest('userfaultfd for kernel faults needs root here')


def pid_alive(pid):
    """True unless @pid is gone or a zombie (PID 1 in a container may never
    reap a daemon)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ('Z', 'X')


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
        self._own_fds = []          # ours, inherited by ferry, closed after
        try:
            self.args = [ferry_binary()] + self._console_args()
            self.args += self._options(accel, mem, smp, append, paused, name)
            self.args += list(extra_args)
            self._launch()
            self.qmp = self._wait_for_qmp(start_timeout)
        except BaseException:
            self.close()
            raise

    def _console_args(self):
        """The QMP socket and the serial log, as ferry's own options."""
        return ['-qmp', f'unix:{self.qmp_path},server=on,wait=off',
                '-serial', f'file:{self.serial_path}']

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
        try:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err,
                                         cwd=self.tmpdir,
                                         pass_fds=[*self.pass_fds,
                                                   *self._own_fds])
        finally:
            # ferry holds them now: a listener it no longer has refuses
            for fd in self._own_fds:
                os.close(fd)
            self._own_fds = []

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


def mem_bytes(mem):
    """'512M', '1G' or a number of MiB, in bytes."""
    mem = str(mem)
    units = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
    if mem[-1:].upper() in units:
        return int(mem[:-1]) * units[mem[-1].upper()]
    return int(mem) << 20


class LibvirtStyleVM(FerryVM):
    """ferry started with the command line libvirt 9.0 gives a domain
    (FERRY-GAP.md section 2): the monitor on a unix socket bound and
    listening before ferry starts, passed as -chardev socket,fd=N with
    -mon; COM1 as -device isa-serial on a file chardev whose file, opened
    here in append mode, is the fd set of -add-fd; the RAM as a memory
    backend; vCPU threads named as QEMU's.  qmp_path and serial_path are
    that socket and that file, so FerryVM's helpers work unchanged.

    @serial='pty' gives the console a pty chardev instead (read it with
    pty_path()).  @accel 'soft' becomes libvirt's tcg, without -kernel
    (the soft accelerator runs the built-in workload itself)."""

    LOG_HEADER = 'LC_ALL=C ferry -name guest=ferry1 ...\n'

    def __init__(self, extra_args=(), accel=None, mem='128M', smp=1,
                 serial='file', **kwargs):
        self.serial_kind = serial
        self.libvirt_accel = accel or default_accel()
        super().__init__(extra_args=extra_args, accel=None, mem=mem, smp=smp,
                         **kwargs)

    def _console_args(self):
        mon = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        mon.bind(self.qmp_path)
        mon.listen(1)
        self._own_fds.append(mon.detach())
        args = ['-chardev', f'socket,id=charmonitor,fd={self._own_fds[-1]},'
                'server=on,wait=off',
                '-mon', 'chardev=charmonitor,id=monitor,mode=control']
        if self.serial_kind == 'pty':
            args += ['-chardev', 'pty,id=charserial0']
        else:
            log = os.open(self.serial_path,
                          os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            # libvirt starts the log with the command line it ran
            os.write(log, self.LOG_HEADER.encode())
            self._own_fds.append(log)
            args += ['-add-fd', f'set=0,fd={log},opaque=serial0-source',
                     '-chardev', 'file,id=charserial0,path=/dev/fdset/0,'
                     'append=on']
        return args + ['-device', 'isa-serial,chardev=charserial0,'
                       'id=serial0,index=0']

    def _options(self, accel, mem, smp, append, paused, name):
        kvm = self.libvirt_accel == 'kvm'
        size = mem_bytes(mem)
        opts = ['-name', f'guest={name or "ferry1"},debug-threads=on',
                '-machine', 'pc-i440fx-7.2,usb=off,dump-guest-core=off,'
                'memory-backend=pc.ram',
                '-accel', 'kvm' if kvm else 'tcg', '-m', str(size >> 20),
                '-object', json.dumps({'qom-type': 'memory-backend-ram',
                                       'id': 'pc.ram', 'size': size}),
                '-overcommit', 'mem-lock=off',
                '-smp', f'{smp},sockets={smp},cores=1,threads=1',
                '-display', 'none', '-no-user-config', '-nodefaults',
                '-rtc', 'base=utc', '-no-acpi', '-boot', 'strict=on',
                '-usb', '-audiodev', '{"id":"audio1","driver":"none"}',
                '-msg', 'timestamp=on']
        if kvm:
            opts += ['-kernel', os.path.join(build_dir(), 'guest',
                                             'ferry-guest.elf')]
        if append is not None:
            opts += ['-append', append]
        if paused:
            opts += ['-S']
        return opts

    def pty_path(self):
        """The console's /dev/pts/N, as query-chardev reports it."""
        for c in self.qmp.cmd('query-chardev'):
            if c['label'] == 'charserial0':
                assert c['filename'].startswith('pty:'), c
                return c['filename'][len('pty:'):]
        raise AssertionError('no charserial0 in query-chardev')
