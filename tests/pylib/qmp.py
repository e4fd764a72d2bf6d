"""A small QMP client for ferry's tests (Python standard library only).

    c = QMPClient('/tmp/qmp.sock')          # or ('127.0.0.1', 4444)
    greeting = c.connect()                  # reads greeting, negotiates
    c.cmd('query-status')                   # -> {'running': True, ...}
    c.cmd('x-poke', addr=4096, value=1)     # Python names: '_' -> '-'
    c.execute('stop', id=5)                 # -> the whole reply dict
    c.wait_event('STOP', timeout=5)         # -> the event dict
    c.close()

Replies and events arrive on one stream: events met while waiting for a
reply are kept in .events (oldest first) for wait_event(); replies met
while waiting for an event are kept for the next recv().
"""

import collections
import json
import socket
import time

DEFAULT_TIMEOUT = 10.0


class QMPError(Exception):
    """An {"error": {"class": ..., "desc": ...}} reply."""

    def __init__(self, error_class, desc, reply=None):
        super().__init__(f'{error_class}: {desc}')
        self.error_class = error_class
        self.desc = desc
        self.reply = reply


class QMPClient:
    def __init__(self, address, timeout=DEFAULT_TIMEOUT):
        """@address: a unix socket path ('unix:PATH' too), a (host, port)
        tuple, or 'tcp:HOST:PORT'."""
        if isinstance(address, str) and address.startswith('tcp:'):
            host, _, port = address[4:].rpartition(':')
            address = (host.strip('[]'), int(port))
        elif isinstance(address, str) and address.startswith('unix:'):
            address = address[5:]
        self.address = address
        self.timeout = timeout
        self.sock = None
        self.greeting = None
        self.events = []
        self._replies = collections.deque()
        self._buf = ''
        self._decoder = json.JSONDecoder()
        self._next_id = 0

    # --- connection ------------------------------------------------------

    def connect(self, negotiate=True):
        """Connects and returns the greeting; runs qmp_capabilities unless
        @negotiate is false."""
        family = socket.AF_UNIX if isinstance(self.address, str) \
            else socket.AF_INET6 if ':' in self.address[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.address)
        self.greeting = self.recv()
        if 'QMP' not in self.greeting:
            raise ConnectionError(f'not a QMP greeting: {self.greeting!r}')
        if negotiate:
            self.cmd('qmp_capabilities')
        return self.greeting

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # --- sending ---------------------------------------------------------

    def send_raw(self, data):
        """Sends bytes (or str) as they are, framing included."""
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def send(self, msg):
        self.send_raw(json.dumps(msg).encode() + b'\n')

    @staticmethod
    def _args(args):
        return {k.replace('_', '-'): v for k, v in args.items()}

    def execute(self, name, args=None, id=None, timeout=None):
        """Runs @name and returns the whole reply ({"return"} or {"error"},
        with "id" when given)."""
        msg = {'execute': name}
        if args is not None:
            msg['arguments'] = args
        if id is not None:
            msg['id'] = id
        self.send(msg)
        return self.recv(timeout)

    def cmd(self, name, **args):
        """Runs @name and returns its "return" value; raises QMPError."""
        return self.cmd_wait(name, None, **args)

    def cmd_wait(self, name, timeout, **args):
        """cmd() for a command that may take longer than the client's
        timeout (x-ram-digest hashes all of guest RAM): waits @timeout s."""
        self._next_id += 1
        tag = f'pylib-{self._next_id}'
        reply = self.execute(name, self._args(args) if args else None, tag,
                             timeout)
        if reply.get('id') != tag:
            raise ConnectionError(f'reply to {name} has id '
                                  f'{reply.get("id")!r}, expected {tag!r}')
        if 'error' in reply:
            err = reply['error']
            raise QMPError(err.get('class'), err.get('desc'), reply)
        return reply['return']

    # --- receiving -------------------------------------------------------

    def _read_message(self, deadline):
        """The next message off the wire, whatever it is."""
        while True:
            text = self._buf.lstrip()
            if text:
                try:
                    msg, end = self._decoder.raw_decode(text)
                except json.JSONDecodeError:
                    msg = None      # incomplete: read more
                else:
                    self._buf = text[end:]
                    return msg
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError('no message from the VMM in time')
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError('no message from the VMM in time') from None
            if not data:
                raise ConnectionError('the VMM closed the connection')
            self._buf += data.decode('utf-8', errors='replace')

    def _deadline(self, timeout):
        timeout = self.timeout if timeout is None else timeout
        return None if timeout is None else time.monotonic() + timeout

    def recv(self, timeout=None):
        """The next message that is not an event (events go to .events)."""
        if self._replies:
            return self._replies.popleft()
        deadline = self._deadline(timeout)
        while True:
            msg = self._read_message(deadline)
            if isinstance(msg, dict) and 'event' in msg:
                self.events.append(msg)
            else:
                return msg

    def recv_any(self, timeout=None):
        """The next message of any kind, events included (not queued)."""
        if self._replies:
            return self._replies.popleft()
        return self._read_message(self._deadline(timeout))

    def wait_event(self, name, timeout=None):
        """Returns (and removes from .events) the first event @name."""
        deadline = self._deadline(timeout)
        while True:
            for i, ev in enumerate(self.events):
                if ev['event'] == name:
                    return self.events.pop(i)
            msg = self._read_message(deadline)
            if isinstance(msg, dict) and 'event' in msg:
                self.events.append(msg)
            else:
                self._replies.append(msg)

    def clear_events(self):
        self.events = []
