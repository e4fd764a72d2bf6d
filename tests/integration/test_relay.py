"""tests/pylib/relay.py on its own: plain sockets and a loopback echo
server, no VM.  Each test runs in well under a second."""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.relay import Relay  # noqa: E402

TIMEOUT = 2.0


class Server:
    """A loopback TCP server; every connection gets a thread running
    @handler(sock).  Keeps the accepted sockets for the tests."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self.errors = []
        self.cond = threading.Condition()
        self.threads = []
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            if self.closing:
                s.close()
                return
            with self.cond:
                self.accepted.append(s)
                self.cond.notify_all()
            t = threading.Thread(target=self._serve, args=(s,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, s):
        try:
            self.handler(s)
        except OSError as e:
            self.errors.append(e)

    def wait_accepted(self, n, timeout=TIMEOUT):
        with self.cond:
            return self.cond.wait_for(lambda: len(self.accepted) >= n, timeout)

    def close(self):
        self.closing = True
        try:     # wake accept()
            socket.create_connection(('127.0.0.1', self.port), 1).close()
        except OSError:
            pass
        self.sock.close()
        self.thread.join(TIMEOUT)
        for s in self.accepted:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in self.threads:
            t.join(TIMEOUT)


def echo(s):
    while True:
        data = s.recv(65536)
        if not data:
            s.shutdown(socket.SHUT_WR)
            return
        s.sendall(data)


def idle(s):
    """Reads nothing, sends nothing: the test drives the socket."""


def recv_exact(s, n, timeout=TIMEOUT):
    s.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        data = s.recv(n - len(out))
        if not data:
            break
        out += data
    return bytes(out)


def ended(s, timeout=TIMEOUT):
    """True if @s reads EOF or a reset within @timeout (data before it is
    skipped); False if it is still open."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def nothing_within(s, seconds):
    """True if nothing (no data, no EOF) arrives on @s for @seconds."""
    s.settimeout(seconds)
    try:
        s.recv(1, socket.MSG_PEEK)
        return False
    except socket.timeout:
        return True
    except OSError:
        return False


