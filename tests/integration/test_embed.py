"""The migration core as a library: `make install PREFIX=DIR` installs
libferry-migration and libferry-block (static and shared, with sonames),
their public headers and pkg-config files; the installed libraries export
their API only; and examples/embed, a VMM of its own built out of tree
from the installed files alone, migrates between two processes in precopy
and in postcopy with equal RAM digests."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.vm import build_dir  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# Names the old singletons had: none may be exported again.
OLD_GLOBALS = {'out', 'inc', 'pc', 'current', 'now_ms', 'cancelled',
               'emit_passes', 'record_error', 'stop_guest', 'mig_fd_lookup'}


def exported(path, dynamic=False):
    args = ['nm', '-D' if dynamic else '-g', '--defined-only', path]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in out.stdout.splitlines()
            if len(line.split()) == 3}


def undefined(path):
    out = subprocess.run(['nm', '-u', path], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


class Installed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='ferry-embed-')
        cls.prefix = os.path.join(cls.tmp, 'prefix')
        build = os.path.relpath(build_dir(), ROOT)
        subprocess.run(['make', '-s', f'BUILD={build}', 'install',
                        f'PREFIX={cls.prefix}'], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        cls.lib = os.path.join(cls.prefix, 'lib')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_layout(self):
        for name in ('migration', 'block'):
            for f in (f'libferry-{name}.a', f'libferry-{name}.so.1.0.0',
                      f'pkgconfig/ferry-{name}.pc'):
                self.assertTrue(os.path.exists(os.path.join(self.lib, f)), f)
            self.assertEqual(os.readlink(os.path.join(
                self.lib, f'libferry-{name}.so.1')), f'libferry-{name}.so.1.0.0')
        inc = os.path.join(self.prefix, 'include', 'ferry')
        for h in ('migration.h', 'vmstate.h', 'block.h', 'api.h',
                  'migration-types.h', 'qapi/qapi-types-migration.h'):
            self.assertTrue(os.path.exists(os.path.join(inc, h)), h)
        soname = subprocess.run(
            ['objdump', '-p', os.path.join(self.lib, 'libferry-migration.so')],
            capture_output=True, text=True, check=True).stdout
        self.assertRegex(soname, r'SONAME\s+libferry-migration\.so\.1\b')

    def test_only_the_api_is_exported(self):
        prefixes = {'migration': ('ferry_',), 'block': ('bdrv_', 'blockdev_')}
        for name, allowed in prefixes.items():
            for path, dyn in ((f'libferry-{name}.a', False),
                              (f'libferry-{name}.so', True)):
                syms = exported(os.path.join(self.lib, path), dyn)
                self.assertTrue(syms, path)
                stray = sorted(s for s in syms if not s.startswith(allowed))
                self.assertEqual(stray, [], path)
                self.assertFalse(syms & OLD_GLOBALS, path)
        self.assertIn('ferry_mig_new', exported(
            os.path.join(self.lib, 'libferry-migration.a')))

    def test_no_qmp_inside(self):
        for name in ('migration', 'block'):
            syms = undefined(os.path.join(self.lib, f'libferry-{name}.a'))
            qmp = sorted(s for s in syms if re.match(r'(qmp_|qapi_event_)', s))
            self.assertEqual(qmp, [], name)

    def run_example(self, link):
        # Out of tree: a copy of the example, the installed package only.
        src = os.path.join(self.tmp, f'embed-{link}')
        shutil.copytree(os.path.join(ROOT, 'examples', 'embed'), src)
        env = dict(os.environ, FERRY_LINK=link, PKG_CONFIG_PATH=os.path.join(
            self.lib, 'pkgconfig'))
        r = subprocess.run(['sh', os.path.join(src, 'run.sh')], env=env,
                           capture_output=True, text=True, timeout=240)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for mode in ('precopy', 'postcopy'):
            self.assertIn(f'{mode}: digests equal', r.stdout)
            digests = re.findall(rf'^{mode}: (?:source|dest) +(\S+)', r.stdout,
                                 re.M)
            self.assertEqual(len(digests), 2, r.stdout)
            self.assertEqual(digests[0], digests[1])

    def test_example_vmm_shared(self):
        self.run_example('shared')

    def test_example_vmm_static(self):
        self.run_example('static')


if __name__ == '__main__':
    unittest.main()
