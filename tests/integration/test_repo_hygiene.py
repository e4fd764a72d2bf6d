"""The repository must work from a fresh clone alone: no tracked file may
name a directory of a development machine (the top-level work folder, root's
or a user's home) or the shared folder that sits beside our checkouts.

Such a reference works only where it was written.  A test that reads data
through it skips or fails everywhere else, and a doc that points there
sends the reader to a file they do not have.

System paths a program uses at run time (/dev/kvm, /proc, /sys, /tmp,
/usr/bin, /etc/libvirt ...) are the same on every machine and are fine.

The patterns are assembled from pieces, so that this file, which is tracked
too, does not match them itself.
"""

import os
import re
import subprocess
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# A path is absolute when its slash does not continue a word, a relative
# path or a variable ('guest/workload' and '$TOP/x' are not matches), or
# when it follows a URL scheme (file:///...).
_START = r'(?:(?<=://)|(?<![\w.~$}/-]))'
_WORK, _ROOT, _HOME, _USERS = ('wo' + 'rk', 'ro' + 'ot', 'ho' + 'me',
                               'Us' + 'ers')
MACHINE_PATH = re.compile(
    _START + '/(?:' + _WORK + '|' + _ROOT + r')(?![\w.-])' +
    '|' + _START + '/(?:' + _HOME + '|' + _USERS + r')/[\w.-]+')
SHARED_DIR = re.compile(r'\.\.[/\\]' + 'sha' + r'red\b')


def offences(text):
    """(line number, matched text) for each forbidden reference in @text."""
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        for rx in (MACHINE_PATH, SHARED_DIR):
            found += [(n, m.group(0)) for m in rx.finditer(line)]
    return found


def tracked_files():
    """The files git tracks (None when this is not a git checkout)."""
    try:
        out = subprocess.run(['git', '-C', REPO, 'ls-files', '-z'],
                             capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return [p for p in out.stdout.decode('utf-8', 'surrogateescape')
            .split('\0') if p]


class Patterns(unittest.TestCase):
    """What counts as a machine path, on made-up lines."""

    def assertFlags(self, line):
        self.assertTrue(offences(line), f'not flagged: {line!r}')

    def assertPasses(self, line):
        self.assertEqual(offences(line), [], line)

    def test_flags_machine_paths(self):
        work, root = '/' + _WORK, '/' + _ROOT
        for line in (f'see {work}/shared/NOTES.md', f"'{work}/x'",
                     f'{root}/.cache/x', f'cd {root}', f'({work})',
                     f'/{_HOME}/alice/src', f'"/{_USERS}/bob/ferry"',
                     f'file://{work}/a'):
            self.assertFlags(line)

    def test_flags_the_shared_folder(self):
        self.assertFlags('read ../' + 'shared/libvirt/README.md')
        self.assertFlags('..\\' + 'shared')

    def test_passes_system_and_relative_paths(self):
        for line in ('/dev/kvm', '/dev/userfaultfd', '/usr/bin/env python3',
                     '/proc/self/stat', '/sys/module/kvm_pvm',
                     '/tmp/dst.sock', '/etc/libvirt', '/var/lib/libvirt',
                     '/run/libvirt', '/usr/sbin/nologin',
                     'guest/' + _WORK + 'load/workload.c',
                     'tests/' + _WORK + '/a', '$TOP/' + _WORK + '/a',
                     '~/' + _WORK + '/a', '/' + _WORK + 'load',
                     '/' + _ROOT + 'fs/boot', '/' + _WORK + '-tree',
                     'tests/data/shared',
                     './' + 'shared'):
            self.assertPasses(line)


class Tree(unittest.TestCase):
    def test_no_machine_paths_in_tracked_files(self):
        files = tracked_files()
        if files is None:
            self.skipTest('git is missing or this is not a git checkout: '
                          'cannot list the tracked files')
        bad = []
        for rel in files:
            path = os.path.join(REPO, rel)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, 'rb') as f:
                data = f.read()
            if b'\0' in data:
                continue            # binary: no paths a reader follows
            text = data.decode('utf-8', 'replace')
            bad += [f'{rel}:{n}: {what}' for n, what in offences(text)]
        self.assertEqual(bad, [], 'paths that exist only on a development '
                         'machine (use a path relative to the checkout):\n'
                         + '\n'.join(bad))


if __name__ == '__main__':
    unittest.main()
