"""What libvirt 9.0 asks a binary before and while it runs a domain
(docs/libvirt.md, "QMP"): the probe answers in
QEMU 7.2's shapes, truthful for ferry, and the start-up and reconnect
queries: vCPU threads, the vCPU object paths, block nodes, block
statistics, jobs."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.vm import FerryVM, build_dir, default_accel, kvm_available  # noqa: E402
from pylib.waits import wait_for  # noqa: E402

# Types ferry must not list: naming one makes libvirt use it (FERRY-GAP:
# sev-guest triggers query-sev-capabilities, which ferry lacks).
ABSENT_TYPES = ('sev-guest', 'sgx-epc', 'tcg-accel', 'virtio-blk-pci',
                'memory-backend-file', 'memory-backend-memfd', 'PIIX4_PM')


class Probe(unittest.TestCase):
    """The capability probe, in libvirt's order."""

    @classmethod
    def setUpClass(cls):
        cls.vm = FerryVM(accel=default_accel(), mem='64M', smp=2, paused=True)
        cls.qmp = cls.vm.qmp

    @classmethod
    def tearDownClass(cls):
        cls.vm.close()

    def error_class(self, name, **args):
        reply = self.qmp.execute(name, args or None)
        self.assertIn('error', reply, reply)
        return reply['error']['class']

    def test_version_is_qemu_72_dialect(self):
        v = self.qmp.cmd('query-version')
        self.assertEqual(v['qemu'], {'major': 7, 'minor': 2, 'micro': 0})
        self.assertTrue(v['package'].startswith('ferry '), v)
        self.assertEqual(self.qmp.greeting['QMP']['version'], v)

    def test_target(self):
        self.assertEqual(self.qmp.cmd('query-target'), {'arch': 'x86_64'})

    def test_kvm_from_the_accelerator(self):
        self.assertEqual(self.qmp.cmd('query-kvm'), {
            'present': kvm_available(),
            'enabled': default_accel() == 'kvm'})

    def test_kvm_disabled_with_soft_accelerator(self):
        with FerryVM(accel='soft', mem='64M', paused=True) as vm:
            self.assertEqual(vm.qmp.cmd('query-kvm'), {
                'present': kvm_available(), 'enabled': False})

    def test_machines(self):
        machines = {m['name']: m for m in self.qmp.cmd('query-machines')}
        self.assertEqual(set(machines), {'pc-i440fx-7.2', 'none'})
        self.assertEqual(machines['pc-i440fx-7.2'], {
            'name': 'pc-i440fx-7.2', 'alias': 'pc', 'is-default': True,
            'cpu-max': 64, 'hotpluggable-cpus': False,
            'numa-mem-supported': False, 'deprecated': False,
            'default-ram-id': 'pc.ram'})
        self.assertNotIn('is-default', machines['none'])

    def test_type_list(self):
        types = {t['name']: t for t in self.qmp.cmd('qom-list-types')}
        self.assertEqual(types['isa-serial']['parent'], 'isa-device')
        for name in ('pvblk', 'pc-i440fx-7.2-machine', 'none-machine',
                     'kvm-accel', 'memory-backend-ram', 'secret'):
            self.assertIn(name, types)
        for name in ABSENT_TYPES:
            self.assertNotIn(name, types)
        self.assertFalse(any(t.get('abstract') for t in types.values()))
        devices = {t['name'] for t in
                   self.qmp.cmd('qom-list-types', implements='device')}
        self.assertIn('isa-serial', devices)
        self.assertNotIn('secret', devices)
        every = {t['name']: t for t in
                 self.qmp.cmd('qom-list-types', abstract=True)}
        self.assertTrue(every['device']['abstract'])

    def test_device_properties(self):
        props = {p['name']: p['type'] for p in
                 self.qmp.cmd('device-list-properties', typename='pvblk')}
        self.assertEqual(props, {'drive': 'str'})
        self.assertIn('chardev', {p['name'] for p in self.qmp.cmd(
            'device-list-properties', typename='isa-serial')})
        # the ten devices libvirt asks about: ferry has none of them
        for name in ('virtio-blk-pci', 'scsi-hd', 'ide-hd', 'PIIX4_PM',
                     'kvm-pit', 'ICH9-LPC', 'virtio-balloon-pci',
                     'usb-host'):
            self.assertEqual(self.error_class('device-list-properties',
                                              typename=name),
                             'DeviceNotFound', name)
        self.assertEqual(self.error_class('device-list-properties',
                                          typename='secret'), 'GenericError')

    def test_object_properties(self):
        # DeviceNotFound for a memory backend crashes libvirtd 9.0
        for name in ('memory-backend-file', 'memory-backend-memfd'):
            self.assertEqual(self.qmp.cmd('qom-list-properties',
                                          typename=name), [])
        ram = self.qmp.cmd('qom-list-properties', typename='memory-backend-ram')
        self.assertIn({'name': 'size', 'type': 'int'}, ram)
        machine = {p['name'] for p in self.qmp.cmd(
            'qom-list-properties', typename='none-machine')}
        self.assertIn('memory-backend', machine)
        self.assertEqual(self.error_class('qom-list-properties',
                                          typename='sev-guest'),
                         'DeviceNotFound')

    def test_command_line_options_and_tpm(self):
        self.assertEqual(self.qmp.cmd('query-command-line-options'), [])
        self.assertEqual(self.qmp.cmd('query-tpm-models'), [])
        self.assertEqual(self.qmp.cmd('query-tpm-types'), [])

    def test_schema_lists_no_absent_feature(self):
        """The schema is a contract: libvirt uses what it lists."""
        commands = {c['name'] for c in self.qmp.cmd('query-commands')}
        for name in ('query-sev-capabilities', 'query-cpu-definitions',
                     'query-hotpluggable-cpus', 'set-action', 'qom-get',
                     'blockdev-mirror', 'nbd-server-start'):
            self.assertNotIn(name, commands)


