"""Fuzzes the QMP monitor with a fixed seed: mutated byte streams and
type-confused arguments for every command.  The VMM must answer each
well-framed message, never crash, and keep serving a fresh client."""

import json
import os
import random
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.vm import FerryVM, default_accel  # noqa: E402

SEED = int(os.environ.get('FERRY_FUZZ_SEED', '20261122'))
ROUNDS = int(os.environ.get('FERRY_FUZZ_ROUNDS', '300'))
# Commands whose success would end the test rather than exercise a parser
# (live-update hands the VM to a successor and this process exits).
SPARE = {'quit', 'system_powerdown', 'live-update'}

VALID = [
    b'{"execute": "query-status"}',
    b'{"execute": "x-query-workload", "id": 7}',
    b'{"execute": "query-version", "arguments": {}}',
    b'{"execute": "x-poke", "arguments": {"addr": 268435456, "value": 1}}',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}',
]
NASTY = [b'{', b'}', b'[', b']', b'"', b'\\', b'\\u0000', b'\x00', b'\xff',
         b'1e999999', b'-', b'18446744073709551616', b'null', b',', b':',
         b'\n', b'{"execute":', b'\\ud800', b'[' * 200, b'}' * 50]
VALUES = [None, True, False, 0, -1, 1 << 63, (1 << 64) + 1, 3.5, '', 'x' * 300,
          'info status', [], [1, 'a'], {}, {'a': {'b': [None]}}, '\u2603']


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            data[pos:pos] = rng.choice(NASTY)
        elif op == 2:
            del data[pos:pos + rng.randint(1, 8)]
        else:
            data = data[:pos]
    return bytes(data)


def typed_confusion(rng, commands):
    name = rng.choice(commands)
    msg = {'execute': name}
    if rng.random() < 0.8:
        args = {}
        for key in rng.sample(['addr', 'value', 'command-line', 'enable',
                               'cpu-index', 'bogus', 'id'], rng.randint(0, 3)):
            args[key] = rng.choice(VALUES)
        msg['arguments'] = args if rng.random() < 0.9 else rng.choice(VALUES)
    if rng.random() < 0.3:
        msg['id'] = rng.choice(VALUES)
    if rng.random() < 0.1:
        msg[rng.choice(['oob', 'control', 'exec-oob'])] = rng.choice(VALUES)
    return json.dumps(msg).encode()


class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b''
        self.recv_message()             # greeting
        self.send(b'{"execute": "qmp_capabilities"}')
        assert 'return' in self.recv_reply()

    def send(self, data):
        self.sock.sendall(data + b'\n')

    def recv_message(self):
        while b'\n' not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError('closed by ferry')
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line)

    def recv_reply(self):
        while True:
            msg = self.recv_message()
            if 'event' not in msg:
                return msg

    def drain(self, wait=0.05):
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return False
                self.buf += chunk
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(10)

    def close(self):
        self.sock.close()


class FuzzQMP(unittest.TestCase):
    def assert_alive(self, vm):
        self.assertIsNone(vm.proc.poll(), 'ferry died:\n' + vm.stderr_text())
        c = Client(vm.qmp_path)
        c.send(b'{"execute": "query-status"}')
        self.assertIn('return', c.recv_reply())
        c.close()

    def test_mutated_streams(self):
        rng = random.Random(SEED)
        with FerryVM(accel=default_accel(), mem='64M', append='dirty-rate=0') as vm:
            client = Client(vm.qmp_path)
            for i in range(ROUNDS):
                client.send(mutate(rng, rng.choice(VALID)))
                if not client.drain():
                    client.close()       # ferry may drop a hopeless client
                    client = Client(vm.qmp_path)
                if i % 50 == 49:
                    self.assert_alive(vm)
            client.close()
            self.assert_alive(vm)

    def test_type_confused_arguments(self):
        rng = random.Random(SEED + 1)
        with FerryVM(accel=default_accel(), mem='64M', append='dirty-rate=0') as vm:
            commands = [c['name'] for c in vm.qmp.cmd('query-commands')
                        if c['name'] not in SPARE]
            client = Client(vm.qmp_path)
            for i in range(ROUNDS):
                msg = typed_confusion(rng, commands)
                if b'quit' in msg:
                    continue
                client.send(msg)
                reply = client.recv_reply()      # one reply per message
                self.assertTrue('return' in reply or 'error' in reply, reply)
                if 'error' in reply:
                    self.assertIn(reply['error']['class'],
                                  {'GenericError', 'CommandNotFound',
                                   'DeviceNotActive', 'DeviceNotFound',
                                   'KVMMissingCap'})
                    self.assertTrue(reply['error']['desc'])
            client.close()
            self.assert_alive(vm)


if __name__ == '__main__':
    unittest.main()
