"""C naming rules, as QEMU's scripts/qapi/common.py defines them."""
import re

_C_WORDS = set('''
auto break case char const continue default do double else enum extern float
for goto if inline int long register restrict return short signed sizeof
static struct switch typedef union unsigned void volatile while _Bool
_Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn
_Static_assert _Thread_local asm typeof bool true false
unix errno mips sparc i386
'''.split())


def c_name(name, protect=True):
    """'x-poke' -> 'x_poke'; with @protect, C keywords get a 'q_' prefix."""
    name = re.sub(r'[^A-Za-z0-9_]', '_', name)
    if protect and (name in _C_WORDS or name[0].isdigit()):
        return 'q_' + name
    return name


def camel_to_upper(value):
    """RunState -> RUN_STATE, QMPCapability -> QMP_CAPABILITY."""
    ret = value[0]
    upc = value[0].isupper()
    for ch in value[1:]:
        if ch.isupper() == upc:
            pass
        elif upc:
            if len(ret) > 2 and ret[-2].isalnum():
                ret = ret[:-1] + '_' + ret[-1]
        elif ret[-1].isalnum():
            ret += '_'
        ret += ch
        upc = ch.isupper()
    return c_name(ret.upper()).lstrip('_')


def c_enum_const(type_name, value, prefix=None):
    return (prefix or camel_to_upper(type_name)) + '_' + \
        c_name(value, False).upper()


def c_string(text):
    """A C string literal for @text (ASCII in, escapes for the rest)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append('\\' + ch)
        elif ch == '\n':
            out.append('\\n')
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            for b in ch.encode('utf-8'):
                out.append('\\%03o' % b)
    return '"' + ''.join(out) + '"'
