"""
qapi-visit.h / qapi-visit.c: JSON conversion of every struct, union and
list, both ways: qapi_T_to_json() builds a json-glib node,
qapi_T_from_json() checks one against the schema with QEMU's error texts.
Nothing here refers to VM code, so ferryctl can link it.
"""
from .common import HEADER, indent, visit_value, to_json, variant_switch
from .names import c_name
from .schema import ObjectType


def _objects(schema):
    objs = [t for t in schema.defs if isinstance(t, ObjectType)]
    # a union's checks use its variants' member lists: those come first
    return [o for o in objs if not o.tag] + [o for o in objs if o.tag]


def _funcs_h(name):
    return ['JsonNode *qapi_%s_to_json(const %s *obj);' % (name, name),
            'bool qapi_%s_from_json(JsonNode *node, %s **out, GError **errp);'
            % (name, name)]


def gen_header(schema):
    out = [HEADER, '#ifndef FERRY_QAPI_VISIT_H', '#define FERRY_QAPI_VISIT_H',
           '', '#include <json-glib/json-glib.h>',
           '#include "monitor/qapi-runtime.h"', '#include "qapi/qapi-types.h"',
           '']
    for t in _objects(schema) + schema.arrays():
        out += _funcs_h(t.c_struct)
    out += ['', '#endif']
    return '\n'.join(out) + '\n'


# --- to JSON ----------------------------------------------------------------

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
    out += indent(variant_switch(o, lambda case, v: [
        'members_to_json_%s(o, &obj->u.%s);' % (v.c_struct, c_name(case)),
        'break;']))
    out += ['}', '',
            'JsonNode *qapi_%s_to_json(const %s *obj)'
            % (o.c_struct, o.c_struct), '{',
            '    JsonObject *o = json_object_new();', '',
            '    if (obj) {', '        members_to_json_%s(o, obj);' % o.c_struct,
            '    }', '    return qapi_object_node(o);', '}', '']
    return out


# --- from JSON --------------------------------------------------------------

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
    body += variant_switch(o, lambda case, v: [
        'return visit_members_%s(o, path, &obj->u.%s, errp);'
        % (v.c_struct, c_name(case))])
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
        out += indent(variant_switch(o, lambda case, v: [
            'variant = %s_names;' % v.c_struct, 'break;']))
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
    out = ['JsonNode *qapi_%s_to_json(const %s *obj)' % (s, s), '{',
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
    out = [HEADER, '#include "qapi/qapi-visit.h"', '']
    objs = _objects(schema)
    arrays = schema.arrays()
    for t in objs + arrays:
        s = t.c_struct
        out.append('static bool visit_%s(JsonNode *node, const char *path, '
                   '%s **out, GError **errp);' % (s, s))
    for o in objs:
        s = o.c_struct
        out += ['static void members_to_json_%s(JsonObject *o, const %s *obj);'
                % (s, s),
                'static bool visit_members_%s(JsonObject *o, const char *path, '
                '%s *obj, GError **errp);' % (s, s)]
    out.append('')
    for o in objs:
        out += _to_json_object(o) + _from_json_object(o)
    for a in arrays:
        out += _list_c(a)
    return '\n'.join(out) + '\n'
