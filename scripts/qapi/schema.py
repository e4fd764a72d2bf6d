"""
The checked schema: types, commands and events built from the parsed
expressions, with every reference resolved.  Generators only read this.
"""
import os
import re

from .error import QAPIError
from .names import c_name, c_enum_const
from .parser import parse_schema

# name: (C type, JSON type for introspection, input kind, min, max)
BUILTINS = {
    'str': ('char *', 'string', 'str', None, None),
    'number': ('double', 'number', 'number', None, None),
    'bool': ('bool', 'boolean', 'bool', None, None),
    'any': ('JsonNode *', 'value', 'any', None, None),
    'int': ('int64_t', 'int', 'int', 'INT64_MIN', 'INT64_MAX'),
    'int8': ('int8_t', 'int', 'int', 'INT8_MIN', 'INT8_MAX'),
    'int16': ('int16_t', 'int', 'int', 'INT16_MIN', 'INT16_MAX'),
    'int32': ('int32_t', 'int', 'int', 'INT32_MIN', 'INT32_MAX'),
    'int64': ('int64_t', 'int', 'int', 'INT64_MIN', 'INT64_MAX'),
    'uint8': ('uint8_t', 'int', 'uint', None, 'UINT8_MAX'),
    'uint16': ('uint16_t', 'int', 'uint', None, 'UINT16_MAX'),
    'uint32': ('uint32_t', 'int', 'uint', None, 'UINT32_MAX'),
    'uint64': ('uint64_t', 'int', 'uint', None, 'UINT64_MAX'),
    'size': ('uint64_t', 'int', 'uint', None, 'UINT64_MAX'),
}

_NAME_RE = re.compile(r'^[A-Za-z][A-Za-z0-9_.-]*$')


class Type:
    info = None
    doc = None
    module = None               # schema file's base name; None: built-in

    def is_pointer(self):
        """True if an optional member of this type is NULL when absent."""
        return True


class BuiltinType(Type):
    def __init__(self, name):
        self.name = name
        (self.c_type, self.json_type, self.kind,
         self.min, self.max) = BUILTINS[name]

    def is_pointer(self):
        return self.kind in ('str', 'any')

    def c_list_name(self):
        return self.name + 'List'


class EnumType(Type):
    def __init__(self, name, values, prefix, info, doc, features):
        self.name, self.values, self.prefix = name, values, prefix
        self.info, self.doc, self.features = info, doc, features
        self.json_type = 'string'
        self.c_type = c_name(name)

    def is_pointer(self):
        return False

    def const(self, value):
        return c_enum_const(self.name, value, self.prefix)

    def max_const(self):
        return c_enum_const(self.name, '_MAX', self.prefix)

    def c_list_name(self):
        return c_name(self.name) + 'List'


class Member:
    def __init__(self, name, typ, optional, features, info):
        self.name, self.type, self.optional = name, typ, optional
        self.features, self.info = features, info
        self.c_name = c_name(name)

    def c_param_type(self):
        """Parameter type of commands/events: strings are const."""
        if self.type.c_type == 'char *':
            return 'const char *'
        return self.type.c_type


class ObjectType(Type):
    """A struct, a union, or the implicit argument struct of a command."""

    def __init__(self, name, info, doc, features, implicit=False):
        self.name, self.info, self.doc = name, info, doc
        self.features, self.implicit = features, implicit
        self.members = []           # flattened: base members first
        self.local_members = []     # declared in this definition
        self.base = None
        self.tag = None             # Member, for unions
        self.variants = []          # [(case value, ObjectType)]
        self.json_type = 'object'
        self.c_type = c_name(name) + ' *'
        self.c_struct = c_name(name)

    def c_list_name(self):
        return self.c_struct + 'List'


class ArrayType(Type):
    def __init__(self, element):
        self.element = element
        self.module = element.module
        self.name = element.name + 'List'
        self.json_type = 'array'
        self.c_struct = element.c_list_name()
        self.c_type = self.c_struct + ' *'


class Command:
    def __init__(self, name, arg_type, ret_type, flags, info, doc, features):
        self.name, self.arg_type, self.ret_type = name, arg_type, ret_type
        self.info, self.doc, self.features = info, doc, features
        self.boxed = flags.get('boxed', False)
        self.gen = flags.get('gen', True)
        self.allow_oob = flags.get('allow-oob', False)
        self.allow_preconfig = flags.get('allow-preconfig', False)
        self.success_response = flags.get('success-response', True)
        self.c_name = c_name(name, False)


