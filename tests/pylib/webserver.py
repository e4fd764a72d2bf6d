"""A real nginx on loopback, serving a directory, for tests of the HTTP
block drivers.

    from pylib.webserver import WebServer

    with WebServer('/path/to/dir') as web:
        url = web.url('disk.img')       # http://127.0.0.1:PORT/disk.img
        ...

Everything nginx writes (config, pid, logs, temp files) lives in a fresh
temporary directory that close() removes (FERRY_KEEP_TMP=1 keeps it).
nginx comes from the Debian package nginx-light (scripts/install-deps).
tests/unit/test-block-http.c starts nginx the same way from C.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

START_TIMEOUT = 10.0    # seconds for nginx to answer on its port
STOP_TIMEOUT = 5.0      # seconds for a graceful stop before SIGKILL

_CONF = """\
{user}daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{
    worker_connections 256;
}}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


class NginxMissing(RuntimeError):
    pass


def find_nginx():
    """The nginx binary; raises NginxMissing with what to do if none."""
    path = shutil.which('nginx')
    if path is None and os.access('/usr/sbin/nginx', os.X_OK):
        path = '/usr/sbin/nginx'
    if path is None:
        raise NginxMissing('nginx is not installed (not in PATH nor '
                           '/usr/sbin/nginx): run scripts/install-deps '
                           '(Debian package nginx-light)')
    return path


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _answers(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.5):
            return True
    except OSError:
        return False


class WebServer:
    """nginx serving @root on 127.0.0.1:@port (a free port by default)."""

    def __init__(self, root, port=None):
        self.root = os.path.abspath(root)
        self.nginx = find_nginx()
        self.tmp = tempfile.mkdtemp(prefix='ferry-nginx-')
        self.port = None
        self.proc = None
        try:
            self._start(port)
        except BaseException:
            self.close()
            raise

    def _start(self, port):
        # A free port can be taken between the probe and nginx's bind:
        # then nginx exits at once, and another port is tried.
        for _ in range(5):
            self.port = port or _free_port()
            if self._try_start():
                return
            if port:
                break
        raise RuntimeError('nginx did not start on 127.0.0.1:%s: %s'
                           % (self.port, self.error_log()[-2000:]))

    def _try_start(self):
        conf = os.path.join(self.tmp, 'nginx.conf')
        user = 'user root;\n' if os.geteuid() == 0 else ''
        with open(conf, 'w') as f:
            f.write(_CONF.format(user=user, tmp=self.tmp, port=self.port,
                                 root=self.root))
        self.proc = subprocess.Popen(
            [self.nginx, '-p', self.tmp, '-c', conf,
             '-e', os.path.join(self.tmp, 'error.log')],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            if _answers(self.port):
                return True
            time.sleep(0.02)
        self._stop()
        raise RuntimeError('nginx did not answer on 127.0.0.1:%d within '
                           '%.0f s' % (self.port, START_TIMEOUT))

    def url(self, name=''):
        return 'http://127.0.0.1:%d/%s' % (self.port, name)

    def error_log(self):
        try:
            with open(os.path.join(self.tmp, 'error.log')) as f:
                return f.read()
        except OSError:
            return ''

    def _stop(self):
        if self.proc is None:
            return
        # SIGQUIT: graceful (workers finish their requests); SIGKILL if not.
        for sig, wait in ((signal.SIGQUIT, STOP_TIMEOUT),
                          (signal.SIGTERM, STOP_TIMEOUT),
                          (signal.SIGKILL, None)):
            try:
                self.proc.send_signal(sig)
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                break
        self.proc = None

    def close(self):
        """Stops nginx and removes its directory; safe to call twice."""
        self._stop()
        if self.tmp and not os.environ.get('FERRY_KEEP_TMP'):
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
