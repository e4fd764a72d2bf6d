#!/bin/bash
# lvinst.sh: start one private libvirt daemon (libvirtd 9.0) by hand, without
# systemd, in a mount and UTS namespace of its own, so that two of them can
# run side by side on one machine and migrate domains to each other.
#
#   lvinst.sh NAME TCP_PORT HOST_UUID MIGRATION_PORT_MIN MIGRATION_PORT_MAX MIGRATION_ADDRESS
#
#   lvinst.sh A 16509 11111111-2222-3333-4444-5555555555aa 49152 49167 127.0.0.2
#   lvinst.sh B 16510 11111111-2222-3333-4444-5555555555bb 49200 49215 127.0.0.3
#
# The daemon answers at qemu+tcp://127.0.0.1:TCP_PORT/system (loopback only,
# so no TLS and no authentication).  Its files live in $LVLAB_DIR/NAME
# (LVLAB_DIR defaults to ${TMPDIR:-/tmp}/lvlab):
#   etc/  libvirtd.conf, qemu.conf        run/    pid file, sockets
#   lib/  domain state, monitor sockets   cache/  emulator capabilities
#   log/libvirtd.log   the daemon's log, every QMP message included
#   log/qemu/DOM.log   each domain's command line and its emulator's stderr
#   uri                the URI above, for lvstop.sh and scripts
# With LVLAB_TLS_DIR set (a directory with ca-cert.pem and both the server
# and the client certificate and key), "virsh migrate --tls" uses it.
# Needs root.  lvstop.sh NAME stops it; README.md explains each setting.
set -eu
. "$(dirname "$0")/lvlib.sh"

[ $# -eq 6 ] || lab_usage
NAME=$1 PORT=$2 UUID=$3 PMIN=$4 PMAX=$5 ADDR=$6

die() { echo "lvinst.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (mount namespace, bind mounts)"
[[ $NAME =~ ^[A-Za-z0-9_-]+$ ]] || die "NAME: letters, digits, - and _ only"
[[ $PORT =~ ^[0-9]+$ && $PMIN =~ ^[0-9]+$ && $PMAX =~ ^[0-9]+$ ]] ||
  die "ports must be numbers"
((PMIN <= PMAX)) || die "MIGRATION_PORT_MIN > MIGRATION_PORT_MAX"
[[ $UUID =~ ^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$ ]] ||
  die "HOST_UUID: not a UUID"
# libvirt rejects 127.0.0.1, ::1 and localhost* as migration address; the
# rest of 127.0.0.0/8 is loopback on Linux as well, and is accepted.
[[ $ADDR =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ && $ADDR != 127.0.0.1 ]] ||
  die "MIGRATION_ADDRESS: use 127.0.0.2, 127.0.0.3, ..."
if [ ! -x /usr/sbin/libvirtd ] || ! command -v virsh >/dev/null; then
  die "libvirtd or virsh missing: run scripts/install-deps"
fi

# The QEMU driver looks up the user and group it was built for before it
# reads qemu.conf, and does not load without them (so every qemu:// URI
# fails).  libvirt-daemon-system would create them; we do not install it.
if ! getent group libvirt-qemu >/dev/null; then
  groupadd -r libvirt-qemu
  echo "lvinst.sh: created the system group libvirt-qemu"
fi
if ! getent passwd libvirt-qemu >/dev/null; then
  useradd -r -g libvirt-qemu -d /var/lib/libvirt -M -s /usr/sbin/nologin \
    libvirt-qemu
  echo "lvinst.sh: created the system user libvirt-qemu"
fi

DIR=$(lab_dir "$NAME")
URI=qemu+tcp://127.0.0.1:$PORT/system
pid=$(lab_pid "$NAME")
[ -z "$pid" ] || die "$NAME already runs (pid $pid); lvstop.sh $NAME first"
mkdir -p "$DIR"/{etc,run,lib,cache,log}

cat >"$DIR/etc/libvirtd.conf" <<CONF
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "$PORT"
auth_tcp = "none"
auth_unix_rw = "none"
unix_sock_rw_perms = "0700"
host_uuid = "$UUID"
log_filters = "1:qemu.qemu_monitor 1:qemu.qemu_migration 1:qemu.qemu_process 1:qemu.qemu_capabilities 1:qemu.qemu_driver 3:*"
log_outputs = "1:file:/var/log/libvirt/libvirtd.log"
CONF
cat >"$DIR/etc/qemu.conf" <<CONF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
migration_address = "$ADDR"
migration_host = "$ADDR"
migration_port_min = $PMIN
migration_port_max = $PMAX
CONF
if [ -n "${LVLAB_TLS_DIR:-}" ]; then
  [ -f "$LVLAB_TLS_DIR/ca-cert.pem" ] ||
    die "LVLAB_TLS_DIR $LVLAB_TLS_DIR has no ca-cert.pem"
  cat >>"$DIR/etc/qemu.conf" <<CONF
migrate_tls_x509_cert_dir = "$LVLAB_TLS_DIR"
migrate_tls_x509_verify = 1
CONF
fi
echo "$URI" >"$DIR/uri"

# libvirt's directories are compiled in.  Each daemon gets its own, bound
# over the real ones inside its namespace (private: the machine's stay as
# they are); the mount points must exist outside.
mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt \
  /var/log/libvirt
setsid unshare --mount --uts --propagation private bash -c "
  hostname lvlab-$NAME
  mount --bind '$DIR/etc' /etc/libvirt
  mount --bind '$DIR/run' /run/libvirt
  mount --bind '$DIR/lib' /var/lib/libvirt
  mount --bind '$DIR/cache' /var/cache/libvirt
  mount --bind '$DIR/log' /var/log/libvirt
  exec /usr/sbin/libvirtd --listen -p /run/libvirt/libvirtd.pid -f /etc/libvirt/libvirtd.conf
" >>"$DIR/stdout.log" 2>&1 </dev/null &
launcher=$!

# A first start probes every installed qemu-system-*: allow a minute.
gone=0
for _ in $(seq 1 120); do
  if virsh -q -c "$URI" version --daemon >/dev/null 2>&1; then
    echo "$NAME: $URI  pid $(cat "$DIR/run/libvirtd.pid")  log $DIR/log/libvirtd.log"
    exit 0
  fi
  if ! kill -0 $launcher 2>/dev/null; then  # exited (or setsid forked): daemon alive?
    [ -n "$(lab_pid "$NAME")" ] || gone=$((gone + 1))
    ((gone < 6)) || break
  fi
  sleep 0.5
done
echo "lvinst.sh: $NAME did not come up; the end of $DIR/stdout.log and the errors of libvirtd.log:" >&2
tail -n 3 "$DIR/stdout.log" >&2
grep ': error : ' "$DIR/log/libvirtd.log" 2>/dev/null | tail -n 3 >&2
exit 1
