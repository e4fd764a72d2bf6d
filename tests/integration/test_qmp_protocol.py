"""The QMP protocol as QEMU speaks it: greeting, negotiation, framing, ids,
errors for every kind of bad input (each followed by proof that the VMM
and a second client are unharmed), events to several clients, quit, TCP,
and bad -qmp specs."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.vm import FerryVM, default_accel, run_ferry  # noqa: E402
from pylib.qmp import QMPClient, QMPError  # noqa: E402

NEGOTIATE = "Expecting capabilities negotiation with 'qmp_capabilities'"


def free_tcp_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class QMPTestCase(unittest.TestCase):
    """One VM per test class; each test gets fresh clients."""

    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.vm = FerryVM(accel=default_accel(), mem='64M',
                         extra_args=cls.extra_args)

    @classmethod
    def tearDownClass(cls):
        cls.vm.close()

    def client(self, negotiate=True):
        return self.vm.new_client(negotiate)

    def assertError(self, reply, error_class, desc=None, prefix=None):
        self.assertIn('error', reply, f'expected an error, got {reply}')
        self.assertEqual(reply['error']['class'], error_class, reply)
        if desc is not None:
            self.assertEqual(reply['error']['desc'], desc)
        if prefix is not None:
            self.assertTrue(reply['error']['desc'].startswith(prefix),
                            reply['error']['desc'])

    def assertAlive(self, *clients):
        """Every client (and a brand-new one) still gets answers."""
        for c in clients + (self.client(),):
            self.assertIn(c.cmd('query-status')['status'],
                          ('running', 'paused', 'prelaunch'))
        self.assertIsNone(self.vm.proc.poll(), 'ferry died')


class GreetingTests(QMPTestCase):
    def test_greeting(self):
        c = self.client(negotiate=False)
        g = c.greeting['QMP']
        # the same version as query-version: the QEMU dialect, and ferry's
        # own in package
        self.assertEqual(g['version'], self.client().cmd('query-version'))
        self.assertEqual(g['capabilities'], ['oob'])

    def test_negotiation_required(self):
        c = self.client(negotiate=False)
        for name in ('query-status', 'quit', 'no-such-command'):
            self.assertError(c.execute(name), 'CommandNotFound', NEGOTIATE)
        self.assertEqual(c.execute('qmp_capabilities'), {'return': {}})
        self.assertError(c.execute('qmp_capabilities'), 'CommandNotFound',
                         'Capabilities negotiation is already complete, '
                         'command ignored')
        self.assertIn('status', c.cmd('query-status'))

    def test_negotiation_checks_input_first(self):
        c = self.client(negotiate=False)
        c.send_raw(b'[]')
        self.assertError(c.recv(), 'GenericError',
                         'QMP input must be a JSON object')

    def test_capabilities_enable(self):
        c = self.client(negotiate=False)
        self.assertError(c.execute('qmp_capabilities',
                                   {'enable': ['bogus']}), 'GenericError',
                         "Parameter 'enable[0]' does not accept value "
                         "'bogus'")
        self.assertEqual(c.execute('qmp_capabilities', {'enable': ['oob']}),
                         {'return': {}})
        # oob is on, but no ferry command may run out of band
        c.send({'exec-oob': 'query-status', 'id': 1})
        self.assertError(c.recv(), 'GenericError',
                         'The command query-status does not support OOB')

    def test_exec_oob_without_capability(self):
        c = self.client()
        c.send({'exec-oob': 'query-status'})
        self.assertError(c.recv(), 'GenericError',
                         "QMP input member 'exec-oob' is unexpected")


class FramingTests(QMPTestCase):
    def test_id_echoed_verbatim(self):
        c = self.client()
        for ident in (1, 'abc', [1, {'x': None}], {'a': 'b'}, None, 2.5,
                      True, -7, 'é☃'):
            reply = c.execute('query-status', id=ident)
            if ident is None:
                self.assertNotIn('id', reply)
            else:
                self.assertEqual(reply['id'], ident)
        reply = c.execute('no-such-command', id='x')
        self.assertEqual(reply['id'], 'x')
        self.assertError(reply, 'CommandNotFound')

    def test_explicit_null_id(self):
        c = self.client()
        c.send_raw(b'{"execute": "query-status", "id": null}')
        self.assertIn('id', c.recv())

    def test_no_separators(self):
        c = self.client()
        c.send_raw(b'{"execute":"query-status","id":1}'
                   b'{"execute":"query-version","id":2}[]'
                   b'{"execute":"query-status","id":3}')
        self.assertEqual(c.recv()['id'], 1)
        self.assertEqual(c.recv()['id'], 2)
        self.assertError(c.recv(), 'GenericError')
        self.assertEqual(c.recv()['id'], 3)

    def test_split_across_writes(self):
        c = self.client()
        msg = b'{"execute": "query-status", "id": "slow"}'
        for i in range(0, len(msg), 3):
            c.send_raw(msg[i:i + 3])
            time.sleep(0.01)
        self.assertEqual(c.recv()['id'], 'slow')

    def test_crlf_line_endings(self):
        c = self.client()
        c.send_raw(b'{"execute": "query-status"}\n')
        data = b''
        while not data.endswith(b'\r\n'):
            data += c.sock.recv(4096)
        self.assertTrue(data.startswith(b'{"return": '))


class BadInputTests(QMPTestCase):
    def setUp(self):
        self.bystander = self.client()

    def tearDown(self):
        self.assertAlive(self.bystander)

    def raw(self, data, error_class='GenericError', desc=None, prefix=None):
        c = self.client()
        c.send_raw(data)
        self.assertError(c.recv(), error_class, desc, prefix)
        self.assertAlive(c)
        return c

    def test_malformed_json(self):
        for data in (b'{"execute": }', b'{"execute" "x"}', b'{\'a\': tru}',
                     b'{"a": 1,}', b'{"a": "\\x"}', b'{"a": 0x10}',
                     b'{"a": "\xc3\x28"}', b'{"a":1, "a":2}', b'nonsense '):
            with self.subTest(data=data):
                self.raw(data, prefix='JSON parse error, ')

    def test_stray_closing_bracket(self):
        self.raw(b'}', prefix='JSON parse error, ')

    def test_not_an_object(self):
        for data in (b'[1, 2]', b'"execute"', b'42 ', b'null ', b'true '):
            with self.subTest(data=data):
                self.raw(data, desc='QMP input must be a JSON object')

    def test_execute_missing_or_wrong(self):
        self.raw(b'{"arguments": {}}',
                 desc="QMP input lacks member 'execute'")
        self.raw(b'{"execute": 1}',
                 desc="QMP input member 'execute' must be a string")
        self.raw(b'{"execute": ["stop"]}',
                 desc="QMP input member 'execute' must be a string")

    def test_unknown_members(self):
        self.raw(b'{"execute": "query-status", "foo": 1}',
                 desc="QMP input member 'foo' is unexpected")
        self.raw(b'{"execute": "query-status", "arguments": [1]}',
                 desc="QMP input member 'arguments' must be an object")

    def test_unknown_command(self):
        self.raw(b'{"execute": "foo"}', 'CommandNotFound',
                 'The command foo has not been found')

    def test_bad_arguments(self):
        c = self.client()
        cases = [
            ({'value': 1}, "Parameter 'addr' is missing"),
            ({'addr': 'x', 'value': 1},
             "Invalid parameter type for 'addr', expected: integer"),
            ({'addr': 1.5, 'value': 1},
             "Invalid parameter type for 'addr', expected: integer"),
            ({'addr': 0, 'value': 256}, "Parameter 'value' expects uint8"),
            ({'addr': 0, 'value': -1}, "Parameter 'value' expects uint8"),
            ({'addr': -1, 'value': 0}, "Parameter 'addr' expects uint64"),
            ({'addr': 0, 'value': 0, 'foo': 1},
             "Parameter 'foo' is unexpected"),
        ]
        for args, desc in cases:
            with self.subTest(args=args):
                self.assertError(c.execute('x-poke', args), 'GenericError',
                                 desc)
        self.assertError(c.execute('query-status', {'verbose': True}),
                         'GenericError', "Parameter 'verbose' is unexpected")
        self.assertError(c.execute('human-monitor-command',
                                   {'command-line': 5}), 'GenericError',
                         "Invalid parameter type for 'command-line', "
                         "expected: string")
        self.assertAlive(c)

    def test_ten_megabyte_line(self):
        c = self.client()
        big = (b'{"execute": "human-monitor-command", "arguments": '
               b'{"command-line": "' + b'A' * (10 << 20) + b'"}}\n')
        chunk = 1 << 20
        for i in range(0, len(big), chunk):
            c.send_raw(big[i:i + chunk])
            # the VMM keeps serving others while the giant streams in
            self.assertIn('status', self.bystander.cmd('query-status'))
        c.send_raw(b'{"execute": "query-status", "id": "after"}')
        self.assertError(c.recv(), 'GenericError',
                         'JSON parse error, message larger than 1048576 '
                         'bytes')
        self.assertEqual(c.recv()['id'], 'after')

    def test_deep_nesting(self):
        c = self.raw(b'{"a": ' + b'[' * 5000 + b']' * 5000 + b'}',
                     desc='JSON parse error, nesting deeper than 1024 levels')
        c.send_raw(b'{"execute": "query-status", "arguments": {"x": ' +
                   b'[' * 1000 + b']' * 1000 + b'}}')
        self.assertError(c.recv(), 'GenericError',
                         "Parameter 'x' is unexpected")

    def test_garbage_bytes(self):
        c = self.client()
        c.send_raw(bytes(range(256)) + b' {"execute": "query-status", '
                   b'"id": 9}')
        # whatever the garbage produces, the stream resynchronises
        while True:
            msg = c.recv()
            if msg.get('id') == 9:
                break
            self.assertError(msg, 'GenericError')
        self.assertAlive(c)

    def test_disconnect_mid_message(self):
        c = self.client()
        c.send_raw(b'{"execute": "query-st')
        c.close()
        c2 = self.client(negotiate=False)
        c2.send_raw(b'{"execute": "qmp_capabilities", "arguments": {"en')
        c2.close()

    def test_disconnect_mid_command(self):
        for _ in range(20):
            c = self.client()
            c.send_raw(b'{"execute": "query-qmp-schema"}' * 5)
            c.close()

    def test_fd_passing(self):
        c = self.client()
        r, w = os.pipe()
        try:
            socket.send_fds(c.sock, [b'{"execute": "query-status", '
                                     b'"id": "fds"}'], [r, w])
            self.assertEqual(c.recv()['id'], 'fds')
        finally:
            os.close(r)
            os.close(w)

    def test_slow_reader_is_paused_not_dropped(self):
        """A client that pipelines requests without reading only stalls
        itself: the VMM stops reading it, serves others, and catches up
        once it reads."""
        c = self.client()
        n = 300
        c.sock.setblocking(False)
        sent = 0
        msg = b'{"execute": "query-qmp-schema"}'
        data = msg * n
        deadline = time.monotonic() + 10
        while sent < len(data) and time.monotonic() < deadline:
            try:
                sent += c.sock.send(data[sent:])
            except BlockingIOError:
                # the VMM stopped reading us; others are still served
                self.assertIn('status', self.bystander.cmd('query-status'))
                break
        c.sock.setblocking(True)
        c.sock.settimeout(30)
        if sent < len(data):
            c.sock.sendall(data[sent:])
        for _ in range(n):
            self.assertIsInstance(c.recv(timeout=30)['return'], list)

    def test_client_not_reading_events_is_dropped(self):
        """Events cannot wait: a client that never reads is disconnected
        once 1 MiB of events is queued for it, and nobody else notices."""
        sleeper = self.client()
        sleeper.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        pair = b'{"execute": "stop"}{"execute": "cont"}'
        for _ in range(12):
            self.bystander.send_raw(pair * 1000)
            for _ in range(2000):
                self.bystander.recv(timeout=30)
            self.bystander.clear_events()
        # drain what the kernel buffered: the stream must end in EOF
        sleeper.sock.settimeout(10)
        total = 0
        while True:
            data = sleeper.sock.recv(1 << 20)
            if not data:
                break
            total += len(data)
        self.assertLess(total, 8 << 20)


class EventTests(QMPTestCase):
    def test_two_clients_get_stop_resume(self):
        a, b = self.client(), self.client()
        unnegotiated = self.client(negotiate=False)
        t0 = time.time()
        a.cmd('stop')
        a.cmd('cont')
        for c in (a, b):
            stop = c.wait_event('STOP', 5)
            resume = c.wait_event('RESUME', 5)
            for ev in (stop, resume):
                ts = ev['timestamp']
                self.assertEqual(set(ts), {'seconds', 'microseconds'})
                self.assertIsInstance(ts['seconds'], int)
                self.assertTrue(0 <= ts['microseconds'] < 1000000)
                when = ts['seconds'] + ts['microseconds'] / 1e6
                self.assertLess(abs(when - t0), 5)
                self.assertNotIn('data', ev)
            self.assertLessEqual(
                (stop['timestamp']['seconds'],
                 stop['timestamp']['microseconds']),
                (resume['timestamp']['seconds'],
                 resume['timestamp']['microseconds']))
        # no events before negotiation
        unnegotiated.send_raw(b'{"execute": "qmp_capabilities", "id": 1}')
        self.assertEqual(unnegotiated.recv()['id'], 1)
        self.assertEqual(unnegotiated.events, [])

    def test_stop_twice_is_a_noop(self):
        c = self.client()
        c.cmd('stop')
        c.wait_event('STOP', 5)
        c.cmd('stop')
        self.assertEqual(c.cmd('query-status'),
                         {'running': False, 'status': 'paused'})
        c.cmd('cont')
        c.wait_event('RESUME', 5)
        c.cmd('cont')
        self.assertEqual([e['event'] for e in c.events], [])


class QuitTests(unittest.TestCase):
    def test_quit(self):
        with FerryVM(accel=default_accel(), mem='64M') as vm:
            other = vm.new_client()
            reply = vm.qmp.execute('quit', id='bye')
            self.assertEqual(reply, {'return': {}, 'id': 'bye'})
            for c in (vm.qmp, other):
                ev = c.wait_event('SHUTDOWN', 5)
                self.assertEqual(ev['data'], {'guest': False,
                                              'reason': 'host-qmp-quit'})
            self.assertEqual(vm.proc.wait(10), 0)
            self.assertFalse(os.path.exists(vm.qmp_path),
                             'QMP socket left behind')


class TcpTests(unittest.TestCase):
    def test_tcp_server(self):
        port = free_tcp_port()
        spec = f'tcp:127.0.0.1:{port},server=on,wait=off'
        with FerryVM(accel=default_accel(), mem='64M',
                     extra_args=['-qmp', spec]) as vm:
            with QMPClient(('127.0.0.1', port)) as c:
                c.connect()
                self.assertIn('status', c.cmd('query-status'))
                vm.qmp.cmd('stop')
                self.assertEqual(c.wait_event('STOP', 5)['event'], 'STOP')


class SpecTests(unittest.TestCase):
    def test_bad_specs(self):
        cases = [
            ('unix:/tmp/ferry-x.sock', 'server=on'),
            ('unix:/tmp/ferry-x.sock,server=on,wait=on', 'wait=on'),
            ('unix:/tmp/ferry-x.sock,server=on,color=red', "'color'"),
            ('unix:/tmp/ferry-x.sock,server=maybe',
             "Parameter 'server' expects 'on' or 'off', not 'maybe'"),
            ('unix:/tmp/ferry-x.sock,server=on,server=on,wait=off',
             "Parameter 'server' is given twice"),
            ('unix:/tmp/ferry-x.sock,server,nowait',
             "Parameter 'server' has no value"),
            ('pipe:/tmp/x,server=on', 'unix:PATH or tcp:HOST:PORT'),
            ('tcp:localhost,server=on', 'tcp:HOST:PORT'),
            ('stdio', 'stdio'),
        ]
        for spec, text in cases:
            with self.subTest(spec=spec):
                r = run_ferry(['-accel', default_accel(), '-m', '64M',
                               '-qmp', spec], timeout=20)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn('-qmp', r.stderr)
                self.assertIn(text, r.stderr)


if __name__ == '__main__':
    unittest.main()
