"""The proof every migration test ends with: nothing was lost."""

from .waits import wait_for, wait_verified

# x-ram-digest hashes guest RAM with GLib's SHA-256, about 100 MB/s on a
# quiet machine (no CPU SHA instructions): 1 GiB takes 10 s, more when
# the machine is shared.
DIGEST_TIMEOUT = 300


def ram_digest(vm):
    """x-ram-digest of the stopped @vm, given the time hashing takes."""
    return vm.qmp.cmd_wait('x-ram-digest', DIGEST_TIMEOUT)


def assert_moved_intact(tc, src, dst):
    """After a completed migration to a destination started with -S: both
    sides stopped hold the same bytes, and once the destination runs the
    guest verifies its memory again, cleanly, without having restarted."""
    tc.assertEqual(wait_for(lambda: dst.qmp.cmd('query-migrate')
                            .get('status') == 'completed', 30), True)
    tc.assertEqual(src.qmp.cmd('query-status')['status'], 'postmigrate')
    tc.assertEqual(dst.qmp.cmd('query-status')['status'], 'paused')
    # both stopped: the same bytes, page for page
    tc.assertEqual(ram_digest(src), ram_digest(dst))
    before = dst.qmp.cmd('x-query-workload')
    dst.qmp.cmd('cont')
    tc.assertTrue(wait_verified(dst, before['full-verify-passes'] + 1),
                  f'no verify pass on the destination: '
                  f'{dst.qmp.cmd("x-query-workload")}')
    after = dst.qmp.cmd('x-query-workload')
    tc.assertEqual(after['corrupt-pages'], 0)
    tc.assertGreater(after['pages-written'], before['pages-written'])
    # the guest went on where it was: it did not start over
    tc.assertEqual(after['boots'], 1)
