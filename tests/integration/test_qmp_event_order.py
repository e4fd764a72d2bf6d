"""Events a command causes reach the client before that command's reply,
as QEMU sends them: libvirt checks its job right after the reply to
migrate, migrate-incoming and cont.  Events QEMU sends after a reply
(SHUTDOWN after quit's, RESET after system_reset's) come after it.  The
lines are read raw off the socket, in the order ferry wrote them."""

import json
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.vm import FerryVM, default_accel  # noqa: E402
from pylib.waits import wait_migration_end  # noqa: E402


class RawClient:
    """A QMP connection read line by line (ferry ends each with CR LF)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.file = self.sock.makefile('rb')
        self.line()                                 # the greeting
        self.run('qmp_capabilities')

    def line(self):
        text = self.file.readline()
        if not text:
            raise ConnectionError('ferry closed the connection')
        return json.loads(text)

    def run(self, name, args=None, id='x'):
        """Sends @name; returns every line up to its reply, the reply last."""
        msg = {'execute': name, 'id': id}
        if args:
            msg['arguments'] = args
        self.sock.sendall(json.dumps(msg).encode() + b'\r\n')
        lines = [self.line()]
        while lines[-1].get('id') != id:
            lines.append(self.line())
        return lines

    def close(self):
        self.file.close()
        self.sock.close()


def names(lines):
    return [m.get('event', 'reply') for m in lines]


def statuses(lines):
    return [m['data']['status'] for m in lines if m.get('event') == 'MIGRATION']


class EventOrder(unittest.TestCase):
    def setUp(self):
        self.vms, self.clients = [], []

    def tearDown(self):
        for c in self.clients:
            c.close()
        for vm in self.vms:
            vm.close()

    def vm(self, **kwargs):
        vm = FerryVM(accel=default_accel(), mem='64M',
                     append='dirty-rate=1M', **kwargs)
        self.vms.append(vm)
        return vm

    def raw(self, vm, events=False):
        c = RawClient(vm.qmp_path)
        self.clients.append(c)
        if events:
            c.run('migrate-set-capabilities', {'capabilities': [
                {'capability': 'events', 'state': True}]})
        return c

    def test_resume_before_cont_reply_and_stop_before_stop_reply(self):
        c = self.raw(self.vm(paused=True))
        self.assertEqual(names(c.run('cont')), ['RESUME', 'reply'])
        self.assertEqual(names(c.run('stop')), ['STOP', 'reply'])

    def test_setup_before_migrate_and_migrate_incoming_replies(self):
        src, dst = self.vm(), self.vm(paused=True,
                                      extra_args=['-incoming', 'defer'])
        path = os.path.join(dst.tmpdir, 'mig.sock')
        d, s = self.raw(dst, events=True), self.raw(src, events=True)
        lines = d.run('migrate-incoming', {'uri': f'unix:{path}'})
        self.assertEqual(names(lines), ['MIGRATION', 'reply'])
        self.assertEqual(statuses(lines), ['setup'])
        lines = s.run('migrate', {'uri': f'unix:{path}'})
        self.assertEqual(names(lines)[-1], 'reply')
        self.assertEqual(statuses(lines)[:1], ['setup'])
        info = wait_migration_end(src)
        self.assertEqual(info['status'], 'completed', info)

    def test_every_client_gets_the_event_first(self):
        vm = self.vm(paused=True)
        a, b = self.raw(vm), self.raw(vm)
        self.assertEqual(names(a.run('cont')), ['RESUME', 'reply'])
        self.assertEqual(b.line()['event'], 'RESUME')

    def test_shutdown_after_quit_reply(self):
        vm = self.vm()
        c = self.raw(vm)
        self.assertEqual(names(c.run('quit')), ['reply'])
        self.assertEqual(c.line()['event'], 'SHUTDOWN')
        self.assertEqual(vm.proc.wait(10), 0)

    def test_reset_after_system_reset_reply(self):
        c = self.raw(self.vm())
        self.assertEqual(names(c.run('system_reset')), ['reply'])
        ev = c.line()
        self.assertEqual((ev['event'], ev['data']),
                         ('RESET', {'guest': False,
                                    'reason': 'host-qmp-system-reset'}))


if __name__ == '__main__':
    unittest.main()
