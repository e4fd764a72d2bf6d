#!/bin/bash
# lvtranscript.sh LIBVIRTD_LOG [SESSION]: the QMP messages in a libvirtd.log
# that lvinst.sh's log filters produced, in the recordings' format
# (tests/data/libvirt/README.md).
#
# Without SESSION, lists the monitor sessions in the log: a session starts
# with libvirt's qmp_capabilities on a monitor (the capability probe, each
# domain start, each reconnect after a daemon restart).  With SESSION (a
# number from that list), prints that session's messages, one a line:
#
#   HH:MM:SS.mmm SEND_MSG msg={...}
#   HH:MM:SS.mmm RECV_REPLY reply={...}
#   HH:MM:SS.mmm RECV_EVENT event={...}
#
# Messages are kept byte for byte: libvirt's commands end in CRLF.
set -eu
. "$(dirname "$0")/lvlib.sh"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then lab_usage; fi
[ -r "$1" ] || { echo "lvtranscript.sh: cannot read $1" >&2; exit 1; }
want=${2:-}
[[ $want =~ ^[0-9]*$ ]] || { echo "lvtranscript.sh: SESSION is a number" >&2; exit 2; }

# "DATE TIME+ZONE: TID: info : FUNC:LINE : QEMU_MONITOR_KIND: mon=PTR REST"
# becomes "PTR TIME KIND REST".  libvirt logs a command's trailing CRLF and
# then " fd=N" on a line of its own; that line does not match and is dropped.
grep -a -E ': QEMU_MONITOR_(SEND_MSG|RECV_REPLY|RECV_EVENT): mon=0x' "$1" |
  sed -E 's/^[0-9-]+ ([0-9:.]+)[+-][0-9]{4}: [0-9]+: [a-z]+ : [A-Za-z0-9_]+:[0-9]+ : QEMU_MONITOR_([A-Z_]+): mon=(0x[0-9a-f]+) /\3 \1 \2 /' |
  awk -v want="$want" '
    $3 == "SEND_MSG" && index($0, "\"execute\":\"qmp_capabilities\"") {
      sess[$1] = ++n; mon[n] = $1; first[n] = $2; count[n] = 0
    }
    {
      s = sess[$1] + 0
      if (want != "") {
        if (s == want) print substr($0, length($1) + 2)
        next
      }
      count[s]++; last[s] = $2
      if (s && !(s in cmd) && $3 == "SEND_MSG" &&
          !index($0, "\"qmp_capabilities\"") &&
          match($0, /"execute":"[^"]*"/))
        cmd[s] = substr($0, RSTART + 11, RLENGTH - 12)
    }
    END {
      if (want != "") exit
      printf "%-8s %-16s %-13s %-13s %8s  %s\n", "session", "monitor", "first",
             "last", "messages", "first command after qmp_capabilities"
      for (i = 1; i <= n; i++)
        printf "%-8d %-16s %-13s %-13s %8d  %s\n", i, mon[i], first[i],
               last[i], count[i], cmd[i]
      if (count[0])
        printf "(%d messages on monitors whose start is not in the log)\n",
               count[0]
    }'
