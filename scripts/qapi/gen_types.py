"""
The plain C types, one header and source per schema module, as QEMU
splits them:

  qapi-builtin-types.h/.c   lists of built-in types (strList, ...)
  qapi-types-MODULE.h/.c    enums (with _str/_lookup), structs, unions,
                            lists and qapi_free_*() of qapi/MODULE.json
  qapi-types.h/.c           the main schema file's own types; the header
                            includes every module's

They need only glib and util/qapi-enum.h, so a module's types build into
a library without the monitor.  A header includes the headers of the
modules whose types it uses.  JSON conversion is in qapi-visit (see
gen_visit.py).
"""
from .common import HEADER, indent, member_decl, free_value, variant_switch
from .error import QAPIError
from .names import c_name, c_string
from .schema import ArrayType, BuiltinType, EnumType, ObjectType

BUILTIN = None                  # the module of built-in types and lists


def file_base(schema, module):
    """The generated file name for @module, without .h/.c."""
    if module is BUILTIN:
        return 'qapi-builtin-types'
    if module == schema.main_module:
        return 'qapi-types'
    return 'qapi-types-' + module


def _guard(base):
    return 'FERRY_QAPI_%s_H' % c_name(base[len('qapi-'):], False).upper()


def _objects(schema, module):
    objs = [t for t in schema.defs
            if isinstance(t, ObjectType) and t.module == module]
    # variants are embedded by value in unions: define plain structs first
    return [o for o in objs if not o.tag] + [o for o in objs if o.tag]


def _enums(schema, module):
    return [t for t in schema.defs
            if isinstance(t, EnumType) and t.module == module]


def _arrays(schema, module):
    return [a for a in schema.arrays() if a.module == module]


def _refs(typ):
    """The types the C definition of @typ uses."""
    if isinstance(typ, ObjectType):
        return [m.type for m in typ.members] + [v for _, v in typ.variants]
    if isinstance(typ, ArrayType):
        return [typ.element]
    return []


def _uses_any(schema, module):
    return any(isinstance(r, BuiltinType) and r.kind == 'any'
               for t in _objects(schema, module) + _arrays(schema, module)
               for r in _refs(t))


def _deps(schema, module):
    """{module: the first type of @module that uses one of its types}"""
    deps = {}
    for t in _objects(schema, module) + _arrays(schema, module):
        for r in _refs(t):
            if r.module not in (BUILTIN, module) and r.module not in deps:
                deps[r.module] = t
    return deps


def check_modules(schema):
    """Fails when modules use each other's types: their headers could not
    include each other."""
    graph = {m: _deps(schema, m) for m in schema.modules}
    state = {}
    for m, deps in graph.items():
        user = deps.get(schema.main_module)
        if user and m != schema.main_module:
            raise QAPIError(user.info, "'%s' uses a type of the main schema "
                            "file, which includes every module's types: "
                            'define that type in an included file'
                            % user.name)

    def visit(m, path):
        state[m] = 'open'
        for dep, user in graph[m].items():
            if state.get(dep) == 'open':
                cycle = path[path.index(dep):] + [m, dep]
                raise QAPIError(user.info, "the types of modules %s use "
                                'each other (%s uses a type of %s)'
                                % (' -> '.join("'%s'" % c for c in cycle),
                                   user.name, dep))
            if dep not in state:
                visit(dep, path + [m])
        state[m] = 'done'
    for m in schema.modules:
        if m not in state:
            visit(m, [])


# --- headers ----------------------------------------------------------------

def _enum_h(e):
    out = ['typedef enum %s {' % e.c_type]
    out += ['    %s,' % e.const(v) for v in e.values]
    out += ['    %s,' % e.max_const(), '} %s;' % e.c_type, '',
            'extern const QEnumLookup %s_enum;' % e.c_type,
            'const char *%s_str(%s value);' % (e.c_type, e.c_type),
            '/* The value named @name, or -1. */',
            'int %s_lookup(const char *name);' % e.c_type, '']
    return out


def _struct_h(o):
    out = ['struct %s {' % o.c_struct]
    body = []
    for m in o.members:
        body += member_decl(m)
    if o.tag and o.variants:
        body.append('union { /* selected by @%s */' % o.tag.c_name)
        body += ['    %s %s;' % (v.c_struct, c_name(c)) for c, v in o.variants]
        body.append('} u;')
    if not body:
        body = ['char qapi_dummy_for_empty_struct;']
    return out + indent(body) + ['};', '']


def _list_h(a):
    elem = a.element.c_type
    sep = '' if elem.endswith('*') else ' '
    return ['struct %s {' % a.c_struct,
            '    struct %s *next;' % a.c_struct,
            '    %s%svalue;' % (elem, sep), '};', '']


def _mergeable(o):
    """A patch-style struct: every member optional, scalars and strings.
    qapi_merge_NAME() applies one to another (migrate-set-parameters)."""
    return (not o.tag and o.members and not o.name.startswith('q_obj_') and
            all(m.optional and (not m.type.is_pointer() or
                                (isinstance(m.type, BuiltinType) and
                                 m.type.kind == 'str'))
                for m in o.members))


