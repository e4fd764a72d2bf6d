"""
Reads QAPI schema files: Python-like literals with single-quoted strings,
'#' comments, '##' documentation blocks and { 'include': FILE }.

The result is a flat list of (expr, info, doc) in definition order, plus
the free-form doc blocks (headings) in between, so the doc generator can
reproduce the document structure; and the files read, in include order.
"""
import os

from .error import QAPIError, SourceInfo
from .doc import DocBlock


class Entry:
    """One top-level item: a definition, or a free-form doc block."""

    def __init__(self, expr, info, doc):
        self.expr = expr        # dict, or None for free-form doc
        self.info = info
        self.doc = doc


class SchemaParser:
    def __init__(self, fname, included=None, parent_info=None, files=None):
        self.fname = fname
        self.included = included if included is not None else set()
        self.included.add(os.path.abspath(fname))
        self.files = files if files is not None else []
        self.files.append((fname, parent_info))
        try:
            with open(fname, encoding='utf-8') as f:
                self.src = f.read()
        except OSError as e:
            raise QAPIError(parent_info, "can't read schema file '%s': %s"
                            % (fname, e.strerror))
        if not self.src.endswith('\n'):
            self.src += '\n'
        self.parent_info = parent_info
        self.pos = 0
        self.line = 1
        self.entries = []
        self._parse_file()

    # --- tokens ---------------------------------------------------------

    def _info(self, line=None):
        return SourceInfo(self.fname, line or self.line, self.parent_info)

    def _error(self, msg):
        raise QAPIError(self._info(), msg)

    def _next(self):
        """Sets self.tok (a char, 'STR', 'BOOL', '#DOC' or None) and value."""
        while True:
            if self.pos >= len(self.src):
                self.tok = None
                return
            ch = self.src[self.pos]
            self.tok_line = self.line
            self.pos += 1
            if ch == '#':
                if self.src.startswith('#\n', self.pos) and \
                        self._line_start(self.pos - 1):
                    self.pos -= 1
                    self.tok = '#DOC'
                    return
                self._skip_line()
            elif ch in '{}[]:,':
                self.tok = ch
                return
            elif ch == "'":
                self.tok = 'STR'
                self.val = self._string()
                return
            elif ch == '\n':
                self.line += 1
            elif ch in ' \t\r':
                pass
            elif self.src.startswith('true', self.pos - 1):
                self.pos += 3
                self.tok, self.val = 'BOOL', True
                return
            elif self.src.startswith('false', self.pos - 1):
                self.pos += 4
                self.tok, self.val = 'BOOL', False
                return
            else:
                self._error("stray '%s'" % ch)

    def _line_start(self, pos):
        """A '##' doc block must start in column 1 ('##' then newline)."""
        return (pos == 0 or self.src[pos - 1] == '\n') and \
            self.src.startswith('##\n', pos)

    def _skip_line(self):
        end = self.src.find('\n', self.pos)
        self.pos = end if end >= 0 else len(self.src)

    def _string(self):
        out = []
        while True:
            ch = self.src[self.pos]
            self.pos += 1
            if ch == "'":
                return ''.join(out)
            if ch == '\n':
                self._error('missing terminating "\'"')
            if ch == '\\':
                ch = self.src[self.pos]
                self.pos += 1
                if ch not in "\\/'\"":
                    self._error('unknown escape \\%s' % ch)
            elif ord(ch) < 32 or ord(ch) >= 127:
                self._error('funny character in string')
            out.append(ch)

    # --- values ---------------------------------------------------------

    def _value(self):
        if self.tok == '{':
            return self._object()
        if self.tok == '[':
            return self._array()
        if self.tok in ('STR', 'BOOL'):
            val = self.val
            self._next()
            return val
        self._error('expected value, got %s' % self._tok_name())

    def _tok_name(self):
        if self.tok is None:
            return 'end of file'
        if self.tok == '#DOC':
            return "doc comment"
        if self.tok in ('STR', 'BOOL'):
            return repr(self.val)
        return "'%s'" % self.tok

    def _object(self):
        obj = {}
        self._next()
        if self.tok == '}':
            self._next()
            return obj
        while True:
            if self.tok != 'STR':
                self._error('expected string key, got %s' % self._tok_name())
            key = self.val
            if key in obj:
                self._error("duplicate key '%s'" % key)
            self._next()
            if self.tok != ':':
                self._error("expected ':', got %s" % self._tok_name())
            self._next()
            obj[key] = self._value()
            if self.tok == '}':
                self._next()
                return obj
            if self.tok != ',':
                self._error("expected ',' or '}', got %s" % self._tok_name())
            self._next()

    def _array(self):
        arr = []
        self._next()
        if self.tok == ']':
            self._next()
            return arr
        while True:
            arr.append(self._value())
            if self.tok == ']':
                self._next()
                return arr
            if self.tok != ',':
                self._error("expected ',' or ']', got %s" % self._tok_name())
            self._next()

    # --- file structure -------------------------------------------------

    def _doc_block(self):
        """Reads '##' ... '##' starting at self.pos; returns a DocBlock."""
        start_line = self.line
        lines = []
        self.pos += 3           # the opening '##\n'
        self.line += 1
        while True:
            if self.pos >= len(self.src):
                raise QAPIError(self._info(start_line),
                                'unterminated doc comment')
            end = self.src.index('\n', self.pos)
            text = self.src[self.pos:end]
            self.pos = end + 1
            self.line += 1
            if text == '##':
                break
            if not text.startswith('#'):
                raise QAPIError(self._info(self.line - 1),
                                "doc comment line must start with '#'")
            if len(text) > 1 and text[1] != ' ':
                raise QAPIError(self._info(self.line - 1),
                                "missing space after '#'")
            lines.append((self.line - 1, text[2:]))
        return DocBlock(self._info(start_line), lines)

    def _parse_file(self):
        self._next()
        doc = None
        while self.tok is not None:
            if self.tok == '#DOC':
                if doc is not None:
                    self._flush_freeform(doc)
                doc = self._doc_block()
                self._next()
                continue
            if self.tok != '{':
                self._error('expected definition, got %s' % self._tok_name())
            info = self._info(self.tok_line)
            expr = self._object()
            if 'include' in expr:
                if doc is not None:
                    self._flush_freeform(doc)
                    doc = None
                self._include(expr, info)
                continue
            if 'pragma' in expr:
                continue        # accepted for QEMU compatibility, unused
            if doc is not None and doc.symbol is None:
                self._flush_freeform(doc)
                doc = None
            self.entries.append(Entry(expr, info, doc))
            doc = None
        if doc is not None:
            self._flush_freeform(doc)

    def _flush_freeform(self, doc):
        if doc.symbol is not None:
            raise QAPIError(doc.info, "documentation for '%s' is not "
                            "followed by its definition" % doc.symbol)
        self.entries.append(Entry(None, doc.info, doc))

    def _include(self, expr, info):
        if len(expr) != 1 or not isinstance(expr['include'], str):
            raise QAPIError(info, "invalid 'include' directive")
        path = os.path.join(os.path.dirname(self.fname), expr['include'])
        if os.path.abspath(path) in self.included:
            return
        sub = SchemaParser(path, self.included, info, self.files)
        self.entries.extend(sub.entries)


def parse_schema(fname):
    """(entries, [(file name, info of its include directive)])"""
    parser = SchemaParser(fname)
    return parser.entries, parser.files
