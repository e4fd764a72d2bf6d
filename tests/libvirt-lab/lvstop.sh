#!/bin/bash
# lvstop.sh [--keep-domains] NAME...: stop daemons that lvinst.sh started.
#
# First each daemon's running domains are destroyed (virsh destroy: libvirt
# sends the emulator SIGTERM, then SIGKILL); then libvirtd gets SIGTERM, and
# SIGKILL if it is still there after 30 s.  With --keep-domains only the
# daemons stop: their domains run on, and starting a daemon again with the
# same lvinst.sh line reconnects it to them (a libvirtd restart).
# State stays in $LVLAB_DIR/NAME: remove it by hand.
set -u
. "$(dirname "$0")/lvlib.sh"

keep=0
if [ "${1:-}" = --keep-domains ]; then keep=1; shift; fi
[ $# -ge 1 ] || lab_usage
rc=0
for NAME in "$@"; do
  DIR=$(lab_dir "$NAME")
  pid=$(lab_pid "$NAME")
  if [ -z "$pid" ]; then
    echo "$NAME: not running"
    continue
  fi
  if [ $keep = 0 ] && [ -s "$DIR/uri" ]; then
    uri=$(cat "$DIR/uri")
    for dom in $(virsh -q -c "$uri" list --name 2>/dev/null); do
      virsh -q -c "$uri" destroy "$dom" >/dev/null && echo "$NAME: destroyed $dom"
    done
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 150); do
    [ -d "/proc/$pid" ] || break
    sleep 0.2
  done
  if [ -d "/proc/$pid" ]; then
    kill -KILL "$pid"
    echo "$NAME: libvirtd $pid did not stop in 30 s; killed"
    rc=1
  else
    echo "$NAME: libvirtd $pid stopped"
  fi
done
exit $rc
