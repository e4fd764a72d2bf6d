"""Migration over TLS between two real ferry processes: precopy, postcopy
(with and without the preempt channel) and a postcopy cut and recovered,
all with the QEMU objects tls-creds-x509 / tls-creds-psk / authz-list and
the tls-creds, tls-hostname and tls-authz parameters.  Certificates are
made at test time with certtool.

Refusals are one table: each row is a peer that must not be accepted;
the source's migration fails with the reason in error-desc, the
destination fails and logs the handshake failure, and the source's guest
keeps running and verifies cleanly."""

import atexit
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
sys.path.insert(0, HERE)
from pylib.qmp import QMPError  # noqa: E402
from pylib.tlscerts import (CA, certtool_available, keyval_escape,  # noqa: E402
                            psk_dir)
from pylib.vm import FerryVM  # noqa: E402
from pylib.waits import free_port, wait_for  # noqa: E402
from test_migration import MigrationBase  # noqa: E402
from test_postcopy import PostcopyBase  # noqa: E402
from test_postcopy_recovery import RecoveryBase  # noqa: E402

SOURCE_CN = 'source.ferry.test'
PSK_USER = 'ferry'
PSK_KEY = '9a3f' * 8
WRONG_KEY = '17c0' * 8


class TlsFiles:
    """One set of credentials for the whole module (certtool is slow)."""
    tmp = None

    @classmethod
    def make(cls):
        if cls.tmp:
            return cls
        cls.tmp = tempfile.mkdtemp(prefix='ferry-tls-')
        # at exit: other modules (test_multifd) use the same credentials
        atexit.register(shutil.rmtree, cls.tmp, ignore_errors=True)
        good, other = CA(cls.tmp, 'ferry-ca'), CA(cls.tmp, 'other-ca')
        cls.server = good.issue(os.path.join(cls.tmp, 'server'), 'server',
                                'destination.ferry.test')
        cls.client = good.issue(os.path.join(cls.tmp, 'client'), 'client',
                                SOURCE_CN)
        # trusts only the other CA: the destination's certificate fails
        cls.client_wrong_ca = other.issue(
            os.path.join(cls.tmp, 'client-wrong-ca'), 'client', SOURCE_CN)
        cls.psk_server = psk_dir(cls.tmp, 'psk-server', PSK_USER, PSK_KEY)
        cls.psk_client = psk_dir(cls.tmp, 'psk-client', PSK_USER, PSK_KEY)
        cls.psk_wrong = psk_dir(cls.tmp, 'psk-wrong', PSK_USER, WRONG_KEY)
        return cls

    @classmethod
    def source_objects(cls):
        objs = [f'tls-creds-x509,id=tls0,dir={cls.client},endpoint=client',
                f'tls-creds-x509,id=tls-wrong-ca,dir={cls.client_wrong_ca},'
                f'endpoint=client',
                f'tls-creds-psk,id=psk0,dir={cls.psk_client},endpoint=client,'
                f'username={PSK_USER}',
                f'tls-creds-psk,id=psk-wrong,dir={cls.psk_wrong},'
                f'endpoint=client,username={PSK_USER}']
        return [a for o in objs for a in ('-object', o)]

    @classmethod
    def destination_objects(cls):
        # the DN as GnuTLS prints it (gnutls_x509_crt_get_dn), like QEMU
        allow = keyval_escape(f'O=ferry tests,CN={SOURCE_CN}')
        objs = [f'tls-creds-x509,id=tls0,dir={cls.server},endpoint=server,'
                f'verify-peer=on',
                f'tls-creds-psk,id=psk0,dir={cls.psk_server},endpoint=server',
                f'authz-list,id=auth-ok,policy=deny,rules.0.match={allow},'
                f'rules.0.policy=allow,rules.0.format=exact',
                'authz-list,id=auth-other,policy=deny,'
                'rules.0.match=CN=someone-else*,rules.0.policy=allow,'
                'rules.0.format=glob']
        return [a for o in objs for a in ('-object', o)]


