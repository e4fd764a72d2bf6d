#!/bin/bash
# lvdomain.sh RUN_DIR [NAME]: write a libvirt domain for this checkout's ferry.
#
# Fills ferry-domain.xml in with the build directory ($FERRY_BUILD, else
# build/ at the top of the checkout this script is in) and RUN_DIR, makes a
# fresh 16 MiB disk image RUN_DIR/NAME-disk.img with ferry-img, and prints
# the path of the domain's XML, RUN_DIR/NAME.xml (NAME defaults to ferry1):
#
#   virsh -c qemu+tcp://127.0.0.1:16509/system create "$(lvdomain.sh /tmp/lvlab/run)"
#
# RUN_DIR must be reachable by both daemons: outside /etc/libvirt, /run/libvirt,
# /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt, which each daemon
# sees as its own.  Run it again before each boot: the guest checks that its
# disk starts with the image's initial pattern.
set -eu
. "$(dirname "$0")/lvlib.sh"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then lab_usage; fi
die() { echo "lvdomain.sh: $*" >&2; exit 1; }
NAME=${2:-ferry1}
[[ $NAME =~ ^[A-Za-z0-9_-]+$ ]] || die "NAME: letters, digits, - and _ only"

LAB=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$LAB/../.." && pwd)
BUILD=$(cd "${FERRY_BUILD:-$TOP/build}" 2>/dev/null && pwd) ||
  die "no build directory ${FERRY_BUILD:-$TOP/build}: run make first"
for f in ferry ferry-img guest/ferry-guest.elf; do
  [ -e "$BUILD/$f" ] || die "$BUILD/$f missing: run make first"
done
mkdir -p "$1"
RUN=$(cd "$1" && pwd)
# sed's replacement treats | and & specially: keep paths that have neither
[[ $BUILD$RUN != *[\|\&]* ]] || die "paths with | or & are not supported"

rm -f "$RUN/$NAME-disk.img"
"$BUILD/ferry-img" create "$RUN/$NAME-disk.img" 16M >/dev/null
sed "s|@BUILD@|$BUILD|g; s|@RUN@|$RUN|g; s|@NAME@|$NAME|g" \
  "$LAB/ferry-domain.xml" >"$RUN/$NAME.xml"
echo "$RUN/$NAME.xml"
