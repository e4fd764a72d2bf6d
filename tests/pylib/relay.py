"""A loopback TCP relay for fault-injection tests of live migration.

    from pylib.relay import Relay

    with Relay('127.0.0.1', dst_port) as relay:     # listening from here on
        dst.qmp.cmd('migrate-incoming', uri=f'tcp:127.0.0.1:{dst_port}')
        src.qmp.cmd('migrate', uri=relay.uri)       # 'tcp:127.0.0.1:PORT'
        relay.wait_bytes_up(64 << 20, timeout=30)
        relay.cut()                                 # both ends: EOF/reset now
        ...                                         # new connections still work

The source connects to the relay, the relay connects to the destination:
every accepted connection (main channel, postcopy-preempt channel, the
connections of a recovery, ...) gets its own upstream connection, opened
when it is accepted.  Bytes flow both ways, "up" is source -> destination,
"down" destination -> source (the return path).

One background thread runs everything (a selector over non-blocking
sockets, at most RELAY_BUFFER bytes buffered per direction and connection,
so a peer that stops reading slows the other one down as a direct
connection would).  Every control method (cut, freeze, ...) is carried out
by that thread and has taken effect when it returns.  close() (or leaving
the `with` block) aborts what is still open and joins the thread.  Nothing
is printed: an unexpected error inside the thread ends the relay and is
kept in .error.

Faults, all acting on the connections open at the time of the call (the
ones accepted later are relayed normally, unless refuse() is on):

  cut()               abort every connection at once: shutdown, then close
                      with SO_LINGER 0 (RST) on both of its sockets, so
                      both peers see EOF or ECONNRESET right away; data
                      still buffered in the relay is lost
  drop_return_path()  destination -> source bytes are read and discarded
                      (counted in .bytes_dropped), bytes already buffered
                      in that direction too; an EOF from the destination
                      is held back as well; source -> destination flows on
  freeze()            a silent network: nothing more is read from either
                      side (so the TCP buffers fill up and the peers block),
                      nothing buffered is written, nothing is closed; EOFs
                      are not noticed either
  thaw()              undoes drop_return_path() and freeze(): held bytes and
                      EOFs go on
  refuse(on=True)     from now on new connections are accepted and at once
                      closed with a RST (no upstream connection is made);
                      refuse(False) ends that; counted in .connections
  cut_when(pred)      arms a one-shot trigger: every chunk read from a
                      destination (as one recv() returned it, up to
                      RELAY_CHUNK bytes, in whatever mode) is passed to
                      pred(chunk) before it is forwarded; the first time it
                      returns true, that chunk is NOT forwarded and cut()
                      runs right away, from the relay's thread.  Returns a
                      threading.Event set when it fired.  A message split
                      over two chunks is not seen whole: return-path
                      messages are small and written at once, so they
                      normally arrive in one chunk.  A predicate that
                      raises disarms the trigger (the exception is kept in
                      .error, the relay goes on).

  corrupt_up()        flips one byte (XOR 0x5a, in the middle of the chunk)
                      of the next chunk read from a source, then forwards
                      it; counted in .corrupted

A reset by either peer (ECONNRESET, EPIPE) aborts that pair with a RST to
the other peer; an EOF from one peer is passed on as a shutdown(SHUT_WR)
once everything before it was delivered; the pair is closed when both
directions ended.  If the upstream connection cannot be made (destination
not listening), the accepted connection is reset.

Counters, updated by the thread (read them whenever you like):
  bytes_up, bytes_down   bytes delivered source -> destination and back
  bytes_dropped          destination -> source bytes discarded
  connections            connections accepted so far (refused ones too)
  open_connections       pairs currently open
  cuts                   connections aborted by cut()/cut_when()
  corrupted              bytes flipped by corrupt_up()
"""

import errno
import selectors
import socket
import struct
import threading
import time