def need_certtool(tc):
    if not certtool_available():
        tc.skipTest('certtool (Debian gnutls-bin) is not installed')
    TlsFiles.make()


def tls_sessions(vm):
    """How many TLS sessions @vm's migration core logged as established."""
    return vm.stderr_text().count('TLS session with')


def set_tls(vm, **params):
    vm.qmp.cmd('migrate-set-parameters',
               **{k.replace('_', '-'): v for k, v in params.items()})


class PrecopyTls(MigrationBase, unittest.TestCase):
    def setUp(self):
        need_certtool(self)
        try:
            super().setUp()
        except BaseException:
            self.tearDown()     # a VM that did start must not outlive us
            raise

    def start_vm(self, incoming=False, mem=None):
        extra = ['-incoming', 'defer'] if incoming else []
        extra += (TlsFiles.destination_objects() if incoming
                  else TlsFiles.source_objects())
        return FerryVM(accel=self.accel, mem=mem or self.mem, smp=2,
                       append=f'dirty-rate={self.rate}', paused=incoming,
                       extra_args=extra)

    def test_x509_with_allow_list(self):
        set_tls(self.src, tls_creds='tls0')
        set_tls(self.dst, tls_creds='tls0', tls_authz='auth-ok')
        port = free_port()
        info = self.migrate(f'tcp:127.0.0.1:{port}')
        self.assertEqual(info['status'], 'completed',
                         f"{info.get('error-desc')}; destination: "
                         f"{self.dst.stderr_text()[-1500:]}")
        self.assert_moved_intact(info)

    def test_psk(self):
        set_tls(self.src, tls_creds='psk0')
        set_tls(self.dst, tls_creds='psk0')
        info = self.migrate(f'tcp:127.0.0.1:{free_port()}')
        self.assert_moved_intact(info)
        self.assertEqual(tls_sessions(self.src), 1)

    def test_unix_socket_with_tls_hostname(self):
        """A unix: URI has no host: tls-hostname names the one to check."""
        set_tls(self.src, tls_creds='tls0', tls_hostname='localhost')
        set_tls(self.dst, tls_creds='tls0')
        path = os.path.join(self.dst.tmpdir, 'mig.sock')
        info = self.migrate(f'unix:{path}')
        self.assert_moved_intact(info)

    def test_objects_added_at_run_time(self):
        """As libvirt does for "virsh migrate --tls": object-add on both
        sides (the JSON form, with an allow list's rules as a list),
        migrate, then object-del."""
        allow = f'O=ferry tests,CN={SOURCE_CN}'
        self.src.qmp.cmd('object-add', **{
            'qom-type': 'tls-creds-x509', 'id': 'objlibvirt_migrate_tls0',
            'dir': TlsFiles.client, 'endpoint': 'client',
            'verify-peer': True})
        self.dst.qmp.cmd('object-add', **{
            'qom-type': 'tls-creds-x509', 'id': 'objlibvirt_migrate_tls0',
            'dir': TlsFiles.server, 'endpoint': 'server',
            'verify-peer': True})
        self.dst.qmp.cmd('object-add', **{
            'qom-type': 'authz-list', 'id': 'auth-added', 'policy': 'deny',
            'rules': [{'match': 'CN=nobody', 'policy': 'allow'},
                      {'match': allow, 'policy': 'allow',
                       'format': 'exact'}]})
        set_tls(self.src, tls_creds='objlibvirt_migrate_tls0')
        set_tls(self.dst, tls_creds='objlibvirt_migrate_tls0',
                tls_authz='auth-added')
        info = self.migrate(f'tcp:127.0.0.1:{free_port()}')
        self.assert_moved_intact(info)
        self.assertEqual(tls_sessions(self.src), 1)
        for vm in (self.src, self.dst):
            vm.qmp.cmd('object-del', id='objlibvirt_migrate_tls0')
            with self.assertRaises(QMPError) as cm:
                vm.qmp.cmd('object-del', id='objlibvirt_migrate_tls0')
            self.assertIn("object 'objlibvirt_migrate_tls0' not found",
                          str(cm.exception))

    BAD_OBJECT_ADD = [
        # arguments, what the error says
        ({'qom-type': 'tls-creds-x509', 'id': 'x', 'dir': '/nonexistent'},
         'needs dir= naming a directory'),
        ({'qom-type': 'tls-creds-x509', 'id': 'tls0', 'dir': '/'},
         "duplicate object id 'tls0'"),
        ({'qom-type': 'memory-backend-ram', 'id': 'm', 'size': 4096},
         "Parameter 'qom-type' does not accept value 'memory-backend-ram'"),
        ({'qom-type': 'secret', 'id': 's'},
         'secret objects are created only on the command line'),
        ({'qom-type': 'authz-list', 'id': 'a', 'rules': [{'match': 'CN=x'}]},
         "Parameter 'rules[0].policy' is missing"),
        ({'qom-type': 'tls-creds-psk', 'id': 'p', 'dir': '/',
          'priority': 'NORMAL'}, "'priority'"),
        ({'qom-type': 'tls-creds-x509', 'id': 'e', 'dir': '/',
          'endpoint': 'middle'}, "'endpoint'"),
    ]

    def test_bad_object_add(self):
        for args, words in self.BAD_OBJECT_ADD:
            with self.subTest(args=args):
                with self.assertRaises(QMPError) as cm:
                    self.src.qmp.cmd('object-add', **args)
                self.assertIn(words, str(cm.exception))
        self.assertEqual(self.src.qmp.cmd('query-status')['status'],
                         'running')

    # --- refused before anything is sent ---------------------------------

    def test_missing_objects_refused_at_migrate(self):
        cases = [
            # (vm, parameters, command, expected words)
            (self.src, {'tls_creds': 'nosuch'}, 'migrate',
             "No TLS credentials object with id 'nosuch'"),
            (self.src, {'tls_creds': 'tls0', 'tls_authz': 'nosuch'},
             'migrate', "No authorization object with id 'nosuch'"),
            (self.dst, {'tls_creds': 'nosuch'}, 'migrate-incoming',
             "No TLS credentials object with id 'nosuch'"),
            (self.src, {'tls_creds': 'tls0', 'tls_authz': ''}, 'unix',
             'set tls-hostname'),
        ]
        for vm, params, cmd, words in cases:
            with self.subTest(cmd=cmd, params=params):
                set_tls(vm, **{'tls_creds': '', 'tls_hostname': '',
                               'tls_authz': '', **params})
                uri = f'tcp:127.0.0.1:{free_port()}'
                if cmd == 'unix':
                    cmd, uri = 'migrate', 'unix:/nonexistent/ferry.sock'
                with self.assertRaises(QMPError) as cm:
                    vm.qmp.cmd(cmd, uri=uri)
                self.assertIn(words, str(cm.exception))
        self.assertEqual(self.src.qmp.cmd('query-status')['status'],
                         'running')

    def test_server_endpoint_refused_on_the_source(self):
        self.src.close()
        self.src = FerryVM(accel=self.accel, mem=self.mem, smp=2,
                           append=f'dirty-rate={self.rate}',
                           extra_args=TlsFiles.destination_objects())
        set_tls(self.src, tls_creds='tls0')
        with self.assertRaises(QMPError) as cm:
            self.src.qmp.cmd('migrate', uri=f'tcp:127.0.0.1:{free_port()}')
        self.assertIn('endpoint=client', str(cm.exception))

    # --- refused in the handshake: one table ------------------------------

    REFUSALS = [
        # name, source parameters, destination parameters,
        # what the source's error-desc says
        ('wrong CA', {'tls_creds': 'tls-wrong-ca'}, {'tls_creds': 'tls0'},
         "the peer's certificate is refused"),
        ('wrong hostname', {'tls_creds': 'tls0',
                            'tls_hostname': 'elsewhere.example'},
         {'tls_creds': 'tls0'}, "the peer's certificate is refused"),
        ('DN not in the allow list', {'tls_creds': 'tls0'},
         {'tls_creds': 'tls0', 'tls_authz': 'auth-other'},
         'the peer refused the connection'),
        ('PSK with a wrong key', {'tls_creds': 'psk-wrong'},
         {'tls_creds': 'psk0'}, 'the peer refused the connection'),
        ('plain source, TLS destination', {}, {'tls_creds': 'tls0'}, None),
    ]

    def test_refusals(self):
        for name, src_params, dst_params, words in self.REFUSALS:
            with self.subTest(name):
                self.refused(src_params, dst_params, words)

    def refused(self, src_params, dst_params, words):
        if self.dst is None or self.dst.proc.poll() is not None or \
                self.dst.qmp.cmd('query-migrate').get('status') not in \
                (None, 'none'):
            if self.dst:
                self.dst.close()
            self.dst = self.start_vm(incoming=True)
        blank = {'tls_creds': '', 'tls_hostname': '', 'tls_authz': ''}
        set_tls(self.src, **{**blank, **src_params})
        set_tls(self.dst, **{**blank, **dst_params})
        uri = f'tcp:127.0.0.1:{free_port()}'
        self.dst.qmp.cmd('migrate-incoming', uri=uri,
                         **{'exit-on-error': False})
        self.src.qmp.cmd('migrate', uri=uri)
        info = self.wait_end(self.src)
        self.assertEqual(info['status'], 'failed', info)
        if words:
            self.assertIn(words, info.get('error-desc', ''), info)
            self.assertIn('TLS handshake', info['error-desc'])
        self.assertTrue(wait_for(
            lambda: self.dst.qmp.cmd('query-migrate').get('status') ==
            'failed', 30), self.dst.qmp.cmd('query-migrate'))
        if words:
            self.assertIn('TLS handshake', self.dst.qmp.cmd(
                'query-migrate').get('error-desc', ''))
        self.assertTrue(wait_for(
            lambda: 'TLS handshake' in self.dst.stderr_text(), 10),
            self.dst.stderr_text()[-2000:])
        self.assert_source_runs_intact()


