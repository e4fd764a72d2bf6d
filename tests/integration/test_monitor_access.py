"""Who can reach the monitor: a unix socket ferry creates is its owner's
alone (0600, made so before it listens), and a QMP socket reachable from
other hosts is allowed but warned about, naming the missing TLS."""

import os
import shutil
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.vm import FerryVM  # noqa: E402
from pylib.waits import free_port  # noqa: E402


class MonitorAccess(unittest.TestCase):

    def test_unix_sockets_are_owner_only(self):
        tmp = tempfile.mkdtemp(prefix='ferry-access-')
        self.addCleanup(shutil.rmtree, tmp, True)
        hmp = os.path.join(tmp, 'hmp.sock')
        chardev = os.path.join(tmp, 'chr.sock')
        with FerryVM(mem='64M', extra_args=[
                '-monitor', f'unix:{hmp},server=on,wait=off',
                '-chardev', f'socket,id=c0,path={chardev},server=on,'
                            'wait=off']) as vm:
            for path in (vm.qmp_path, hmp, chardev):
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600,
                                 path)

    def test_qmp_beyond_loopback_warns(self):
        port = free_port()
        with FerryVM(mem='64M', extra_args=[
                '-qmp', f'tcp:0.0.0.0:{port},server=on,wait=off']) as vm:
            self.assertIn('without TLS', vm.stderr_text())
            self.assertIn(f':{port}', vm.stderr_text())

    def test_loopback_qmp_does_not_warn(self):
        for host in ('127.0.0.1', 'localhost'):
            with self.subTest(host=host), FerryVM(mem='64M', extra_args=[
                    '-qmp', f'tcp:{host}:{free_port()},server=on,'
                            'wait=off']) as vm:
                self.assertNotIn('warning', vm.stderr_text())


if __name__ == '__main__':
    unittest.main()
