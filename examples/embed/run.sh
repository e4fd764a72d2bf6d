#!/bin/sh
# Builds mini-vmm against the installed ferry-migration package (found by
# pkg-config: set PKG_CONFIG_PATH to PREFIX/lib/pkgconfig for a private
# prefix) and migrates it between two processes over a unix socket, in
# precopy and in postcopy.  Prints both sides' RAM digests; exits non-zero
# unless every migration completed with equal digests.
# FERRY_LINK=static links the static archive instead of the shared one.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mini-vmm.XXXXXX")
trap 'rm -rf "$work"' EXIT

libdir=$(pkg-config --variable=libdir ferry-migration)
if [ "${FERRY_LINK:-shared}" = static ]; then
    libs=$(pkg-config --static --libs ferry-migration |
           sed 's/-lferry-migration/-l:libferry-migration.a/')
else
    libs="$(pkg-config --libs ferry-migration) -Wl,-rpath,$libdir"
fi
${CC:-cc} -O2 -g -Wall -o "$work/mini-vmm" "$here/mini-vmm.c" \
    $(pkg-config --cflags ferry-migration) $libs
echo "built mini-vmm (${FERRY_LINK:-shared}): $(pkg-config --modversion ferry-migration)"

status=0
for mode in precopy postcopy; do
    sock="$work/$mode.sock"
    "$work/mini-vmm" dest "unix:$sock" > "$work/dest.out" 2>&1 &
    dest=$!
    i=0
    while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    "$work/mini-vmm" source "unix:$sock" "$mode" > "$work/source.out" 2>&1 ||
        status=1
    wait "$dest" || status=1
    src=$(sed -n 's/^source: digest //p' "$work/source.out")
    dst=$(sed -n 's/^dest: digest //p' "$work/dest.out")
    echo "$mode: source $src"
    echo "$mode: dest   $dst"
    if [ -z "$src" ] || [ "$src" != "$dst" ]; then
        echo "$mode: DIGESTS DIFFER" >&2
        cat "$work/source.out" "$work/dest.out" >&2
        status=1
    else
        echo "$mode: digests equal"
    fi
done
exit $status