def _merge_h(o):
    return ['/* Sets the members @src has on @dst (a partial update). */',
            'void qapi_merge_%s(%s *dst, const %s *src);'
            % (o.c_struct, o.c_struct, o.c_struct), '']


def _free_h(name):
    return ['void qapi_free_%s(%s *obj);' % (name, name),
            'G_DEFINE_AUTOPTR_CLEANUP_FUNC(%s, qapi_free_%s)' % (name, name),
            '']


def gen_header(schema, module):
    base = file_base(schema, module)
    out = [HEADER, '#ifndef ' + _guard(base), '#define ' + _guard(base), '']
    if module is BUILTIN:
        out += ['#include <stdbool.h>', '#include <stdint.h>',
                '#include <glib.h>', '#include "util/qapi-enum.h"']
    else:
        out.append('#include "qapi/qapi-builtin-types.h"')
        deps = _deps(schema, module)
        if module == schema.main_module:
            deps = [m for m in schema.modules if m != module]
        out += ['#include "qapi/%s.h"' % file_base(schema, m)
                for m in schema.modules if m in deps]
    out.append('')
    if _uses_any(schema, module):
        out += ["/* 'any' values are json-glib nodes, freed by the JSON "
                'runtime. */',
                'typedef struct _JsonNode JsonNode;',
                'void qapi_free_any(JsonNode *node);', '']
    for e in _enums(schema, module):
        out += _enum_h(e)
    objs = _objects(schema, module)
    arrays = _arrays(schema, module)
    for t in objs + arrays:
        out.append('typedef struct %s %s;' % (t.c_struct, t.c_struct))
    if objs or arrays:
        out.append('')
    for o in objs:
        out += _struct_h(o)
    for a in arrays:
        out += _list_h(a)
    for t in objs + arrays:
        out += _free_h(t.c_struct)
    for o in objs:
        if _mergeable(o):
            out += _merge_h(o)
    out += ['#endif']
    return '\n'.join(out) + '\n'


# --- sources ----------------------------------------------------------------

def _enum_c(e):
    out = ['static const char *const %s_names[] = {' % e.c_type]
    out += ['    [%s] = %s,' % (e.const(v), c_string(v)) for v in e.values]
    out += ['};', '',
            'const QEnumLookup %s_enum = { %s_names, %s };'
            % (e.c_type, e.c_type, e.max_const()), '',
            'const char *%s_str(%s value)' % (e.c_type, e.c_type), '{',
            '    return qapi_enum_str(&%s_enum, value);' % e.c_type, '}', '',
            'int %s_lookup(const char *name)' % e.c_type, '{',
            '    return qapi_enum_lookup(&%s_enum, name);' % e.c_type, '}', '']
    return out


def _free_members(members, prefix):
    frees = [free_value(m.type, prefix + m.c_name) for m in members]
    return [f for f in frees if f]


def _free_object(o):
    def case_frees(case, v):
        frees = _free_members(v.members, 'obj->u.%s.' % c_name(case))
        return frees + ['break;'] if frees else []
    body = _free_members(o.members, 'obj->') + variant_switch(o, case_frees)
    out = ['void qapi_free_%s(%s *obj)' % (o.c_struct, o.c_struct), '{']
    if body:
        out += ['    if (!obj) {', '        return;', '    }']
        out += indent(body)
    return out + ['    g_free(obj);', '}', '']


def _merge_object(o):
    body = []
    for m in o.members:
        if m.type.is_pointer():         # a string: NULL when absent
            body += ['if (src->%s) {' % m.c_name,
                     '    g_free(dst->%s);' % m.c_name,
                     '    dst->%s = g_strdup(src->%s);' % (m.c_name, m.c_name),
                     '}']
        else:
            body += ['if (src->has_%s) {' % m.c_name,
                     '    dst->has_%s = true;' % m.c_name,
                     '    dst->%s = src->%s;' % (m.c_name, m.c_name), '}']
    return (['void qapi_merge_%s(%s *dst, const %s *src)'
             % (o.c_struct, o.c_struct, o.c_struct), '{'] + indent(body) +
            ['}', ''])


def _free_list(a):
    s = a.c_struct
    free = free_value(a.element, 'l->value')
    out = ['void qapi_free_%s(%s *obj)' % (s, s), '{',
           '    while (obj) {', '        %s *l = obj;' % s, '',
           '        obj = obj->next;']
    if free:
        out.append('        ' + free)
    return out + ['        g_free(l);', '    }', '}', '']


def gen_source(schema, module):
    out = [HEADER, '#include "qapi/%s.h"' % file_base(schema, module), '']
    for e in _enums(schema, module):
        out += _enum_c(e)
    for o in _objects(schema, module):
        out += _free_object(o)
        if _mergeable(o):
            out += _merge_object(o)
    for a in _arrays(schema, module):
        out += _free_list(a)
    return '\n'.join(out) + '\n'


def gen_files(schema):
    """{file name: text} for every module, built-ins included."""
    check_modules(schema)
    files = {}
    for module in [BUILTIN] + schema.modules:
        base = file_base(schema, module)
        files[base + '.h'] = gen_header(schema, module)
        files[base + '.c'] = gen_source(schema, module)
    return files
