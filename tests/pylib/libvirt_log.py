"""Reads the QMP conversations libvirt had with QEMU, recorded as test data
in tests/data/libvirt/ (its README.md says how they were made), so that
tests can replay them against ferry.

    conv = load_scenario('01-precopy')           # both sides, from RECORDINGS
    for send in conv.interleaved_sends():        # migration part, in order
        send.side, send.name, send.arguments, send.reply.is_error ...
    conv.side('source').events                   # events of the migration part

A file has one message per line:

    HH:MM:SS.mmm SEND_MSG msg={json}        libvirt -> QEMU
    HH:MM:SS.mmm RECV_REPLY reply={json}    QEMU -> libvirt
    HH:MM:SS.mmm RECV_EVENT event={json}    QEMU -> libvirt

Long messages are cut: `{"return": [...  ...[1234 chars]`.  Such a message
keeps its raw text (`.raw`), `.data` is None and `.truncated` is the number
of characters left out; what can still be read from the prefix (the command
or event name, whether a reply is a return or an error, the id) is recovered
with regular expressions.

The migration part of a side starts at its first `query-migrate` or
`query-migrate-parameters` (tests/data/libvirt/README.md): the
destination's start-up before it (query-chardev, qom-get, ...) is about
QEMU's device model.
"""

import json
import os
import re

# Found from this file, so any checkout (or copy of tests/) finds its data.
RECORDINGS = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'data', 'libvirt')

SIDES = ('source', 'destination')
KINDS = {'SEND_MSG': ('send', 'msg='), 'RECV_REPLY': ('reply', 'reply='),
         'RECV_EVENT': ('event', 'event=')}
MIGRATION_START = ('query-migrate', 'query-migrate-parameters')

# The MIGRATION statuses libvirt 9.0 knows; it ignores any other one.
LIBVIRT_STATUSES = ('setup', 'active', 'pre-switchover', 'device',
                    'postcopy-active', 'postcopy-paused', 'postcopy-recover',
                    'completed', 'failed', 'cancelling', 'cancelled',
                    'wait-unplug')
# The events a migration replay follows.
MIGRATION_EVENTS = ('MIGRATION', 'MIGRATION_PASS', 'STOP', 'RESUME')

_LINE = re.compile(r'^(\d{2}):(\d{2}):(\d{2})\.(\d{3})\s+(SEND_MSG|RECV_REPLY|'
                   r'RECV_EVENT)\s+(msg=|reply=|event=)(.*)$')
_CUT = re.compile(r'\s*\.\.\.\[(\d+) chars\]\s*$')


class LogError(ValueError):
    pass


class Message:
    """One line of a conversation."""

    def __init__(self, side, lineno, time, kind, raw, data, truncated):
        self.side = side            # 'source' or 'destination'
        self.lineno = lineno        # 1-based line in its file
        self.time = time            # seconds since midnight (float)
        self.kind = kind            # 'send', 'reply' or 'event'
        self.raw = raw              # the JSON text as logged (maybe cut)
        self.data = data            # the parsed JSON, None when cut/unparseable
        self.truncated = truncated  # characters cut off, 0 if complete
        self.reply = None           # for a send: its reply Message
        self.request = None         # for a reply: its send Message

    def _field(self, key):
        if isinstance(self.data, dict):
            return self.data.get(key)
        m = re.search(r'"%s"\s*:\s*"([^"]*)"' % re.escape(key), self.raw)
        return m.group(1) if m else None

    @property
    def id(self):
        return self._field('id')

    @property
    def name(self):
        """The command (send) or event name."""
        if self.kind == 'send':
            return self._field('execute')
        if self.kind == 'event':
            return self._field('event')
        return None

    @property
    def arguments(self):
        """A send's arguments (None when it has none)."""
        if isinstance(self.data, dict):
            return self.data.get('arguments')
        if self.kind == 'send' and self.truncated:
            raise LogError(f'{self.where()}: arguments cut in the log')
        return None

    @property
    def is_error(self):
        """For a reply: True for {"error"}, False for {"return"}."""
        if isinstance(self.data, dict):
            return 'error' in self.data
        return self.raw.lstrip().startswith('{"error"')

    @property
    def value(self):
        """For a complete reply: its "return" value (None when cut)."""
        if isinstance(self.data, dict):
            return self.data.get('return')
        return None

    @property
    def event_data(self):
        if isinstance(self.data, dict):
            return self.data.get('data') or {}
        m = re.search(r'"status"\s*:\s*"([^"]*)"', self.raw)
        return {'status': m.group(1)} if m else {}

    def where(self):
        return f'{self.side}:{self.lineno}'

    def __repr__(self):
        what = self.name or ('error' if self.is_error else 'return')
        return f'<{self.kind} {what} {self.where()} t={self.time:.3f}>'


