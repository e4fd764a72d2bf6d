# Sourced by the lab's scripts: what they all need to agree on.
# shellcheck shell=bash

# The header comment of the running script (after the #! line), as usage.
lab_usage() {
  sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
  exit 2
}

# Where daemon $1 keeps its state.
lab_dir() {
  echo "${LVLAB_DIR:-${TMPDIR:-/tmp}/lvlab}/$1"
}

# The pid of daemon $1's libvirtd, or nothing when it does not run (its
# pid file may be stale: the process must exist and be a libvirtd).
lab_pid() {
  local pid
  pid=$(cat "$(lab_dir "$1")/run/libvirtd.pid" 2>/dev/null) || return 0
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = libvirtd ]; then
    echo "$pid"
  fi
}
