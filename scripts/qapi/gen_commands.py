"""
qapi-commands.h / qapi-events.h / qapi-commands.c: prototypes of the
handwritten qmp_NAME() bodies, the marshallers that check arguments and
convert results, the dispatch table, and the event senders.

A command or event takes its arguments one by one (has_NAME before each
optional scalar), or with 'boxed': true as one pointer to its argument
struct, QEMU's way: qmp_NAME(ArgType *arg, GError **errp) and
qapi_event_send_NAME(const ArgType *arg).
"""
from .common import HEADER, params, to_json, free_value
from .names import c_string


def _ret_ctype(cmd):
    if cmd.ret_type is None:
        return 'void'
    return cmd.ret_type.c_type


def _members(item):
    return item.arg_type.members if item.arg_type else []


def _params(item, with_errp):
    if not item.boxed:
        return params(_members(item), with_errp)
    const = '' if with_errp else 'const '
    errp = ', GError **errp' if with_errp else ''
    return '%s%s *arg%s' % (const, item.arg_type.c_struct, errp)


def _proto(cmd):
    ret = _ret_ctype(cmd)
    sep = '' if ret.endswith('*') else ' '
    return '%s%sqmp_%s(%s)' % (ret, sep, cmd.c_name, _params(cmd, True))


def _marshal_name(cmd):
    return 'qmp_marshal_' + cmd.c_name


def gen_commands_header(schema):
    out = [HEADER, '#ifndef FERRY_QAPI_COMMANDS_H',
           '#define FERRY_QAPI_COMMANDS_H', '',
           '#include "qapi/qapi-types.h"', '#include "monitor/qmp-dispatch.h"',
           '', '/* Bodies, written by hand in monitor/qmp-cmds-*.c. */']
    for cmd in schema.commands:
        if cmd.gen:
            out.append(_proto(cmd) + ';')
    out += ['', '/* Marshallers: check @args, run the body, convert the '
            'result. */']
    for cmd in schema.commands:
        note = '' if cmd.gen else '   /* handwritten */'
        out.append('void %s(JsonObject *args, JsonNode **ret, GError **errp);%s'
                   % (_marshal_name(cmd), note))
    out += ['', '/* Every command, in schema order. */',
            'extern const QmpCommandDef qmp_command_table[];',
            'extern const size_t qmp_command_count;', '', '#endif']
    return '\n'.join(out) + '\n'


def _call_args(cmd):
    if cmd.boxed:
        return 'arg, &err'
    args = []
    for m in _members(cmd):
        if m.optional and not m.type.is_pointer():
            args.append('arg->has_%s' % m.c_name)
        args.append('arg->%s' % m.c_name)
    args.append('&err')
    return ', '.join(args)


def _marshal(cmd):
    name = _marshal_name(cmd)
    out = ['void %s(JsonObject *args, JsonNode **ret, GError **errp)' % name,
           '{', '    GError *err = NULL;']
    if cmd.arg_type:
        at = cmd.arg_type.c_struct
        out += ['    g_autoptr(%s) arg = NULL;' % at,
                '    g_autoptr(JsonNode) node = qapi_object_node(',
                '        json_object_ref(args));']
    if cmd.ret_type:
        ret = _ret_ctype(cmd)
        out.append('    %s%sretval;' % (ret, '' if ret.endswith('*') else ' '))
    out.append('')
    if cmd.arg_type:
        out += ['    if (!qapi_%s_from_json(node, &arg, errp)) {' % at]
    else:
        out += ['    if (!qapi_check_no_args(args, errp)) {']
    out += ['        return;', '    }']
    call = 'qmp_%s(%s);' % (cmd.c_name, _call_args(cmd))
    if cmd.ret_type:
        call = 'retval = ' + call
    out += ['    ' + call,
            '    if (err) {', '        g_propagate_error(errp, err);']
    free = free_value(cmd.ret_type, 'retval') if cmd.ret_type else None
    if free:
        out.append('        ' + free)
    out += ['        return;', '    }']
    if cmd.ret_type:
        out.append('    *ret = %s;' % to_json(cmd.ret_type, 'retval'))
        if free:
            out.append('    ' + free)
    else:
        out.append('    *ret = qapi_object_node(json_object_new());')
    out += ['}', '']
    return out


def _flags(cmd):
    flags = []
    if cmd.allow_oob:
        flags.append('QCO_ALLOW_OOB')
    if cmd.allow_preconfig:
        flags.append('QCO_ALLOW_PRECONFIG')
    if not cmd.success_response:
        flags.append('QCO_NO_SUCCESS_RESP')
    return ' | '.join(flags) or '0'


def _event_proto(ev):
    return 'void qapi_event_send_%s(%s)' % (ev.c_name, _params(ev, False))


def gen_events_header(schema):
    out = [HEADER, '#ifndef FERRY_QAPI_EVENTS_H', '#define FERRY_QAPI_EVENTS_H',
           '', '#include "qapi/qapi-types.h"', '',
           '/* Each sends its event to every QMP client; any thread may call. */']
    for ev in schema.events:
        out.append(_event_proto(ev) + ';')
    out += ['', '#endif']
    return '\n'.join(out) + '\n'


def _event(ev):
    out = [_event_proto(ev), '{']
    if not ev.arg_type:
        out += ['    qmp_event_emit(%s, NULL);' % c_string(ev.name), '}', '']
        return out
    if ev.boxed:
        out += ['    qmp_event_emit(%s, qapi_%s_to_json(arg));'
                % (c_string(ev.name), ev.arg_type.c_struct), '}', '']
        return out
    inits = []
    for m in _members(ev):
        if m.optional and not m.type.is_pointer():
            inits.append('.has_%s = has_%s' % (m.c_name, m.c_name))
        cast = '(char *)' if m.c_param_type() == 'const char *' else ''
        inits.append('.%s = %s%s' % (m.c_name, cast, m.c_name))
    out += ['    %s param = {' % ev.arg_type.c_struct]
    out += ['        %s,' % i for i in inits]
    out += ['    };', '',
            '    qmp_event_emit(%s, qapi_%s_to_json(&param));'
            % (c_string(ev.name), ev.arg_type.c_struct), '}', '']
    return out


def gen_commands_source(schema):
    out = [HEADER, '#include "qapi/qapi-commands.h"',
           '#include "qapi/qapi-events.h"', '#include "qapi/qapi-visit.h"',
           '#include "monitor/monitor.h"', '']
    for cmd in schema.commands:
        if cmd.gen:
            out += _marshal(cmd)
    out.append('const QmpCommandDef qmp_command_table[] = {')
    for cmd in schema.commands:
        out.append('    { %s, %s, %s },' % (c_string(cmd.name),
                                           _marshal_name(cmd), _flags(cmd)))
    out += ['};', '',
            'const size_t qmp_command_count = G_N_ELEMENTS(qmp_command_table);',
            '']
    for ev in schema.events:
        out += _event(ev)
    return '\n'.join(out) + '\n'

