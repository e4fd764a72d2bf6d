"""
qapi-introspect.c: the reply of query-qmp-schema, QEMU's SchemaInfo list,
as one JSON text.  Like QEMU, it lists every command and event, then the
types reachable from them; type names other than built-ins are replaced
by numbers so clients cannot come to depend on them.
"""
import json

from .common import HEADER
from .names import c_string
from .schema import ArrayType, BuiltinType, EnumType


class _Introspect:
    def __init__(self, schema, unmask=False):
        self.unmask = unmask
        self.names = {}
        self.trees = []
        self.queue = []
        self.seen = set()
        for cmd in schema.commands:
            self._command(cmd)
        for ev in schema.events:
            self._event(ev)
        while self.queue:
            self._type(self.queue.pop(0))

    def _mask(self, name):
        if self.unmask:
            return name
        if name not in self.names:
            self.names[name] = str(len(self.names))
        return self.names[name]

    def _use(self, typ):
        """The name clients see for @typ; queues it for output."""
        if typ is None:
            name = 'q_empty'
            if name not in self.seen:
                self.seen.add(name)
                self.queue.append(None)
            return self._mask(name)
        if isinstance(typ, BuiltinType):
            name = 'int' if typ.json_type == 'int' else typ.name
        elif isinstance(typ, ArrayType):
            name = '[%s]' % self._use(typ.element)
        else:
            name = typ.name
        key = name if not isinstance(typ, ArrayType) else 'array:' + name
        if key not in self.seen:
            self.seen.add(key)
            self.queue.append(typ)
        if isinstance(typ, (BuiltinType, ArrayType)):
            return name
        return self._mask(name)

    def _add(self, name, meta, extra, features=()):
        tree = {'name': name, 'meta-type': meta}
        tree.update(extra)
        if features:
            tree['features'] = list(features)
        self.trees.append(tree)

    def _command(self, cmd):
        extra = {'arg-type': self._use(cmd.arg_type),
                 'ret-type': self._use(cmd.ret_type)}
        if cmd.allow_oob:
            extra['allow-oob'] = True
        self._add(cmd.name, 'command', extra, cmd.features)

    def _event(self, ev):
        self._add(ev.name, 'event', {'arg-type': self._use(ev.arg_type)},
                  ev.features)

    def _type(self, typ):
        if typ is None:
            self._add(self._mask('q_empty'), 'object', {'members': []})
        elif isinstance(typ, BuiltinType):
            name = 'int' if typ.json_type == 'int' else typ.name
            self._add(name, 'builtin', {'json-type': typ.json_type})
        elif isinstance(typ, ArrayType):
            elem = self._use(typ.element)
            self._add('[%s]' % elem, 'array', {'element-type': elem})
        elif isinstance(typ, EnumType):
            self._add(self._mask(typ.name), 'enum',
                      {'members': [{'name': v} for v in typ.values],
                       'values': list(typ.values)}, typ.features)
        else:
            self._object(typ)

    def _object(self, obj):
        members = []
        for m in obj.members:
            mem = {'name': m.name, 'type': self._use(m.type)}
            if m.optional:
                mem['default'] = None
            if m.features:
                mem['features'] = list(m.features)
            members.append(mem)
        extra = {'members': members}
        if obj.tag:
            extra['tag'] = obj.tag.name
            extra['variants'] = [{'case': c, 'type': self._use(v)}
                                 for c, v in obj.variants]
        self._add(self._mask(obj.name), 'object', extra, obj.features)


def schema_info(schema, unmask=False):
    """The SchemaInfo list as Python data (used by tests and --doc)."""
    return _Introspect(schema, unmask).trees


def gen_header():
    return '\n'.join([
        HEADER, '#ifndef FERRY_QAPI_INTROSPECT_H',
        '#define FERRY_QAPI_INTROSPECT_H', '',
        '/* The query-qmp-schema reply: a JSON array of SchemaInfo. */',
        'extern const char qmp_schema_json[];', '', '#endif']) + '\n'


def gen_source(schema, unmask=False):
    trees = schema_info(schema, unmask)
    out = [HEADER, '#include "qapi/qapi-introspect.h"', '',
           'const char qmp_schema_json[] =', '    "["']
    for i, tree in enumerate(trees):
        text = json.dumps(tree, separators=(', ', ': '))
        if i + 1 < len(trees):
            text += ', '
        out.append('    ' + c_string(text))
    out += ['    "]";']
    return '\n'.join(out) + '\n'
