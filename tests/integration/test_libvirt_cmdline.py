"""ferry started the way libvirt 9.0 starts QEMU (FERRY-GAP.md sections 1
and 2): the capability probe's daemon with -machine none, and a domain's
whole command line, with its monitor on a socket libvirt bound itself
(-chardev socket,fd=N) and its console in a log file passed as an fd set;
the pty console virsh console reads; -no-reboot and -no-shutdown."""

import os
import json
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
from pylib.qmp import QMPClient  # noqa: E402
from pylib.vm import (FerryVM, LibvirtStyleVM, build_dir,  # noqa: E402
                      connect_qmp, default_accel, pid_alive, require_kvm,
                      run_ferry)
from pylib.waits import guest_progress, wait_for, wait_progressing  # noqa

STALL = 30          # seconds without guest progress that fail a test


def thread_names(pid):
    names = []
    for tid in os.listdir(f'/proc/{pid}/task'):
        with open(f'/proc/{pid}/task/{tid}/comm') as f:
            names.append(f.read().strip())
    return names


def wait_verified(vm, passes=1):
    w = wait_progressing(lambda: vm.qmp.cmd('x-query-workload'),
                         lambda w: w['full-verify-passes'] >= passes,
                         guest_progress, STALL)
    assert w is not None, (f'no guest progress for {STALL}s\n'
                           f'{vm.stderr_text()}')
    return w


