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


# A program of an embedder's: a bridge to a one-shot fake agent on a
# socketpair, one call.
AGENT_USER = r"""
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <ferry/agent.h>

static gpointer fake(gpointer opaque)
{
    int fd = GPOINTER_TO_INT(opaque);
    char buf[512] = { 0 }, reply[600];
    char *id;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);

    id = n > 0 ? strstr(buf, "\"id\":\"") : NULL;
    if (!id) {
        return NULL;
    }
    id += strlen("\"id\":\"");
    *strchr(id, '"') = 0;
    snprintf(reply, sizeof(reply), "{\"return\": {}, \"id\": \"%s\"}\n",
             id);
    (void)!write(fd, reply, strlen(reply));
    return NULL;
}

int main(void)
{
    int sv[2];
    GError *err = NULL;
    FerryAgent *a;
    JsonNode *ret;

    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    g_thread_unref(g_thread_new("fake", fake, GINT_TO_POINTER(sv[1])));
    a = ferry_agent_new(sv[0], &err);
    ret = a ? ferry_agent_call(a, "guest-ping", NULL, 10000, &err) : NULL;
    if (!ret) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    printf("pong %s\n", json_to_string(ret, FALSE));
    ferry_agent_free(a);
    return 0;
}
"""


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

    def test_agent_library(self):
        """libferry-agent: installed three ways, ferry_agent_* only, and a
        program built out of tree with `pkg-config ferry-agent` calls a
        (fake) agent through it, linked shared and static."""
        for f in ('libferry-agent.a', 'libferry-agent.so.1.0.0',
                  'pkgconfig/ferry-agent.pc'):
            self.assertTrue(os.path.exists(os.path.join(self.lib, f)), f)
        self.assertTrue(os.path.exists(os.path.join(
            self.prefix, 'include', 'ferry', 'agent.h')))
        for path, dyn in (('libferry-agent.a', False),
                          ('libferry-agent.so', True)):
            syms = exported(os.path.join(self.lib, path), dyn)
            self.assertIn('ferry_agent_resume_on_conn', syms, path)
            self.assertEqual(sorted(s for s in syms
                                    if not s.startswith('ferry_agent_')),
                             [], path)
        src = os.path.join(self.tmp, 'agent-user.c')
        with open(src, 'w') as f:
            f.write(AGENT_USER)
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.lib,
                                                            'pkgconfig'))
        for static in (False, True):
            flags = ['--static'] if static else []
            pc = subprocess.run(['pkg-config', '--cflags', '--libs'] + flags +
                                ['ferry-agent'], env=env, capture_output=True,
                                text=True, check=True).stdout.split()
            exe = os.path.join(self.tmp, f'agent-user-{int(static)}')
            link = ([os.path.join(self.lib, 'libferry-agent.a')]
                    if static else [])
            subprocess.run(['cc', '-o', exe, src] + link + pc, check=True)
            r = subprocess.run([exe], capture_output=True, text=True,
                               timeout=30,
                               env=dict(os.environ,
                                        LD_LIBRARY_PATH=self.lib))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn('pong {}', r.stdout)

    def test_example_vmm_shared(self):
        self.run_example('shared')

    def test_example_vmm_static(self):
        self.run_example('static')


if __name__ == '__main__':
    unittest.main()