class Event:
    def __init__(self, name, arg_type, boxed, info, doc, features):
        self.name, self.arg_type, self.boxed = name, arg_type, boxed
        self.info, self.doc, self.features = info, doc, features
        self.c_name = c_name(name.lower(), False)


_KEYS = {
    'enum': {'data', 'prefix', 'features'},
    'struct': {'data', 'base', 'features'},
    'union': {'data', 'base', 'discriminator', 'features'},
    'command': {'data', 'boxed', 'returns', 'gen', 'success-response',
                'allow-oob', 'allow-preconfig', 'coroutine', 'features'},
    'event': {'data', 'boxed', 'features'},
}
_UNSUPPORTED = {'if': "'if' conditions", 'alternate': 'alternate types'}


def module_name(fname):
    """qapi/run-state.json -> 'run-state'."""
    return os.path.splitext(os.path.basename(fname))[0]


class Schema:
    def __init__(self, fname):
        self.entries, files = parse_schema(fname)
        self.main_module = module_name(fname)
        self.modules = self._modules(files)
        self.types = {n: BuiltinType(n) for n in BUILTINS}
        self.defs = []              # user-defined types, in schema order
        self.commands = []
        self.events = []
        self._pending = []
        for e in self.entries:
            if e.expr is not None:
                self._define(e)
        for fn in self._pending:
            fn()
        self._check_docs()

    def _modules(self, files):
        """Every schema file's module name, in include order."""
        seen = {}
        for path, info in files:
            name = module_name(path)
            if name in seen:
                raise QAPIError(info, "schema files '%s' and '%s' have the "
                                "same module name '%s'"
                                % (seen[name], path, name))
            seen[name] = path
        return list(seen)

    # --- definitions ----------------------------------------------------

    def _define(self, entry):
        expr, info, doc = entry.expr, entry.info, entry.doc
        for key, what in _UNSUPPORTED.items():
            if key in expr:
                raise QAPIError(info, '%s are not supported by ferry' % what)
        meta = next((k for k in _KEYS if k in expr), None)
        if meta is None:
            raise QAPIError(info, 'expression is not a definition '
                            '(expected enum, struct, union, command or '
                            'event)')
        name = expr[meta]
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise QAPIError(info, "%s name %r is invalid" % (meta, name))
        for key in expr:
            if key != meta and key not in _KEYS[meta]:
                raise QAPIError(info, "%s '%s' has unknown key '%s'"
                                % (meta, name, key))
        if doc is None:
            raise QAPIError(info, "%s '%s' lacks a doc comment"
                            % (meta, name))
        if doc.symbol != name:
            raise QAPIError(doc.info, "doc comment is for '%s', but the "
                            "definition that follows is '%s'"
                            % (doc.symbol, name))
        features = self._features(expr.get('features', []), info)
        getattr(self, '_def_' + meta)(name, expr, info, doc, features)

    def _add_type(self, typ, info):
        if typ.name in self.types:
            raise QAPIError(info, "'%s' is already defined" % typ.name)
        typ.module = module_name(info.fname)
        self.types[typ.name] = typ
        self.defs.append(typ)

    def _features(self, feats, info):
        out = []
        if not isinstance(feats, list):
            raise QAPIError(info, "'features' must be an array")
        for f in feats:
            if isinstance(f, dict):
                f = f.get('name')
            if not isinstance(f, str):
                raise QAPIError(info, 'feature must be a string or '
                                "{'name': ...}")
            out.append(f)
        return out

    def _def_enum(self, name, expr, info, doc, features):
        data = expr.get('data')
        if not isinstance(data, list) or not data:
            raise QAPIError(info, "enum '%s' needs a non-empty 'data' array"
                            % name)
        values = []
        for v in data:
            vname = v.get('name') if isinstance(v, dict) else v
            if not isinstance(vname, str) or \
                    not re.match(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$', vname):
                raise QAPIError(info, "enum '%s' has invalid value %r"
                                % (name, vname))
            if vname in values:
                raise QAPIError(info, "enum '%s' has duplicate value '%s'"
                                % (name, vname))
            values.append(vname)
        self._add_type(EnumType(name, values, expr.get('prefix'), info, doc,
                                features), info)

    def _def_struct(self, name, expr, info, doc, features):
        obj = ObjectType(name, info, doc, features)
        self._add_type(obj, info)
        self._pending.append(lambda: self._fill_object(obj, expr))

    def _def_union(self, name, expr, info, doc, features):
        for key in ('base', 'discriminator', 'data'):
            if key not in expr:
                raise QAPIError(info, "union '%s' lacks '%s'" % (name, key))
        obj = ObjectType(name, info, doc, features)
        self._add_type(obj, info)
        self._pending.append(lambda: self._fill_union(obj, expr))

    def _def_command(self, name, expr, info, doc, features):
        for flag in ('boxed', 'gen', 'success-response', 'allow-oob',
                     'allow-preconfig', 'coroutine'):
            if flag in expr and not isinstance(expr[flag], bool):
                raise QAPIError(info, "'%s' of command '%s' must be true or "
                                "false" % (flag, name))
        cmd = Command(name, None, None, expr, info, doc, features)
        if any(c.name == name for c in self.commands):
            raise QAPIError(info, "command '%s' is already defined" % name)
        self.commands.append(cmd)

        def resolve():
            cmd.arg_type = self._arg_type(name, expr.get('data'), info,
                                          cmd.boxed)
            if 'returns' in expr:
                cmd.ret_type = self._type_ref(expr['returns'], info,
                                              "'returns' of '%s'" % name)
        self._pending.append(resolve)

    def _def_event(self, name, expr, info, doc, features):
        if name.upper() != name:
            raise QAPIError(info, "event name '%s' must be upper case"
                            % name)
        boxed = expr.get('boxed', False)
        if not isinstance(boxed, bool):
            raise QAPIError(info, "'boxed' of event '%s' must be true or "
                            "false" % name)
        ev = Event(name, None, boxed, info, doc, features)
        if any(e.name == name for e in self.events):
            raise QAPIError(info, "event '%s' is already defined" % name)
        self.events.append(ev)

        def resolve():
            ev.arg_type = self._arg_type(name, expr.get('data'), info, boxed)
        self._pending.append(resolve)

    # --- resolution -----------------------------------------------------

    def _type_ref(self, ref, info, what, allow_array=True):
        if isinstance(ref, list):
            if len(ref) != 1 or not allow_array:
                raise QAPIError(info, '%s: an array type is written '
                                "['Type']" % what)
            return self._array_of(self._type_ref(ref[0], info, what, False))
        if not isinstance(ref, str):
            raise QAPIError(info, '%s must name a type' % what)
        if ref == 'null':
            raise QAPIError(info, "%s: type 'null' is not supported" % what)
        typ = self.types.get(ref)
        if typ is None:
            raise QAPIError(info, "%s uses unknown type '%s'" % (what, ref))
        return typ

    def _array_of(self, elem):
        key = '[' + elem.name + ']'
        if key not in self.types:
            self.types[key] = ArrayType(elem)
        return self.types[key]

    def _members(self, owner, data, info):
        if not isinstance(data, dict):
            raise QAPIError(info, "'data' of '%s' must be an object"
                            % owner.name)
        members = []
        for key, ref in data.items():
            optional = key.startswith('*')
            mname = key[1:] if optional else key
            if not _NAME_RE.match(mname):
                raise QAPIError(info, "'%s' has invalid member name '%s'"
                                % (owner.name, mname))
            feats = []
            if isinstance(ref, dict):
                feats = self._features(ref.get('features', []), info)
                ref = ref.get('type')
            typ = self._type_ref(ref, info, "member '%s' of '%s'"
                                 % (mname, owner.name))
            members.append(Member(mname, typ, optional, feats, info))
        return members

    def _fill_object(self, obj, expr):
        if getattr(obj, '_filled', False):
            return
        obj._filled = True
        if 'base' in expr:
            base = self._type_ref(expr['base'], obj.info,
                                  "'base' of '%s'" % obj.name, False)
            if not isinstance(base, ObjectType) or base.tag:
                raise QAPIError(obj.info, "'base' of '%s' must be a struct"
                                % obj.name)
            self._fill_later(base)
            obj.base = base
            obj.members = list(base.members)
        obj.local_members = self._members(obj, expr.get('data', {}),
                                          obj.info)
        self._add_members(obj, obj.local_members)

    def _fill_later(self, obj):
        """Resolves @obj now if it is still pending (base before child)."""
        for e in self.entries:
            if e.expr and e.expr.get('struct') == obj.name:
                self._fill_object(obj, e.expr)

    def _add_members(self, obj, members):
        for m in members:
            if any(o.c_name == m.c_name for o in obj.members):
                raise QAPIError(obj.info, "member '%s' of '%s' clashes with "
                                'another member' % (m.name, obj.name))
            obj.members.append(m)

    def _fill_union(self, obj, expr):
        base = expr['base']
        if isinstance(base, dict):
            implicit = self._implicit(obj.name + '-base', base, obj.info)
            obj.base = implicit
        else:
            obj.base = self._type_ref(base, obj.info, "'base' of '%s'"
                                      % obj.name, False)
            if not isinstance(obj.base, ObjectType):
                raise QAPIError(obj.info, "'base' of '%s' must be a struct"
                                % obj.name)
            self._fill_later(obj.base)
        obj.members = list(obj.base.members)
        tag = next((m for m in obj.members
                    if m.name == expr['discriminator']), None)
        if tag is None or not isinstance(tag.type, EnumType) or tag.optional:
            raise QAPIError(obj.info, "discriminator '%s' of '%s' must be a "
                            'mandatory enum member of its base'
                            % (expr['discriminator'], obj.name))
        obj.tag = tag
        if not isinstance(expr['data'], dict):
            raise QAPIError(obj.info, "'data' of union '%s' must be an "
                            'object' % obj.name)
        for case, ref in expr['data'].items():
            if case not in tag.type.values:
                raise QAPIError(obj.info, "union '%s' has a branch '%s' that "
                                "is not a value of '%s'"
                                % (obj.name, case, tag.type.name))
            vtype = self._type_ref(ref, obj.info, "branch '%s' of '%s'"
                                   % (case, obj.name), False)
            if not isinstance(vtype, ObjectType) or vtype.tag:
                raise QAPIError(obj.info, "branch '%s' of '%s' must be a "
                                'struct' % (case, obj.name))
            self._fill_later(vtype)
            obj.variants.append((case, vtype))

    def _implicit(self, name, data, info):
        obj = ObjectType('q_obj_' + name, info, None, [], implicit=True)
        obj.module = module_name(info.fname)
        obj.local_members = self._members(obj, data, info)
        self._add_members(obj, obj.local_members)
        self.types[obj.name] = obj
        self.defs.append(obj)
        return obj

    def _arg_type(self, name, data, info, boxed):
        """The argument struct of a command or event.  Boxed, its handler
        or sender takes the struct; a union is accepted only boxed."""
        if data is None:
            if boxed:
                raise QAPIError(info, "'boxed': true requires 'data'")
            return None
        if isinstance(data, dict):
            return self._implicit(name + '-arg', data, info)
        typ = self._type_ref(data, info, "'data' of '%s'" % name, False)
        if not isinstance(typ, ObjectType):
            raise QAPIError(info, "'data' of '%s' must be an object or a "
                            "struct name, not '%s'" % (name, typ.name))
        if typ.tag and not boxed:
            raise QAPIError(info, "'data' of '%s' can be union '%s' only "
                            "with 'boxed': true" % (name, typ.name))
        return typ

    # --- documentation --------------------------------------------------

    def _check_docs(self):
        for typ in self.defs:
            if isinstance(typ, EnumType):
                self._check_doc(typ.doc, typ.values, typ.name)
            elif isinstance(typ, ObjectType) and not typ.implicit:
                local = typ.local_members
                if typ.tag and typ.base.implicit:
                    local = typ.base.members
                self._check_doc(typ.doc, [m.name for m in local], typ.name)
        for item in self.commands + self.events:
            names = []
            if item.arg_type and item.arg_type.implicit:
                names = [m.name for m in item.arg_type.members]
            self._check_doc(item.doc, names, item.name)
            if isinstance(item, Command) and not item.ret_type and \
                    any(s[0] == 'Returns' for s in item.doc.sections):
                raise QAPIError(item.doc.info, "'Returns:' section for '%s', "
                                'which returns nothing' % item.name)

    def _check_doc(self, doc, names, what):
        for arg in doc.args:
            if arg not in names:
                raise QAPIError(doc.info, "doc of '%s' describes '@%s', "
                                'which is not a member' % (what, arg))
        for n in names:
            if n not in doc.args:
                raise QAPIError(doc.info, "doc of '%s' lacks a description "
                                "of member '@%s'" % (what, n))

    # --- queries for generators ----------------------------------------

    def arrays(self):
        return [t for t in self.types.values() if isinstance(t, ArrayType)]