class Vcpus(unittest.TestCase):
    """query-cpus-fast and the vCPU objects, for virsh vcpuinfo/vcpupin."""

    @classmethod
    def setUpClass(cls):
        cls.vm = FerryVM(accel=default_accel(), mem='64M', smp=3)
        cls.qmp = cls.vm.qmp

    @classmethod
    def tearDownClass(cls):
        cls.vm.close()

    def test_thread_ids_are_the_vcpu_threads(self):
        cpus = self.qmp.cmd('query-cpus-fast')
        self.assertEqual([c['cpu-index'] for c in cpus], [0, 1, 2])
        task = f'/proc/{self.vm.proc.pid}/task'
        for c in cpus:
            self.assertEqual(c['target'], 'x86_64')
            self.assertEqual(c['qom-path'],
                             f'/machine/unattached/device[{c["cpu-index"]}]')
            with open(f'{task}/{c["thread-id"]}/comm') as f:
                self.assertEqual(f.read().strip(), f'vcpu{c["cpu-index"]}')

    def test_qom_list_vcpu_paths(self):
        unattached = {p['name']: p['type'] for p in
                      self.qmp.cmd('qom-list', path='/machine/unattached')}
        for i in range(3):
            self.assertEqual(unattached[f'device[{i}]'],
                             'child<host-x86_64-cpu>')
        props = {p['name'] for p in self.qmp.cmd(
            'qom-list', path='/machine/unattached/device[0]')}
        self.assertIn('type', props)
        # libvirt reads CPUID through qom-get only if this is listed
        self.assertNotIn('feature-words', props)
        for path in ('/machine/unattached/device[3]',
                     '/machine/unattached/device[01]',
                     '/machine/unattached/device[0]x'):
            reply = self.qmp.execute('qom-list', {'path': path})
            self.assertEqual(reply['error']['class'], 'DeviceNotFound', path)


class Block(unittest.TestCase):
    """query-named-block-nodes, query-blockstats, query-jobs."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='ferry-probe-')
        self.img = os.path.join(self.dir, 'disk.img')
        r = subprocess.run([os.path.join(build_dir(), 'ferry-img'), 'create',
                            self.img, '64M'], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_jobs_empty_and_no_disk(self):
        with FerryVM(accel=default_accel(), mem='64M', paused=True) as vm:
            self.assertEqual(vm.qmp.cmd('query-jobs'), [])
            self.assertEqual(vm.qmp.cmd('query-named-block-nodes'), [])
            self.assertEqual(vm.qmp.cmd('query-blockstats'), [])

    def test_nodes_and_stats_grow_with_the_disk_workload(self):
        if not kvm_available():
            self.skipTest('the disk workload runs in the KVM guest')
        args = ['-blockdev', f'driver=file,node-name=f0,filename={self.img}',
                '-blockdev', 'driver=blkdelay,node-name=d0,file=f0',
                '-device', 'pvblk,drive=d0,id=disk0']
        with FerryVM(accel='kvm', mem='128M', append='disk-rate=4M',
                     extra_args=args) as vm:
            nodes = vm.qmp.cmd('query-named-block-nodes')
            self.assertEqual([n['node-name'] for n in nodes], ['f0', 'd0'])
            self.assertEqual([n['drv'] for n in nodes], ['file', 'blkdelay'])
            self.assertEqual(nodes[0]['image']['virtual-size'], 64 << 20)

            def stats():
                (s,) = vm.qmp.cmd('query-blockstats')
                return s
            first = stats()
            self.assertEqual((first['device'], first['qdev'],
                              first['node-name']), ('', 'disk0', 'd0'))
            ok = wait_for(lambda: stats()['stats']['wr_operations'] >
                          first['stats']['wr_operations'] + 10 and
                          stats()['stats']['rd_operations'] >
                          first['stats']['rd_operations'] + 10, 30, 0.2)
            last = stats()['stats']
            self.assertTrue(ok, last)
            self.assertGreater(last['wr_bytes'], first['stats']['wr_bytes'])
            self.assertGreater(last['rd_bytes'], first['stats']['rd_bytes'])
            self.assertEqual(last['wr_bytes'] % 512, 0)
            self.assertEqual(last['failed_wr_operations'], 0)
            w = vm.qmp.cmd('x-query-workload')
            # every sector the guest counts as written went through here
            self.assertGreaterEqual(last['wr_bytes'],
                                    w['disk-sectors-written'] * 512)


if __name__ == '__main__':
    unittest.main()
