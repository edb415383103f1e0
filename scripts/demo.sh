#!/bin/bash
# The main job on its embedded default: installs what is missing, builds, then
# runs netlifecd on a private D-Bus bus inside a private network namespace
# with an STP bridge, and takes one tap device through its whole lifecycle,
# printing what the kernel shows after every step. Nothing outside the
# namespace is touched; everything is removed at the end.
#
#   sudo scripts/demo.sh            # the demo
#   sudo scripts/demo.sh --keep     # stop before teardown, print how to poke at it
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${NLC_DEMO_INSIDE:-} != 1 ]]; then
    bash scripts/install-deps.sh
    bash scripts/build.sh
    # A private network namespace: the bridge and tap vanish with it.
    exec env NLC_DEMO_INSIDE=1 unshare --net -- "$0" "$@"
fi

KEEP=0; [[ ${1:-} == --keep ]] && KEEP=1
TMP=$(mktemp -d /tmp/netlifecd-demo.XXXXXX)
BUS="unix:path=$TMP/bus"
DAEMON=(build/netlifecd/netlifecd --address="$BUS" --state-dir="$TMP/state" --runtime-dir="$TMP/run")
MAC=52:54:00:de:00:01
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
kernel() { printf '    $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/    /'; }
bus() { busctl --address="$BUS" "$@"; }
call() { bus call org.netlifecd1 "$@"; }
dev() { call "$DEV" org.netlifecd1.Device "$@"; }
prop() { bus get-property org.netlifecd1 "$DEV" org.netlifecd1.Device "$1" | cut -d' ' -f2-; }
port_state() { bridge -j link show dev "$TAP" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])'; }

start_daemon() {
    "${DAEMON[@]}" 2>>"$TMP/daemon.log" &
    DAEMON_PID=$!
    pids+=("$DAEMON_PID")
    for _ in $(seq 100); do
        bus status org.netlifecd1 >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "netlifecd did not come up; its log:" >&2; cat "$TMP/daemon.log" >&2; exit 1
}

step "A namespace with an STP bridge (forward_delay 2 s, the kernel minimum)"
ip link set lo up
ip link add br0 type bridge stp_state 1 forward_delay 200
ip link add uplink type veth peer name uplink-peer
ip link set uplink master br0
ip link set uplink up; ip link set uplink-peer up; ip link set br0 up
kernel ip -br link show

step "A private bus and the daemon"
dbus-daemon --session --nofork --address="$BUS" --print-address=1 >/dev/null 2>"$TMP/bus.log" &
pids+=($!)
for _ in $(seq 100); do [[ -S $TMP/bus ]] && break; sleep 0.05; done
start_daemon
echo "    netlifecd $(bus get-property org.netlifecd1 /org/netlifecd1 org.netlifecd1.Manager Version | cut -d' ' -f2) owns org.netlifecd1 on $BUS"

step "Allocate: reserve a name, check the bridge (nothing in the kernel yet)"
DEV=$(call /org/netlifecd1 org.netlifecd1.Manager Allocate 'sssa{sv}' demo-vm tap-bridge "$MAC" 1 bridge s br0 | tr -d '"' | cut -d' ' -f2)
TAP=$(prop IfName | tr -d '"')
echo "    device $DEV, interface $TAP, state $(prop State)"
kernel ip -br link show

step "Create: tap with vnet_hdr, bridge MTU, enslaved, learning and flooding off; the daemon holds the queue"
echo "    reply: $(dev Create)"
kernel ip -d link show dev "$TAP"
kernel bridge -d link show dev "$TAP"

step "STP counts from create on: the port state as the kernel reports it"
for i in $(seq 12); do
    s=$(port_state)
    printf '    t=%2ss  %s\n' "$i" "$s"
    [[ $s == forwarding ]] && break
    sleep 1
done

step "kill -9 the daemon, start it again: the journal restores the device and reopens its queue"
kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
start_daemon
echo "    state after restart: $(prop State)"
kernel ip -br link show dev "$TAP"

step "Activate: static FDB entry guest MAC -> this port, then a RARP announce"
dev Activate
kernel bridge fdb show br br0 | grep -i "$MAC" || true
echo "    state: $(prop State)"

step "Announce again on demand"
dev Announce && echo "    sent"

step "Out of order is refused with a named error, and nothing changes"
gdbus call --address "$BUS" --dest org.netlifecd1 --object-path "$DEV" \
    --method org.netlifecd1.Device.Destroy 2>&1 | sed 's/^/    /' || true
echo "    state: $(prop State)"

step "Deactivate: the FDB entry goes, the port stays"
dev Deactivate
echo "    FDB entries for $MAC on br0: $(bridge fdb show br br0 | grep -ci "$MAC" || true)"
echo "    state: $(prop State)"

step "Destroy: the tap is deleted"
dev Destroy
kernel ip -br link show

step "Free: the record is released and the object goes away"
dev Free
kernel busctl --address="$BUS" tree org.netlifecd1

step "The daemon's log"
sed 's/^/    /' "$TMP/daemon.log"

if ((KEEP)); then
    echo; echo "Kept running. In another shell: nsenter --net=/proc/$DAEMON_PID/ns/net busctl --address=$BUS tree org.netlifecd1"
    echo "Press Enter to tear down."; read -r _
fi
echo; echo "demo finished: every step done, namespace and bus removed"
