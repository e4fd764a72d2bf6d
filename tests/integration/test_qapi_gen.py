"""scripts/qapi-gen.py on schemas other than ferry's own: every construct
the dialect supports (so later commands can use them) must generate C
that compiles warning-free with ferry's flags, and every schema error
must be reported as FILE:LINE: message with exit status 1."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
GEN = os.path.join(ROOT, 'scripts', 'qapi-gen.py')
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
sys.dont_write_bytecode = True
from qapi.schema import Schema  # noqa: E402
from qapi.gen_introspect import schema_info  # noqa: E402

RICH = """
##
# = A test schema
##

{ 'include': 'sub.json' }

##
# @Base:
#
# A base.
#
# @id: an id
#
# @tag: a color
##
{ 'struct': 'Base', 'data': { 'id': 'str', '*tag': 'Color' } }

##
# @Child:
#
# @n: small
#
# @blob: anything
#
# @names: strings
#
# @sizes: sizes
#
# @colors: colors
#
# @kids: structs
#
# @ratio: a double
#
# @flag: a flag
#
# Features:
# @unstable: may change
##
{ 'struct': 'Child', 'base': 'Base',
  'data': { 'n': 'int8', '*blob': 'any', 'names': ['str'],
            '*sizes': ['size'], '*colors': ['Color'], '*kids': ['Base'],
            'ratio': 'number', '*flag': 'bool' },
  'features': [ 'unstable' ] }

##
# @Shape:
#
# @kind: the tag
##
{ 'union': 'Shape', 'base': { 'kind': 'Color' }, 'discriminator': 'kind',
  'data': { 'red': 'Base' } }

##
# @do-it:
#
# Returns: anything
##
{ 'command': 'do-it', 'data': 'Child', 'returns': 'any' }

##
# @query-shapes:
##
{ 'command': 'query-shapes', 'returns': ['Shape'] }

##
# @set-color:
#
# @color: c
#
# @where: w
#
# @force: f
#
# @list: l
#
# @old: o
##
{ 'command': 'set-color',
  'data': { 'color': 'Color', '*where': 'str', '*force': 'bool',
            '*list': ['int'],
            '*old': { 'type': 'int', 'features': [ 'deprecated' ] } },
  'returns': 'str', 'allow-oob': true }

##
# @fire:
##
{ 'command': 'fire', 'success-response': false, 'coroutine': true }

##
# @CHANGED:
#
# @color: c
#
# @note: n
#
# @count: k
##
{ 'event': 'CHANGED',
  'data': { 'color': 'Color', '*note': 'str', '*count': 'uint32' } }

##
# @BASED:
##
{ 'event': 'BASED', 'data': 'Base' }

##
# @boxed-child:
#
# Returns: a base
##
{ 'command': 'boxed-child', 'data': 'Child', 'boxed': true,
  'returns': 'Base' }

##
# @boxed-inline:
#
# @a: a
#
# @b: b
##
{ 'command': 'boxed-inline', 'data': { 'a': 'int', '*b': 'str' },
  'boxed': true }

##
# @boxed-shape:
##
{ 'command': 'boxed-shape', 'data': 'Shape', 'boxed': true }

##
# @BOXED:
##
{ 'event': 'BOXED', 'data': 'Child', 'boxed': true }

##
# @BOXED_INLINE:
#
# @n: n
##
{ 'event': 'BOXED_INLINE', 'data': { 'n': 'int' }, 'boxed': true }

{ 'pragma': { 'doc-required': true } }
"""

SUB = """
##
# @Color:
#
# @red: r
#
# @green: g
##
{ 'enum': 'Color',
  'data': [ 'red', { 'name': 'green', 'features': [ 'deprecated' ] } ] }