RELAY_CHUNK = 256 * 1024        # bytes per recv()
RELAY_BUFFER = 1024 * 1024      # bytes held per direction before we stop reading
CONTROL_TIMEOUT = 10.0          # seconds a control call waits for the thread

_FORWARD, _HOLD, _DROP = 'forward', 'hold', 'drop'
_LINGER0 = struct.pack('ii', 1, 0)


class RelayError(Exception):
    pass


def _abort_socket(sock):
    """shutdown + close with SO_LINGER 0: the peer gets FIN then RST."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class _Pipe:
    """One direction of a pair: bytes read from .rsock, written to .wsock."""

    def __init__(self, rsock, wsock, up):
        self.rsock, self.wsock, self.up = rsock, wsock, up
        self.buf = bytearray()
        self.mode = _FORWARD
        self.eof = False        # read EOF from rsock
        self.shut = False       # passed it on: wsock.shutdown(SHUT_WR)


class _Conn:
    def __init__(self, num, client, upstream):
        self.num = num
        self.client, self.upstream = client, upstream
        self.connecting = True
        self.closed = False
        self.up = _Pipe(client, upstream, True)
        self.down = _Pipe(upstream, client, False)

    def pipes(self):
        return (self.up, self.down)


class Relay:
    def __init__(self, target_host, target_port, listen_host='127.0.0.1'):
        self.target = (target_host, int(target_port))
        self.listen_host = listen_host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind((listen_host, 0))
            self._listener.listen(64)
            self._listener.setblocking(False)
        except BaseException:
            self._listener.close()
            raise
        self.port = self._listener.getsockname()[1]
        self.bytes_up = self.bytes_down = self.bytes_dropped = 0
        self.connections = 0
        self.cuts = 0
        self.error = None
        self._conns = []
        self._refusing = False
        self._corrupt = False
        self.corrupted = 0
        self._trigger = None            # (predicate, Event)
        self._sel = None
        self._masks = {}                # socket -> registered event mask
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._calls = []                # [(fn, done Event, result list)]
        self._lock = threading.Lock()
        self._progress = threading.Condition()
        self._thread = None
        self._stopping = False
        self._closed = False

    # --- public API -------------------------------------------------------

    @property
    def uri(self):
        return f'tcp:{self.listen_host}:{self.port}'

    @property
    def open_connections(self):
        return len(self._conns)

    def start(self):
        if self._closed:
            raise RelayError('relay closed')
        if self._thread is None:
            self._sel = selectors.DefaultSelector()
            self._sel.register(self._listener, selectors.EVENT_READ, 'accept')
            self._sel.register(self._wake_r, selectors.EVENT_READ, 'wake')
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f'relay-{self.port}')
            self._thread.start()
        return self

    def close(self):
        """Aborts every connection, stops listening, joins the thread."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            with self._lock:
                self._stopping = True
            self._wake()
            self._thread.join(CONTROL_TIMEOUT)
            if self._thread.is_alive():     # should not happen
                raise RelayError('relay thread did not stop')
        else:
            self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        with self._progress:
            self._progress.notify_all()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    def cut(self):
        """Aborts every current connection; returns how many."""
        return self._call(self._cut_all)

    def drop_return_path(self):
        def fn():
            for c in self._conns:
                c.down.mode = _DROP
                self.bytes_dropped += len(c.down.buf)
                c.down.buf.clear()
                self._update(c)
        self._call(fn)

    def freeze(self):
        def fn():
            for c in self._conns:
                c.up.mode = c.down.mode = _HOLD
                self._update(c)
        self._call(fn)

    def thaw(self):
        def fn():
            for c in list(self._conns):
                c.up.mode = c.down.mode = _FORWARD
                for p in c.pipes():
                    if not c.closed and not c.connecting:
                        self._flush(c, p)
                if not c.closed:
                    self._update(c)
        self._call(fn)

    def refuse(self, on=True):
        def fn():
            self._refusing = bool(on)
        self._call(fn)

    def corrupt_up(self):
        def fn():
            self._corrupt = True
        self._call(fn)

    def cut_when(self, predicate):
        """Arms the one-shot trigger (see the module doc); returns an Event
        set once it fired.  Replaces a trigger that did not fire yet."""
        fired = threading.Event()

        def fn():
            self._trigger = (predicate, fired)
        self._call(fn)
        return fired

    def wait_bytes_up(self, n, timeout):
        """True once at least @n bytes went source -> destination, False
        after @timeout seconds."""
        return self._wait(lambda: self.bytes_up >= n, timeout)

    def wait_bytes_down(self, n, timeout):
        return self._wait(lambda: self.bytes_down >= n, timeout)

    def wait_connections(self, n, timeout):
        """True once at least @n connections were accepted."""
        return self._wait(lambda: self.connections >= n, timeout)

    # --- plumbing ---------------------------------------------------------

    def _wait(self, cond, timeout):
        deadline = time.monotonic() + timeout
        with self._progress:
            while not cond():
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return cond()
                self._progress.wait(min(left, 0.1))
            return True

    def _notify(self):
        with self._progress:
            self._progress.notify_all()

    def _wake(self):
        try:
            self._wake_w.send(b'x')
        except (BlockingIOError, OSError):
            pass    # already has a wake-up pending, or closing

    def _call(self, fn):
        """Runs @fn on the relay's thread (right here if this is that
        thread, or if the relay does not run) and returns its result."""
        if self._thread is None or threading.current_thread() is self._thread:
            if self._closed:
                raise RelayError('relay closed')
            return fn()
        if self._closed or not self._thread.is_alive():
            raise RelayError(f'relay not running (error: {self.error!r})')
        done, result = threading.Event(), []
        with self._lock:
            self._calls.append((fn, done, result))
        self._wake()
        if not done.wait(CONTROL_TIMEOUT):
            raise RelayError('relay thread did not answer')
        if result and isinstance(result[0], BaseException):
            raise result[0]
        return result[0] if result else None

    def _run(self):
        try:
            while True:
                with self._lock:
                    calls, self._calls = self._calls, []
                    stopping = self._stopping
                for fn, done, result in calls:
                    try:
                        result.append(fn())
                    except Exception as e:  # reported to the caller
                        result.append(e)
                    done.set()
                if stopping:
                    break
                for key, events in self._sel.select(1.0):
                    self._dispatch(key, events)
        except Exception as e:      # kept, never printed
            self.error = e
        finally:
            self._shutdown_all()

    def _shutdown_all(self):
        for c in list(self._conns):
            self._abort(c)
        for sock in (self._listener, self._wake_r):
            try:
                self._sel.unregister(sock)
            except (KeyError, ValueError):
                pass
        self._listener.close()
        self._sel.close()
        with self._lock:        # a control call that raced the stop
            calls, self._calls = self._calls, []
        for fn, done, result in calls:
            result.append(RelayError('relay closed'))
            done.set()
        self._notify()

    def _dispatch(self, key, events):
        what = key.data
        if what == 'wake':
            try:
                while self._wake_r.recv(4096):
                    pass
            except BlockingIOError:
                pass
            return
        if what == 'accept':
            self._accept()
            return
        conn, sock = what
        if conn.closed:
            return
        if conn.connecting:
            if sock is conn.upstream and events & selectors.EVENT_WRITE:
                err = conn.upstream.getsockopt(socket.SOL_SOCKET,
                                               socket.SO_ERROR)
                if err:
                    self._abort(conn)
                    return
                conn.connecting = False
                for p in conn.pipes():
                    self._flush(conn, p)
                    if conn.closed:
                        return
                self._update(conn)
            return
        if events & selectors.EVENT_READ:
            pipe = conn.up if sock is conn.client else conn.down
            self._read(conn, pipe)
            if conn.closed:
                return
        if events & selectors.EVENT_WRITE:
            pipe = conn.down if sock is conn.client else conn.up
            self._flush(conn, pipe)
            if conn.closed:
                return
        self._update(conn)

    def _accept(self):
        for _ in range(16):
            try:
                client, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS,
                               errno.ENOMEM):
                    return
                raise
            self.connections += 1
            self._notify()
            if self._refusing:
                _abort_socket(client)
                continue
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            upstream.setblocking(False)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(self.connections, client, upstream)
            self._conns.append(conn)
            rc = upstream.connect_ex(self.target)
            if rc not in (0, errno.EINPROGRESS, errno.EAGAIN):
                self._abort(conn)
                continue
            self._set_mask(upstream, selectors.EVENT_WRITE, conn)

    def _read(self, conn, pipe):
        try:
            data = pipe.rsock.recv(RELAY_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._abort(conn)
            return
        if not data:
            pipe.eof = True
            return
        if not pipe.up and self._trigger is not None:
            predicate, fired = self._trigger
            try:
                hit = predicate(data)
            except Exception as e:
                self._trigger = None
                self.error = e
                hit = False
            if hit:
                self._trigger = None
                self._cut_all()
                fired.set()
                return
        if pipe.up and self._corrupt:
            data = bytearray(data)
            data[len(data) // 2] ^= 0x5a
            self._corrupt = False
            self.corrupted += 1
        if pipe.mode == _DROP:
            self.bytes_dropped += len(data)
            return
        pipe.buf += data
        if pipe.mode == _FORWARD:
            self._flush(conn, pipe)

    def _flush(self, conn, pipe):
        """Writes what @pipe holds, as far as the socket takes it."""
        if pipe.mode != _FORWARD or conn.connecting:
            return
        sent = 0
        while pipe.buf:
            try:
                n = pipe.wsock.send(pipe.buf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._abort(conn)
                break
            del pipe.buf[:n]
            sent += n
        if sent:
            if pipe.up:
                self.bytes_up += sent
            else:
                self.bytes_down += sent
            self._notify()

    def _update(self, conn):
        """Passes EOFs on, closes finished pairs, sets the event masks."""
        if conn.closed:
            return
        if not conn.connecting:
            for p in conn.pipes():
                if p.eof and not p.buf and p.mode == _FORWARD and not p.shut:
                    try:
                        p.wsock.shutdown(socket.SHUT_WR)
                    except OSError:
                        self._abort(conn)
                        return
                    p.shut = True
            if conn.up.shut and conn.down.shut:
                self._close(conn, graceful=True)
                return
        for sock, rpipe, wpipe in ((conn.client, conn.up, conn.down),
                                   (conn.upstream, conn.down, conn.up)):
            mask = 0
            if conn.connecting:
                if sock is conn.upstream:
                    mask = selectors.EVENT_WRITE
            else:
                if (rpipe.mode != _HOLD and not rpipe.eof and
                        len(rpipe.buf) < RELAY_BUFFER):
                    mask |= selectors.EVENT_READ
                if wpipe.mode == _FORWARD and wpipe.buf:
                    mask |= selectors.EVENT_WRITE
            self._set_mask(sock, mask, conn)

    def _set_mask(self, sock, mask, conn):
        old = self._masks.get(sock, 0)
        if mask == old:
            return
        if old and mask:
            self._sel.modify(sock, mask, (conn, sock))
        elif mask:
            self._sel.register(sock, mask, (conn, sock))
        else:
            self._sel.unregister(sock)
        if mask:
            self._masks[sock] = mask
        else:
            self._masks.pop(sock, None)

    def _close(self, conn, graceful):
        if conn.closed:
            return
        conn.closed = True
        for sock in (conn.client, conn.upstream):
            if self._masks.pop(sock, 0):
                self._sel.unregister(sock)
            if graceful:
                sock.close()
            else:
                _abort_socket(sock)
        self._conns.remove(conn)
        self._notify()

    def _abort(self, conn):
        self._close(conn, graceful=False)

    def _cut_all(self):
        n = len(self._conns)
        for c in list(self._conns):
            self._abort(c)
        self.cuts += n
        return n
