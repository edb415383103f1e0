#!/bin/bash
# Two namespace "hosts", each with its own unmodified libvirtd (11.3, from
# scripts/install-libvirt.sh), on one machine; see README.md.
#
#   lv-host.sh up DIR              the world below, both libvirtds running
#   lv-host.sh down DIR            everything stopped and removed (idempotent;
#                                  DIR keeps the logs)
#   lv-host.sh exec DIR H CMD...   CMD in host H (A or B): its network, mount
#                                  and UTS namespaces (its /etc/libvirt, /run)
#   lv-host.sh virsh DIR H ARGS... virsh against host H's libvirtd
#   lv-host.sh peer DIR CMD...     CMD in the peer's network namespace
#   lv-host.sh switch DIR CMD...   CMD in the switch's network namespace
#   lv-host.sh pids DIR H          the pids of every process in H's netns
#   lv-host.sh agent DIR H kill|start   SIGKILL host H's agent / start it again
#                                  (LV_NETLIFECD, LV_AGENT)
#
# World (all namespaces made here, nothing in the machine's own netns):
#   switch netns: sw0 (bridge, STP off), up-A, up-B, up-peer
#   host A/B: netns + mount ns + UTS ns (hostname lv-a / lv-b);
#             br0 (STP on, forward_delay LV_FORWARD_DELAY s) with uplink
#             (veth to sw0), 198.51.100.1/.2 on br0;
#             tmpfs on /run (so /run/libvirt, /run/libvirtd.pid are private),
#             /var/lib/libvirt and /var/cache/libvirt; DIR/H/etc bind-mounted
#             on /etc/libvirt, DIR/H/log on /var/log/libvirt; a sysfs of its
#             own netns on /sys (which hides the machine's cgroup tree);
#             libvirtd -d --listen: TCP 16509, auth none, no TLS, its own
#             host_uuid.
#   peer netns: eth0 192.0.2.1/24 on sw0, a static neighbour entry for the
#               guest (192.0.2.10 = LV_GUEST_MAC).
#
# Environment:
#   LV_FORWARD_DELAY  br0 forward delay in s (default 4; kernel range 2..30)
#   LV_HOOK           a script installed as /etc/libvirt/hooks/qemu on both
#                     hosts (libvirtd looks for hooks when it starts)
#   LV_HOOK_D         a script installed as /etc/libvirt/hooks/qemu.d/50-<its
#                     name> on both hosts
#   LV_TTL            seconds after which a watchdog runs `down` (default 1800)
#   LV_GUEST_MAC      the peer's static neighbour entry (default 52:54:00:12:34:56)
#   LV_LOG_FILTERS    libvirtd log_filters (default: qemu, hooks, tap, bridge at debug)
#   LV_NETLIFECD      a netlifecd build directory: each host also runs a
#                     private dbus-daemon (DIR/H/bus, reachable from the other
#                     host by path) with netlifecd on it (state DIR/H/nlc-state,
#                     log DIR/H/netlifecd.log), and netlifecd's libvirt hook
#                     (netlifectl libvirt-hook; its log DIR/H/log/netlifecd-hook.log)
#                     is installed before libvirtd starts
#   LV_HOOK_READY_TIMEOUT_MS  with LV_NETLIFECD: how long B's hook waits for
#                     its ports (default 120000)
#   LV_AGENT          with LV_NETLIFECD: each host runs netlifecd-libvirt-agent
#                     from that build (log DIR/H/agent.log), the other host's
#                     netlifecd as its --destination-bus; LV_AGENT's value is
#                     passed as extra agent options ("1": none)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
LV_FORWARD_DELAY=${LV_FORWARD_DELAY:-4}
LV_TTL=${LV_TTL:-1800}
LV_GUEST_MAC=${LV_GUEST_MAC:-52:54:00:12:34:56}
LV_LOG_FILTERS=${LV_LOG_FILTERS:-1:qemu.qemu_migration 1:qemu.qemu_process 1:qemu.qemu_monitor 1:qemu.qemu_interface 1:util.hooks 1:util.netdevtap 1:util.netdevbridge 1:util.netdev 3:*}
GUEST_IP=192.0.2.10
PEER_IP=192.0.2.1
declare -A HOST_IP=([A]=198.51.100.1 [B]=198.51.100.2)
declare -A HOST_UUID=([A]=5a5a5a5a-0000-4000-8000-00000000000a [B]=5a5a5a5a-0000-4000-8000-00000000000b)
declare -A HOST_NAME=([A]=lv-a [B]=lv-b)