"""


CC_FLAGS = ['-std=gnu11', '-Wall', '-Wextra', '-Wformat=2',
            '-Wmissing-prototypes', '-Wstrict-prototypes', '-Wshadow',
            '-Wno-unused-parameter', '-Wno-missing-field-initializers',
            '-Wno-unused-function', '-Werror', '-D_GNU_SOURCE']


def pkg_cflags(*modules):
    out = subprocess.run(['pkg-config', '--cflags',
                          *(modules or ('glib-2.0', 'json-glib-1.0'))],
                         capture_output=True, text=True)
    return out.stdout.split() if out.returncode == 0 else None


class GeneratorTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='qapi-gen-')
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def gen(self, schema, *args):
        return subprocess.run([sys.executable, GEN, *args, schema],
                              capture_output=True, text=True, timeout=60)

    def gen_c(self, schema):
        """Generates C from @schema into a directory reachable as qapi/."""
        out = os.path.join(self.dir, 'out')
        r = self.gen(schema, '-o', out)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.makedirs(os.path.join(self.dir, 'inc'), exist_ok=True)
        os.symlink(out, os.path.join(self.dir, 'inc', 'qapi'))
        return out

    def compile(self, source, cflags, obj=os.devnull):
        cc = subprocess.run(
            ['cc', *CC_FLAGS, '-I', os.path.join(ROOT, 'include'),
             '-I', os.path.join(self.dir, 'inc'), *cflags,
             '-c', '-o', obj, source],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(cc.returncode, 0,
                         f'{os.path.basename(source)}:\n{cc.stderr}')

    def read(self, path):
        with open(path) as f:
            return f.read()

    def test_rich_schema_compiles(self):
        cflags = pkg_cflags()
        if cflags is None or not shutil.which('cc'):
            self.skipTest('no C compiler or pkg-config')
        self.write('sub.json', SUB)
        out = self.gen_c(self.write('schema.json', RICH))
        sources = sorted(f for f in os.listdir(out) if f.endswith('.c'))
        self.assertEqual(sources, [
            'qapi-builtin-types.c', 'qapi-commands.c', 'qapi-introspect.c',
            'qapi-types-sub.c', 'qapi-types.c', 'qapi-visit.c'])
        for c in sources:
            self.compile(os.path.join(out, c), cflags)
        with open(os.path.join(out, 'qapi-commands.h')) as f:
            cmds = f.read()
        self.assertIn('JsonNode *qmp_do_it(const char *id, bool has_tag, '
                      'Color tag, int8_t n, JsonNode *blob, strList *names, '
                      'sizeList *sizes, ColorList *colors, BaseList *kids, '
                      'double ratio, bool has_flag, bool flag, '
                      'GError **errp);', cmds)
        self.assertIn('char *qmp_set_color(Color color, const char *where, '
                      'bool has_force, bool force, intList *list, '
                      'bool has_old, int64_t old, GError **errp);', cmds)
        self.assertIn('ShapeList *qmp_query_shapes(GError **errp);', cmds)
        self.assertIn('void qmp_fire(GError **errp);', cmds)
        with open(os.path.join(out, 'qapi-events.h')) as f:
            events = f.read()
        self.assertIn('void qapi_event_send_changed(Color color, '
                      'const char *note, bool has_count, uint32_t count);',
                      events)
        self.assertIn('void qapi_event_send_based(const char *id, '
                      'bool has_tag, Color tag);', events)
        # boxed: one pointer to the argument struct, named or implicit
        self.assertIn('Base *qmp_boxed_child(Child *arg, GError **errp);',
                      cmds)
        self.assertIn('void qmp_boxed_inline(q_obj_boxed_inline_arg *arg, '
                      'GError **errp);', cmds)
        self.assertIn('void qmp_boxed_shape(Shape *arg, GError **errp);',
                      cmds)
        self.assertIn('void qapi_event_send_boxed(const Child *arg);', events)
        self.assertIn('void qapi_event_send_boxed_inline('
                      'const q_obj_BOXED_INLINE_arg *arg);', events)
        # the main file's types, after every module's
        types = self.read(os.path.join(out, 'qapi-types.h'))
        self.assertRegex(types, r'#include "qapi/qapi-builtin-types.h"\n'
                         r'#include "qapi/qapi-types-sub.h"\n')
        self.assertRegex(types, r'struct Shape \{\n    Color kind;\n'
                         r'    union \{ /\* selected by @kind \*/\n'
                         r'        Base red;\n    \} u;\n\};')
        self.assertNotIn('_to_json', types)
        sub = self.read(os.path.join(out, 'qapi-types-sub.h'))
        self.assertIn('} Color;', sub)
        self.assertIn('struct ColorList {', sub)
        self.assertNotIn('Color', self.read(os.path.join(
            out, 'qapi-builtin-types.h')))
        self.assertIn('bool qapi_Shape_from_json(JsonNode *node, Shape **out, '
                      'GError **errp);',
                      self.read(os.path.join(out, 'qapi-visit.h')))
        with open(os.path.join(out, 'qapi-commands.c')) as f:
            table = f.read()
        self.assertIn('{ "set-color", qmp_marshal_set_color, QCO_ALLOW_OOB }',
                      table)
        self.assertIn('{ "fire", qmp_marshal_fire, QCO_NO_SUCCESS_RESP }',
                      table)
        self.assertRegex(table, r'qapi_Child_from_json\(node, &arg, errp\)\) '
                         r'\{\n        return;\n    \}\n    retval = '
                         r'qmp_boxed_child\(arg, &err\);')
        self.assertIn('qmp_boxed_shape(arg, &err);', table)
        self.assertIn('    qmp_event_emit("BOXED", qapi_Child_to_json(arg));',
                      table)
        self.assertIn('    qmp_event_emit("BOXED_INLINE", '
                      'qapi_q_obj_BOXED_INLINE_arg_to_json(arg));', table)

    def test_types_need_only_glib(self):
        """ferry's types, module by module, compile with glib alone and
        call nothing but glib, the enum runtime and the built-in lists:
        the migration module's go into a library without the monitor."""
        cflags = pkg_cflags('glib-2.0')
        if cflags is None or not shutil.which('cc') or \
                not shutil.which('nm'):
            self.skipTest('no C compiler, nm or pkg-config')
        out = self.gen_c(os.path.join(ROOT, 'qapi', 'qapi-schema.json'))
        modules = sorted(f[len('qapi-types-'):-2] for f in os.listdir(out)
                         if f.startswith('qapi-types-') and f.endswith('.c'))
        # one module per schema file the main one includes
        self.assertEqual(modules, sorted(
            f[:-len('.json')] for f in os.listdir(os.path.join(ROOT, 'qapi'))
            if f.endswith('.json') and f != 'qapi-schema.json'))
        self.assertIn('migration', modules)
        builtin = re.findall(r'void (qapi_free_\w+List)\(', self.read(
            os.path.join(out, 'qapi-builtin-types.h')))
        allowed = {'g_free', 'g_strdup', 'qapi_enum_str', 'qapi_enum_lookup',
                   *builtin}
        for base in ['qapi-builtin-types', 'qapi-types'] + \
                ['qapi-types-' + m for m in modules]:
            with self.subTest(base):
                header = self.read(os.path.join(out, base + '.h'))
                for inc in re.findall(r'#include (\S+)', header):
                    self.assertRegex(inc, r'^(<glib\.h>|<std\w+\.h>|'
                                     r'"util/qapi-enum\.h"|"qapi/qapi-'
                                     r'(builtin-)?types(-[\w-]+)?\.h")$')
                obj = os.path.join(self.dir, base + '.o')
                self.compile(os.path.join(out, base + '.c'), cflags, obj)
                nm = subprocess.run(['nm', '-u', obj], capture_output=True,
                                    text=True, check=True)
                undefined = {line.split()[-1] for line in
                             nm.stdout.splitlines() if line.strip()}
                if base == 'qapi-types-introspect':
                    allowed_here = allowed | {'qapi_free_any'}  # 'any'
                else:
                    allowed_here = allowed
                self.assertLessEqual(undefined, allowed_here)
        migration = self.read(os.path.join(out, 'qapi-types-migration.h'))
        self.assertNotIn('json', migration.lower())
        self.assertIn('struct MigrationParameters {', migration)
        self.assertIn('void qapi_merge_MigrationParameters('
                      'MigrationParameters *dst, const MigrationParameters '
                      '*src);', migration)

    def test_patch_struct_merge(self):
        """A struct whose members are all optional scalars or strings (a
        patch, like migrate-set-parameters' argument) gets qapi_merge_*():
        the one place that knows its members is the schema."""
        cflags = pkg_cflags('glib-2.0')
        if cflags is None or not shutil.which('cc'):
            self.skipTest('no C compiler or pkg-config')
        out = self.gen_c(self.write('schema.json', """
##
# @Mode:
#
# @a: one
#
# @b: two
##
{ 'enum': 'Mode', 'data': [ 'a', 'b' ] }

##
# @Patch:
#
# @n: a number
#
# @s: a string
#
# @m: a mode
##
{ 'struct': 'Patch', 'data': { '*n': 'int', '*s': 'str', '*m': 'Mode' } }

##
# @Mixed:
#
# @n: required
#
# @s: optional
##
{ 'struct': 'Mixed', 'data': { 'n': 'int', '*s': 'str' } }

##
# @Nested:
#
# @p: a struct
##
{ 'struct': 'Nested', 'data': { '*p': 'Patch' } }
"""))
        types = self.read(os.path.join(out, 'qapi-types.h'))
        self.assertIn('void qapi_merge_Patch(Patch *dst, const Patch *src);',
                      types)
        self.assertNotIn('qapi_merge_Mixed', types)
        self.assertNotIn('qapi_merge_Nested', types)
        source = self.read(os.path.join(out, 'qapi-types.c'))
        self.assertIn('    if (src->has_n) {\n        dst->has_n = true;\n'
                      '        dst->n = src->n;\n    }', source)
        self.assertIn('    if (src->s) {\n        g_free(dst->s);\n'
                      '        dst->s = g_strdup(src->s);\n    }', source)
        self.compile(os.path.join(out, 'qapi-types.c'), cflags)

    def test_rich_schema_introspection(self):
        self.write('sub.json', SUB)
        info = schema_info(Schema(self.write('schema.json', RICH)))
        by_name = {e['name']: e for e in info}
        self.assertEqual(by_name['set-color']['allow-oob'], True)
        old = by_name[by_name['set-color']['arg-type']]['members'][-1]
        self.assertEqual(old, {'name': 'old', 'type': 'int', 'default': None,
                               'features': ['deprecated']})
        args = by_name[by_name['do-it']['arg-type']]
        self.assertEqual(args['features'], ['unstable'])
        self.assertEqual([m['name'] for m in args['members']][:2],
                         ['id', 'tag'])
        shape = by_name[by_name[by_name['query-shapes']['ret-type']]
                        ['element-type']]
        self.assertEqual(shape['tag'], 'kind')
        self.assertEqual([v['case'] for v in shape['variants']], ['red'])
        color = by_name[shape['members'][0]['type']]
        self.assertEqual(color['values'], ['red', 'green'])
        # boxing is C only: clients see the same argument types
        self.assertEqual(by_name['boxed-child']['arg-type'],
                         by_name['do-it']['arg-type'])
        self.assertEqual(by_name['BOXED']['arg-type'],
                         by_name['do-it']['arg-type'])
        self.assertEqual(by_name[by_name['boxed-shape']['arg-type']]['tag'],
                         'kind')
        inline = by_name[by_name['boxed-inline']['arg-type']]
        self.assertEqual(inline['members'],
                         [{'name': 'a', 'type': 'int'},
                          {'name': 'b', 'type': 'str', 'default': None}])
        # every integer type is 'int' to clients
        self.assertNotIn('int8', by_name)
        self.assertIn('[int]', by_name)

    def test_doc_generation(self):
        self.write('sub.json', SUB)
        schema = self.write('schema.json', RICH)
        md = os.path.join(self.dir, 'out.md')
        r = self.gen(schema, '--doc', md)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(md) as f:
            text = f.read()
        self.assertIn('# A test schema', text)
        self.assertIn('### `set-color` (command)', text)
        self.assertIn('| `where` | `str` (optional) | w |', text)
        self.assertIn('**Base:** [`Base`](#base)', text)
        self.assertIn('**Arguments:** the members of [`Child`](#child)', text)
        self.assertIn('### `boxed-child` (command)\n\n'
                      '**Arguments:** the members of [`Child`](#child)\n\n'
                      '**Returns:** a base', text)
        self.assertIn('### `boxed-shape` (command)\n\n'
                      '**Arguments:** the members of [`Shape`](#shape)', text)
        self.assertIn('| `b` | `str` (optional) | b |', text)
        self.assertIn('### `BOXED` (event)\n\n'
                      '**Data:** the members of [`Child`](#child)', text)

    ERRORS = [
        ("{ 'struct': 'A', 'data': { 'x': 'Nope' } }",
         r"member 'x' of 'A' uses unknown type 'Nope'"),
        ("{ 'struct': 'A' 'data': {} }", r"expected ',' or '\}'"),
        ("{ 'struct': 'A', 'data': { 'x': 'int' }, 'bogus': true }",
         r"struct 'A' has unknown key 'bogus'"),
        ("{ 'struct': 'A', 'data': {}, 'if': 'X' }",
         r"'if' conditions are not supported"),
        ("{ 'command': 'c', 'data': { 'x': 'int', 'x': 'str' } }",
         r"duplicate key 'x'"),
        ("{ 'enum': 'E', 'data': [ 'a', 'a' ] }",
         r"enum 'E' has duplicate value 'a'"),
        ("{ 'command': 'c', 'returns': 'int', 'gen': 'no' }",
         r"'gen' of command 'c' must be true or false"),
        ("{ 'event': 'lower' }", r"event name 'lower' must be upper case"),
        ("{ 'union': 'U', 'base': { 'k': 'str' }, 'discriminator': 'k', "
         "'data': {} }", r"must be a mandatory enum member"),
        ("{ 'struct': 'A', 'data': { 'x': 'null' } }",
         r"type 'null' is not supported"),
        ("{ 'include': 'missing.json' }", r"can't read schema file"),
    ]

    def test_errors(self):
        for body, msg in self.ERRORS:
            with self.subTest(body=body):
                name = re.search(r"'(?:struct|command|enum|event|union)': "
                                 r"'([^']+)'", body)
                doc = ('\n##\n# @%s:\n##\n' % name.group(1)) if name else ''
                path = self.write('bad.json', '# a comment\n' + doc + body +
                                  '\n')
                r = self.gen(path, '-o', os.path.join(self.dir, 'o'))
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertRegex(r.stderr, re.escape(path) + r':\d+: .*' + msg)

    def test_module_errors(self):
        """Module headers include the modules whose types they use, and
        the main file's header includes every module: a cycle cannot be
        generated."""
        def enum(name):
            return "##\n# @%s:\n#\n# @v: v\n##\n{ 'enum': '%s', " \
                   "'data': [ 'v' ] }\n" % (name, name)

        def struct(name, typ):
            return "##\n# @%s:\n#\n# @m: m\n##\n{ 'struct': '%s', " \
                   "'data': { 'm': '%s' } }\n" % (name, name, typ)
        os.makedirs(os.path.join(self.dir, 'x'))
        os.makedirs(os.path.join(self.dir, 'y'))
        cases = [
            ({'a.json': enum('EA') + struct('SA', 'EB'),
              'b.json': enum('EB') + struct('SB', 'EA')},
             "the types of modules 'a' -> 'b' -> 'a' use each other "
             "(SB uses a type of a)"),
            ({'a.json': struct('SA', 'EM')},
             "'SA' uses a type of the main schema file"),
            ({'x/a.json': enum('EA'), 'y/a.json': enum('EB')},
             "schema files '%s' and '%s' have the same module name 'a'"
             % (os.path.join(self.dir, 'x', 'a.json'),
                os.path.join(self.dir, 'y', 'a.json'))),
        ]
        for files, msg in cases:
            with self.subTest(msg):
                main = enum('EM')
                for name, text in files.items():
                    self.write(name, text)
                    main += "{ 'include': '%s' }\n" % name
                path = self.write('main.json', main)
                r = self.gen(path, '-o', os.path.join(self.dir, 'o'))
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertRegex(r.stderr, r'\.json:\d+: ' + re.escape(msg))

    BOXED_ERRORS = [
        ("{ 'command': 'c', 'boxed': true }", "'boxed': true requires 'data'"),
        ("{ 'event': 'E', 'boxed': true }", "'boxed': true requires 'data'"),
        ("{ 'command': 'c', 'data': 'En', 'boxed': true }",
         "'data' of 'c' must be an object or a struct name, not 'En'"),
        ("{ 'event': 'E', 'data': 'int', 'boxed': true }",
         "'data' of 'E' must be an object or a struct name, not 'int'"),
        ("{ 'command': 'c', 'data': ['St'], 'boxed': true }",
         "'data' of 'c': an array type is written ['Type']"),
        ("{ 'command': 'c', 'data': 'St', 'boxed': 'yes' }",
         "'boxed' of command 'c' must be true or false"),
        ("{ 'event': 'E', 'data': 'St', 'boxed': 'no' }",
         "'boxed' of event 'E' must be true or false"),
        ("{ 'command': 'c', 'data': 'Un' }",
         "'data' of 'c' can be union 'Un' only with 'boxed': true"),
        ("{ 'struct': 'S2', 'data': {}, 'boxed': true }",
         "struct 'S2' has unknown key 'boxed'"),
    ]

    def test_boxed_errors(self):
        """'boxed' needs a struct or union (or an implicit struct) as
        'data'; errors are reported like any other schema error."""
        types = """
##
# @En:
#
# @v: v
##
{ 'enum': 'En', 'data': [ 'v' ] }

##
# @St:
#
# @m: m
##
{ 'struct': 'St', 'data': { 'm': 'int' } }

##
# @Un:
#
# @k: k
##
{ 'union': 'Un', 'base': { 'k': 'En' }, 'discriminator': 'k',
  'data': { 'v': 'St' } }
"""
        for body, msg in self.BOXED_ERRORS:
            with self.subTest(body=body):
                name = re.search(r"'(?:command|event|struct)': '([^']+)'",
                                 body).group(1)
                path = self.write('bad.json', types + '\n##\n# @%s:\n##\n'
                                  % name + body + '\n')
                r = self.gen(path, '-o', os.path.join(self.dir, 'o'))
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertRegex(r.stderr, re.escape(path) + r':\d+: ' +
                                 re.escape(msg))
        # a boxed named type's members are documented with the type
        path = self.write('bad.json', types + "\n##\n# @c:\n#\n# @m: m\n"
                          "##\n{ 'command': 'c', 'data': 'St', "
                          "'boxed': true }\n")
        r = self.gen(path, '--doc', os.path.join(self.dir, 'x.md'))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("doc of 'c' describes '@m', which is not a member",
                      r.stderr)

    def test_error_line_and_include_chain(self):
        self.write('inner.json', "\n\n{ 'struct': 'A', 'data': { 'x': 'Q' "
                   "} }\n")
        path = self.write('outer.json', "# x\n{ 'include': 'inner.json' }\n")
        r = self.gen(path, '-o', os.path.join(self.dir, 'o'))
        self.assertEqual(r.returncode, 1)
        self.assertIn('In file included from %s:2:' % path, r.stderr)
        self.assertIn('inner.json:3: ', r.stderr)

    def test_doc_errors(self):
        cases = [
            ("{ 'struct': 'A', 'data': {} }", "lacks a doc comment"),
            ("##\n# @B:\n##\n{ 'struct': 'A', 'data': {} }",
             "doc comment is for 'B'"),
            ("##\n# @A:\n#\n# @y: why\n##\n{ 'struct': 'A', 'data': {} }",
             "describes '@y', which is not a member"),
            ("##\n# @A:\n##\n{ 'struct': 'A', 'data': { 'x': 'int' } }",
             "lacks a description of member '@x'"),
            ("##\n# @c:\n#\n# Returns: x\n##\n{ 'command': 'c' }",
             "'Returns:' section for 'c', which returns nothing"),
            ("##\n#bad\n##\n", "missing space after '#'"),
            ("##\n# @A:", "unterminated doc comment"),
            ("##\n# @A:\n\n{ 'struct': 'A' }",
             "doc comment line must start with '#'"),
        ]
        for body, msg in cases:
            with self.subTest(body=body):
                path = self.write('bad.json', body + '\n')
                r = self.gen(path, '--doc', os.path.join(self.dir, 'x.md'))
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertRegex(r.stderr, re.escape(path) + r':\d+: .*' +
                                 re.escape(msg))

    def test_ferry_schema_is_current(self):
        """docs/qmp.md in the tree matches the schema."""
        md = os.path.join(self.dir, 'qmp.md')
        r = self.gen(os.path.join(ROOT, 'qapi', 'qapi-schema.json'),
                     '--doc', md)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(md) as a, open(os.path.join(ROOT, 'docs', 'qmp.md')) as b:
            self.assertEqual(a.read(), b.read(),
                             'docs/qmp.md is stale: run make docs/qmp.md')


if __name__ == '__main__':
    unittest.main()
