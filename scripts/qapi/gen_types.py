"""
qapi-types.h / qapi-types.c: enums, structs, unions and lists, with
deep free, to_json and from_json for each.  Nothing here refers to VM
code, so ferryctl can link it.
"""
from .common import (HEADER, indent, member_decl, visit_value, to_json,
                     free_value)
from .names import c_string
from .schema import ArrayType, EnumType, ObjectType


def _objects(schema):
    objs = [t for t in schema.defs if isinstance(t, ObjectType)]
    # variants are embedded by value in unions: define plain structs first
    return [o for o in objs if not o.tag] + [o for o in objs if o.tag]


def _enum_h(e):
    out = ['typedef enum %s {' % e.c_type]
    out += ['    %s,' % e.const(v) for v in e.values]
    out += ['    %s,' % e.max_const(), '} %s;' % e.c_type, '',
            'extern const QEnumLookup %s_enum;' % e.c_type,
            'const char *%s_str(%s value);' % (e.c_type, e.c_type),
            '/* The value named @name, or -1. */',
            'int %s_lookup(const char *name);' % e.c_type, '']
    return out


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


def _struct_h(o):
    out = ['struct %s {' % o.c_struct]
    body = []
    for m in o.members:
        body += member_decl(m)
    if o.tag and o.variants:
        body.append('union { /* selected by @%s */' % o.tag.c_name)
        body += ['    %s %s;' % (v.c_struct, _case(c)) for c, v in o.variants]
        body.append('} u;')
    if not body:
        body = ['char qapi_dummy_for_empty_struct;']
    return out + indent(body) + ['};', '']


def _case(case):
    from .names import c_name
    return c_name(case)


def _list_h(a):
    elem = a.element.c_type
    sep = '' if elem.endswith('*') else ' '
    return ['struct %s {' % a.c_struct,
            '    struct %s *next;' % a.c_struct,
            '    %s%svalue;' % (elem, sep), '};', '']


def _funcs_h(name):
    return ['void qapi_free_%s(%s *obj);' % (name, name),
            'JsonNode *qapi_%s_to_json(const %s *obj);' % (name, name),
            'bool qapi_%s_from_json(JsonNode *node, %s **out, GError **errp);'
            % (name, name),
            'G_DEFINE_AUTOPTR_CLEANUP_FUNC(%s, qapi_free_%s)' % (name, name),
            '']


def gen_header(schema):
    out = [HEADER, '#ifndef FERRY_QAPI_TYPES_H', '#define FERRY_QAPI_TYPES_H',
           '', '#include <stdbool.h>', '#include <stdint.h>',
           '#include <glib.h>', '#include <json-glib/json-glib.h>',
           '#include "monitor/qapi-runtime.h"', '']
    for t in schema.defs:
        if isinstance(t, EnumType):
            out += _enum_h(t)
    objs = _objects(schema)
    arrays = schema.arrays()
    for t in objs + arrays:
        out.append('typedef struct %s %s;' % (t.c_struct, t.c_struct))
    out.append('')
    for o in objs:
        out += _struct_h(o)
    for a in arrays:
        out += _list_h(a)
    for t in objs + arrays:
        out += _funcs_h(t.c_struct)
    out += ['#endif']
    return '\n'.join(out) + '\n'


# --- qapi-types.c ----------------------------------------------------------

def _free_object(o):
    out = ['static void free_members_%s(%s *obj)' % (o.c_struct, o.c_struct),
           '{']
    for m in o.members:
        stmt = free_value(m.type, 'obj->' + m.c_name)
        if stmt:
            out.append('    ' + stmt)
    if o.variants:
        out += ['    switch (obj->%s) {' % o.tag.c_name]
        for case, v in o.variants:
            out += ['    case %s:' % o.tag.type.const(case),
                    '        free_members_%s(&obj->u.%s);'
                    % (v.c_struct, _case(case)), '        break;']
        out += ['    default:', '        break;', '    }']
    out += ['}', '',
            'void qapi_free_%s(%s *obj)' % (o.c_struct, o.c_struct), '{',
            '    if (obj) {', '        free_members_%s(obj);' % o.c_struct,
            '        g_free(obj);', '    }', '}', '']
    return out


def _member_to_json(m):
    put = 'json_object_set_member(o, "%s", %s);' % (
        m.name, to_json(m.type, 'obj->' + m.c_name))
    if not m.optional:
        return ['    ' + put]
    cond = 'obj->has_%s' if not m.type.is_pointer() else 'obj->%s'
    return ['    if (%s) {' % (cond % m.c_name), '        ' + put, '    }']


def _to_json_object(o):
    out = ['static void members_to_json_%s(JsonObject *o, const %s *obj)'
           % (o.c_struct, o.c_struct), '{']
    for m in o.members:
        out += _member_to_json(m)
    if o.variants:
        out += ['    switch (obj->%s) {' % o.tag.c_name]
        for case, v in o.variants:
            out += ['    case %s:' % o.tag.type.const(case),
                    '        members_to_json_%s(o, &obj->u.%s);'
                    % (v.c_struct, _case(case)), '        break;']
        out += ['    default:', '        break;', '    }']
    out += ['}', '',
            'JsonNode *qapi_%s_to_json(const %s *obj)'
            % (o.c_struct, o.c_struct), '{',
            '    JsonObject *o = json_object_new();', '',
            '    if (obj) {', '        members_to_json_%s(o, obj);' % o.c_struct,
            '    }', '    return qapi_object_node(o);', '}', '']
    return out