class RelayTest(unittest.TestCase):
    def setUp(self):
        self.servers, self.clients = [], []

    def tearDown(self):
        for c in self.clients:
            c.close()
        for s in self.servers:
            s.close()
        # close() joined the relay's thread: none left behind
        self.assertEqual([t.name for t in threading.enumerate()
                          if t.name.startswith('relay-')], [])

    def server(self, handler=echo):
        s = Server(handler)
        self.servers.append(s)
        return s

    def reset_at_once(self, relay):
        """Connects to @relay and expects the connection to end at once:
        the RST may already fail connect() (EPIPE, ECONNRESET)."""
        try:
            c = self.connect(relay)
        except (BrokenPipeError, ConnectionResetError):
            return True
        return ended(c)

    def connect(self, relay):
        c = socket.create_connection(('127.0.0.1', relay.port), TIMEOUT)
        self.clients.append(c)
        return c

    def test_echo_both_ways(self):
        srv = self.server()
        with Relay('127.0.0.1', srv.port) as r:
            self.assertEqual(r.uri, f'tcp:127.0.0.1:{r.port}')
            c = self.connect(r)
            payload = os.urandom(3 << 20)       # more than the relay buffers
            t = threading.Thread(target=c.sendall, args=(payload,))
            t.start()
            self.assertEqual(recv_exact(c, len(payload)), payload)
            t.join()
            self.assertTrue(r.wait_bytes_up(len(payload), TIMEOUT))
            self.assertEqual(r.bytes_up, len(payload))
            self.assertTrue(_wait(lambda: r.bytes_down == len(payload)))
            self.assertEqual(r.connections, 1)
            # an EOF from the client goes up, the server's comes back
            c.shutdown(socket.SHUT_WR)
            self.assertEqual(c.recv(1), b'')
            self.assertTrue(_wait(lambda: r.open_connections == 0))
            thread = r._thread
        self.assertFalse(thread.is_alive())

    def test_cut_then_new_connections(self):
        srv = self.server(idle)
        with Relay('127.0.0.1', srv.port) as r:
            c = self.connect(r)
            self.assertTrue(srv.wait_accepted(1))
            d = srv.accepted[0]
            c.sendall(b'up')
            self.assertEqual(recv_exact(d, 2), b'up')
            t = time.monotonic()
            self.assertEqual(r.cut(), 1)
            self.assertTrue(ended(c))
            self.assertTrue(ended(d))
            self.assertLess(time.monotonic() - t, 1.0)
            self.assertEqual(r.open_connections, 0)
            self.assertEqual(r.cuts, 1)
            # the relay goes on
            c2 = self.connect(r)
            self.assertTrue(srv.wait_accepted(2))
            d2 = srv.accepted[1]
            c2.sendall(b'again')
            self.assertEqual(recv_exact(d2, 5), b'again')
            d2.sendall(b'back')
            self.assertEqual(recv_exact(c2, 4), b'back')
            self.assertEqual(r.connections, 2)

    def test_cut_wakes_blocked_peers(self):
        """Peers blocked in recv() and in send() on a full buffer."""
        srv = self.server(idle)
        with Relay('127.0.0.1', srv.port) as r:
            c = self.connect(r)
            self.assertTrue(srv.wait_accepted(1))
            d = srv.accepted[0]
            outcome = {}

            def writer():
                try:
                    c.settimeout(TIMEOUT * 2)
                    c.sendall(b'x' * (64 << 20))   # d never reads: blocks
                    outcome['w'] = 'sent'
                except socket.timeout:
                    outcome['w'] = 'timeout'
                except OSError as e:
                    outcome['w'] = e.errno

            tw = threading.Thread(target=writer)
            tw.start()
            self.assertTrue(r.wait_bytes_up(1, TIMEOUT))
            time.sleep(0.2)         # the buffers are full by now
            self.assertNotIn('w', outcome)      # writer still blocked
            r.cut()
            tw.join(TIMEOUT)
            self.assertFalse(tw.is_alive())
            self.assertNotIn(outcome['w'], ('sent', 'timeout'))
            # the destination had data queued: it is dropped by the RST
            # or read before the EOF; either way the socket ends
            self.assertTrue(ended(d))
            # a reader blocked in recv() on the destination side
            c3 = self.connect(r)
            self.assertTrue(srv.wait_accepted(2))
            d3 = srv.accepted[1]
            tr2 = threading.Thread(target=lambda: outcome.update(
                r3=d3.recv(1)))
            tr2.start()
            r.cut()
            tr2.join(TIMEOUT)
            self.assertEqual(outcome.get('r3'), b'')
            self.assertTrue(ended(c3))

    def test_drop_return_path(self):
        srv = self.server(idle)
        with Relay('127.0.0.1', srv.port) as r:
            c = self.connect(r)
            self.assertTrue(srv.wait_accepted(1))
            d = srv.accepted[0]
            d.sendall(b'before')
            self.assertEqual(recv_exact(c, 6), b'before')
            r.drop_return_path()
            d.sendall(b'lost' * 1000)
            c.sendall(b'still-up')
            self.assertEqual(recv_exact(d, 8), b'still-up')
            self.assertTrue(_wait(lambda: r.bytes_dropped == 4000))
            self.assertTrue(nothing_within(c, 0.2))
            self.assertEqual(r.bytes_down, 6)
            self.assertEqual(r.open_connections, 1)
            # an EOF from the destination is held back too
            d.shutdown(socket.SHUT_WR)
            self.assertTrue(nothing_within(c, 0.2))
            r.thaw()
            self.assertEqual(c.recv(1), b'')      # the EOF, nothing dropped
            # a new connection is not affected
            c2 = self.connect(r)
            self.assertTrue(srv.wait_accepted(2))
            srv.accepted[1].sendall(b'new')
            self.assertEqual(recv_exact(c2, 3), b'new')

    def test_freeze_thaw(self):
        srv = self.server(idle)
        with Relay('127.0.0.1', srv.port) as r:
            c = self.connect(r)
            self.assertTrue(srv.wait_accepted(1))
            d = srv.accepted[0]
            c.sendall(b'warm')
            self.assertEqual(recv_exact(d, 4), b'warm')
            r.freeze()
            up = os.urandom(8 << 20)
            sent = {}

            def writer():
                c.settimeout(TIMEOUT * 2)
                try:
                    sent['n'] = c.send(up)      # partial: buffers fill
                    while sent['n'] < len(up):
                        sent['n'] += c.send(memoryview(up)[sent['n']:])
                except OSError as e:
                    sent['err'] = e
            tw = threading.Thread(target=writer)
            tw.start()
            d.sendall(b'down')
            time.sleep(0.3)
            self.assertTrue(tw.is_alive())      # silent network: blocked
            self.assertTrue(nothing_within(d, 0.1))
            self.assertTrue(nothing_within(c, 0.1))
            self.assertEqual((r.bytes_up, r.bytes_down), (4, 0))
            r.thaw()
            self.assertEqual(recv_exact(d, len(up)), up)
            tw.join(TIMEOUT)
            self.assertNotIn('err', sent)
            self.assertEqual(recv_exact(c, 4), b'down')
            self.assertEqual((r.bytes_up, r.bytes_down), (4 + len(up), 4))

    def test_refuse(self):
        srv = self.server()
        with Relay('127.0.0.1', srv.port) as r:
            kept = self.connect(r)
            r.refuse()
            self.assertTrue(self.reset_at_once(r))
            self.assertTrue(r.wait_connections(2, TIMEOUT))
            # refused: no upstream connection was made
            self.assertTrue(srv.wait_accepted(1))
            time.sleep(0.05)
            self.assertEqual(len(srv.accepted), 1)
            # connections made before still work
            kept.sendall(b'ok')
            self.assertEqual(recv_exact(kept, 2), b'ok')
            r.refuse(False)
            c2 = self.connect(r)
            c2.sendall(b'hi')
            self.assertEqual(recv_exact(c2, 2), b'hi')
            self.assertEqual(r.connections, 3)

    def test_unreachable_target(self):
        with socket.socket() as s:
            # bound, not listening (and the relay cannot get this port)
            s.bind(('127.0.0.1', 0))
            with Relay('127.0.0.1', s.getsockname()[1]) as r:
                self.assertTrue(self.reset_at_once(r))
                self.assertTrue(_wait(lambda: r.open_connections == 0))
                self.assertEqual(r.connections, 1)

    def test_concurrent_connections(self):
        srv = self.server()
        with Relay('127.0.0.1', srv.port) as r:
            socks = [self.connect(r) for _ in range(8)]
            payloads = [os.urandom(256 << 10) for _ in socks]
            results = [None] * len(socks)

            def run(i):
                w = threading.Thread(target=socks[i].sendall,
                                     args=(payloads[i],))
                w.start()
                results[i] = recv_exact(socks[i], len(payloads[i]))
                w.join()
            threads = [threading.Thread(target=run, args=(i,))
                       for i in range(len(socks))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(TIMEOUT * 2)
            self.assertEqual(results, payloads)
            total = sum(map(len, payloads))
            self.assertTrue(_wait(lambda: r.bytes_down == total))
            self.assertEqual(r.bytes_up, total)
            self.assertEqual(r.connections, 8)
            self.assertEqual(r.open_connections, 8)
            self.assertEqual(r.cut(), 8)
            for s in socks:
                self.assertTrue(ended(s, 1.0))

    def test_cut_when(self):
        srv = self.server(idle)
        with Relay('127.0.0.1', srv.port) as r:
            c = self.connect(r)
            c2 = self.connect(r)
            self.assertTrue(srv.wait_accepted(2))
            d = srv.accepted[0]
            fired = r.cut_when(lambda chunk: b'\x00\x05' in chunk)
            # upstream bytes never trigger it
            c.sendall(b'\x00\x05')
            self.assertEqual(recv_exact(d, 2), b'\x00\x05')
            d.sendall(b'fine')
            self.assertEqual(recv_exact(c, 4), b'fine')
            self.assertFalse(fired.is_set())
            d.sendall(b'ab\x00\x05cd')
            self.assertTrue(fired.wait(TIMEOUT))
            self.assertTrue(ended(c))       # that chunk was not forwarded
            self.assertTrue(ended(c2))      # every connection was cut
            self.assertEqual(r.bytes_down, 4)
            # one-shot
            c3 = self.connect(r)
            self.assertTrue(srv.wait_accepted(3))
            srv.accepted[2].sendall(b'\x00\x05')
            self.assertEqual(recv_exact(c3, 2), b'\x00\x05')

    def test_close_joins_and_is_idempotent(self):
        srv = self.server(idle)
        r = Relay('127.0.0.1', srv.port)
        r.start()
        c = self.connect(r)
        self.assertTrue(srv.wait_accepted(1))
        thread = r._thread
        r.close()
        self.assertFalse(thread.is_alive())
        self.assertTrue(ended(c))
        r.close()
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(('127.0.0.1', r.port), 1).close()
        # never started: close() still frees the port
        r2 = Relay('127.0.0.1', srv.port)
        r2.close()


def _wait(cond, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


if __name__ == '__main__':
    unittest.main()
