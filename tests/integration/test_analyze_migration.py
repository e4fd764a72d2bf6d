"""scripts/analyze-migration on a stream a real ferry saved with
`migrate file:PATH`: the sections it lists, RAM page counts equal to what
query-migrate reported, --json and --dump-devices, and a clean error (exit
1, the offset named, no traceback) for a truncated or corrupt copy."""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.waits import wait_for  # noqa: E402
from pylib.vm import REPO, FerryVM, default_accel  # noqa: E402

ANALYZE = os.path.join(REPO, 'scripts', 'analyze-migration')
SMP = 2


def analyze(*args):
    return subprocess.run([sys.executable, ANALYZE] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)


class AnalyzeMigrationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.accel = default_accel()
        cls.vm = FerryVM(accel=cls.accel, mem='64M', smp=SMP)
        try:
            cls.path = os.path.join(cls.vm.tmpdir, 'stream.mig')
            # Let the guest dirty some pages: the stream then has data pages.
            wait_for(lambda: cls.vm.qmp.cmd('x-query-workload')
                     ['full-verify-passes'] >= 1, 60)
            cls.vm.qmp.cmd('migrate', uri=f'file:{cls.path}')
            cls.info = wait_for(
                lambda: (lambda i: i if i.get('status') in
                         ('completed', 'failed', 'cancelled') else None)(
                    cls.vm.qmp.cmd('query-migrate')), 120)
        except BaseException:
            cls.vm.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.vm.close()

    def setUp(self):
        self.assertIsNotNone(self.info, 'the migration did not end')
        self.assertEqual(self.info['status'], 'completed',
                         self.info.get('error-desc'))

    def summary(self, *extra):
        p = analyze('--json', *extra, self.path)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_sections(self):
        s = self.summary()
        self.assertEqual(s['header'], {'magic': '0x5145564d', 'version': 3})
        self.assertEqual(s['configuration']['machine'], 'ferry-pc-1')
        secs = s['sections']
        self.assertTrue(all(x['footer_ok'] for x in secs))
        self.assertEqual(secs[0]['type'], 'START')
        self.assertEqual(secs[0]['idstr'], 'ram')
        self.assertIn('END', [x['type'] for x in secs if x['idstr'] == 'ram'])
        full = [(x['idstr'], x['instance_id']) for x in secs
                if x['type'] == 'FULL']
        self.assertIn(('serial', 0), full)
        self.assertIn(('ferry-workload', 0), full)
        if self.accel == 'kvm':
            self.assertIn(('kvm-vm', 0), full)
            self.assertEqual(sorted(i for n, i in full if n == 'cpu'),
                             list(range(SMP)))
        # every device section was decoded with the vmdesc
        self.assertTrue(all(d['decoded'] for d in s['devices']))
        self.assertEqual(s['vmdesc']['devices'], len(full))
        self.assertEqual(s['totals']['stream_bytes'],
                         os.path.getsize(self.path))
        self.assertLess(s['totals']['ram_bytes'] +
                        s['totals']['device_bytes'] +
                        s['totals']['vmdesc_bytes'],
                        s['totals']['stream_bytes'])

    def test_ram_counts_match_query_migrate(self):
        ram = self.summary()['ram']
        self.assertEqual(ram['normal_pages'], self.info['ram']['normal'])
        self.assertEqual(ram['zero_pages'], self.info['ram']['duplicate'])
        self.assertEqual(ram['page_bytes'], self.info['ram']['normal-bytes'])
        self.assertEqual(ram['blocks'], {'pc.ram': 64 << 20})
        self.assertGreater(ram['normal_pages'], 0)

    def test_text_and_dump_devices(self):
        p = analyze(self.path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('configuration: machine "ferry-pc-1"', p.stdout)
        self.assertIn('serial', p.stdout)
        self.assertIn('totals:', p.stdout)
        p = analyze('--dump-devices', self.path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r'\n +divider +uint16 += ')
        s = self.summary('--dump-devices')
        wl = next(d for d in s['devices'] if d['idstr'] == 'ferry-workload')
        values = {v['name']: v.get('value') for v in wl['values']}
        self.assertEqual(values['ncpus'], SMP)
        self.assertIn('cpu[1].rounds', values)

    def copy_with(self, name, data):
        path = os.path.join(self.vm.tmpdir, name)
        with open(path, 'wb') as f:
            f.write(data)
        return path

    def assert_clean_failure(self, path, *words):
        for args in ((path,), ('--json', path)):
            p = analyze(*args)
            self.assertEqual(p.returncode, 1, p.stdout[-2000:] + p.stderr)
            self.assertNotIn('Traceback', p.stderr)
            self.assertRegex(p.stderr, r'offset \d+ \(0x[0-9a-f]+\): ')
            for w in words:
                self.assertIn(w, p.stderr)
        return p.stderr

    def test_truncated(self):
        with open(self.path, 'rb') as f:
            data = f.read()
        # In the middle of the RAM, in the devices, in the vmdesc
        for cut in (len(data) // 2, len(data) - 4000, len(data) - 10):
            err = self.assert_clean_failure(
                self.copy_with('cut.mig', data[:cut]), 'expected')
            self.assertIn('ends', err)
        # The JSON output still says what was read, with the error
        p = analyze('--json', self.copy_with('cut.mig', data[:len(data) // 2]))
        s = json.loads(p.stdout)
        self.assertIn('offset', s['error'])
        self.assertGreater(len(s['sections']), 0)

    def test_corrupt_footer(self):
        s = self.summary()
        serial = next(x for x in s['sections'] if x['idstr'] == 'serial')
        footer = serial['data_offset'] + serial['size']
        with open(self.path, 'rb') as f:
            data = bytearray(f.read())
        self.assertEqual(data[footer], 0x7e)
        data[footer] = 0x55
        err = self.assert_clean_failure(self.copy_with('bad.mig', bytes(data)),
                                        f'offset {footer} ', "'serial'",
                                        'footer')
        self.assertIn('0x55', err)

    def test_not_a_stream(self):
        self.assert_clean_failure(self.copy_with('junk.mig', b'junk' * 10),
                                  'magic')
        self.assert_clean_failure(self.copy_with('empty.mig', b''), 'magic')


if __name__ == '__main__':
    unittest.main()