def _visit_member(m):
    out = ['if (!qapi_get_member(o, path, "%s", %s, &n, errp)) {'
           % (m.name, 'true' if m.optional else 'false'),
           '    return false;', '}',
           'if (n) {']
    body = []
    if m.optional and not m.type.is_pointer():
        body.append('obj->has_%s = true;' % m.c_name)
    body.append('g_autofree char *p = qapi_member_path(path, "%s");' % m.name)
    body += visit_value(m.type, 'n', 'p', 'obj->' + m.c_name, 'return false;')
    return out + indent(body) + ['}']


def _from_json_object(o):
    s = o.c_struct
    out = ['static const char *const %s_names[] = {' % s]
    out += ['    "%s",' % m.name for m in o.members]
    out += ['    NULL', '};', '',
            'static bool visit_members_%s(JsonObject *o, const char *path, '
            '%s *obj,' % (s, s),
            '                             GError **errp)', '{']
    body = ['JsonNode *n = NULL;', '']
    for m in o.members:
        body += _visit_member(m)
    if o.variants:
        body += ['switch (obj->%s) {' % o.tag.c_name]
        for case, v in o.variants:
            body += ['case %s:' % o.tag.type.const(case),
                     '    return visit_members_%s(o, path, &obj->u.%s, errp);'
                     % (v.c_struct, _case(case))]
        body += ['default:', '    break;', '}']
    body += ['(void)n;', 'return true;']
    out += indent(body) + ['}', '']
    out += _check_object(o)
    out += ['static bool visit_%s(JsonNode *node, const char *path, %s **out,'
            % (s, s),
            '                      GError **errp)', '{',
            '    JsonObject *o = qapi_in_object(node, path, errp);',
            '    %s *obj;' % s, '',
            '    *out = NULL;', '    if (!o) {', '        return false;', '    }',
            '    obj = g_new0(%s, 1);' % s,
            '    if (!visit_members_%s(o, path, obj, errp) ||' % s,
            '        !check_members_%s(o, path, obj, errp)) {' % s,
            '        qapi_free_%s(obj);' % s, '        return false;', '    }',
            '    *out = obj;', '    return true;', '}', '']
    out += _public_from_json(s)
    return out


def _check_object(o):
    s = o.c_struct
    out = ['static bool check_members_%s(JsonObject *o, const char *path,' % s,
           '                             const %s *obj, GError **errp)' % s,
           '{', '    const char *const *variant = NULL;', '']
    if o.variants:
        out += ['    switch (obj->%s) {' % o.tag.c_name]
        for case, v in o.variants:
            out += ['    case %s:' % o.tag.type.const(case),
                    '        variant = %s_names;' % v.c_struct, '        break;']
        out += ['    default:', '        break;', '    }']
    else:
        out += ['    (void)obj;']
    out += ['    return qapi_check_members(o, path, %s_names, variant, errp);'
            % s, '}', '']
    return out


def _public_from_json(s):
    return ['bool qapi_%s_from_json(JsonNode *node, %s **out, GError **errp)'
            % (s, s), '{', '    return visit_%s(node, NULL, out, errp);' % s,
            '}', '']


def _list_c(a):
    s = a.c_struct
    free = free_value(a.element, 'l->value')
    out = ['void qapi_free_%s(%s *obj)' % (s, s), '{',
           '    while (obj) {', '        %s *l = obj;' % s, '',
           '        obj = obj->next;']
    if free:
        out.append('        ' + free)
    out += ['        g_free(l);', '    }', '}', '',
            'JsonNode *qapi_%s_to_json(const %s *obj)' % (s, s), '{',
            '    JsonArray *a = json_array_new();', '',
            '    for (; obj; obj = obj->next) {',
            '        json_array_add_element(a, %s);'
            % to_json(a.element, 'obj->value'),
            '    }', '    return qapi_array_node(a);', '}', '',
            'static bool visit_%s(JsonNode *node, const char *path, %s **out,'
            % (s, s),
            '                      GError **errp)', '{',
            '    JsonArray *a = qapi_in_array(node, path, errp);',
            '    %s *head = NULL, **tail = &head;' % s, '',
            '    *out = NULL;', '    if (!a) {', '        return false;', '    }',
            '    for (guint i = 0; i < json_array_get_length(a); i++) {',
            '        g_autofree char *p = qapi_index_path(path, i);',
            '        JsonNode *n = json_array_get_element(a, i);',
            '        %s *l = g_new0(%s, 1);' % (s, s), '',
            '        *tail = l;', '        tail = &l->next;']
    out += indent(visit_value(a.element, 'n', 'p', 'l->value', 'goto fail;'),
                  8)
    out += ['    }', '    *out = head;', '    return true;', '',
            'fail:', '    qapi_free_%s(head);' % s, '    return false;', '}',
            '']
    out += _public_from_json(s)
    return out


def gen_source(schema):
    out = [HEADER, '#include "qapi/qapi-types.h"', '']
    objs = _objects(schema)
    arrays = schema.arrays()
    for t in objs + arrays:
        s = t.c_struct
        out.append('static bool visit_%s(JsonNode *node, const char *path, '
                   '%s **out, GError **errp);' % (s, s))
    for o in objs:
        s = o.c_struct
        out += ['static void free_members_%s(%s *obj);' % (s, s),
                'static void members_to_json_%s(JsonObject *o, const %s *obj);'
                % (s, s),
                'static bool visit_members_%s(JsonObject *o, const char *path, '
                '%s *obj, GError **errp);' % (s, s)]
    out.append('')
    for t in schema.defs:
        if isinstance(t, EnumType):
            out += _enum_c(t)
    for o in objs:
        out += _free_object(o) + _to_json_object(o) + _from_json_object(o)
    for a in arrays:
        out += _list_c(a)
    return '\n'.join(out) + '\n'