die() {
    echo "lv-host: $*" >&2
    exit 1
}
log() { echo "lv-host: $*" >&2; }

# The holder of namespace NAME (world, peer, A, B): a `sleep infinity` whose
# pid is in DIR/NAME.pid and whose network namespace, noted when it started,
# in DIR/NAME.ns. Only a holder that still runs in that namespace counts: a
# pid or a namespace inode number can be reused once ours are gone, and
# `down` must never signal anything it did not start.
holder() {
    local pid ns
    pid=$(cat "$DIR/$1.pid" 2>/dev/null) || return 1
    ns=$(cat "$DIR/$1.ns" 2>/dev/null) || return 1
    [[ -n $pid && -n $ns ]] && alive "$pid" || return 1
    [[ $(readlink "/proc/$pid/ns/net" 2>/dev/null) == "$ns" ]] || return 1
    echo "$pid"
}

# Runs in namespace NAME: network only for world and peer; network, mount
# and UTS for a host.
in_ns() {
    local name=$1 pid
    shift
    pid=$(holder "$name") || die "namespace $name is not up (no holder in $DIR/$name.pid)"
    case $name in
    A | B) nsenter -t "$pid" -n -m -u -- "$@" ;;
    *) nsenter -t "$pid" -n -- "$@" ;;
    esac
}

start_holder() {
    local name=$1 i
    shift
    rm -f "$DIR/$name.pid" "$DIR/$name.ns"
    # setsid: not in the caller's session (no SIGHUP, no job control). It
    # writes its pid once it is in the new namespaces.
    # shellcheck disable=SC2016 # expanded by that sh
    setsid unshare "$@" -- /bin/sh -c 'readlink /proc/self/ns/net >"$1.ns" && echo $$ >"$1.pid" && exec sleep infinity' \
        sh "$DIR/$name" </dev/null >/dev/null 2>&1 &
    for ((i = 0; i < 200; i++)); do
        holder "$name" >/dev/null && return 0
        sleep 0.05
    done
    die "namespace $name: no holder after 10 s"
}

# NAME's network namespace ("net:[inode]"), while its holder lives.
ns_id() {
    holder "$1" >/dev/null || return 0
    cat "$DIR/$1.ns"
}

