"""Migration settings over QMP, including the exact messages libvirt 9.0
sends before a migration (recorded in
tests/data/libvirt/01-precopy.source.qmp.txt)."""

import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.vm import FerryVM, default_accel  # noqa: E402
from pylib.qmp import QMPError  # noqa: E402

LIBVIRT_CAPS = [
    ('xbzrle', False), ('auto-converge', False), ('rdma-pin-all', False),
    ('postcopy-ram', False), ('compress', False),
    ('pause-before-switchover', True), ('late-block-activate', False),
    ('multifd', False), ('dirty-bitmaps', False), ('return-path', True),
    ('zero-copy-send', False)]


class MigrationSettings(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vm = FerryVM(accel=default_accel(), mem='64M', append='dirty-rate=0')

    @classmethod
    def tearDownClass(cls):
        cls.vm.close()

    def setUp(self):
        self.qmp = self.vm.qmp
        caps = self.qmp.cmd('query-migrate-capabilities')
        self.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': c['capability'], 'state': False} for c in caps])

    def caps(self):
        return {c['capability']: c['state']
                for c in self.qmp.cmd('query-migrate-capabilities')}

    def test_idle_query_migrate_is_empty(self):
        self.assertEqual(self.qmp.cmd('query-migrate'), {})

    def test_capabilities_listed(self):
        """Only what ferry can enable is listed: libvirt then refuses
        --compressed (xbzrle) before it starts a migration, and accepts
        --parallel (multifd)."""
        caps = self.caps()
        for name in ('events', 'return-path', 'pause-before-switchover',
                     'auto-converge', 'postcopy-ram', 'late-block-activate',
                     'multifd', 'zero-copy-send'):
            self.assertIn(name, caps)
        for name in ('xbzrle', 'compress', 'rdma-pin-all', 'dirty-bitmaps'):
            self.assertNotIn(name, caps)
        self.assertFalse(any(caps.values()))
        for name in caps:       # every listed one can be enabled
            self.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'return-path', 'state': True},
                {'capability': 'postcopy-ram', 'state': True},
                {'capability': 'multifd', 'state': True},
                {'capability': name, 'state': True}])
            self.assertTrue(self.caps()[name], name)
            self.setUp()

    def test_libvirt_capability_list(self):
        """The recorded list, as libvirt builds it against ferry: only
        the capabilities ferry lists; and the recorded one as it was
        (unlisted ones off are accepted too)."""
        listed = self.caps()
        for caps in ([(c, s) for c, s in LIBVIRT_CAPS if c in listed],
                     LIBVIRT_CAPS):
            self.setUp()
            self.qmp.cmd('migrate-set-capabilities',
                         capabilities=[{'capability': 'events', 'state': True}])
            self.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': c, 'state': s} for c, s in caps])
            got = self.caps()
            self.assertTrue(got['pause-before-switchover'])
            self.assertTrue(got['return-path'])
            self.assertTrue(got['events'])
            self.assertFalse(got['late-block-activate'])

    def test_unsupported_capability_refused_whole_list(self):
        with self.assertRaises(QMPError) as cm:
            self.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'events', 'state': True},
                {'capability': 'xbzrle', 'state': True}])
        self.assertIn("'xbzrle'", cm.exception.desc)
        self.assertFalse(self.caps()['events'])     # nothing applied

    def test_unknown_capability_name(self):
        with self.assertRaises(QMPError) as cm:
            self.qmp.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'no-such-thing', 'state': True}])
        self.assertEqual(cm.exception.error_class, 'GenericError')

    def test_parameters_defaults_and_libvirt_round_trip(self):
        p = self.qmp.cmd('query-migrate-parameters')
        self.assertEqual(p['downtime-limit'], 300)
        self.assertEqual(p['max-bandwidth'], 0)
        self.assertEqual(p['tls-creds'], '')
        # what libvirt sends, then what it sends back after the job
        self.qmp.cmd('migrate-set-parameters', **{
            'tls-creds': '', 'tls-hostname': '',
            'max-bandwidth': 9223372036853727232})
        self.assertEqual(self.qmp.cmd('query-migrate-parameters')['max-bandwidth'],
                         9223372036853727232)
        self.qmp.cmd('migrate-set-parameters', **p)
        self.assertEqual(self.qmp.cmd('query-migrate-parameters'), p)

    def test_parameters_report_every_member(self):
        """Every member of MigrationParameters is optional (so that
        migrate-set-parameters takes any of them), but the query reports
        them all, and migrate-set-parameters takes that same type."""
        schema = {e['name']: e for e in self.qmp.cmd('query-qmp-schema')}
        ret = schema[schema['query-migrate-parameters']['ret-type']]
        self.assertEqual(schema['migrate-set-parameters']['arg-type'],
                         ret['name'])
        names = [m['name'] for m in ret['members']]
        self.assertEqual(len(names), 29)
        self.assertEqual(list(self.qmp.cmd('query-migrate-parameters')),
                         names)

    def test_bad_parameters_refused_atomically(self):
        before = self.qmp.cmd('query-migrate-parameters')
        for args, word in (({'downtime-limit': 2000001}, 'downtime-limit'),
                           ({'cpu-throttle-initial': 0}, 'cpu-throttle-initial'),
                           ({'cpu-throttle-increment': 100}, 'cpu-throttle-increment'),
                           ({'max-bandwidth': 1 << 63}, 'max-bandwidth'),
                           ({'max-bandwidth': 5, 'max-cpu-throttle': 0},
                            'max-cpu-throttle')):
            with self.assertRaises(QMPError, msg=str(args)) as cm:
                self.qmp.cmd('migrate-set-parameters', **args)
            self.assertIn(word, cm.exception.desc)
        self.assertEqual(self.qmp.cmd('query-migrate-parameters'), before)

    def test_getfd_closefd(self):
        c = self.vm.new_client()
        r, w = os.pipe()
        try:
            socket.send_fds(c.sock, [b'{"execute": "getfd", "arguments": '
                                     b'{"fdname": "migrate"}, "id": 1}'], [w])
            self.assertEqual(c.recv(), {'return': {}, 'id': 1})
            c.cmd('closefd', fdname='migrate')
            with self.assertRaises(QMPError):
                c.cmd('closefd', fdname='migrate')
        finally:
            os.close(r)
            os.close(w)

    def test_getfd_without_fd(self):
        with self.assertRaises(QMPError) as cm:
            self.qmp.cmd('getfd', fdname='migrate')
        self.assertIn('SCM_RIGHTS', cm.exception.desc)


if __name__ == '__main__':
    unittest.main()