class TlsPostcopyMixin:
    def setUp(self):
        need_certtool(self)
        super().setUp()
        set_tls(self.src, tls_creds='tls0')
        set_tls(self.dst, tls_creds='tls0', tls_authz='auth-ok')

    def start_vm(self, smp, incoming=False):
        extra = ['-incoming', 'defer'] if incoming else []
        extra += (TlsFiles.destination_objects() if incoming
                  else TlsFiles.source_objects())
        return FerryVM(accel=self.accel, mem=self.mem, smp=smp,
                       append=f'dirty-rate={self.rate}', paused=incoming,
                       extra_args=extra)


    def assert_tls_channels(self, n):
        """Both sides shook hands on at least @n channels."""
        for vm in (self.src, self.dst):
            self.assertGreaterEqual(tls_sessions(vm), n,
                                    vm.stderr_text()[-2000:])


class PostcopyTls(TlsPostcopyMixin, PostcopyBase, unittest.TestCase):
    def test_postcopy(self):
        self.start()
        self.start_postcopy()
        self.cont_destination_when_active()
        self.assert_completed_and_verified()
        self.assert_tls_channels(1)


class PostcopyPreemptTls(TlsPostcopyMixin, PostcopyBase, unittest.TestCase):
    preempt = True

    def test_postcopy_preempt(self):
        self.start()
        self.start_postcopy()
        self.cont_destination_when_active()
        self.assert_completed_and_verified()
        self.assert_tls_channels(2)     # the main and the preempt channel


class TlsRecoveryMixin(TlsPostcopyMixin):
    channels = 2                # the first stream and the resumed one

    def test_cut_and_recovered(self):
        self.start_postcopy_migration()
        self.cut()
        self.unthrottle()
        self.wait_recovered(self.recover())
        self.finish()
        self.assert_tls_channels(self.channels)


class RecoveryTls(TlsRecoveryMixin, RecoveryBase, unittest.TestCase):
    pass


class RecoveryPreemptTls(TlsRecoveryMixin, RecoveryBase, unittest.TestCase):
    preempt = True
    channels = 4                # main and preempt, twice


if __name__ == '__main__':
    unittest.main()
