"""The fault grid: every migration state against every fault, and what
each cell must end in.  One table for the test (test_fault_grid.py) and
for docs/reliability.md (scripts/fault-grid-table.py prints it).

A row is the state the source is in when the fault hits; a column is a
fault.  A cell is either an expected end (a key of ENDS) or a reason
why the fault cannot hit in that state, or a pointer to the test that
covers it elsewhere ("test_x.py::Class.test").  Nothing is both."""

STATES = [
    # name, how the test holds the migration in it
    ('setup', 'the fault is in place before `migrate`: the connection '
     'never gets established normally'),
    ('active', 'precopy at 16 MiB/s (`max-bandwidth`), some data sent'),
    ('pre-switchover', '`pause-before-switchover`: source stopped, '
     'waiting for `migrate-continue`'),
    ('device', 'device state sent; the return path is held, so the '
     "destination's SHUT does not arrive"),
    ('postcopy-setup', 'the return path is held after '
     "`migrate-start-postcopy`, so the destination's RUN_ACK does not "
     'arrive'),
    ('postcopy-active', 'postcopy at 8 MiB/s (`max-postcopy-bandwidth`), '
     'the destination running'),
    ('postcopy-paused', 'postcopy-active, then the link is cut: both sides '
     'paused'),
    ('postcopy-recover', 'paused, then a recovery through a link that '
     'carries nothing'),
    ('live-update: warming', 'the successor builds its machine while the '
     'guest runs in the predecessor'),
    ('live-update: cutover', 'the predecessor stopped the guest and sent '
     'the device state'),
]

FAULTS = [
    # name, what the test does
    ('link reset', 'every connection of the migration is reset (RST both '
     'ways)'),
    ('silent link', 'the link carries nothing more, nothing is closed'),
    ('source killed', 'SIGKILL to the source'),
    ('destination killed', 'SIGKILL to the destination'),
    ('destination frozen', 'SIGSTOP to the destination (SIGCONT once the '
     'end state is checked)'),
    ('bad device state', 'the destination cannot load the device state '
     '(it has 1 vCPU, the source 2)'),
    ('bad byte', 'one byte of the stream flipped on the wire; the stream '
     'runs over TLS (PSK), whose record check catches any flip'),
    ('disk attach fails', "the destination's image is gone when it "
     'attaches the disk'),
    ('out of space', 'a `file:` migration onto a filesystem that is full'),
]

ENDS = {
    'source runs':
        'the migration fails; the source runs and its guest verifies; the '
        'destination never ran',
    'source runs after cancel':
        'nothing notices (as in QEMU, precopy has no timeout); the '
        'migration stays where it is until `migrate_cancel`, then as '
        '"source runs"',
    'destination never runs':
        'the source is gone before the destination could run: the '
        'destination fails and does not run (the guest died with its '
        'process)',
    'destination completes':
        'the destination had everything before the source died: it '
        'completes, and after `cont` its guest verifies',
    'both pause, recovery completes':
        'both sides go postcopy-paused; once the fault is undone, '
        '`migrate-recover` and `migrate resume=true` complete the '
        "migration and the destination's guest verifies",
    'source stays paused':
        'the destination is gone in postcopy: the source stays '
        'postcopy-paused with its guest stopped (it cannot know what the '
        'destination ran)',
    'destination stays paused':
        'the source is gone in postcopy: the destination stays '
        'postcopy-paused and never completes',
    'source resumes when the destination is gone':
        'the destination loaded everything and holds the disk when the '
        'source gives up (or is cancelled): the source cannot take the '
        'image back, so it stays paused (never two writers) and the '
        'destination, never told to run, stays paused too; once the '
        'destination is gone (libvirt kills it), `cont` runs the source '
        'and its guest verifies',
    'destination waits for cont':
        'the activation after RUN fails: the destination stays paused '
        'while postcopy runs on; once the image is back, `cont` runs it, '
        'the migration completes and the guest verifies',
}

NO_LINK = 'no connection is open in this state'
NO_SOCKET = 'postcopy needs a socket; a `file:` migration has no postcopy'
DEVICE_LATER = 'the device state is sent at the switchover: the "device" ' \
    'and "postcopy-setup" rows'
ATTACHED = 'the disk was attached and activated before this state'
LU_LOCAL = 'a live update hands over on a local socketpair: no network ' \
    'link, no stream bytes on a wire, no `file:`'
LU = 'test_live_update.py::FaultGrid.'

