"""Real libvirt 9.0 manages and migrates ferry: two private daemons
(tests/libvirt-lab) on loopback, a domain whose emulator is this
checkout's ferry, running the test guest with a pvblk disk.  The steps
run in order on one domain, as an operator would use it, and each ends
with the guest's verifier (0 corrupt pages and sectors, no disk errors,
one boot) read through libvirt's own monitor connection."""

import os
import random
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib import libvirt_lab as lab  # noqa: E402
from pylib.tlscerts import CA, certtool_available  # noqa: E402

DOM = 'ferry1'


def can_raise_memlock():
    """virsh migrate --zerocopy makes libvirt raise the emulator's
    RLIMIT_MEMLOCK to the guest's size, which takes CAP_SYS_RESOURCE."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('CapEff:'):
                return bool(int(line.split()[1], 16) & (1 << 24))
    return False


class LibvirtManagesFerry(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        why = lab.missing()
        if why:
            raise unittest.SkipTest(why)
        cls.tmp = tempfile.mkdtemp(prefix='ferry-libvirt-')
        lab_dir = os.path.join(cls.tmp, 'lab')
        tls = cls.make_tls_dir() if certtool_available() else None
        base = random.randrange(20000, 40000, 100)
        cls.a = lab.Daemon(lab_dir, 'A', base, '5a1e0000-0000-4000-8000-00000000000a',
                           (base + 10, base + 29), '127.0.0.2', tls)
        cls.b = lab.Daemon(lab_dir, 'B', base + 1,
                           '5a1e0000-0000-4000-8000-00000000000b',
                           (base + 30, base + 49), '127.0.0.3', tls)
        cls.run_dir = os.path.join(cls.tmp, 'run')
        try:
            cls.a.start()
            cls.b.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def make_tls_dir(cls):
        """One directory both daemons use for migrate --tls: each is a
        server (destination) and a client (source); libvirt names the
        destination by its migration address, so the server certificate
        carries both."""
        ca = CA(cls.tmp, 'lab-ca')
        tls = os.path.join(cls.tmp, 'tls')
        ca.issue(tls, 'server', 'lab-destination',
                 hosts=('127.0.0.2', '127.0.0.3'))
        ca.issue(tls, 'client', 'lab-source', hosts=('127.0.0.1',))
        return tls

    @classmethod
    def tearDownClass(cls):
        for d in (getattr(cls, 'a', None), getattr(cls, 'b', None)):
            if d:
                d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- helpers ---------------------------------------------------------

    def where(self):
        """The daemon the domain runs under now."""
        for d in (self.a, self.b):
            if d.running(DOM):
                return d
        self.fail(f'{DOM} runs nowhere')

    def workload(self, d, dom=DOM):
        return d.qmp(dom, 'x-query-workload')

    def assert_intact(self, d=None, dom=DOM):
        """One more full verify pass, clean, in the same boot."""
        d = d or self.where()
        before = self.workload(d, dom)
        done = lab.wait(lambda: self.workload(d, dom)['full-verify-passes'] >
                        before['full-verify-passes'], 120, 0.5)
        w = self.workload(d, dom)
        self.assertTrue(done, f'no verify pass on {d.name}: {w}')
        for key in ('corrupt-pages', 'corrupt-sectors', 'disk-io-errors'):
            self.assertEqual(w[key], 0, f'{key}: {w}')
        self.assertEqual(w['boots'], 1, w)
        self.assertGreater(w['disk-sectors-verified'], 0, w)
        return w

    def migrate(self, src, dst, *flags):
        src.virsh('migrate', '--live', '--unsafe', *flags, DOM, dst.uri)
        self.assertFalse(src.running(DOM))
        self.assertEqual(dst.state(DOM), 'running (migrated)')

    def wait_job(self, d, timeout=60):
        """Until the domain's migration job has moved some data."""
        def progress():
            r = d.virsh('domjobinfo', DOM, check=False)
            for line in r.stdout.splitlines():
                if line.startswith('Data processed:') and \
                        not line.split(':', 1)[1].strip().startswith('0'):
                    return True
            return False
        self.assertTrue(lab.wait(progress, timeout), 'the job never moved')

    # --- the steps, in order ---------------------------------------------

    def test_01_create(self):
        xml = lab.write_domain(self.run_dir, DOM)
        self.a.virsh('create', xml)
        self.assertEqual(self.a.state(DOM), 'running (booted)')
        self.assert_intact(self.a)
        status = self.a.qmp(DOM, 'query-status')
        self.assertEqual(status['status'], 'running')
        # vCPU threads as libvirt sees them (query-cpus-fast's thread ids)
        info = self.a.virsh('vcpuinfo', DOM).stdout
        self.assertEqual(info.count('State:          running'), 2, info)
        self.assertIn('CPU Affinity:', info)

    def test_02_suspend_resume(self):
        self.a.virsh('suspend', DOM)
        self.assertTrue(self.a.state(DOM).startswith('paused'))
        frozen = self.workload(self.a)['pages-written']
        time.sleep(1)
        self.assertEqual(self.workload(self.a)['pages-written'], frozen)
        self.a.virsh('resume', DOM)
        self.assert_intact(self.a)

    def test_03_precopy_a_to_b(self):
        self.migrate(self.a, self.b)
        self.assert_intact(self.b)

    def test_03b_precopy_tls_round_trip(self):
        """virsh migrate --tls: libvirt adds tls-creds-x509 objects on both
        sides with object-add, sets tls-creds and tls-hostname, and
        deletes the objects after."""
        if not self.a.tls_dir:
            self.skipTest('certtool (Debian gnutls-bin) is not installed')
        for src, dst in ((self.b, self.a), (self.a, self.b)):
            self.migrate(src, dst, '--tls')
            self.assert_intact(dst)
        for d in (self.a, self.b):
            log = d.log()
            self.assertIn('"qom-type":"tls-creds-x509"', log)
            self.assertIn('"execute":"object-del"', log)

    def test_03c_parallel_round_trip(self):
        """virsh migrate --parallel: libvirt turns multifd on on both sides
        and sets multifd-channels; with --zerocopy also zero-copy-send on
        the source.  --compressed (xbzrle in libvirt 9.0) is refused before
        anything starts, since ferry does not list that capability."""
        for src, dst in ((self.b, self.a), (self.a, self.b)):
            self.migrate(src, dst, '--parallel', '--parallel-connections',
                         '3')
            self.assert_intact(dst)
        for d in (self.a, self.b):
            log = d.log()
            self.assertIn('"capability":"multifd","state":true', log)
            self.assertIn('"multifd-channels":3', log)
        r = self.b.virsh('migrate', '--live', '--unsafe', '--compressed', DOM,
                         self.a.uri, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('not supported', r.stderr.lower(), r.stderr)
        self.assertEqual(self.b.state(DOM), 'running (migrated)')
        self.assert_intact(self.b)
        if not can_raise_memlock():
            # libvirt raises the emulator's locked-memory limit to the
            # guest's size before anything else (prlimit), which takes
            # CAP_SYS_RESOURCE: without it libvirt refuses and ferry is
            # never asked; the guest must keep running where it was
            r = self.b.virsh('migrate', '--live', '--unsafe', '--parallel',
                             '--zerocopy', DOM, self.a.uri, check=False)
            self.assertIn('cannot limit locked memory', r.stderr)
            self.assertEqual(self.b.state(DOM), 'running (migrated)')
            self.assert_intact(self.b)
        else:
            for src, dst in ((self.b, self.a), (self.a, self.b)):
                self.migrate(src, dst, '--parallel', '--zerocopy')
                self.assert_intact(dst)
            self.assertIn('"capability":"zero-copy-send","state":true',
                          self.b.log())

    def postcopies(self, d):
        """How many times libvirt switched this daemon's migrations to
        postcopy (its log has every QMP message)."""
        return sum('QEMU_MONITOR_SEND_MSG' in line and
                   '"execute":"migrate-start-postcopy"' in line
                   for line in d.log().splitlines())

    def test_04_postcopy_b_to_a(self):
        before = self.postcopies(self.b)
        # the bandwidth keeps precopy from finishing before postcopy starts
        self.migrate(self.b, self.a, '--postcopy', '--postcopy-after-precopy',
                     '--bandwidth', '64')
        self.assertEqual(self.postcopies(self.b), before + 1)
        self.assert_intact(self.a)

    def test_05_postcopy_pause_and_resume(self):
        job = self.a.start_virsh('migrate', '--live', '--unsafe', '--postcopy',
                                 '--postcopy-after-precopy', '--bandwidth',
                                 '64', '--postcopy-bandwidth', '1', DOM,
                                 self.b.uri)
        in_postcopy = lab.wait(lambda: 'post-copy' in (self.a.state(DOM) or ''),
                               120)
        self.assertTrue(in_postcopy, self.a.state(DOM))
        self.a.virsh('domjobabort', '--postcopy', DOM)
        job.wait(timeout=120)
        self.assertIn('"execute":"migrate-pause"', self.a.log())
        self.assertTrue(lab.wait(lambda: 'post-copy failed' in
                                 (self.a.state(DOM) or ''), 60),
                        self.a.state(DOM))
        self.a.virsh('migrate', '--live', '--unsafe', '--postcopy',
                     '--postcopy-resume', '--postcopy-bandwidth', '1024', DOM,
                     self.b.uri)
        self.assertTrue(lab.wait(lambda: not self.a.running(DOM), 60))
        self.assertTrue(lab.wait(lambda: self.b.state(DOM) ==
                                 'running (migrated)', 60), self.b.state(DOM))
        self.assert_intact(self.b)

    def test_06_precopy_cancelled(self):
        job = self.b.start_virsh('migrate', '--live', '--unsafe',
                                 '--bandwidth', '2', DOM, self.a.uri)
        self.wait_job(self.b)
        self.b.virsh('domjobabort', DOM)
        _, err = job.communicate(timeout=120)
        self.assertNotEqual(job.returncode, 0)
        self.assertIn('cancel', err.lower())
        self.assertTrue(self.b.running(DOM))
        self.assertFalse(self.a.running(DOM))
        self.assert_intact(self.b)

    def test_07_save_restore(self):
        image = os.path.join(self.run_dir, f'{DOM}.save')
        self.b.virsh('save', DOM, image)
        self.assertFalse(self.b.running(DOM))
        self.b.virsh('restore', image)
        self.assertTrue(self.b.state(DOM).startswith('running'))
        self.assert_intact(self.b)

    def test_08_libvirtd_restart(self):
        self.b.stop(keep_domains=True)
        self.b.start()
        self.assertTrue(self.b.running(DOM), self.b.state(DOM))
        self.assert_intact(self.b)

    def test_09_shutdown(self):
        self.b.virsh('shutdown', DOM)
        self.assertTrue(lab.wait(lambda: not self.b.running(DOM), 60),
                        self.b.state(DOM))

    def test_10_destroy(self):
        xml = lab.write_domain(self.run_dir, 'ferry2')
        self.a.virsh('create', xml)
        self.assert_intact(self.a, 'ferry2')
        self.a.virsh('destroy', 'ferry2')
        self.assertFalse(self.a.running('ferry2'))


if __name__ == '__main__':
    unittest.main()