def parse_line(line, side='?', lineno=0):
    """A Message, or None for a blank line; LogError for anything else."""
    line = line.rstrip('\r\n')
    if not line.strip():
        return None
    m = _LINE.match(line)
    if not m:
        raise LogError(f'{side}:{lineno}: unrecognised line: {line[:80]!r}')
    hh, mm, ss, ms, tag, prefix, raw = m.groups()
    kind, want = KINDS[tag]
    if prefix != want:
        raise LogError(f'{side}:{lineno}: {tag} with {prefix}')
    time = int(hh) * 3600 + int(mm) * 60 + int(ss) + int(ms) / 1000.0
    truncated = 0
    cut = _CUT.search(raw)
    if cut:
        truncated = int(cut.group(1))
        raw = raw[:cut.start()]
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        data = None
        if not truncated:
            # not announced as cut, yet unparseable: keep it raw all the same
            truncated = -1
    return Message(side, lineno, time, kind, raw, data, truncated)


class Side:
    """One side's conversation: all its messages, sends paired with replies."""

    def __init__(self, side, messages):
        self.side = side
        self.messages = messages
        self._pair()
        self.start = self._migration_start()

    @classmethod
    def from_file(cls, path, side):
        with open(path, encoding='utf-8') as f:
            msgs = [parse_line(line, side, n) for n, line in enumerate(f, 1)]
        return cls(side, [m for m in msgs if m is not None])

    def _pair(self):
        """Replies go to the send with their id, else (id cut off) to the
        oldest unanswered send: QMP answers in order."""
        pending = []
        for m in self.messages:
            if m.kind == 'send':
                pending.append(m)
            elif m.kind == 'reply':
                match = None
                if m.id is not None:
                    match = next((s for s in pending if s.id == m.id), None)
                if match is None and pending:
                    match = pending[0]
                if match is None:
                    raise LogError(f'{m.where()}: reply without a command')
                pending.remove(match)
                match.reply, m.request = m, match

    def _migration_start(self):
        for i, m in enumerate(self.messages):
            if m.kind == 'send' and m.name in MIGRATION_START:
                return i
        raise LogError(f'{self.side}: no query-migrate or '
                       'query-migrate-parameters: no migration part')

    @property
    def migration_part(self):
        return self.messages[self.start:]

    @property
    def preamble(self):
        """What came before the migration part (device-model start-up)."""
        return self.messages[:self.start]

    @property
    def sends(self):
        return [m for m in self.migration_part if m.kind == 'send']

    @property
    def events(self):
        """The migration part's events that a migration replay follows."""
        return [m for m in self.migration_part
                if m.kind == 'event' and m.name in MIGRATION_EVENTS]

    def events_before(self, msg):
        """The followed events logged before @msg (a message of this side)."""
        return [e for e in self.events if e.lineno < msg.lineno]


class Conversation:
    """Both sides of one scenario."""

    def __init__(self, name, source, destination):
        self.name = name
        self.sides = {'source': source, 'destination': destination}

    def side(self, name):
        return self.sides[name]

    def interleaved_sends(self):
        """The sends of both migration parts in the order libvirt sent them:
        by timestamp, within one side by line.  A tie across the two sides
        (same millisecond) puts the source first: the log cannot tell, and
        the replay's event waits, not this order, carry causality."""
        sends = self.sides['source'].sends + self.sides['destination'].sends
        return sorted(sends, key=lambda m: (m.time, SIDES.index(m.side),
                                            m.lineno))


def load_scenario(scenario, directory=RECORDINGS):
    """Reads {scenario}.source.qmp.txt and {scenario}.destination.qmp.txt.
    A missing file raises: the recordings are part of the repository."""
    sides = [Side.from_file(os.path.join(directory,
                                         f'{scenario}.{s}.qmp.txt'), s)
             for s in SIDES]
    return Conversation(scenario, *sides)


def event_token(name, data):
    """What of an event a replay compares: ('MIGRATION', status) for a
    status libvirt knows, (name,) for MIGRATION_PASS/STOP/RESUME (pass
    numbers differ between runs), None for anything libvirt ignores."""
    if name == 'MIGRATION':
        status = (data or {}).get('status')
        return ('MIGRATION', status) if status in LIBVIRT_STATUSES else None
    if name in MIGRATION_EVENTS:
        return (name,)
    return None


def recorded_tokens(events):
    return [t for t in (event_token(e.name, e.event_data) for e in events) if t]


def observed_tokens(events):
    """@events: event dicts as QMP delivered them."""
    return [t for t in (event_token(e.get('event'), e.get('data'))
                        for e in events) if t]


def collapse_passes(tokens):
    """Consecutive MIGRATION_PASS tokens as one: their count depends on
    how fast the guest dirties memory, not on the protocol."""
    out = []
    for t in tokens:
        if t == ('MIGRATION_PASS',) and out and out[-1] == t:
            continue
        out.append(t)
    return out


def is_subsequence(needle, haystack):
    it = iter(haystack)
    return all(any(x == y for y in it) for x in needle)
