"""
Documentation comments.  A '##' block either documents the definition
that follows it (first line '@Name:') or is free-form text, where lines
'= Title' and '== Section' are headings.

Definition blocks hold a body, one '@member: text' section per member,
an optional 'Features:' list, and tagged sections (Returns:, Errors:,
Since:, Example:, Note:, TODO:).
"""
import re

from .error import QAPIError, SourceInfo

TAGS = ('Returns', 'Errors', 'Since', 'Example', 'Examples', 'Note', 'Notes',
        'TODO')
_ARG_RE = re.compile(r'@([A-Za-z0-9_.*-]+):(?:\s+(.*))?$')
_TAG_RE = re.compile(r'(%s):(?:\s+(.*))?$' % '|'.join(TAGS))


class DocBlock:
    def __init__(self, info, lines):
        self.info = info
        self.symbol = None
        self.body = []              # lines of text
        self.args = {}              # member name -> text (insertion order)
        self.features = {}
        self.sections = []          # [tag, [lines]]
        self._lines = lines
        first = next((t for _, t in lines if t.strip()), '')
        if first.startswith('@'):
            self._parse_definition()
        else:
            self.body = [t for _, t in lines]

    def _err(self, line, msg):
        raise QAPIError(SourceInfo(self.info.fname, line, self.info.parent),
                        msg)

    def _parse_definition(self):
        lines = list(self._lines)
        while not lines[0][1].strip():
            lines.pop(0)
        lineno, first = lines.pop(0)
        m = re.match(r'@([A-Za-z0-9_.-]+):$', first)
        if not m:
            self._err(lineno, "definition line must be '@NAME:'")
        self.symbol = m.group(1)
        state, cur = 'body', self.body
        for lineno, text in lines:
            arg = _ARG_RE.match(text)
            tag = _TAG_RE.match(text)
            if arg and state in ('body', 'args', 'features'):
                table = self.features if state == 'features' else self.args
                name = arg.group(1)
                if name in table:
                    self._err(lineno, "'@%s' documented twice" % name)
                cur = table[name] = [arg.group(2) or '']
                if state == 'body':
                    state = 'args'
            elif arg:
                self._err(lineno, "'@%s:' can't follow the '%s' section"
                          % (arg.group(1), self.sections[-1][0]))
            elif text == 'Features:':
                state, cur = 'features', None
            elif tag:
                if tag.group(1) in ('Returns', 'Since') and \
                        any(s[0] == tag.group(1) for s in self.sections):
                    self._err(lineno, "duplicated '%s:' section"
                              % tag.group(1))
                state = 'section'
                cur = [tag.group(2)] if tag.group(2) else []
                self.sections.append([tag.group(1), cur])
            elif state in ('args', 'features') and text and \
                    not text[0].isspace() and cur is not None and \
                    cur and cur[-1] == '':
                # unindented text after a blank line ends the member list
                state, cur = 'section', []
                self.sections.append(['', cur])
                cur.append(text)
            elif cur is None:
                if text.strip():
                    self._err(lineno, "expected '@feature:' line")
            else:
                cur.append(text)
        self._tidy()

    def _tidy(self):
        def clean(lines, keep_indent=False):
            if keep_indent:
                lines = [l.rstrip() for l in lines]
            else:
                lines = [l.strip() for l in lines]
            while lines and not lines[-1]:
                lines.pop()
            while lines and not lines[0]:
                lines.pop(0)
            return lines
        self.body = clean(self.body)
        for table in (self.args, self.features):
            for k in table:
                table[k] = clean(table[k])
        for sec in self.sections:
            sec[1] = clean(sec[1], sec[0].startswith('Example'))
            if sec[0] and not sec[1]:
                raise QAPIError(self.info, "empty '%s:' section in doc of "
                                "'%s'" % (sec[0], self.symbol))

    def text(self, lines):
        """Joins wrapped lines into paragraphs separated by blank lines."""
        paras, cur = [], []
        for line in lines:
            if line:
                cur.append(line)
            elif cur:
                paras.append(' '.join(cur))
                cur = []
        if cur:
            paras.append(' '.join(cur))
        return '\n\n'.join(paras)
