#!/usr/bin/env python3
"""
ferry's QAPI generator.

  qapi-gen.py -o DIR qapi/qapi-schema.json      C code into DIR: types
      (qapi-builtin-types, qapi-types-MODULE per schema file, qapi-types
      for the main file), qapi-visit (JSON), qapi-commands, qapi-events,
      qapi-introspect
  qapi-gen.py --doc FILE qapi/qapi-schema.json  the Markdown reference

The schema uses QEMU's QAPI dialect (enum, struct, union, command, event,
include); see qapi/*.json.  Errors print FILE:LINE: message and exit 1.
"""
import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qapi.error import QAPIError                    # noqa: E402
from qapi.schema import Schema                      # noqa: E402
from qapi import gen_types, gen_visit, gen_commands  # noqa: E402
from qapi import gen_introspect, gen_doc            # noqa: E402


def write(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


def gen_c(schema, outdir, unmask):
    os.makedirs(outdir, exist_ok=True)
    files = gen_types.gen_files(schema)
    files.update({
        'qapi-visit.h': gen_visit.gen_header(schema),
        'qapi-visit.c': gen_visit.gen_source(schema),
        'qapi-commands.h': gen_commands.gen_commands_header(schema),
        'qapi-events.h': gen_commands.gen_events_header(schema),
        'qapi-commands.c': gen_commands.gen_commands_source(schema),
        'qapi-introspect.h': gen_introspect.gen_header(),
        'qapi-introspect.c': gen_introspect.gen_source(schema, unmask),
    })
    for name, text in files.items():
        write(os.path.join(outdir, name), text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    ap.add_argument('schema')
    ap.add_argument('-o', '--output-dir', help='write C code here')
    ap.add_argument('--doc', metavar='FILE', help='write Markdown here')
    ap.add_argument('-u', '--unmask', action='store_true',
                    help='keep type names in the introspection data')
    args = ap.parse_args()
    if not args.output_dir and not args.doc:
        ap.error('give -o DIR and/or --doc FILE')
    try:
        schema = Schema(args.schema)
        if args.output_dir:
            gen_c(schema, args.output_dir, args.unmask)
        if args.doc:
            write(args.doc, gen_doc.gen_markdown(schema))
    except QAPIError as e:
        print('%s: %s' % (sys.argv[0], e), file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
