"""Every QMP command's happy path and its documented errors, against a
running VM: run state, version, command list, introspection, the x-
commands and human-monitor-command."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.vm import FerryVM, default_accel  # noqa: E402
from pylib.qmp import QMPError  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
COMMANDS = {'qmp_capabilities', 'query-version', 'query-commands', 'quit',
            'query-qmp-schema', 'query-status', 'stop', 'cont',
            'human-monitor-command', 'x-query-workload', 'x-ram-digest',
            'x-poke'}
NOT_RAM = 1 << 44


def vm(**kwargs):
    kwargs.setdefault('mem', '64M')
    return FerryVM(accel=default_accel(), **kwargs)


class RunningVMTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vm = vm()
        cls.qmp = cls.vm.qmp

    @classmethod
    def tearDownClass(cls):
        cls.vm.close()

    def tearDown(self):
        if not self.qmp.cmd('query-status')['running']:
            self.qmp.cmd('cont')
        self.qmp.clear_events()

    def test_query_version(self):
        """The QEMU dialect ferry speaks (7.2.0), and ferry's own version
        in package (docs/qmp.md, "Compatibility level")."""
        with open(os.path.join(ROOT, 'VERSION')) as f:
            version = f.read().strip()
        self.assertEqual(self.qmp.cmd('query-version'), {
            'qemu': {'major': 7, 'minor': 2, 'micro': 0},
            'package': f'ferry {version}'})

    def test_query_commands(self):
        names = [c['name'] for c in self.qmp.cmd('query-commands')]
        self.assertEqual(len(names), len(set(names)))
        self.assertTrue(COMMANDS <= set(names), COMMANDS - set(names))
        for c in self.qmp.cmd('query-commands'):
            self.assertEqual(list(c), ['name'])

    def test_query_qmp_schema(self):
        schema = self.qmp.cmd('query-qmp-schema')
        by_name = {}
        for entity in schema:
            self.assertNotIn(entity['name'], by_name, 'duplicate name')
            by_name[entity['name']] = entity
        commands = {e['name'] for e in schema if e['meta-type'] == 'command'}
        listed = {c['name'] for c in self.qmp.cmd('query-commands')}
        self.assertEqual(commands, listed)
        events = {e['name'] for e in schema if e['meta-type'] == 'event'}
        self.assertTrue({'STOP', 'RESUME', 'SHUTDOWN'} <= events)

        def resolve(name):
            self.assertIn(name, by_name, f'dangling type reference {name}')
            return by_name[name]
        for e in schema:
            for key in ('arg-type', 'ret-type', 'element-type'):
                if key in e:
                    resolve(e[key])
            for m in e.get('members', []):
                if 'type' in m:
                    resolve(m['type'])
        poke = by_name['x-poke']
        args = resolve(poke['arg-type'])
        self.assertEqual(args['meta-type'], 'object')
        self.assertEqual([(m['name'], m['type']) for m in args['members']],
                         [('addr', 'int'), ('value', 'int')])
        self.assertEqual(resolve('int'), {'name': 'int',
                                          'meta-type': 'builtin',
                                          'json-type': 'int'})
        hmc = resolve(by_name['human-monitor-command']['arg-type'])
        self.assertEqual(hmc['members'][1], {'name': 'cpu-index',
                                             'type': 'int', 'default': None})
        status = resolve(by_name['query-status']['ret-type'])
        runstate = resolve(status['members'][1]['type'])
        self.assertEqual(runstate['meta-type'], 'enum')
        self.assertIn('inmigrate', runstate['values'])
        # type names are hidden behind numbers, as in QEMU
        self.assertRegex(by_name['query-status']['ret-type'], r'^\d+$')
        shutdown = resolve(by_name['SHUTDOWN']['arg-type'])
        self.assertEqual([m['name'] for m in shutdown['members']],
                         ['guest', 'reason'])
        schema_info = resolve(resolve(
            by_name['query-qmp-schema']['ret-type'])['element-type'])
        self.assertEqual(schema_info['tag'], 'meta-type')
        self.assertEqual(len(schema_info['variants']), 7)

    def test_query_status_stop_cont(self):
        self.assertEqual(self.qmp.cmd('query-status'),
                         {'running': True, 'status': 'running'})
        self.assertEqual(self.qmp.cmd('stop'), {})
        self.qmp.wait_event('STOP', 5)
        self.assertEqual(self.qmp.cmd('query-status'),
                         {'running': False, 'status': 'paused'})
        self.assertEqual(self.qmp.cmd('cont'), {})
        self.qmp.wait_event('RESUME', 5)
        self.assertEqual(self.qmp.cmd('query-status'),
                         {'running': True, 'status': 'running'})

    def test_x_query_workload(self):
        info = self.qmp.cmd('x-query-workload')
        self.assertEqual(set(info), {'rounds', 'pages-written',
                                     'pages-verified', 'full-verify-passes',
                                     'corrupt-pages', 'boots',
                                     'disk-sectors-written',
                                     'disk-sectors-verified',
                                     'corrupt-sectors', 'disk-io-errors',
                                     'max-stall-us', 'max-guest-stall-us'})
        for v in info.values():
            self.assertIsInstance(v, int)
            self.assertGreaterEqual(v, 0)
        self.assertEqual(info['corrupt-pages'], 0)

    def test_x_ram_digest(self):
        with self.assertRaises(QMPError) as cm:
            self.qmp.cmd('x-ram-digest')
        self.assertEqual(cm.exception.error_class, 'GenericError')
        self.assertIn('stop', cm.exception.desc)
        self.qmp.cmd('stop')
        d1 = self.qmp.cmd('x-ram-digest')
        self.assertEqual(d1, self.qmp.cmd('x-ram-digest'))
        self.assertEqual(d1[0]['id'], 'pc.ram')
        self.assertEqual(d1[0]['size'], 64 << 20)
        for block in d1:
            self.assertRegex(block['sha256'], r'^[0-9a-f]{64}$')
        # a byte written by the VMM shows in the digest
        self.qmp.cmd('x-poke', addr=0x3f00000, value=0x5a)
        d2 = self.qmp.cmd('x-ram-digest')
        self.assertNotEqual(d1, d2)

    def test_x_poke(self):
        self.assertEqual(self.qmp.cmd('x-poke', addr=0x100000, value=0), {})
        with self.assertRaises(QMPError) as cm:
            self.qmp.cmd('x-poke', addr=NOT_RAM, value=1)
        self.assertEqual(cm.exception.error_class, 'GenericError')
        self.assertEqual(cm.exception.desc,
                         'Address 0x100000000000 is not guest RAM')

    def test_human_monitor_command(self):
        hmc = 'human-monitor-command'
        self.assertEqual(self.qmp.cmd(hmc, command_line='info status'),
                         'VM status: running\r\n')
        self.assertEqual(self.qmp.cmd(hmc, command_line='stop'), '')
        self.assertEqual(self.qmp.cmd(hmc, command_line='info status',
                                      cpu_index=0),
                         'VM status: paused\r\n')
        self.assertEqual(self.qmp.cmd(hmc, command_line='c'), '')
        self.assertRegex(self.qmp.cmd(hmc, command_line='info version'),
                         r'^7\.2\.0 \(ferry \d+\.\d+\.\d+\)\r\n$')
        self.assertIn('cont|c -- resume emulation\r\n',
                      self.qmp.cmd(hmc, command_line='help'))
        self.assertEqual(self.qmp.cmd(hmc, command_line='frob'),
                         "unknown command: 'frob'\r\n")
        self.assertEqual(self.qmp.cmd(hmc, command_line='stop now'),
                         "Error: unexpected argument 'now'\r\n")
        self.assertEqual(self.qmp.cmd(hmc, command_line=''), '')


class StartStateTests(unittest.TestCase):
    def test_prelaunch(self):
        with vm(paused=True) as v:
            self.assertEqual(v.qmp.cmd('query-status'),
                             {'running': False, 'status': 'prelaunch'})
            # stop in prelaunch changes nothing
            v.qmp.cmd('stop')
            self.assertEqual(v.qmp.cmd('query-status')['status'],
                             'prelaunch')
            self.assertEqual(
                v.qmp.cmd('human-monitor-command',
                          command_line='info status'),
                'VM status: paused (prelaunch)\r\n')
            v.qmp.cmd('cont')
            v.qmp.wait_event('RESUME', 5)
            self.assertEqual(v.qmp.cmd('query-status')['status'], 'running')

    def test_cont_refused_while_inmigrate(self):
        with vm(extra_args=['-incoming', 'defer']) as v:
            self.assertEqual(v.qmp.cmd('query-status'),
                             {'running': False, 'status': 'inmigrate'})
            with self.assertRaises(QMPError) as cm:
                v.qmp.cmd('cont')
            self.assertEqual(cm.exception.error_class, 'GenericError')
            self.assertEqual(cm.exception.desc,
                             'An incoming migration is expected before this '
                             'command can be executed')
            self.assertEqual(v.qmp.cmd('query-status')['status'],
                             'inmigrate')
            self.assertTrue(re.match(
                r'^Error: An incoming migration',
                v.qmp.cmd('human-monitor-command', command_line='cont')))


if __name__ == '__main__':
    unittest.main()
