"""A hostile migration stream cannot make the destination allocate more
than its guest's RAM plus a bounded overhead (docs/untrusted-input.md):
crafted streams with huge length claims and sections or commands without
end go into a real `-incoming` destination over a unix socket; each must
fail with an error that names what was wrong, and the process's peak RSS
(VmHWM) must stay under what it was before the stream, plus the guest's
RAM, plus STREAM_OVERHEAD.  Guest RAM is shared memory (a memfd), so the
growth of anonymous memory (RssAnon) is the heap alone: it must stay
under STREAM_HEAP, which a stream that grows a table shows at once."""

import itertools
import os
import socket
import struct
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pylib.procfs import proc_status  # noqa: E402
from pylib.waits import wait_migration_end  # noqa: E402
from pylib.vm import FerryVM, mem_bytes  # noqa: E402

MEM = '64M'
# The bound docs/untrusted-input.md states: a postcopy package (16 MiB,
# held once), a command (64 KiB), stream buffers and the section table,
# with room for the allocator and the threads a load starts.
STREAM_OVERHEAD = 24 << 20
# The heap's part: a command, the section table, buffers, thread stacks.
STREAM_HEAP = 8 << 20

# migration/format/savevm.h, migration/ram/ram.h
MAGIC, VERSION = 0x5145564d, 3
SECTION_START, SECTION_FULL, FOOTER = 0x01, 0x04, 0x7e
CONFIGURATION, COMMAND = 0x07, 0x08
CMD_OPEN_RETURN_PATH, CMD_PING, CMD_PACKAGED = 1, 2, 8
MEM_SIZE_FLAG, EOS_FLAG = 0x04, 0x10
RAM_VERSION = 4


def counted(s):
    return bytes([len(s)]) + s


def header():
    name = b'ferry-pc-1'
    return (struct.pack('>IIBI', MAGIC, VERSION, CONFIGURATION, len(name))
            + name)


def command(cmd, data=b''):
    return struct.pack('>BHH', COMMAND, cmd, len(data)) + data


def ram_start(section_id, ram_size):
    """A START of "ram" with the block list: no pages."""
    body = (struct.pack('>Q', ram_size | MEM_SIZE_FLAG) + counted(b'pc.ram')
            + struct.pack('>QQ', ram_size, EOS_FLAG))
    return (struct.pack('>BI', SECTION_START, section_id) + counted(b'ram')
            + struct.pack('>II', 0, RAM_VERSION) + body
            + struct.pack('>BI', FOOTER, section_id))


def feed(path, chunks):
    """Sends the stream, a piece at a time, until ferry stops reading."""
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(30)
    sock.connect(path)
    try:
        for chunk in chunks:
            sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(2)
        while sock.recv(65536):         # its return path: what it says
            pass
    except OSError:
        pass                            # ferry gave up on the stream
    finally:
        sock.close()


class StreamBounds(unittest.TestCase):
    def setUp(self):
        self.vm = FerryVM(accel='soft', mem=MEM, paused=True,
                          extra_args=['-incoming', 'defer'])
        pid = self.vm.proc.pid
        self.before = proc_status(pid, 'VmHWM')
        self.anon_before = proc_status(pid, 'RssAnon')
        self.path = os.path.join(self.vm.tmpdir, 'in.sock')
        self.vm.qmp.cmd('migrate-incoming', uri=f'unix:{self.path}',
                        **{'exit-on-error': False})

    def tearDown(self):
        self.vm.close()

    def load(self, chunks, word):
        """Feeds @chunks; the load must fail naming @word, within bounds."""
        t = threading.Thread(target=feed, args=(self.path, chunks))
        t.start()
        info = wait_migration_end(self.vm, 60)
        t.join(60)
        self.assertIsNotNone(info, 'the load did not end')
        self.assertEqual(info['status'], 'failed')
        self.assertIn(word, info['error-desc'])
        peak = proc_status(self.vm.proc.pid, 'VmHWM')
        heap = proc_status(self.vm.proc.pid, 'RssAnon') - self.anon_before
        if os.environ.get('FERRY_TEST_VERBOSE'):
            print(f'\n{self.id()}: peak RSS grew by '
                  f'{(peak - self.before) >> 10} KiB, the heap by '
                  f'{heap >> 10} KiB', file=sys.stderr)
        limit = self.before + mem_bytes(MEM) + STREAM_OVERHEAD
        self.assertLessEqual(peak, limit, f'peak RSS {peak >> 20} MiB, '
                             f'started at {self.before >> 20} MiB')
        self.assertLessEqual(heap, STREAM_HEAP, f'the heap grew by '
                             f'{heap >> 20} MiB')
        return info

    def test_package_claims_4g(self):
        self.load([header(), command(CMD_OPEN_RETURN_PATH),
                   command(CMD_PACKAGED, struct.pack('>I', 0xffffffff))],
                  'at most 16777216')

    def test_package_cut_short(self):
        """The largest package it accepts, cut off half-way."""
        claim = 1 << 24
        self.load([header(), command(CMD_OPEN_RETURN_PATH),
                   command(CMD_PACKAGED, struct.pack('>I', claim))]
                  + [b'\0' * (1 << 20)] * 8, 'postcopy package')

    def test_sections_without_end(self):
        """The same entry started again and again, under new ids."""
        ram = mem_bytes(MEM)
        chunks = (b''.join(ram_start(i, ram) for i in range(n, n + 4096))
                  for n in range(0, 1 << 20, 4096))
        self.load(itertools.chain([header()], chunks), 'started twice')

    def test_commands_without_end(self):
        """64 MiB of PINGs (no return path to answer on), then garbage."""
        ping = command(CMD_PING, b'\0\0\0\1') * 8192
        self.load([header()] + [ping] * (64 << 20 >> 16) + [b'\x42'],
                  'unknown section type')

    def test_largest_command(self):
        self.load([header(), struct.pack('>BHH', COMMAND, 0x7fff, 0xffff),
                   b'\0' * 0xffff], 'unknown command')


if __name__ == '__main__':
    unittest.main()
