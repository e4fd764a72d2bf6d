"""
docs/qmp.md: the QMP reference, built from the schema and its doc
comments, in schema order (free-form blocks become headings and prose).
"""
import re

from .schema import ArrayType, BuiltinType, EnumType, ObjectType


class _Doc:
    def __init__(self, schema):
        self.schema = schema
        self.known = {t.name for t in schema.defs if not
                      getattr(t, 'implicit', False)}
        self.known |= {c.name for c in schema.commands}
        self.known |= {e.name for e in schema.events}
        self.out = []
        by_info = {}
        for item in schema.defs + schema.commands + schema.events:
            if item.doc is not None:
                by_info[id(item.doc)] = item
        for entry in schema.entries:
            if entry.expr is None:
                self._freeform(entry.doc)
            elif id(entry.doc) in by_info:
                self._definition(by_info[id(entry.doc)])

    # --- text -------------------------------------------------------------

    def _link(self, name):
        if name in self.known:
            return '[`%s`](#%s)' % (name, _anchor(name))
        return '`%s`' % name

    def _refs(self, text):
        return re.sub(r'@([A-Za-z0-9_.-]*[A-Za-z0-9_])',
                      lambda m: self._link(m.group(1)), text)

    def _para(self, lines):
        """Paragraphs; lines starting with '- ' become list items."""
        out, cur = [], []

        def flush():
            if cur:
                out.append(self._refs(' '.join(cur)))
                cur.clear()
        for line in lines:
            if not line:
                flush()
                out.append('')
            elif line.startswith('- '):
                flush()
                cur.append(line)
            else:
                cur.append(line)
        flush()
        text = '\n'.join(out)
        return re.sub(r'\n\n+', '\n\n', text).strip()

    def _type_name(self, typ):
        if typ is None:
            return 'nothing'
        if isinstance(typ, ArrayType):
            return 'array of ' + self._type_name(typ.element)
        return self._link(typ.name) if not isinstance(typ, BuiltinType) \
            else '`%s`' % typ.name

    # --- blocks -----------------------------------------------------------

    def _freeform(self, doc):
        """Headings ('= T'), paragraphs, and indented lines as code."""
        para, code = [], []
        for line in doc.body + ['']:
            m = re.match(r'(=+) (.*)', line)
            if line.startswith('    '):
                self._emit_para(para)
                para = []
                code.append(line[4:])
                continue
            if code:
                self.out += ['```'] + code + ['```', '']
                code = []
            if m:
                self._emit_para(para)
                para = []
                self.out += ['#' * len(m.group(1)) + ' ' + m.group(2), '']
            else:
                para.append(line.strip())
        self._emit_para(para)

    def _emit_para(self, lines):
        text = self._para(lines)
        if text:
            self.out += [text, '']

    def _definition(self, item):
        doc = item.doc
        kind = _kind(item)
        self.out += ['<a id="%s"></a>' % _anchor(item.name), '',
                     '### `%s` (%s)' % (item.name, kind), '']
        self._emit_para(doc.body)
        if isinstance(item, EnumType):
            self._table('Values', [('`%s`' % v, '', doc.args.get(v, []))
                                   for v in item.values])
        elif isinstance(item, ObjectType):
            self._object(item)
        else:
            self._arguments(item)
        if doc.features:
            self._table('Features', [('`%s`' % f, '', t)
                                     for f, t in doc.features.items()])
        for tag, lines in doc.sections:
            self._section(tag, lines)

    def _members_rows(self, members, doc):
        rows = []
        for m in members:
            typ = self._type_name(m.type)
            if m.optional:
                typ += ' (optional)'
            rows.append(('`%s`' % m.name, typ, doc.args.get(m.name, [])))
        return rows

    def _object(self, obj):
        doc = obj.doc
        if obj.tag:
            base = obj.base
            if base.implicit:
                self._table('Members', self._members_rows(base.members, doc))
            else:
                self.out += ['**Members:** those of %s' % self._link(base.name),
                             '']
            rows = [('`%s`' % c, 'the members of ' + self._link(v.name), [])
                    for c, v in obj.variants]
            self._table('Variants, selected by `%s`' % obj.tag.name, rows)
            return
        if obj.base:
            self.out += ['**Base:** %s' % self._link(obj.base.name), '']
        self._table('Members', self._members_rows(obj.local_members, doc))

    def _arguments(self, item):
        title = 'Arguments' if hasattr(item, 'ret_type') else 'Data'
        at = item.arg_type
        if at is None:
            self.out += ['**%s:** none' % title, '']
        elif at.implicit:
            self._table(title, self._members_rows(at.members, item.doc))
        else:
            self.out += ['**%s:** the members of %s' % (title,
                                                       self._link(at.name)),
                         '']
        if hasattr(item, 'ret_type') and item.ret_type is not None and \
                not any(t == 'Returns' for t, _ in item.doc.sections):
            self.out += ['**Returns:** %s' % self._type_name(item.ret_type),
                         '']

    def _table(self, title, rows):
        if not rows:
            return
        with_type = any(r[1] for r in rows)
        head = '| Name | Type | Description |' if with_type else \
            '| Name | Description |'
        self.out += ['**%s:**' % title, '', head,
                     '|---|---|---|' if with_type else '|---|---|']
        for name, typ, text in rows:
            desc = self._para(text).replace('\n\n', ' ').replace('\n', ' ')
            desc = desc.replace('|', '\\|')
            cells = [name, typ, desc] if with_type else [name, desc]
            self.out.append('| ' + ' | '.join(cells) + ' |')
        self.out.append('')

    def _section(self, tag, lines):
        if tag.startswith('Example'):
            self.out += ['**%s:**' % tag, '', '```']
            width = min((len(l) - len(l.lstrip()) for l in lines if l),
                        default=0)
            self.out += [l[width:] for l in lines]
            self.out += ['```', '']
        elif tag and lines[0].startswith('- '):
            self.out += ['**%s:**' % tag, '', self._para(lines), '']
        elif tag:
            self.out += ['**%s:** %s' % (tag, self._para(lines)), '']
        else:
            self._emit_para(lines)


def _kind(item):
    if isinstance(item, EnumType):
        return 'enum'
    if isinstance(item, ObjectType):
        return 'union' if item.tag else 'struct'
    return 'command' if hasattr(item, 'ret_type') else 'event'


def _anchor(name):
    return re.sub(r'[^a-z0-9_-]', '-', name.lower())


def gen_markdown(schema):
    doc = _Doc(schema)
    text = '\n'.join(doc.out).rstrip() + '\n'
    note = ('<!-- Generated by scripts/qapi-gen.py --doc from qapi/*.json; '
            'do not edit. -->\n\n')
    return note + text