class Probe(unittest.TestCase):
    """libvirt's capability probe: a daemon with no guest, ready (its QMP
    socket listening, its pid in the pidfile) when the launcher exits."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix='ferry-probe-')
        self.addCleanup(tmp.cleanup)
        self.sock = os.path.join(tmp.name, 'qmp.monitor')
        self.pidfile = os.path.join(tmp.name, 'qmp.pid')
        self.daemon = None

    def tearDown(self):
        if self.daemon and pid_alive(self.daemon):
            os.kill(self.daemon, signal.SIGKILL)

    def probe(self, accel):
        r = run_ferry(['-S', '-no-user-config', '-nodefaults', '-nographic',
                       '-machine', f'none,accel={accel}',
                       '-qmp', f'unix:{self.sock},server=on,wait=off',
                       '-pidfile', self.pidfile, '-daemonize'])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.pidfile) as f:
            self.daemon = int(f.read())
        self.assertTrue(pid_alive(self.daemon))
        return self.daemon

    def test_probe(self):
        pid = self.probe('kvm:tcg')
        # Ready at once: libvirt connects as soon as the launcher exits
        client = connect_qmp(self.sock)        # and qmp_capabilities
        try:
            self.assertEqual(client.cmd('query-status'),
                             {'running': False, 'status': 'prelaunch'})
            self.assertIsInstance(client.cmd('query-migrate-capabilities'),
                                  list)
            # No guest: no vCPU thread, no serial port
            self.assertFalse([n for n in thread_names(pid)
                              if n.startswith(('vcpu', 'CPU '))])
            self.assertEqual([c['label'] for c in client.cmd('query-chardev')],
                             ['monitor0'])
        finally:
            client.close()
        # libvirt ends the probe with SIGTERM
        os.kill(pid, signal.SIGTERM)
        self.assertTrue(wait_for(lambda: not pid_alive(pid), 10))
        self.assertFalse(os.path.exists(self.pidfile))

    def test_probe_tcg(self):
        # The second probe, when TCG is advertised: ferry's soft accelerator
        pid = self.probe('tcg')
        client = connect_qmp(self.sock)
        try:
            self.assertEqual(client.cmd('query-status')['status'], 'prelaunch')
            client.cmd('cont')
            self.assertEqual(client.cmd('query-status')['status'], 'running')
        finally:
            client.close()
        os.kill(pid, signal.SIGTERM)
        self.assertTrue(wait_for(lambda: not pid_alive(pid), 10))


class Domain(unittest.TestCase):
    """A domain's command line as libvirt builds it; the guest runs and
    verifies its memory."""

    def test_domain_runs(self):
        accel = default_accel()
        with LibvirtStyleVM(smp=2, paused=True, accel=accel,
                            append='dirty-rate=16M') as vm:
            chardevs = {c['label']: c for c in vm.qmp.cmd('query-chardev')}
            self.assertEqual(chardevs['charmonitor']['filename'],
                             f'unix:{vm.qmp_path},server=on')
            self.assertEqual(chardevs['charserial0']['filename'], 'file')
            self.assertTrue(chardevs['charserial0']['frontend-open'])
            peripheral = vm.qmp.cmd('qom-list', path='/machine/peripheral')
            self.assertIn({'name': 'serial0', 'type': 'child<isa-serial>'},
                          peripheral)
            # -name debug-threads=on: QEMU's vCPU thread names
            suffix = 'KVM' if accel == 'kvm' else 'SOFT'
            names = thread_names(vm.proc.pid)
            self.assertIn(f'CPU 0/{suffix}', names)
            self.assertIn(f'CPU 1/{suffix}', names)
            vm.qmp.cmd('cont')
            w = wait_verified(vm)
            self.assertEqual(w['corrupt-pages'], 0)
            self.assertEqual(w['boots'], 1)
            text = vm.serial_text()
            # appended after what libvirt wrote into its log
            self.assertTrue(text.startswith(LibvirtStyleVM.LOG_HEADER), text)
            if accel == 'kvm':
                self.assertIn('ferry-guest: 2 cpus, 127 MiB RAM', text)

    def test_json_forms(self):
        # QEMU's JSON form wherever libvirt may use it: -object, -machine,
        # -blockdev, -device (pvblk and isa-serial), -chardev
        accel = default_accel()
        with tempfile.TemporaryDirectory(prefix='ferry-json-') as tmp:
            img = os.path.join(tmp, 'disk.img')
            r = subprocess.run([os.path.join(build_dir(), 'ferry-img'),
                                'create', img, '1M'], capture_output=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            args = [
                '-serial', 'none',
                '-object', json.dumps({'qom-type': 'memory-backend-ram',
                                       'id': 'm0', 'size': 64 << 20}),
                '-machine', json.dumps({'type': 'pc-i440fx-7.2',
                                        'memory-backend': 'm0'}),
                '-blockdev', json.dumps({'driver': 'file', 'node-name': 'f0',
                                         'filename': img}),
                '-device', json.dumps({'driver': 'pvblk', 'drive': 'f0',
                                       'id': 'disk0'}),
                '-chardev', json.dumps({'backend': 'file', 'id': 'c0',
                                        'path': 'serial.log'}),
                '-device', json.dumps({'driver': 'isa-serial',
                                       'chardev': 'c0', 'id': 'serial0',
                                       'index': 0}),
            ]
            with FerryVM(extra_args=args, mem=None, accel=accel,
                         append='dirty-rate=1M disk-rate=1M') as vm:
                names = {p['name'] for p in
                         vm.qmp.cmd('qom-list', path='/machine/peripheral')}
                self.assertLessEqual({'disk0', 'serial0'}, names)
                w = wait_verified(vm)
                self.assertEqual(w['corrupt-pages'], 0)
                self.assertEqual(w['corrupt-sectors'], 0)
                if accel == 'kvm':
                    # the chardev's relative path is FerryVM's serial log
                    self.assertIn('ferry-guest: booting', vm.serial_text())

    def test_refusals_are_one_line(self):
        # A memory backend whose size is not -m: one line naming the option
        r = run_ferry(['-machine', 'pc,memory-backend=pc.ram', '-m', '256',
                       '-object', 'memory-backend-ram,id=pc.ram,size=128M',
                       '-msg', 'timestamp=on'])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertRegex(r.stderr, r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z '
                         r"ferry: -object: memory backend 'pc.ram' has size")
        # A chardev id -mon does not know, found when the machine is built
        r = run_ferry(['-machine', 'none', '-mon', 'chardev=nope,mode=control'])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, 'ferry: -mon: chardev=nope: no such '
                         'chardev\n')


class Monitor(unittest.TestCase):
    """libvirt's pre-opened monitor: one client at a time, and the next one
    (a restarted libvirtd) once the first has left."""

    def test_second_client_after_first_left(self):
        with LibvirtStyleVM(paused=True, mem='64M') as vm:
            # connected by hand: QMPClient.connect would wait for a greeting
            second = QMPClient(vm.qmp_path)
            second.sock = socket.socket(socket.AF_UNIX)
            second.sock.connect(vm.qmp_path)       # queued, not accepted
            readable, _, _ = select.select([second.sock], [], [], 0.5)
            self.assertEqual(readable, [], 'a second client was served '
                             'while the first was connected')
            vm.qmp.close()                          # libvirtd goes away
            vm.qmp = None
            second.sock.settimeout(10)
            greeting = second.recv()
            self.assertIn('QMP', greeting)
            second.cmd('qmp_capabilities')
            self.assertEqual(second.cmd('query-status')['status'], 'prelaunch')
            second.close()
            # and a third, as often as libvirtd restarts
            third = connect_qmp(vm.qmp_path)
            self.assertEqual(third.cmd('query-status')['status'], 'prelaunch')
            vm.qmp = third


    def test_human_monitor_on_chardev(self):
        with FerryVM(paused=True, mem='64M', accel=default_accel(),
                     extra_args=['-chardev', 'socket,id=hmp,path=hmp.sock,'
                                 'server=on,wait=off',
                                 '-mon', 'chardev=hmp,mode=readline']) as vm:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            s.connect(os.path.join(vm.tmpdir, 'hmp.sock'))
            out = b''
            while not out.endswith(b'(qemu) '):
                out += s.recv(4096)
            s.sendall(b'info status\n')
            while b'VM status: paused' not in out:
                out += s.recv(4096)
            s.close()


class PtyConsole(unittest.TestCase):
    """-chardev pty: query-chardev reports "pty:/dev/pts/N" as QEMU does,
    which is where `virsh console` reads the guest's serial console."""

    def test_pty_console(self):
        require_kvm(self)       # the soft accelerator prints no console
        with LibvirtStyleVM(serial='pty', paused=True, mem='64M') as vm:
            path = vm.pty_path()
            self.assertTrue(path.startswith('/dev/pts/'), path)
            fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                vm.qmp.cmd('cont')
                text = b''
                deadline = time.monotonic() + 20
                while b'ferry-guest: booting' not in text:
                    self.assertLess(time.monotonic(), deadline, text)
                    if select.select([fd], [], [], 0.5)[0]:
                        text += os.read(fd, 4096)
            finally:
                os.close(fd)

    def test_serial_pty_shorthand(self):
        with FerryVM(extra_args=['-serial', 'pty'], paused=True, mem='64M',
                     accel=default_accel()) as vm:
            # the -serial file: FerryVM gives comes first; the last wins
            chardevs = vm.qmp.cmd('query-chardev')
            serial = [c for c in chardevs if c['label'] == 'serial0']
            self.assertEqual(len(serial), 1)
            self.assertTrue(serial[0]['filename'].startswith('pty:/dev/pts/'))