# Every process in network namespace NSID (from ns_id).
pids_in() {
    local ino=${1//[^0-9]/}
    [[ -n $ino ]] || return 0
    stat -L -c '%i %n' /proc/[0-9]*/ns/net 2>/dev/null |
        awk -v ino="$ino" '$1 == ino { split($2, f, "/"); print f[3] }'
    return 0
}

ns_pids() { pids_in "$(ns_id "$1")"; }

write_config() {
    local h=$1 etc=$DIR/$1/etc
    mkdir -p "$etc"/{hooks/qemu.d,qemu/networks/autostart,nwfilter,storage} "$DIR/$h/log/qemu"
    cat >"$etc/libvirtd.conf" <<EOF
# tests/libvirt/lv-host.sh: host $h
listen_tls = 0
listen_tcp = 1
tcp_port = "16509"
auth_tcp = "none"
auth_unix_ro = "none"
auth_unix_rw = "none"
host_uuid = "${HOST_UUID[$h]}"
log_filters = "$LV_LOG_FILTERS"
log_outputs = "1:file:/var/log/libvirt/libvirtd.log"
EOF
    cat >"$etc/qemu.conf" <<EOF
# tests/libvirt/lv-host.sh: host $h
security_driver = "none"
user = "root"
group = "root"
# No ownership changes (the guest's kernel is a file of the machine), no
# cgroups (the machine's cgroup tree is not ours), no virtlogd.
dynamic_ownership = 0
remember_owner = 0
cgroup_controllers = [ ]
stdio_handler = "file"
# Where the source sends migration data for a guest coming here.
migration_host = "${HOST_IP[$h]}"
migration_address = "${HOST_IP[$h]}"
EOF
    # Only what libvirtd reads: no default network, no nwfilters.
    echo 'uri_default = "qemu:///system"' >"$etc/libvirt.conf"
    if [[ -n ${LV_HOOK:-} ]]; then
        install -m 0755 "$LV_HOOK" "$etc/hooks/qemu"
    fi
    if [[ -n ${LV_NETLIFECD:-} ]]; then
        # What an install with -Dlibvirt_hook=true puts there, aimed at this
        # host's private bus (libvirtd gives hooks a clean environment: a
        # sanitizer build's options are written in).
        cat >"$etc/hooks/qemu.d/netlifecd" <<EOF
#!/bin/sh
NETLIFECD_HOOK_LOG=/var/log/libvirt/netlifecd-hook.log
NETLIFECD_HOOK_READY_TIMEOUT_MS=${LV_HOOK_READY_TIMEOUT_MS:-120000}
export NETLIFECD_HOOK_LOG NETLIFECD_HOOK_READY_TIMEOUT_MS
${ASAN_OPTIONS:+export ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=${UBSAN_OPTIONS:-}}
exec $LV_NETLIFECD/netlifectl/netlifectl --address=unix:path=$DIR/$h/bus libvirt-hook -- "\$@"
EOF
        chmod 0755 "$etc/hooks/qemu.d/netlifecd"
    fi
    if [[ -n ${LV_HOOK_D:-} ]]; then
        install -m 0755 "$LV_HOOK_D" "$etc/hooks/qemu.d/50-$(basename "$LV_HOOK_D")"
    fi
}

# A private bus and netlifecd on it, in host H (its /run is the host's).
netlifecd_up() {
    local h=$1 i
    # The bus's socket path goes into a D-Bus address unescaped.
    [[ $DIR =~ ^[-0-9A-Za-z_/.]+$ ]] || die "$DIR: a D-Bus address takes only [-0-9A-Za-z_/.] unescaped"
    rm -f "$DIR/$h/bus"
    in_ns "$h" setsid dbus-daemon --session --nofork --address="unix:path=$DIR/$h/bus" \
        >"$DIR/$h/dbus.log" 2>&1 </dev/null &
    for ((i = 0; i < 100; i++)); do
        [[ -S $DIR/$h/bus ]] && break
        sleep 0.05
    done
    [[ -S $DIR/$h/bus ]] || die "host $h: no dbus-daemon at $DIR/$h/bus"
    in_ns "$h" setsid "$LV_NETLIFECD/netlifecd/netlifecd" --address="unix:path=$DIR/$h/bus" \
        --state-dir="$DIR/$h/nlc-state" --runtime-dir=/run/netlifecd \
        >"$DIR/$h/netlifecd.log" 2>&1 </dev/null &
    for ((i = 0; i < 100; i++)); do
        in_ns "$h" "$LV_NETLIFECD/netlifectl/netlifectl" --address="unix:path=$DIR/$h/bus" \
            backends >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "host $h: netlifecd does not answer (see $DIR/$h/netlifecd.log)"
}

# How many times host H's agent said it follows libvirt.
agent_readies() {
    local n
    n=$(grep -s -c "ready: following libvirt" "$DIR/$1/agent.log") || true
    echo "${n:-0}"
}

# netlifecd-libvirt-agent in host H, the other host's netlifecd its
# destination; returns once it follows libvirt.
agent_up() {
    local h=$1 other=A i extra=() readies
    [[ $h == A ]] && other=B
    readies=$(agent_readies "$h")
    [[ $LV_AGENT == 1 ]] || read -ra extra <<<"$LV_AGENT"
    in_ns "$h" setsid "$LV_NETLIFECD/libvirt/netlifecd-libvirt-agent" --connect qemu:///system \
        --address="unix:path=$DIR/$h/bus" --destination-bus="unix:path=$DIR/$other/bus" \
        "${extra[@]}" >>"$DIR/$h/agent.log" 2>&1 </dev/null &
    for ((i = 0; i < 100; i++)); do
        (($(agent_readies "$h") > readies)) && return 0
        sleep 0.1
    done
    die "host $h: the agent is not ready after 10 s (see $DIR/$h/agent.log)"
}

host_up() {
    local h=$1 pid i
    mkdir -p "$DIR/$h"
    write_config "$h"
    start_holder "$h" --net --mount --uts
    pid=$(holder "$h")
    # Switch side of the uplink, the host's end moved into its netns.
    in_ns world ip link add "up-$h" type veth peer name uplink netns "$pid"
    in_ns world ip link set "up-$h" master sw0
    in_ns world ip link set "up-$h" up
    in_ns "$h" /bin/sh -ec "
        hostname ${HOST_NAME[$h]}
        mount -t sysfs lv-sys /sys
        mount -t tmpfs -o mode=0755 lv-run /run
        mkdir -p /run/libvirt /run/lock
        mount -t tmpfs -o mode=0755 lv-lib /var/lib/libvirt
        mount -t tmpfs -o mode=0711 lv-cache /var/cache/libvirt
        mount --bind '$DIR/$h/etc' /etc/libvirt
        mount --bind '$DIR/$h/log' /var/log/libvirt
        ip link set lo up
        ip link add br0 type bridge stp_state 1 forward_delay $((LV_FORWARD_DELAY * 100))
        ip link set uplink master br0
        ip link set uplink up
        ip link set br0 up
        ip addr add ${HOST_IP[$h]}/24 dev br0
    "
    # Logs of what happens on the host's links, with wall-clock stamps.
    in_ns "$h" setsid ip -ts monitor link >"$DIR/$h/ip-monitor.log" 2>&1 </dev/null &
    in_ns "$h" setsid bridge -t monitor all >"$DIR/$h/bridge-monitor.log" 2>&1 </dev/null &
    [[ -z ${LV_NETLIFECD:-} ]] || netlifecd_up "$h"
    in_ns "$h" setsid libvirtd -d --listen -f /etc/libvirt/libvirtd.conf \
        >"$DIR/$h/libvirtd.out" 2>&1 </dev/null
    for ((i = 0; i < 300; i++)); do
        if in_ns "$h" virsh -q -c qemu:///system uri >/dev/null 2>&1; then
            [[ -z ${LV_NETLIFECD:-} || -z ${LV_AGENT:-} ]] || agent_up "$h"
            return 0
        fi
        sleep 0.1
    done
    die "host $h: libvirtd does not answer after 30 s (see $DIR/$h/log/libvirtd.log, $DIR/$h/libvirtd.out)"
}

cmd_up() {
    [[ $(id -u) == 0 ]] || die "needs root"
    command -v libvirtd >/dev/null || die "no libvirtd: run scripts/install-libvirt.sh"
    if holder world >/dev/null || holder A >/dev/null || holder B >/dev/null; then
        die "$DIR is in use: run '$0 down $DIR' first"
    fi
    mkdir -p "$DIR"
    trap 'rc=$?; if ((rc)); then log "up failed: tearing down"; cmd_down; fi' EXIT
    start_holder world --net
    in_ns world /bin/sh -ec "
        ip link set lo up
        ip link add sw0 type bridge stp_state 0
        ip link set sw0 up
    "
    start_holder peer --net
    in_ns world ip link add up-peer type veth peer name eth0 netns "$(holder peer)"
    in_ns world ip link set up-peer master sw0
    in_ns world ip link set up-peer up
    in_ns peer /bin/sh -ec "
        ip link set lo up
        ip addr add $PEER_IP/24 dev eth0
        ip link set eth0 up
        ip neigh replace $GUEST_IP lladdr $LV_GUEST_MAC dev eth0 nud permanent
    "
    # Whatever happens to the caller, nothing outlives LV_TTL.
    setsid /bin/sh -c "sleep $LV_TTL; exec '$here/lv-host.sh' down '$DIR'" </dev/null >/dev/null 2>&1 &
    echo $! >"$DIR/watchdog.pid"
    host_up A
    host_up B
    trap - EXIT
    log "up: hosts A (${HOST_IP[A]}) and B (${HOST_IP[B]}), br0 forward_delay ${LV_FORWARD_DELAY}s, in $DIR"
}

# PID runs (a zombie does not: the machine's init reaps orphans late).
alive() {
    local st=""
    read -r _ _ st _ 2>/dev/null <"/proc/$1/stat" || return 1
    [[ $st != Z ]]
}

stop_pids() { # SIGNAL PID...: signal, then wait up to 5 s
    local sig=$1 i p alive
    shift
    (($#)) || return 0
    kill "-$sig" "$@" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        alive=0
        for p in "$@"; do alive "$p" && alive=1; done
        ((alive)) || return 0
        sleep 0.1
    done
    return 1
}

# Stops everything in host H; the pids it signalled are added to TRIED.
host_down() {
    local h=$1 pid doms d pids lvpid
    if ! pid=$(holder "$h"); then
        [[ -f $DIR/$h.pid ]] && log "down: host $h's holder is gone: nothing signalled there"
        return 0
    fi
    # Guests first (libvirtd leaves QEMU running when it exits).
    if doms=$(timeout 10 nsenter -t "$pid" -n -m -u -- virsh -q list --name 2>/dev/null); then
        for d in $doms; do
            timeout 20 nsenter -t "$pid" -n -m -u -- virsh -q destroy "$d" >/dev/null 2>&1 || true
        done
    fi
    lvpid=$(cat "/proc/$pid/root/run/libvirtd.pid" 2>/dev/null || true)
    # Only a libvirtd in this host's namespace.
    if [[ -n $lvpid && $(readlink "/proc/$lvpid/ns/net" 2>/dev/null) == "$(cat "$DIR/$h.ns")" ]]; then
        TRIED+=("$lvpid")
        stop_pids TERM "$lvpid" || stop_pids KILL "$lvpid" || true
    fi
    # Everything else in the host: QEMU, monitors, event listeners, the holder.
    mapfile -t pids < <(ns_pids "$h")
    TRIED+=("${pids[@]}")
    stop_pids TERM "${pids[@]}" || stop_pids KILL "${pids[@]}" || true
}

cmd_down() {
    local wd name pids p left=""
    TRIED=()
    host_down A
    host_down B
    for name in peer world; do
        if ! holder "$name" >/dev/null; then
            [[ -f $DIR/$name.pid ]] && log "down: $name's holder is gone: nothing signalled there"
            continue
        fi
        mapfile -t pids < <(ns_pids "$name")
        TRIED+=("${pids[@]}")
        stop_pids TERM "${pids[@]}" || stop_pids KILL "${pids[@]}" || true
    done
    # The namespaces (and their links) went with their last process.
    wd=$(cat "$DIR/watchdog.pid" 2>/dev/null || true)
    if [[ -n $wd && $wd != "$$" ]] && alive "$wd" && grep -q lv-host.sh "/proc/$wd/cmdline" 2>/dev/null; then
        # The watchdog's sleep is its child: its process group goes.
        kill -- "-$wd" 2>/dev/null || kill "$wd" 2>/dev/null || true
    fi
    for p in "${TRIED[@]}"; do
        alive "$p" && left="$left $p"
    done
    [[ -z $left ]] || log "down: still running after SIGKILL:$left"
    rm -f "$DIR"/{world,peer,A,B,watchdog}.{pid,ns}
    return 0
}

(($# >= 2)) || die "usage: $0 up|down|exec|virsh|peer|switch|pids DIR [...]"
cmd=$1
DIR=$2
shift 2
case $cmd in
up)
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    cmd_up
    ;;
down) cmd_down ;;
exec)
    (($# >= 2)) || die "usage: $0 exec DIR A|B CMD..."
    h=$1
    shift
    in_ns "$h" "$@"
    ;;
virsh)
    (($# >= 1)) || die "usage: $0 virsh DIR A|B ARGS..."
    h=$1
    shift
    in_ns "$h" virsh -c qemu:///system "$@"
    ;;
peer) in_ns peer "$@" ;;
switch) in_ns world "$@" ;;
pids) ns_pids "$1" ;;
agent)
    (($# == 2)) || die "usage: $0 agent DIR A|B kill|start"
    case $2 in
    kill)
        for p in $(ns_pids "$1"); do
            if grep -q netlifecd-libvirt-agent "/proc/$p/cmdline" 2>/dev/null; then
                kill -KILL "$p" || true
            fi
        done
        ;;
    start) agent_up "$1" ;;
    *) die "agent: kill or start, not $2" ;;
    esac
    ;;
*) die "unknown command $cmd" ;;
esac