GRID = {
    'setup': {
        'link reset': 'source runs',
        'silent link': 'source runs after cancel',
        'source killed': 'destination never runs',
        'destination killed': 'source runs',
        'destination frozen': 'source runs after cancel',
        'bad device state': DEVICE_LATER,
        'bad byte': 'source runs',
        'disk attach fails': 'source runs',
        'out of space': 'source runs',
    },
    'active': {
        'link reset': 'source runs',
        'silent link': 'source runs after cancel',
        'source killed': 'destination never runs',
        'destination killed': 'source runs',
        'destination frozen': 'source runs after cancel',
        'bad device state': DEVICE_LATER,
        'bad byte': 'source runs',
        'disk attach fails': 'the destination attaches when it accepts '
                             'the stream: the "setup" row',
        'out of space': 'source runs',
    },
    'pre-switchover': {
        'link reset': 'source runs',
        'silent link': 'source runs after cancel',
        'source killed': 'destination never runs',
        'destination killed': 'source runs',
        'destination frozen': 'source runs after cancel',
        'bad device state': 'nothing is sent while the source waits for '
                            '`migrate-continue`: the "device" row',
        'bad byte': 'nothing is sent while the source waits: the "device" '
                    'row',
        'disk attach fails': 'the "device" row (activation)',
        'out of space': 'source runs',
    },
    'device': {
        'link reset': 'source resumes when the destination is gone',
        'silent link': 'source resumes when the destination is gone',
        'source killed': 'destination completes',
        'destination killed': 'source runs',
        'destination frozen': 'source runs after cancel',
        'bad device state': 'source runs',
        'bad byte': 'source runs',
        'disk attach fails': 'source runs',
        'out of space': 'a `file:` migration has no return path, so no '
                        'device state to wait in: the "pre-switchover" row '
                        'fills the disk before the device state is written',
    },
    'postcopy-setup': {
        'link reset': 'source runs',
        'silent link': 'source runs',
        'source killed': 'destination never runs',
        'destination killed': 'source runs',
        'destination frozen': 'source runs',
        'bad device state': 'source runs',
        'bad byte': 'the stream is idle here (the source sent the package '
                    'and waits for RUN_ACK); a flip in the package is a '
                    'bad device state, the cell on its left',
        'disk attach fails': 'destination waits for cont',
        'out of space': NO_SOCKET,
    },
    'postcopy-active': {
        'link reset': 'both pause, recovery completes',
        'silent link': 'both pause, recovery completes',
        'source killed': 'destination stays paused',
        'destination killed': 'source stays paused',
        'destination frozen': 'both pause, recovery completes',
        'bad device state': 'the device state was loaded in postcopy-setup',
        'bad byte': 'both pause, recovery completes',
        'disk attach fails': ATTACHED,
        'out of space': NO_SOCKET,
    },
    'postcopy-paused': {
        'link reset': NO_LINK,
        'silent link': NO_LINK,
        'source killed': 'destination stays paused',
        'destination killed': 'source stays paused',
        'destination frozen': 'both pause, recovery completes',
        'bad device state': 'the device state was loaded in postcopy-setup',
        'bad byte': 'no stream flows while paused; a recovery\'s bytes: '
                    'the "postcopy-recover" row',
        'disk attach fails': ATTACHED,
        'out of space': NO_SOCKET,
    },
    'postcopy-recover': {
        'link reset': 'both pause, recovery completes',
        'silent link': 'both pause, recovery completes',
        'source killed': 'destination stays paused',
        'destination killed': 'source stays paused',
        'destination frozen': 'both pause, recovery completes',
        'bad device state': 'a recovery sends no device state',
        'bad byte': 'both pause, recovery completes',
        'disk attach fails': ATTACHED,
        'out of space': NO_SOCKET,
    },
    'live-update: warming': {
        'link reset': LU_LOCAL,
        'silent link': LU_LOCAL,
        'source killed': LU + 'test_predecessor_killed_while_warming',
        'destination killed': LU + 'test_successor_faults',
        'destination frozen': 'not run here: the predecessor gives up on '
                              'a successor not READY after 120 s '
                              '(LIVE_UPDATE_WARMING_TIMEOUT_MS) and goes '
                              'on serving; that wait is longer than the '
                              'grid',
        'bad device state': 'no device state is sent while warming',
        'bad byte': LU_LOCAL,
        'disk attach fails': 'the image fds are handed over, nothing is '
                             'opened by name',
        'out of space': LU_LOCAL,
    },
    'live-update: cutover': {
        'link reset': LU_LOCAL,
        'silent link': LU_LOCAL,
        'source killed': LU + 'test_predecessor_killed_after_cutover',
        'destination killed': LU + 'test_successor_faults',
        'destination frozen': 'not run here: the predecessor resumes the '
                              'guest when no ALIVE comes 10 s after the '
                              'cutover (LIVE_UPDATE_ALIVE_TIMEOUT_MS)',
        'bad device state': 'not injected: the successor runs the same '
                            'command line; one that fails to load ends as '
                            'one killed after loading, ' + LU +
                            'test_successor_faults (crash-after-cutover)',
        'bad byte': LU_LOCAL,
        'disk attach fails': 'the image fds are handed over, nothing is '
                             'opened by name',
        'out of space': LU_LOCAL,
    },
}


def cells():
    """(state, fault, entry) for every cell, in table order."""
    for state, _ in STATES:
        for fault, _ in FAULTS:
            yield state, fault, GRID[state][fault]


def is_end(entry):
    return entry in ENDS


def is_elsewhere(entry):
    return entry.startswith('test_') and '::' in entry