def triple_fault_kernel(path):
    """A Multiboot kernel (ELF32 at 1 MiB) whose first instructions make
    the CPU triple-fault, as a PC guest resets itself: an empty IDT, then
    paging on with page tables that map nothing."""
    base, entry_off = 0x100000, 52 + 32 + 12
    code = (b'\x0f\x01\x1d' + b'IDTR' +                 # lidt [idtr]
            b'\xb8' + struct.pack('<I', 0x200000) +     # mov eax, empty page
            b'\x0f\x22\xd8' +                           # mov cr3, eax
            b'\xb8' + struct.pack('<I', 0x20) +         # PAE
            b'\x0f\x22\xe0' +                           # mov cr4, eax
            b'\xb8' + struct.pack('<I', 0x80000011) +   # PG | ET | PE
            b'\x0f\x22\xc0' +                           # mov cr0, eax
            b'\xeb\xfe')                                # not reached
    idtr = base + entry_off + len(code)
    code = code.replace(b'IDTR', struct.pack('<I', idtr)) + bytes(6)
    magic = 0x1BADB002
    multiboot = struct.pack('<III', magic, 0, -magic & 0xffffffff)
    size = entry_off + len(code)
    elf = (b'\x7fELF\x01\x01\x01' + bytes(9) +
           struct.pack('<HHIIIIIHHHHHH', 2, 3, 1, base + entry_off, 52, 0, 0,
                       52, 32, 1, 40, 0, 0) +
           struct.pack('<IIIIIIII', 1, 0, base, base, size, size, 5, 0x1000))
    with open(path, 'wb') as f:
        f.write(elf + multiboot + code)


class RebootAndShutdown(unittest.TestCase):
    """-no-reboot and -no-shutdown with a guest that resets itself by a
    triple fault.  A guest power-off with -no-shutdown is in
    test_power.py (the test guest answers the power button)."""

    def setUp(self):
        require_kvm(self)
        tmp = tempfile.TemporaryDirectory(prefix='ferry-reset-')
        self.addCleanup(tmp.cleanup)
        self.kernel = os.path.join(tmp.name, 'reset.elf')
        triple_fault_kernel(self.kernel)

    def vm(self, *extra):
        return FerryVM(extra_args=['-kernel', self.kernel, *extra],
                       accel='kvm', mem='16M', paused=True)

    def test_no_reboot_exits(self):
        with self.vm('-no-reboot') as vm:
            vm.qmp.cmd('cont')
            ev = vm.qmp.wait_event('SHUTDOWN', 10)
            self.assertEqual(ev['data'], {'guest': True,
                                          'reason': 'guest-reset'})
            self.assertEqual(vm.proc.wait(10), 0)

    def test_no_reboot_no_shutdown_pauses(self):
        with self.vm('-no-reboot', '-no-shutdown') as vm:
            vm.qmp.cmd('cont')
            ev = vm.qmp.wait_event('SHUTDOWN', 10)
            self.assertEqual(ev['data']['reason'], 'guest-reset')
            vm.qmp.wait_event('STOP', 10)
            self.assertEqual(vm.qmp.cmd('query-status'),
                             {'running': False, 'status': 'shutdown'})
            self.assertIsNone(vm.proc.poll())
            self.assertEqual(vm.shutdown(), 0)      # quit still ends it

    def test_reset_without_no_reboot_keeps_running(self):
        # A PC resets and boots again (this kernel faults again at once,
        # so it resets over and over, as under QEMU); the process stays
        with self.vm() as vm:
            vm.qmp.cmd('cont')
            for _ in range(2):
                ev = vm.qmp.wait_event('RESET', 10)
                self.assertEqual(ev['data'], {'guest': True,
                                              'reason': 'guest-reset'})
            self.assertIsNone(vm.proc.poll())
            self.assertEqual(vm.qmp.cmd('query-status')['status'], 'running')


if __name__ == '__main__':
    unittest.main()
