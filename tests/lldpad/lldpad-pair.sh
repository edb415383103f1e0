#!/bin/bash
# A real 802.1Qbg VDP association on one machine: two network namespaces
# joined by a veth pair (st0 <-> sw0), a station-role lldpad on st0 (the
# "host", with macvtaps mvt0/mvt1 on st0 as the guests' NICs) and a
# bridge-role lldpad on sw0 (the "switch"). Each lldpad has its own state:
#
#   network namespace   its netlink port (= its pid), its control socket
#                       (abstract unix "/com/intel/lldpad" is per netns)
#   mount namespace     private /run (the pid file /var/run/lldpad.pid),
#                       /dev/shm (POSIX shm "/lldpad.state", which holds the
#                       "already running" pid: an IPC namespace does NOT
#                       separate it in Debian 12's lldpad) and /var/lib/lldpad,
#                       all bind mounts of directories under the work dir
#   -f FILE             its configuration file
#
# Then it runs scenarios against the pair with tests/lldpad/vdp-request (built
# here with gcc) sending what libvirt sends, vdptool and lldptool, and shows
# the LLDP/ECP exchange captured on sw0 (tcpdump, decoded by ecp-dump.py).
# Every scenario builds a fresh pair and removes it, also on failure; every
# wait is bounded. Needs root, lldpad, tcpdump, gcc, python3
# (scripts/install-lldpad.sh).
#
#   sudo tests/lldpad/lldpad-pair.sh                 # all scenarios
#   sudo tests/lldpad/lldpad-pair.sh associate early # some of them
#   sudo tests/lldpad/lldpad-pair.sh -l              # list them
#   sudo tests/lldpad/lldpad-pair.sh -k ...          # keep the work dir (logs, pcaps)
#   sudo tests/lldpad/lldpad-pair.sh -x ...          # hex dumps of the netlink messages
#
# Scenario nlc-client runs netlifecd's own VDP client (netlifecd/nlc-vdp.c,
# through tests/lldpad/nlc-vdp-client: $NLC_VDP_CLIENT, default
# build/tests/lldpad/nlc-vdp-client) against the pair; meson's test
# lldpad-vdp runs it. Scenario nlc-daemon runs the daemon itself in the
# station's namespace on a private bus ($NLC_DAEMON, $NLC_CTL: default
# build/netlifecd/netlifecd, build/netlifectl/netlifectl), driven with
# netlifectl and busctl; meson's test lldpad-daemon runs it.
#
# Environment: VDPRWD, VDPRKA (exponents, lldpad default 20: 10 us * 2^20 =
# 10.5 s), ECPRTE (default 8), ECPRETRIES (default 3) for both lldpads.
#
# Each scenario checks what was observed here (Debian 12, lldpad
# 1.1+git20221028.aa18720-1) and prints "ok" or "UNEXPECTED"; the exit status
# is the number of unexpected observations. README.md has the findings.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SCENARIOS=(isolation negotiate associate vdptool lldpad-errors early lldptool-config bridge-down
    bridge-gone station-down refuse unsolicited bridge-restart nlc-client nlc-daemon nlc-daemon-bench
    nlc-daemon-watch nlc-daemon-migrate nlc-daemon-migrate-bus nlc-daemon-migrate-coordinated
    nlc-daemon-migrate-hosts)

KEEP=0
HEX=()
while getopts "klxh" o; do
    case $o in
    k) KEEP=1 ;;
    x) HEX=(-x) ;;
    l) printf '%s\n' "${SCENARIOS[@]}"; exit 0 ;;
    *) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 64 ;;
    esac
done
shift $((OPTIND - 1))
RUN=("$@")
((${#RUN[@]})) || RUN=("${SCENARIOS[@]}")
for s in "${RUN[@]}"; do
    [[ " ${SCENARIOS[*]} " == *" $s "* ]] || { echo "unknown scenario $s (-l lists them)" >&2; exit 64; }
done

[[ $(id -u) == 0 ]] || { echo "lldpad-pair: needs root" >&2; exit 64; }
for t in lldpad lldptool vdptool tcpdump gcc python3 ip unshare; do
    command -v "$t" >/dev/null || { echo "lldpad-pair: $t missing (scripts/install-lldpad.sh)" >&2; exit 64; }
done

VDPRWD=${VDPRWD:-20}
VDPRKA=${VDPRKA:-20}
ECPRTE=${ECPRTE:-8}
ECPRETRIES=${ECPRETRIES:-3}

WORK=$(mktemp -d /tmp/lldpad-pair.XXXXXX)
SUFFIX=$$
NS_ST=lqst$SUFFIX
NS_BR=lqbr$SUFFIX
NS_ST2=lqs2$SUFFIX # a second station (host B), only with pair_up --two-hosts
VDPREQ=$WORK/vdp-request
NLC_CLIENT=${NLC_VDP_CLIENT:-$HERE/../../build/tests/lldpad/nlc-vdp-client}
NLC_DAEMON=${NLC_DAEMON:-$HERE/../../build/netlifecd/netlifecd}
NLC_CTL=${NLC_CTL:-$HERE/../../build/netlifectl/netlifectl}
UNEXPECTED=0
SUMMARY=()

MAC0=52:54:00:00:20:01
MAC1=52:54:00:00:20:02
UUID0=a1412857-60f7-4ce1-e95a-2164943f53aa
UUID1=b1412857-60f7-4ce1-e95a-2164943f53bb
VSI0=(--mgr 1 --type 1 --typever 1 --uuid "$UUID0")
VSI1=(--mgr 1 --type 2 --typever 3 --uuid "$UUID1")

gcc -O2 -Wall -Wextra -o "$VDPREQ" "$HERE/vdp-request.c" || { echo "lldpad-pair: vdp-request does not build" >&2; exit 64; }

# ---- bookkeeping --------------------------------------------------------

T0=0
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
say() { printf '  [%7s s] %s\n' "$(since "$T0")" "$*"; }
step() { printf '\n  -- %s\n' "$*"; }
expect() { # expect DESCRIPTION COMMAND...: records ok/UNEXPECTED
    local what=$1
    shift
    if "$@"; then
        printf '  ok          %s\n' "$what"
    else
        printf '  UNEXPECTED  %s\n' "$what"
        UNEXPECTED=$((UNEXPECTED + 1))
        SUMMARY+=("UNEXPECTED $SCEN: $what")
    fi
}

declare -A PID=()   # lldpad pids by side (and "bus", "nlcd": scenario nlc-daemon)
TCPDUMP_PID=
BG_PIDS=()
SDIR=

side_dir() { echo "$SDIR/$1"; }
side_ns() { case $1 in st) echo "$NS_ST" ;; st2) echo "$NS_ST2" ;; *) echo "$NS_BR" ;; esac; }
side_if() { [[ $1 == br ]] && echo sw0 || echo st0; }

# side_cmd SIDE: sets CMD to the prefix that runs a command in the side's
# network namespace and a private mount namespace where /run, /dev/shm and
# /var/lib/lldpad are the side's own directories. ip, unshare and sh all exec,
# so a background "${CMD[@]}" lldpad ... & leaves lldpad's pid in $!.
side_cmd() {
    local d
    d=$(side_dir "$1")
    CMD=(ip netns exec "$(side_ns "$1")" unshare --mount --propagation private -- sh -c '
        d=$1; shift
        mount --bind "$d/run" /run && mount --bind "$d/shm" /dev/shm &&
            mount --bind "$d/lib" /var/lib/lldpad && exec "$@"' sh "$d")
}
in_side() {
    local CMD
    side_cmd "$1"
    shift
    "${CMD[@]}" "$@"
}

write_config() { # SIDE MODE [IFNAME...]: default the side's interface
    local side=$1 mode=$2 ifname
    ifname=$(side_if "$side")
    shift 2
    (($#)) || set -- "$ifname"
    {
        echo "nearest_customer_bridge :"
        echo "{"
        for ifname in "$@"; do
            cat <<EOF
  $ifname :
  {
    adminStatus = 3;
    tlvid0080c20d :
    {
      enableTx = true;
      evbmode = "$mode";
      evbrrreq = $([[ $mode == station ]] && echo true || echo false);
      evbrrcap = $([[ $mode == bridge ]] && echo true || echo false);
      evbgpid = false;
      ecpretries = $ECPRETRIES;
      ecprte = $ECPRTE;
      vdprwd = $VDPRWD;
      vdprka = $VDPRKA;
    };
  };
EOF
        done
        echo "};"
    } >"$(side_dir "$side")/lldpad.conf"
}

start_lldpad() { # SIDE
    local side=$1 d CMD
    d=$(side_dir "$side")
    side_cmd "$side"
    "${CMD[@]}" lldpad -V 7 -f "$d/lldpad.conf" >>"$d/lldpad.log" 2>&1 &
    PID[$side]=$!
    for _ in $(seq 100); do
        if ! kill -0 "${PID[$side]}" 2>/dev/null; then
            say "lldpad ($side) exited at start:"; tail -3 "$d/lldpad.log" | sed 's/^/      /'
            return 1
        fi
        in_side "$side" lldptool -p >/dev/null 2>&1 && break
        sleep 0.05
    done
    say "lldpad ($side) running, pid ${PID[$side]}, pid file says $(cat "$d/run/lldpad.pid" 2>/dev/null | tr -d '\0\n' || echo none)"
}

stop_lldpad() { # SIDE [SIGNAL]
    local side=$1 sig=${2:-TERM} p=${PID[$1]:-}
    [[ -n $p ]] || return 0
    kill -"$sig" "$p" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    unset "PID[$side]"
}

pair_up() { # [--no-bridge] [--bridge-config-by-lldptool] [--two-hosts]
    local nobridge=0 lldptoolcfg=0 two=0 s
    for a in "$@"; do
        [[ $a == --no-bridge ]] && nobridge=1
        [[ $a == --bridge-config-by-lldptool ]] && lldptoolcfg=1
        [[ $a == --two-hosts ]] && two=1
    done
    for s in st br st2; do mkdir -p "$SDIR/$s/run" "$SDIR/$s/shm" "$SDIR/$s/lib"; done
    write_config st station
    if ((lldptoolcfg)); then
        : >"$SDIR/br/lldpad.conf"
    elif ((two)); then
        write_config br bridge sw0 sw1
    else
        write_config br bridge
    fi
    ip netns add "$NS_ST" && ip netns add "$NS_BR" || return 1
    ((two)) && { second_host_up || return 1; }
    ip link add st0 netns "$NS_ST" type veth peer name sw0 netns "$NS_BR" || return 1
    ip -n "$NS_ST" link set lo up
    ip -n "$NS_BR" link set lo up
    ip -n "$NS_ST" link add link st0 name mvt0 address $MAC0 type macvtap mode vepa
    ip -n "$NS_ST" link add link st0 name mvt1 address $MAC1 type macvtap mode vepa
    ip -n "$NS_ST" link set st0 up
    ip -n "$NS_BR" link set sw0 up
    ip -n "$NS_ST" link set mvt0 up
    ip -n "$NS_ST" link set mvt1 up
    # --immediate-mode: without it tcpdump gets frames from the kernel in
    # blocks (TPACKET_V3), seconds late, and show_wire can read an empty file.
    ip netns exec "$NS_BR" timeout 900 tcpdump -Z root -i sw0 -U --immediate-mode -s 0 -w "$SDIR/sw0.pcap" \
        'ether proto 0x88cc or ether proto 0x8940 or ether proto 0x88b7' 2>"$SDIR/tcpdump.log" &
    TCPDUMP_PID=$!
    for _ in $(seq 100); do grep -q listening "$SDIR/tcpdump.log" 2>/dev/null && break; sleep 0.05; done
    grep -q listening "$SDIR/tcpdump.log" || { say "tcpdump: $(cat "$SDIR/tcpdump.log")"; return 1; }
    T_UP=$(now)
    start_lldpad st || return 1
    ((two)) && { start_lldpad st2 || return 1; }
    ((nobridge)) || start_lldpad br || return 1
}

# Host B: a second station namespace whose st0 is the bridge's sw1 (the
# switch's second port), its own lldpad, its own capture (sw1.pcap).
second_host_up() {
    write_config st2 station
    ip netns add "$NS_ST2" || return 1
    ip link add st0 netns "$NS_ST2" type veth peer name sw1 netns "$NS_BR" || return 1
    ip -n "$NS_ST2" link set lo up
    ip -n "$NS_ST2" link add link st0 name mvt0 address $MAC0 type macvtap mode vepa
    ip -n "$NS_ST2" link set st0 up
    ip -n "$NS_ST2" link set mvt0 up
    ip -n "$NS_BR" link set sw1 up
    ip netns exec "$NS_BR" timeout 900 tcpdump -Z root -i sw1 -U --immediate-mode -s 0 -w "$SDIR/sw1.pcap" \
        'ether proto 0x88cc or ether proto 0x8940 or ether proto 0x88b7' 2>"$SDIR/tcpdump1.log" &
    TCPDUMP2_PID=$!
    for _ in $(seq 100); do grep -q listening "$SDIR/tcpdump1.log" 2>/dev/null && break; sleep 0.05; done
    grep -q listening "$SDIR/tcpdump1.log" || { say "tcpdump sw1: $(cat "$SDIR/tcpdump1.log")"; return 1; }
}

pair_down() {
    local p
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    BG_PIDS=()
    stop_lldpad st
    stop_lldpad st2
    stop_lldpad br
    for p in TCPDUMP_PID TCPDUMP2_PID; do
        [[ -n ${!p:-} ]] || continue
        kill -INT "${!p}" 2>/dev/null
        wait "${!p}" 2>/dev/null
        printf -v "$p" '%s' ''
    done
    ip netns del "$NS_ST" 2>/dev/null
    ip netns del "$NS_ST2" 2>/dev/null
    ip netns del "$NS_BR" 2>/dev/null
    return 0
}

cleanup() {
    pair_down
    if ((KEEP)); then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# vdp_probe: is the station's VDP ready? A DISASSOCIATE for a VSI nobody
# associated changes nothing and sends nothing; lldpad answers it with
# EPROTONOSUPPORT while EVB is not negotiated, ENXIO before its VDP22 instance
# for st0 exists, EINVAL (unknown VSI) once it accepts requests. Prints the errno.
PROBE=(--mgr 0 --type 0 --typever 0 --uuid 00000000-0000-0000-0000-00000000beef)
vdp_probe() { # [SIDE]: the station's (st) by default
    local side=${1:-st}
    ip netns exec "$(side_ns "$side")" "$VDPREQ" -P "$SDIR/$side/run/lldpad.pid" -l mvt0 "${PROBE[@]}" disassociate 2>&1 |
        sed -n 's/.*errno=\([A-Z]*\).*/\1/p;s/.*reason=\([^ ]*\).*/\1/p' | head -1
}

# wait_evb [LIMIT_S]: until both sides run EVB with the agreed values:
#  - the station's VDP accepts requests (vdp_probe says EINVAL). lldptool's
#    neighbour view of the bridge's EVB TLV comes earlier than that, so it is
#    not the signal;
#  - lldpad's bridge has the station's confirming LLDPDU (R/L bits set). The
#    bridge's VDP gets its timers only from that one, up to a fast-tx interval
#    after the station's VDP is ready; a VSI associated in between is dropped
#    by the bridge within microseconds (its keep-alive timer is then 30 us).
wait_evb() { # [LIMIT_S [SIDE [BRIDGE-PORT]]]
    local limit=${1:-20} side=${2:-st} port=${3:-sw0} t st=0 r
    t=$(now)
    while :; do
        if ((!st)); then
            r=$(vdp_probe "$side")
            if [[ $r == EINVAL ]]; then
                st=1
                say "the station's VDP accepts requests (probe: EINVAL for an unknown VSI)"
            fi
        fi
        if ((st)) && in_side br lldptool -t -n -i "$port" -g ncb -V evb 2>/dev/null | grep -q 'mode:station r/l:1'; then
            say "the bridge has the station's confirming EVB TLV: EVB negotiated ($(since "$t") s of waiting)"
            return 0
        fi
        if awk -v a="$t" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
            say "EVB not negotiated within $limit s (last probe: ${r:-?})"
            return 1
        fi
        sleep 0.05
    done
}

# vdpreq NAME ARGS...: vdp-request in the station's network namespace, with
# the station lldpad's pid file (read from the host's view of its /run).
# Output in $SDIR/NAME.out, shown without hex; sets RESULT, OUTCOME, AFTER.
vdpreq() {
    local name=$1
    shift
    ip netns exec "$NS_ST" "$VDPREQ" "${HEX[@]}" -P "$SDIR/st/run/lldpad.pid" "$@" >"$SDIR/$name.out" 2>&1
    if ((${#HEX[@]})); then
        sed 's/^/      /' "$SDIR/$name.out"
    else
        grep -v -E 'event socket bound|link mvt|lower st0|uplink st0|request socket|^ +[0-9a-f]{4} ' "$SDIR/$name.out" | sed 's/^/      /'
    fi
    RESULT=$(grep RESULT "$SDIR/$name.out" | tail -1)
    OUTCOME=$(sed -n 's/.*outcome=\([^ ]*\).*/\1/p' <<<"$RESULT")
    AFTER=$(sed -n 's/.*after_ms=\([0-9.]*\).*/\1/p' <<<"$RESULT")
    return 0
}

# vdpreq_bg NAME ARGS...: the same in the background (pid in BG_PIDS, LAST_BG)
vdpreq_bg() {
    local name=$1
    shift
    ip netns exec "$NS_ST" "$VDPREQ" "${HEX[@]}" -P "$SDIR/st/run/lldpad.pid" "$@" >"$SDIR/$name.out" 2>&1 &
    LAST_BG=$!
    BG_PIDS+=("$LAST_BG")
}

show_wire() { # [FILTER-REGEX]: the decoded capture, times from the pair's start
    local macs st_mac br_mac port=${WIRE_PORT:-sw0} ns=$NS_ST
    [[ $port == sw1 ]] && ns=$NS_ST2
    st_mac=$(ip -n "$ns" -br link show st0 2>/dev/null | awk '{print $3}')
    br_mac=$(ip -n "$NS_BR" -br link show "$port" 2>/dev/null | awk '{print $3}')
    macs=(--name "$st_mac=station" --name "$br_mac=bridge")
    sleep 0.2
    echo "      wire ($port, seconds since the pair came up):"
    python3 "$HERE/ecp-dump.py" "$SDIR/$port.pcap" --epoch "$T_UP" "${macs[@]}" |
        grep -E "${1:-.}" | sed 's/^/        /'
}

lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
between() { awk -v x="$1" -v a="$2" -v b="$3" 'BEGIN { exit !(x >= a && x <= b) }'; }
has() { grep -q -E "$2" "$SDIR/$1.out"; }

# ecp_drop on|off: drop the station's ECP frames (ethertype 0x8940) on st0's
# egress. This kernel has no tc drop action and no netem: an htb class whose
# leaf is a pfifo of limit 0, chosen by a u32 filter on the protocol, drops them.
ecp_drop() {
    local tcn=(ip netns exec "$NS_ST" tc)
    if [[ $1 == on ]]; then
        "${tcn[@]}" qdisc add dev st0 root handle 1: htb default 1 2>/dev/null &&
            "${tcn[@]}" class add dev st0 parent 1: classid 1:1 htb rate 1gbit 2>/dev/null &&
            "${tcn[@]}" class add dev st0 parent 1: classid 1:2 htb rate 1gbit 2>/dev/null &&
            "${tcn[@]}" qdisc add dev st0 parent 1:2 handle 20: pfifo limit 0 &&
            "${tcn[@]}" filter add dev st0 parent 1: protocol 0x8940 prio 1 u32 match u32 0 0 flowid 1:2
    else
        "${tcn[@]}" -s qdisc show dev st0 | grep -A1 'pfifo 20' | tr -s ' \n' ' ' | sed 's/^/      tc: /'
        echo
        "${tcn[@]}" qdisc del dev st0 root
    fi
}

# poll_status SECONDS UUID: the station's status once a second, printing changes;
# LAST_STATUS is the last one.
poll_status() {
    local secs=$1 uuid=$2 tp r
    tp=$(now)
    LAST_STATUS=
    for _ in $(seq "$secs"); do
        ip netns exec "$NS_ST" "$VDPREQ" -P "$SDIR/st/run/lldpad.pid" -l mvt0 --uuid "$uuid" status >"$SDIR/poll.out" 2>&1
        r=$(sed -n 's/.*RESULT op=status outcome=\([^ ]*\) response=\([0-9]*\) entries=\([0-9]*\).*/\1 response=\2 entries=\3/p' "$SDIR/poll.out")
        [[ -n $r ]] || r=$(grep -o 'RESULT.*' "$SDIR/poll.out" | head -1)
        [[ $r != "$LAST_STATUS" ]] && say "status: $r (poll at +$(since "$tp") s)"
        LAST_STATUS=$r
        sleep 1
    done
}

# ---- scenarios -----------------------------------------------------------

scen_isolation() {
    step "the bridge lldpad in its own network and IPC namespace (unshare --ipc), but sharing the station's /dev/shm"
    mkdir -p "$SDIR/st/shm" "$SDIR/br"
    ln -s ../st/shm "$SDIR/br/shm"
    pair_up --no-bridge || return 1
    local CMD p
    side_cmd br
    "${CMD[@]}" unshare --ipc lldpad -V 7 -f "$SDIR/br/lldpad.conf" >"$SDIR/br/shared-shm.log" 2>&1 &
    p=$!
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then kill "$p"; fi
    wait "$p" 2>/dev/null
    say "it says: $(tail -1 "$SDIR/br/shared-shm.log")"
    expect "it refuses to start: the 'already running' pid is in POSIX shm /dev/shm/lldpad.state, not in the IPC namespace" \
        grep -q 'lldpad already running' "$SDIR/br/shared-shm.log"
    step "with its own /dev/shm (and /run, /var/lib/lldpad) it starts"
    rm "$SDIR/br/shm"
    mkdir -p "$SDIR/br/shm"
    start_lldpad br || return 1
    say "lldptool -p in the station's netns: $(in_side st lldptool -p 2>&1), in the bridge's: $(in_side br lldptool -p 2>&1)"
    expect "each lldptool reaches its own lldpad (the control socket is abstract, per network namespace)" \
        bash -c "[[ '$(in_side st lldptool -p 2>&1)' == ${PID[st]} && '$(in_side br lldptool -p 2>&1)' == ${PID[br]} ]]"
    say "state files: $(cd "$SDIR" && ls st/run st/shm br/run br/shm | tr '\n' ' ')"
    expect "the host's /run/lldpad.pid and /dev/shm/lldpad.state are untouched" \
        bash -c "[[ ! -e /run/lldpad.pid && ! -e /dev/shm/lldpad.state ]]"
}

scen_negotiate() {
    step "both lldpads started together; LLDP with the EVB TLV, then EVB is on"
    pair_up || return 1
    wait_evb 20
    expect "EVB negotiated within 5 s of the start" lt "$(since "$T_UP")" 5
    in_side st lldptool -t -i st0 -g ncb -V evb | sed 's/^/      station local: /'
    in_side st lldptool -t -n -i st0 -g ncb -V evb | sed 's/^/      station sees:  /'
    in_side br lldptool -t -i sw0 -g ncb -V evb -c | tr '\n' ' ' | sed 's/^/      bridge config: /'
    echo
    sleep 2
    show_wire
    expect "both sides sent LLDP with an EVB TLV" \
        bash -c "python3 '$HERE/ecp-dump.py' '$SDIR/sw0.pcap' | grep -q 'EVB mode=station' &&
                 python3 '$HERE/ecp-dump.py' '$SDIR/sw0.pcap' | grep -q 'EVB mode=bridge'"
    expect "no ECP frame without a VDP request" \
        bash -c "! python3 '$HERE/ecp-dump.py' '$SDIR/sw0.pcap' | grep -q ECP"
}

scen_associate() {
    pair_up || return 1
    wait_evb 20 || return 1

    step "PREASSOCIATE mvt0 (libvirt's migrate-in start), libvirt's polling (125 ms)"
    vdpreq pre -l mvt0 "${VSI0[@]}" preassociate
    expect "preassociate succeeds (response 0)" [ "$OUTCOME" = success ]

    step "ASSOCIATE mvt0 (the preassociated VSI)"
    vdpreq assoc -l mvt0 "${VSI0[@]}" associate
    expect "associate succeeds (response 0)" [ "$OUTCOME" = success ]
    expect "... at the first poll, before the bridge can have answered: the status is the preassociation's (stale)" \
        has assoc 'status poll 1: success'

    step "status (GETLINK) of mvt0's VSI"
    vdpreq status1 -l mvt0 --uuid "$UUID0" status
    expect "status: one entry, response 0" has status1 'outcome=success response=0 entries=1'

    step "ASSOCIATE mvt1 with a 1 ms poll interval: how long the association really takes"
    vdpreq assoc1 -l mvt1 "${VSI1[@]}" -i 1 associate
    expect "associate mvt1 succeeds" [ "$OUTCOME" = success ]
    expect "it completes in under 50 ms (measured: $AFTER ms)" lt "${AFTER:-1e9}" 50

    step "status lists every VSI on the uplink (GETLINK is per uplink)"
    vdpreq status2 -l mvt0 --uuid "$UUID0" status
    expect "status: two entries" has status2 'entries=2'

    step "ASSOCIATE again an associated VSI (what libvirt does on restart / after an unsolicited deassoc)"
    vdpreq reassoc -l mvt0 "${VSI0[@]}" associate
    expect "re-associate is accepted and reports success" [ "$OUTCOME" = success ]

    step "PREASSOCIATE an associated VSI (a downgrade)"
    vdpreq downgrade -l mvt0 "${VSI0[@]}" preassociate
    expect "refused by lldpad with EINVAL" has downgrade 'rejected-by-lldpad errno=EINVAL'

    step "DISASSOCIATE mvt0 (libvirt polls as for associate)"
    vdpreq disassoc -l mvt0 "${VSI0[@]}" disassociate
    expect "the first poll already says success (the status of the association, stale)" \
        has disassoc 'status poll 1: success'
    sleep 0.1
    vdpreq status3 -l mvt0 --uuid "$UUID0" status
    expect "after it, mvt0's VSI is gone from the status (one entry left)" has status3 'outcome=no-entry.*entries=1'

    step "DISASSOCIATE mvt1 with a 1 ms poll; then the status has no IFLA_VF_PORTS at all"
    vdpreq disassoc1 -l mvt1 "${VSI1[@]}" -i 1 disassociate
    sleep 0.1
    vdpreq status4 -l mvt1 --uuid "$UUID1" status
    expect "no IFLA_VF_PORTS when no VSI is left (libvirt: \"IFLA_VF_PORTS is missing\")" \
        has status4 'no IFLA_VF_PORTS'

    step "PREASSOCIATE_RR, then DISASSOCIATE, of a third VSI on mvt1"
    vdpreq prerr -l mvt1 --mgr 2 --type 7 --typever 0 --uuid c1412857-60f7-4ce1-e95a-2164943f53cc -i 1 preassociate-rr
    expect "preassociate-rr succeeds" [ "$OUTCOME" = success ]
    vdpreq prerr2 -l mvt1 --mgr 2 --type 7 --typever 0 --uuid c1412857-60f7-4ce1-e95a-2164943f53cc disassociate

    step "DISASSOCIATE a VSI lldpad does not know"
    vdpreq disassoc2 -l mvt1 "${VSI1[@]}" disassociate
    expect "refused with EINVAL" has disassoc2 'rejected-by-lldpad errno=EINVAL'

    show_wire 'ECP'
}

scen_vdptool() {
    pair_up || return 1
    wait_evb 20 || return 1
    local t out rc
    step "vdptool (lldpad's own VDP22 client, over its control socket): assoc with -W"
    t=$(now)
    out=$(in_side st vdptool -i st0 -T -W -V assoc -c mode=assoc -c mgrid2=1 -c typeid=1 \
        -c typeidver=1 -c uuid=$UUID0 -c hints=none -c filter=0-$MAC0 2>&1)
    rc=$?
    say "vdptool assoc rc=$rc after $(since "$t") s"
    sed 's/^/      /' <<<"$out"
    expect "vdptool assoc works (rc 0, 'Response from VDP')" bash -c "[[ $rc == 0 ]] && grep -q 'Response from VDP' <<<'$out'"
    step "its VSI as the netlink status (GETLINK) shows it"
    vdpreq status -l mvt0 --uuid "$UUID0" status
    expect "the netlink status lists it with response 0" has status 'outcome=success'
    step "vdptool -t (query)"
    in_side st vdptool -i st0 -t -V assoc -c uuid=$UUID0 2>&1 | sed 's/^/      /'
    step "vdptool deassoc"
    t=$(now)
    in_side st vdptool -i st0 -T -W -V deassoc -c mode=deassoc -c mgrid2=1 -c typeid=1 \
        -c typeidver=1 -c uuid=$UUID0 -c hints=none -c filter=0-$MAC0 >/dev/null 2>&1
    rc=$?
    say "vdptool deassoc rc=$rc after $(since "$t") s"
    step "lldptool -V vdp (the draft 0.2 VDP module) on this EVB22 link"
    out=$(in_side st lldptool -T -i st0 -V vdp -c mode=2,1,1,1,$UUID1,2,$MAC1,0 2>&1)
    say "lldptool -T -V vdp: $out"
    out2=$(in_side st lldptool -T -i st0 -g ncb -V vdp -c mode=2,1,1,1,$UUID1,2,$MAC1,0 2>&1)
    say "lldptool -T -g ncb -V vdp: $out2"
    expect "lldptool -V vdp sent no VDP frame for that VSI" \
        bash -c "! python3 '$HERE/ecp-dump.py' '$SDIR/sw0.pcap' | grep -q '$UUID1'"
    show_wire 'ECP'
}

scen_lldpad_errors() {
    pair_up || return 1
    wait_evb 20 || return 1
    step "an all-zero instance UUID"
    vdpreq zero -l mvt0 --mgr 1 --type 1 --typever 1 --uuid 00000000-0000-0000-0000-000000000000 associate
    expect "EINVAL" has zero 'errno=EINVAL'
    step "a SETLINK without IFLA_VFINFO_LIST (no MAC/VLAN filter)"
    vdpreq novf -l mvt0 "${VSI0[@]}" --no-vfinfo associate
    expect "EINVAL" has novf 'errno=EINVAL'
    step "the same request from an unprivileged process (nobody, no capabilities)"
    ip netns exec "$NS_ST" setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
        "$VDPREQ" -p "${PID[st]}" -l mvt0 "${VSI0[@]}" associate >"$SDIR/unpriv.out" 2>&1
    grep -E 'SETLINK|RESULT' "$SDIR/unpriv.out" | sed 's/^/      /'
    expect "sendto to lldpad's port is refused: EPERM (unicast to a user port needs CAP_NET_ADMIN)" \
        has unpriv 'send:EPERM'
    step "a request naming the macvtap itself as the uplink (lldpad runs EVB on st0 only)"
    vdpreq onmvt -d mvt0 --mac $MAC0 "${VSI0[@]}" associate
    expect "refused by lldpad" has onmvt 'rejected-by-lldpad'
    step "a request to the bridge-role lldpad (sent from the bridge's namespace: netlink stays in one netns)"
    ip netns exec "$NS_BR" "$VDPREQ" -p "${PID[br]}" -d sw0 --mac $MAC0 "${VSI0[@]}" associate >"$SDIR/tobridge.out" 2>&1
    grep -E 'SETLINK reply|RESULT' "$SDIR/tobridge.out" | sed 's/^/      /'
    expect "the bridge role refuses: EOPNOTSUPP" has tobridge 'errno=EOPNOTSUPP'
    step "a second request while the first is in flight (the station's ECP frames dropped, so it stays in flight)"
    ecp_drop on || return 1
    vdpreq busy1 -l mvt0 "${VSI0[@]}" --no-poll associate
    vdpreq busy2 -l mvt0 "${VSI0[@]}" --no-poll associate
    expect "the second one: EBUSY" has busy2 'errno=EBUSY'
    vdpreq busy3 -l mvt0 "${VSI0[@]}" --no-poll disassociate
    expect "a DISASSOCIATE meanwhile: EBUSY too" has busy3 'errno=EBUSY'
    ecp_drop off
}

# nlcreq NAME ARGS...: netlifecd's client in the station's namespace with the
# station lldpad's pid file; sets RESULT, OUTCOME, CODE, AFTER.
nlcreq() {
    local name=$1
    shift
    ip netns exec "$NS_ST" "$NLC_CLIENT" -P "$SDIR/st/run/lldpad.pid" -u st0 "$@" >"$SDIR/$name.out" 2>&1
    sed 's/^/      /' "$SDIR/$name.out"
    RESULT=$(grep RESULT "$SDIR/$name.out" | tail -1)
    OUTCOME=$(sed -n 's/.*outcome=\([^ ]*\).*/\1/p' <<<"$RESULT")
    CODE=$(sed -n 's/.*code=\([^ ]*\).*/\1/p' <<<"$RESULT")
    AFTER=$(sed -n 's/.*after_ms=\([0-9.]*\).*/\1/p' <<<"$RESULT")
    return 0
}

# netlifecd's client (not vdp-request) through every path it must tell apart.
scen_nlc_client() {
    local NLC0=(--mac $MAC0 --mgr 1 --type 1 --typever 1 --uuid "$UUID0")
    local NLC1=(--mac $MAC1 --mgr 1 --type 2 --typever 3 --uuid "$UUID1")
    if [[ ! -x $NLC_CLIENT ]]; then
        expect "netlifecd's client is built ($NLC_CLIENT)" false
        return 1
    fi
    step "station lldpad only, 2 s after its start: no EVB peer"
    pair_up --no-bridge || return 1
    sleep 2
    nlcreq noevb "${NLC0[@]}" associate
    expect "refused by lldpad, named: EVB not negotiated" \
        has noevb 'code=rejected .*EVB is not negotiated on the uplink'
    start_lldpad br || return 1
    wait_evb 20 || return 1
    # The bridge drops what it gets before the station's confirming LLDPDU
    # (README 2); wait_evb waited for it.
    step "PREASSOCIATE, ASSOCIATE, DISASSOCIATE mvt0's VSI"
    nlcreq pre "${NLC0[@]}" preassociate
    expect "preassociate succeeds (response 0)" has pre 'outcome=success response=0'
    nlcreq assoc "${NLC0[@]}" associate
    expect "associate succeeds (response 0)" has assoc 'outcome=success response=0'
    expect "... after the first status read, 20 ms on: past the switch's answer (2-6 ms), not the stale one ($AFTER ms)" \
        between "${AFTER:-0}" 20 1000
    nlcreq assoc1 "${NLC1[@]}" associate
    expect "a second VSI (type 2, version 3) on mvt1 associates" has assoc1 'outcome=success response=0'
    nlcreq disassoc "${NLC0[@]}" disassociate
    expect "disassociate succeeds" has disassoc 'outcome=success'
    nlcreq unknown "${NLC0[@]}" disassociate
    expect "disassociating it again: lldpad does not know it (rejected, EINVAL)" \
        has unknown 'code=rejected .*Invalid argument'
    show_wire 'ECP' >"$SDIR/wire.txt"
    cat "$SDIR/wire.txt"
    expect "the wire shows the switch's ASSOC answer for both VSIs" \
        [ "$(grep -c ' ASSOC\[ACK' "$SDIR/wire.txt")" -ge 2 ]

    step "the switch goes silent (bridge lldpad stopped): a new association times out"
    stop_lldpad br
    nlcreq silent --timeout 3000 --mac $MAC0 --mgr 1 --type 1 --typever 1 \
        --uuid c1412857-60f7-4ce1-e95a-2164943f53cc associate
    expect "timed out, named, after the 3000 ms asked for ($AFTER ms)" has silent 'code=timed-out .*no answer from the switch within 3000 ms'
    expect "... and not much later" between "${AFTER:-0}" 2990 3500

    step "the station's lldpad killed: the transport error, at once"
    stop_lldpad st KILL
    nlcreq dead "${NLC1[@]}" associate
    expect "no lldpad, named (nobody listens at its port)" has dead 'code=no-lldpad .*nobody listens'
    expect "... at once ($AFTER ms)" lt "${AFTER:-1e9}" 100
    ip netns exec "$NS_ST" "$NLC_CLIENT" -P "$SDIR/none.pid" -u st0 "${NLC1[@]}" associate >"$SDIR/nopid.out" 2>&1
    sed 's/^/      /' "$SDIR/nopid.out"
    expect "no pid file: no lldpad, named" has nopid "code=no-lldpad .*cannot read lldpad's pid"
}

# ---- netlifecd itself in the station's namespace (scenario nlc-daemon) --------

# nlcd_start [N [SIDE]]: a private dbus-daemon (once) and netlifecd in the
# station's network namespace (SIDE st2: host B's), reading that station
# lldpad's pid file; waits until it answers. Its bus address in BUS (BUS2
# for N=2: a second daemon, with a state and a bus of its own).
nlcd_start() {
    local n=${1:-} side=${2:-st} d=$SDIR/nlcd${1:-} bus
    mkdir -p "$d/state" "$d/run"
    bus=unix:path=$d/bus
    printf -v "BUS$n" '%s' "$bus"
    cat >"$d/netlifecd.conf" <<EOF
[port-profile]
lldpad-pid-file = $SDIR/$side/run/lldpad.pid
timeout-ms = 3000
watch-ms = ${NLC_WATCH_MS:-10000}
EOF
    if [[ -z ${PID[bus$n]:-} ]]; then
        dbus-daemon --session --nofork --nopidfile --address="$bus" >>"$d/bus.log" 2>&1 &
        PID[bus$n]=$!
        BG_PIDS+=("${PID[bus$n]}")
        for _ in $(seq 100); do [[ -S $d/bus ]] && break; sleep 0.05; done
    fi
    ip netns exec "$(side_ns "$side")" "$NLC_DAEMON" --address "$bus" --config "$d/netlifecd.conf" \
        --state-dir "$d/state" --runtime-dir "$d/run" -v >>"$d/daemon.log" 2>&1 &
    PID[nlcd$n]=$!
    BG_PIDS+=("${PID[nlcd$n]}")
    for _ in $(seq 100); do
        "$NLC_CTL" --address "$bus" status >/dev/null 2>&1 && { say "netlifecd$n running, pid ${PID[nlcd$n]}"; return 0; }
        kill -0 "${PID[nlcd$n]}" 2>/dev/null || break
        sleep 0.05
    done
    say "netlifecd$n did not come up:"; tail -5 "$d/daemon.log" | sed 's/^/      /'
    return 1
}

# nlctl NAME ARGS...: netlifectl on the daemon's bus; output in
# $SDIR/NAME.out (shown), its status in RC.
nlctl() {
    local name=$1
    shift
    "$NLC_CTL" --address "$BUS" "$@" >"$SDIR/$name.out" 2>&1
    RC=$?
    sed 's/^/      /' "$SDIR/$name.out"
}

# profile_of DEVICE: its PortProfile as busctl prints it.
profile_of() {
    busctl --address="$BUS" get-property org.netlifecd1 "$1" org.netlifecd1.Device PortProfile 2>&1
}
dev_prop() { # DEVICE PROPERTY
    busctl --address="$BUS" get-property org.netlifecd1 "$1" org.netlifecd1.Device "$2" 2>&1
}
profile_state_is() { profile_of "$1" | grep -q "\"State\" s \"$2\""; }
# wait_profile DEVICE STATE [TENTHS]: until PortProfile says STATE.
wait_profile() {
    for _ in $(seq "${3:-50}"); do profile_state_is "$1" "$2" && return 0; sleep 0.1; done
    say "PortProfile of $1: $(profile_of "$1")"
    return 1
}
# wait_for_file_line FILE REGEX: up to 5 s.
wait_for_file_line() {
    for _ in $(seq 50); do grep -q -E "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
# The station's link is administratively up / down.
link_flags_up() { ip -n "$NS_ST" link show "$1" 2>/dev/null | head -1 | grep -q '[<,]UP[,>]'; }
link_flags_down() { ip -n "$NS_ST" link show "$1" >/dev/null 2>&1 && ! link_flags_up "$1"; }
dev_prop_has() { dev_prop "$1" "$2" | grep -q -E "$3"; } # DEVICE PROPERTY REGEX
profile_has() { profile_of "$1" | grep -q -E "$2"; }     # DEVICE REGEX
out_has() { grep -q -E "$2" "$SDIR/$1.out"; }            # NAME REGEX
# The switch's answers of kind KIND (PREASSOC, ASSOC, DEASSOC) for the VSI
# whose instance id starts with PREFIX, on the wire so far.
switch_answers() { show_wire "$2" | grep -c -E "bridge .*[ ,]$1\[ACK"; }

# qmp SOCKET COMMAND: one QMP command to a QEMU monitor; its answer.
qmp() {
    python3 - "$1" "$2" <<'PYEOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
for cmd in ("qmp_capabilities", sys.argv[2]):
    f.write(json.dumps({"execute": cmd}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
print(json.dumps(r))
PYEOF
}
device_state_is() { dev_prop_has "$1" State "\"$2\""; }
wait_socket() { for _ in $(seq 100); do [[ -S $1 ]] && return 0; sleep 0.05; done; return 1; } # up to 5 s
guest_running() { qmp "$1" query-status | grep -q '"status": "running"'; } # TEST-QMP-SOCKET
wait_state() { # DEVICE STATE: up to 5 s
    for _ in $(seq 50); do device_state_is "$1" "$2" && return 0; sleep 0.1; done
    return 1
}

# A followed guest: a real QEMU (no OS: the BIOS finds nothing to boot and
# waits; its CPUs' STOP and RESUME are what matters) holding the macvtap's
# queue, started paused, followed with AttachQemu. Its RESUME associates
# the profile, then activates; STOP and RESUME again keep the association.
followed_guest() {
    local MAC7=52:54:00:00:20:07 UUID7=a7412857-60f7-4ce1-e95a-2164943f5307 dev7 n
    step "a followed guest (real QEMU, paused at start): its RESUME associates the profile, then activates"
    nlctl alloc7 allocate g4 macvtap $MAC7 link=st0 mode=vepa ifname=nmv7 \
        virtualport=802.1Qbg managerid=1 typeid=11 typeidversion=1 instanceid=$UUID7
    dev7=$(tail -1 "$SDIR/alloc7.out")
    "$NLC_CTL" --address "$BUS" create "$dev7" --exec -- qemu-system-x86_64 -S -nodefaults \
        -display none -machine pc,accel=tcg -m 64 -netdev 'tap,fd={0},id=n0' \
        -device virtio-net-pci,netdev=n0,mac=$MAC7 \
        -qmp "unix:$SDIR/g4.qmp,server=on,wait=off" -qmp "unix:$SDIR/g4-test.qmp,server=on,wait=off" \
        >"$SDIR/qemu.log" 2>&1 &
    BG_PIDS+=("$!")
    for _ in $(seq 100); do [[ -S $SDIR/g4-test.qmp ]] && break; sleep 0.05; done
    expect "QEMU runs with the macvtap's queue (paused)" bash -c "[ -S '$SDIR/g4-test.qmp' ]"
    [[ -S $SDIR/g4-test.qmp ]] || { sed 's/^/      qemu: /' "$SDIR/qemu.log"; return 1; }
    nlctl attach7 attach-qemu g4 "$SDIR/g4.qmp"
    expect "AttachQemu of an instance with a port profile" [ "$RC" = 0 ]
    sleep 0.3
    expect "the paused guest's device is created, nothing asked yet" profile_state_is "$dev7" none
    qmp "$SDIR/g4-test.qmp" cont >/dev/null
    expect "cont: the device becomes active" wait_state "$dev7" active
    expect "... with its profile associated" profile_state_is "$dev7" associated
    n1=$(grep -n -E "device ${dev7##*/}: associate of VSI .* succeeded" "$SDIR/nlcd/daemon.log" | head -1 | cut -d: -f1)
    n2=$(grep -n -E "device ${dev7##*/}\b.*created -> active" "$SDIR/nlcd/daemon.log" | head -1 | cut -d: -f1)
    expect "the switch's answer came before the activation (log lines ${n1:-?} < ${n2:-?})" lt "${n1:-1e9}" "${n2:-0}"
    expect "the wire shows the ASSOC answer" [ "$(switch_answers ASSOC "${UUID7:0:8}")" = 1 ]
    qmp "$SDIR/g4-test.qmp" stop >/dev/null
    expect "stop: the device is created again" wait_state "$dev7" created
    expect "... its profile still associated" profile_state_is "$dev7" associated
    qmp "$SDIR/g4-test.qmp" cont >/dev/null
    expect "cont again: active at once" wait_state "$dev7" active
    sleep 0.2
    n=$(switch_answers ASSOC "${UUID7:0:8}")
    expect "... without a new association (ASSOC answers: $n) and without a DEASSOC" \
        [ "$n" = 1 -a "$(switch_answers DEASSOC "${UUID7:0:8}")" = 0 ]
}

scen_nlc_daemon() {
    local MAC2=52:54:00:00:20:03 MAC3=52:54:00:00:20:04
    local UUID2=d1412857-60f7-4ce1-e95a-2164943f53dd UUID3=e1412857-60f7-4ce1-e95a-2164943f53ee
    local PROF2=(virtualport=802.1Qbg managerid=1 typeid=5 typeidversion=1 instanceid=$UUID2)
    local PROF3=(virtualport=802.1Qbg managerid=1 typeid=6 typeidversion=2 instanceid=$UUID3)
    local dev dev3 n1 n2 t
    for t in "$NLC_DAEMON" "$NLC_CTL"; do
        [[ -x $t ]] || { expect "netlifecd is built ($t)" false; return 1; }
    done
    command -v busctl >/dev/null && command -v dbus-daemon >/dev/null ||
        { expect "busctl and dbus-daemon are installed" false; return 1; }
    step "the station's lldpad alone, 2 s after its start (no EVB peer): a macvtap with a profile"
    pair_up --no-bridge || return 1
    nlcd_start || return 1
    nlctl alloc allocate g1 macvtap $MAC2 link=st0 mode=vepa ifname=nmv0 "${PROF2[@]}"
    dev=$(tail -1 "$SDIR/alloc.out")
    expect "allocated ($dev)" [ "$RC" = 0 ]
    nlctl backends backends
    expect "Manager.Backends lists virtualport for macvtap" out_has backends virtualport
    nlctl create create "$dev"
    expect "created" [ "$RC" = 0 ]
    sleep 2
    nlctl noevb activate "$dev"
    expect "Activate before EVB: PortProfileRefused, named (EVB not negotiated)" \
        out_has noevb 'PortProfileRefused.*EVB is not negotiated'
    expect "... the device stays created, its macvtap down" link_flags_down nmv0
    start_lldpad br || return 1
    wait_evb 20 || return 1

    step "EVB up: the same macvtap (created, its first association refused)"
    profile_of "$dev" | sed 's/^/      PortProfile: /'
    expect "PortProfile: on uplink st0, the VSI's instance id, failed with the reason" \
        profile_has "$dev" "\"InstanceId\" s \"$UUID2\" \"Uplink\" s \"st0\" \"State\" s \"failed\".*EVB is not negotiated"
    expect "the macvtap is down (created)" link_flags_down nmv0

    step "activate: ASSOCIATE first, then the device holds the MAC"
    nlctl act activate "$dev"
    expect "activated" [ "$RC" = 0 ]
    profile_of "$dev" | sed 's/^/      PortProfile: /'
    expect "PortProfile: associated, response 0" profile_has "$dev" '"State" s "associated".*"Response" q 0'
    expect "the macvtap is up (active)" link_flags_up nmv0
    expect "Ready: the port forwards and the profile is associated" dev_prop_has "$dev" Ready true
    nlctl explain explain "$dev"
    expect "netlifectl explain shows the association and the switch's answer" \
        out_has explain "port profile: 802.1Qbg associated since .*the switch answered associate: 0, success"
    grep -E "device ${dev##*/}\b.*(created -> active|ASSOCIATE|associate)" "$SDIR/nlcd/daemon.log" | sed 's/^/      log: /'
    n1=$(grep -n -E "device ${dev##*/}: associate of VSI .* succeeded" "$SDIR/nlcd/daemon.log" | head -1 | cut -d: -f1)
    n2=$(grep -n -E "device ${dev##*/}\b.*created -> active" "$SDIR/nlcd/daemon.log" | head -1 | cut -d: -f1)
    expect "the switch's answer came before the device became active (log lines ${n1:-?} < ${n2:-?})" \
        lt "${n1:-1e9}" "${n2:-0}"
    show_wire "${UUID2:0:8}"
    expect "the wire shows the switch's ASSOC answer for the VSI" [ "$(switch_answers ASSOC "${UUID2:0:8}")" -ge 1 ]

    step "deactivate (a paused guest): the profile stays; activate again: no new association"
    nlctl deact deactivate "$dev"
    expect "deactivated" [ "$RC" = 0 ]
    expect "the macvtap is down again" link_flags_down nmv0
    expect "PortProfile: still associated" profile_state_is "$dev" associated
    nlctl act2 activate "$dev"
    expect "activated again" [ "$RC" = 0 ]
    sleep 0.2
    expect "no DEASSOC and no second ASSOC on the wire" \
        [ "$(switch_answers DEASSOC "${UUID2:0:8}")" = 0 -a "$(switch_answers ASSOC "${UUID2:0:8}")" = 1 ]

    step "kill -9 the daemon, start it again: it associates the profile again"
    n1=$(switch_answers ASSOC "${UUID2:0:8}")
    kill -KILL "${PID[nlcd]}"
    wait "${PID[nlcd]}" 2>/dev/null
    say "netlifecd killed (-9); $n1 ASSOC answers on the wire so far"
    nlcd_start || return 1
    expect "after the restart: PortProfile associated" wait_profile "$dev" associated
    sleep 0.3
    n2=$(switch_answers ASSOC "${UUID2:0:8}")
    expect "... by a new ASSOCIATE: the switch's ASSOC answers went from $n1 to $n2" [ "$n2" -gt "$n1" ]
    expect "the device is still active and Ready" dev_prop_has "$dev" Ready true
    expect "... Ready only after the new association: held back meanwhile (PortReason port-profile, in the log)" \
        grep -q "device ${dev##*/} .*forwarding (port-profile)" "$SDIR/nlcd/daemon.log"
    expect "its macvtap is still up" link_flags_up nmv0

    step "another process on the host disassociates the VSI: lldpad notifies the daemon (its event port), which associates it again"
    "$NLC_CTL" --address "$BUS" watch >"$SDIR/watch.out" 2>&1 &
    BG_PIDS+=("$!")
    sleep 0.3
    n1=$(switch_answers ASSOC "${UUID2:0:8}")
    vdpreq disown -l nmv0 --mgr 1 --type 5 --typever 1 --uuid "$UUID2" disassociate
    expect "the other process's DISASSOCIATE succeeded" [ "$OUTCOME" = success ]
    expect "the daemon's signal PortProfileLost, with lldpad's words" \
        wait_for_file_line "$SDIR/watch.out" 'PortProfileLost: .*unsolicited DISASSOCIATE'
    expect "PortProfile associated again" wait_profile "$dev" associated
    sleep 0.3
    n2=$(switch_answers ASSOC "${UUID2:0:8}")
    expect "... by a new ASSOCIATE on the wire (the switch's ASSOC answers: $n1 -> $n2)" [ "$n2" -gt "$n1" ]
    grep -E "PortProfileLost|device ${dev##*/}.*Port|Ready" "$SDIR/watch.out" | sed 's/^/      watch: /'
    expect "meanwhile the device was not Ready (port-profile), then Ready again" \
        grep -q -E "PortStateChanged forwarding -> forwarding \(port-profile\)" "$SDIR/watch.out"

    step "Instance.Activate, one NIC refused (its uplink st1 has no VDP: lldpad says ENXIO): the other is disassociated again"
    ip -n "$NS_ST" link add st1 type veth peer name st1p &&
        ip -n "$NS_ST" link set st1 up && ip -n "$NS_ST" link set st1p up
    nlctl alloc5 allocate g3 macvtap 52:54:00:00:20:05 link=st0 mode=vepa ifname=nmv5 \
        virtualport=802.1Qbg managerid=1 typeid=7 typeidversion=1 instanceid=f1412857-60f7-4ce1-e95a-2164943f5305
    local dev5 dev6
    dev5=$(tail -1 "$SDIR/alloc5.out")
    nlctl alloc6 allocate g3 macvtap 52:54:00:00:20:06 link=st1 mode=vepa ifname=nmv6 \
        virtualport=802.1Qbg managerid=1 typeid=8 typeidversion=1 instanceid=f1412857-60f7-4ce1-e95a-2164943f5306
    dev6=$(tail -1 "$SDIR/alloc6.out")
    nlctl create5 create "$dev5"
    nlctl create6 create "$dev6"
    nlctl iact5 activate g3
    expect "Instance.Activate fails with PortProfileRefused naming st1's device and lldpad's reason" \
        out_has iact5 "PortProfileRefused: device ${dev6##*/}: associate of VSI .* on st1: lldpad .*refused it"
    both_created() { dev_prop_has "$dev5" State created && dev_prop_has "$dev6" State created; }
    both_down() { link_flags_down nmv5 && link_flags_down nmv6; }
    expect "both devices stay created" both_created
    expect "their macvtaps stay down" both_down
    expect "the st0 device, which the switch had associated in this call, is disassociated" wait_profile "$dev5" disassociated
    assoc_then_deassoc() {
        [ "$(switch_answers ASSOC "$1")" -ge 1 ] && [ "$(switch_answers DEASSOC "$1")" -ge 1 ]
    }
    expect "the wire shows the switch's ASSOC answer for it, and its DEASSOC answer" \
        assoc_then_deassoc f1412857-60f7-4ce1-e95a-2164943f5305
    profile_of "$dev5" | sed 's/^/      PortProfile: /'

    step "destroy: the profile goes with the NIC (DEASSOC)"
    nlctl deact1 deactivate "$dev"
    nlctl destroy1 destroy "$dev"
    expect "destroyed" [ "$RC" = 0 ]
    expect "PortProfile: disassociated" wait_profile "$dev" disassociated
    expect "the wire shows the switch's DEASSOC answer" [ "$(switch_answers DEASSOC "${UUID2:0:8}")" -ge 1 ]

    followed_guest || return 1

    step "a second device; the switch goes silent (bridge lldpad stopped): Activate fails, named"
    nlctl alloc3 allocate g2 macvtap $MAC3 link=st0 mode=vepa ifname=nmv1 "${PROF3[@]}"
    dev3=$(tail -1 "$SDIR/alloc3.out")
    nlctl create3 create "$dev3"
    expect "created" [ "$RC" = 0 ]
    stop_lldpad br
    t=$(now)
    nlctl act3 activate "$dev3"
    expect "Activate fails with org.netlifecd1.Error.PortProfileTimedOut naming the 3000 ms" \
        out_has act3 'PortProfileTimedOut.*3000 ms'
    expect "... after about 3 s ($(since "$t") s)" between "$(since "$t")" 2.9 4
    expect "the device stays created" dev_prop_has "$dev3" State created
    expect "its macvtap stays down" link_flags_down nmv1
    expect "PortProfile: failed, with the reason" profile_has "$dev3" '"State" s "failed".*"Error" s ".*3000 ms'
    nlctl explain3 explain "$dev3"
    expect "netlifectl explain shows why" out_has explain3 "port profile: 802.1Qbg failed since .*no answer from the switch within 3000 ms"
    nlctl iact3 activate g2
    expect "Instance.Activate fails too, named (lldpad still waits for the switch on the first request)" \
        out_has iact3 'org.netlifecd1.Error.PortProfile'
    expect "the device is still created" dev_prop_has "$dev3" State created

    step "the station's lldpad killed: Activate fails at once, PortProfileUnavailable"
    stop_lldpad st KILL
    t=$(now)
    nlctl act4 activate "$dev3"
    expect "PortProfileUnavailable: nobody listens at lldpad's port" out_has act4 'PortProfileUnavailable.*nobody listens'
    expect "... at once ($(since "$t") s)" lt "$(since "$t")" 1
    nlctl destroy3 destroy "$dev3"
    expect "Destroy goes on without lldpad (disassociation is best effort)" [ "$RC" = 0 ]
    nlctl migrate migrate g4 "unix:$SDIR/nowhere.sock" readiness=coordinated
    expect "Migrate of an instance with a port profile without the hard gate: InvalidArgs" \
        out_has migrate "InvalidArgs.*pause-before-switchover=true"
    pkill -f "$SDIR/g4.qmp" 2>/dev/null
}

# lldpad gives up on a silent switch without telling anyone (README 6.4):
# the daemon's periodic status read ([port-profile] watch-ms) finds the VSI
# gone, says so (PortProfileLost), tries again, and leaves the device not
# Ready when that fails. Run with short lldpad timers (meson's
# lldpad-daemon-watch: VDPRKA=16 VDPRWD=16, NLC_WATCH_MS=500), or the
# station takes ~26 s to give up.
scen_nlc_daemon_watch() {
    local MAC8=52:54:00:00:20:08 UUID8=a8412857-60f7-4ce1-e95a-2164943f5308 dev8 t
    pair_up || return 1
    wait_evb 20 || return 1
    nlcd_start || return 1
    nlctl alloc8 allocate g8 macvtap $MAC8 link=st0 mode=vepa ifname=nmv8 \
        virtualport=802.1Qbg managerid=1 typeid=12 typeidversion=1 instanceid=$UUID8
    dev8=$(tail -1 "$SDIR/alloc8.out")
    nlctl create8 create "$dev8"
    nlctl act8 activate "$dev8"
    expect "associated and active" profile_state_is "$dev8" associated
    "$NLC_CTL" --address "$BUS" watch >"$SDIR/watch.out" 2>&1 &
    BG_PIDS+=("$!")
    sleep 2
    expect "still associated after 2 s of status reads (watch-ms ${NLC_WATCH_MS:-10000})" profile_state_is "$dev8" associated
    step "the bridge lldpad killed: no notification comes; the status read finds the VSI gone"
    t=$(now)
    stop_lldpad br KILL
    for _ in $(seq 300); do grep -q PortProfileLost "$SDIR/watch.out" && break; sleep 0.1; done
    expect "PortProfileLost: lldpad no longer lists the VSI ($(since "$t") s after the kill)" \
        grep -q "PortProfileLost: lldpad no longer lists the VSI" "$SDIR/watch.out"
    expect "the new association fails against the dead switch: PortProfile failed" wait_profile "$dev8" failed 60
    expect "the device stays active (its guest runs) but is not Ready" dev_prop_has "$dev8" Ready false
    expect "... PortReason port-profile" dev_prop_has "$dev8" PortReason port-profile
    grep -E "PortProfileLost|Ready|PortState" "$SDIR/watch.out" | sed 's/^/      watch: /'
}

# start_qemu DEVICE NAME [ARG...]: a QEMU without an OS holding DEVICE's
# queue (netlifectl create --exec), its monitors $SDIR/NAME.qmp (the
# daemon's) and $SDIR/NAME-test.qmp (the test's).
start_qemu() {
    local dev=$1 name=$2
    shift 2
    "$NLC_CTL" --address "$BUS" create "$dev" --exec -- qemu-system-x86_64 -nodefaults \
        -display none -machine pc,accel=tcg -m 64 -netdev 'tap,fd={0},id=n0' \
        -device "virtio-net-pci,netdev=n0,mac=$(dev_prop "$dev" MAC | awk -F'"' '{print $2}')" \
        -qmp "unix:$SDIR/$name.qmp,server=on,wait=off" \
        -qmp "unix:$SDIR/$name-test.qmp,server=on,wait=off" "$@" >"$SDIR/$name.log" 2>&1 &
    BG_PIDS+=("$!")
    for _ in $(seq 100); do [[ -S $SDIR/$name-test.qmp ]] && return 0; sleep 0.05; done
    sed 's/^/      qemu: /' "$SDIR/$name.log"
    return 1
}

# A guest with an 802.1Qbg profile moved to a second QEMU on this host
# (readiness local, the hard gate): the destination's profile is associated
# while QEMU holds the source at pre-switchover, and only then does QEMU go
# on; the source's release leaves the VSI to the destination.
scen_nlc_daemon_migrate() {
    local MACA=52:54:00:00:20:0a UUIDA=aa412857-60f7-4ce1-e95a-2164943f530a src dst mig
    local PROFA=(virtualport=802.1Qbg managerid=1 typeid=13 typeidversion=1 instanceid=$UUIDA)
    pair_up || return 1
    wait_evb 20 || return 1
    nlcd_start || return 1
    step "the running guest (g5) and the new QEMU waiting for it (g5-new), one profile"
    nlctl sa allocate g5 macvtap $MACA link=st0 mode=vepa ifname=nmva "${PROFA[@]}"
    src=$(tail -1 "$SDIR/sa.out")
    start_qemu "$src" g5 || return 1
    nlctl sat attach-qemu g5 "$SDIR/g5.qmp"
    expect "the running guest's device is active, its profile associated" wait_state "$src" active
    nlctl da allocate g5-new macvtap $MACA link=st0 mode=vepa ifname=nmvb "${PROFA[@]}"
    dst=$(tail -1 "$SDIR/da.out")
    start_qemu "$dst" g5-new -incoming defer || return 1
    nlctl dat attach-qemu g5-new "$SDIR/g5-new.qmp"
    expect "the destination's device is created, its profile not asked for" profile_state_is "$dst" none
    "$NLC_CTL" --address "$BUS" prepare-incoming g5-new "unix:$SDIR/mig.sock" >"$SDIR/incoming.out" 2>&1 &
    BG_PIDS+=("$!")
    expect "the destination QEMU listens" wait_socket "$SDIR/mig.sock"
    step "Migrate without the hard gate: refused"
    nlctl nogate migrate g5 "unix:$SDIR/mig.sock" readiness=local destination-instance=g5-new postcopy=never
    expect "InvalidArgs: migrate it with pause-before-switchover=true" out_has nogate 'InvalidArgs.*pause-before-switchover=true'
    step "Migrate with readiness local and pause-before-switchover"
    nlctl mig migrate g5 "unix:$SDIR/mig.sock" readiness=local destination-instance=g5-new \
        pause-before-switchover=true postcopy=never release-source=true
    expect "the migration completed" [ "$RC" = 0 ]
    expect "the destination's device is active" wait_state "$dst" active
    expect "... with its profile associated" profile_state_is "$dst" associated
    mig=$(busctl --address="$BUS" call org.netlifecd1 /org/netlifecd1 org.freedesktop.DBus.ObjectManager \
        GetManagedObjects 2>/dev/null | grep -o '/org/netlifecd1/migration/[0-9]*' | head -1)
    busctl --address="$BUS" get-property org.netlifecd1 "$mig" org.netlifecd1.Migration Timeline \
        >"$SDIR/timeline.out" 2>&1
    sed 's/^/      timeline: /' "$SDIR/timeline.out"
    expect "the timeline: pre-switchover, the destination associating and associated, then switchover-continue" \
        grep -q -E '"pre-switchover".*"destination-associating".*"destination-associated".*"switchover-continue"' "$SDIR/timeline.out"
    sleep 0.3
    expect "the switch answered one ASSOC for the source's start and one for the destination's" \
        [ "$(switch_answers ASSOC "${UUIDA:0:8}")" = 2 ]
    expect "the source's device was released (release-source)" bash -c "! grep -q nmva <(ip -n $NS_ST -br link)"
    expect "no DEASSOC: the source's release left the VSI to the destination (one uplink, one VSI)" \
        [ "$(switch_answers DEASSOC "${UUIDA:0:8}")" = 0 ]

    step "once more to a third QEMU, the station's lldpad killed first: the association fails at the hold"
    local third
    nlctl ta allocate g5-b macvtap $MACA link=st0 mode=vepa ifname=nmvc "${PROFA[@]}"
    third=$(tail -1 "$SDIR/ta.out")
    start_qemu "$third" g5-b -incoming defer || return 1
    nlctl tat attach-qemu g5-b "$SDIR/g5-b.qmp"
    "$NLC_CTL" --address "$BUS" prepare-incoming g5-b "unix:$SDIR/mig2.sock" >"$SDIR/incoming2.out" 2>&1 &
    BG_PIDS+=("$!")
    wait_socket "$SDIR/mig2.sock" ||
        { sed 's/^/      prepare-incoming: /' "$SDIR/incoming2.out"; sed 's/^/      qemu: /' "$SDIR/g5-b.log"; }
    expect "the third QEMU listens" [ -S "$SDIR/mig2.sock" ]
    stop_lldpad st KILL
    nlctl mig2 migrate g5-new "unix:$SDIR/mig2.sock" readiness=local destination-instance=g5-b \
        pause-before-switchover=true postcopy=never
    expect "the migration did not complete (netlifectl exit 4)" [ "$RC" = 4 ]
    expect "... cancelled at the hold, saying why (no lldpad)" \
        out_has mig2 'port profile was not associated.*PortProfileUnavailable|port profile was not associated.*lldpad'
    expect "the guest still runs in the second QEMU" guest_running "$SDIR/g5-new-test.qmp"
    expect "... and its device still holds the MAC (active)" wait_state "$dst" active
    expect "the third QEMU's device stays created" device_state_is "$third" created
    pkill -f "$SDIR/g5" 2>/dev/null
}

on_bus2() { local BUS=$BUS2; "$@"; } # CMD...: with the second daemon's bus

# The same to a second daemon (the destination host's: its own bus and
# state; here in the same namespace, on the same uplink): readiness
# destination-bus, the source's daemon has the destination's associate
# over its bus (Instance.AssociatePortProfiles) at the hold.
# two_daemon_guest: a running guest g6 on the first daemon, and g6 waiting
# on the second (-incoming, PrepareIncoming); sets src, dst.
two_daemon_guest() {
    local MACB=52:54:00:00:20:0b UUIDB=ab412857-60f7-4ce1-e95a-2164943f530b
    local PROFB=(virtualport=802.1Qbg managerid=1 typeid=14 typeidversion=1 instanceid=$UUIDB)
    pair_up || return 1
    wait_evb 20 || return 1
    nlcd_start || return 1
    nlcd_start 2 || return 1
    nlctl sa allocate g6 macvtap $MACB link=st0 mode=vepa ifname=nmvd "${PROFB[@]}"
    src=$(tail -1 "$SDIR/sa.out")
    start_qemu "$src" g6 || return 1
    nlctl sat attach-qemu g6 "$SDIR/g6.qmp"
    expect "the running guest's device is active on the first daemon" wait_state "$src" active
    on_bus2 nlctl da allocate g6 macvtap $MACB link=st0 mode=vepa ifname=nmve "${PROFB[@]}"
    dst=$(tail -1 "$SDIR/da.out")
    on_bus2 start_qemu "$dst" g6-dst -incoming defer || return 1
    on_bus2 nlctl dat attach-qemu g6 "$SDIR/g6-dst.qmp"
    "$NLC_CTL" --address "$BUS2" prepare-incoming g6 "unix:$SDIR/migb.sock" >"$SDIR/incoming.out" 2>&1 &
    BG_PIDS+=("$!")
    expect "the destination QEMU listens" wait_socket "$SDIR/migb.sock"
}

# After either: the destination's device runs with its profile, and the
# source's timeline has the association inside the hold.
expect_moved_with_profile() {
    expect "the destination daemon's device is active" on_bus2 wait_state "$dst" active
    expect "... its profile associated" on_bus2 profile_state_is "$dst" associated
    expect "... by the destination's daemon (its log)" \
        grep -q "device ${dst##*/}: associate of VSI on st0 succeeded" "$SDIR/nlcd2/daemon.log"
    expect "the source's timeline: pre-switchover, the destination associated, then switchover-continue" \
        grep -q -E "pre-switchover.*destination-associated.*switchover-continue" \
        <(tr '\n' ' ' <"$SDIR/mig.out")
    pkill -f "$SDIR/g6" 2>/dev/null
}

scen_nlc_daemon_migrate_bus() {
    local src dst
    two_daemon_guest || return 1
    nlctl mig migrate g6 "unix:$SDIR/migb.sock" readiness=destination-bus "destination-bus=$BUS2" \
        destination-instance=g6 pause-before-switchover=true postcopy=never
    expect "the migration completed" [ "$RC" = 0 ]
    expect "the source's daemon asked (destination-associating)" out_has mig destination-associating
    expect_moved_with_profile
}

# Readiness coordinated: the coordinator (this script) waits for the
# source's hold, has the destination associate (its
# Instance.AssociatePortProfiles) and then says DestinationReady.
scen_nlc_daemon_migrate_coordinated() {
    local src dst mig mpid inst
    two_daemon_guest || return 1
    "$NLC_CTL" --address "$BUS" migrate g6 "unix:$SDIR/migb.sock" readiness=coordinated \
        pause-before-switchover=true postcopy=never >"$SDIR/mig.out" 2>&1 &
    mpid=$!
    for _ in $(seq 100); do mig=$(head -1 "$SDIR/mig.out" 2>/dev/null | grep -o '/org/netlifecd1/migration/[0-9]*'); [[ -n $mig ]] && break; sleep 0.05; done
    for _ in $(seq 200); do
        busctl --address="$BUS" get-property org.netlifecd1 "$mig" org.netlifecd1.Migration Timeline 2>/dev/null |
            grep -q '"pre-switchover"' && break
        sleep 0.05
    done
    sleep 0.5
    busctl --address="$BUS" get-property org.netlifecd1 "$mig" org.netlifecd1.Migration Timeline >"$SDIR/held.txt" 2>&1
    expect "the source holds at pre-switchover and does not go on by itself (0.5 s)" \
        bash -c "grep -q pre-switchover '$SDIR/held.txt' && ! grep -q switchover-continue '$SDIR/held.txt'"
    inst=$("$NLC_CTL" --address "$BUS2" get-instance g6 | tail -1)
    busctl --address="$BUS2" call org.netlifecd1 "$inst" org.netlifecd1.Instance AssociatePortProfiles \
        >"$SDIR/assoc.out" 2>&1
    expect "the coordinator has the destination associate (Instance.AssociatePortProfiles)" [ $? = 0 ]
    nlctl ready destination-ready "$mig"
    expect "... then says DestinationReady" [ "$RC" = 0 ]
    wait "$mpid"
    expect "the migration completed" [ $? = 0 ]
    expect_moved_with_profile
}

# Two hosts on one switch: host A (the station namespace, daemon 1) and
# host B (a second station namespace with its own lldpad, daemon 2), each
# on its own port of the bridge lldpad (sw0, sw1), a QEMU on each side with
# a macvtap on its host's uplink, readiness destination-bus and the hard
# gate. The switch sees B's ASSOC before A's QEMU goes on, and A's DEASSOC
# (its release) after.
scen_nlc_daemon_migrate_hosts() {
    local MACC=52:54:00:00:20:0c UUIDC=ac412857-60f7-4ce1-e95a-2164943f530c src dst
    local PROFC=(virtualport=802.1Qbg managerid=1 typeid=15 typeidversion=1 instanceid=$UUIDC)
    local assoc_b cont_us cont_rel deassoc_a
    pair_up --two-hosts || return 1
    wait_evb 20 || return 1
    wait_evb 20 st2 sw1 || return 1
    nlcd_start || return 1
    nlcd_start 2 st2 || return 1
    step "host A runs the guest; host B waits for it"
    nlctl sa allocate g7 macvtap $MACC link=st0 mode=vepa ifname=nmvf "${PROFC[@]}"
    src=$(tail -1 "$SDIR/sa.out")
    start_qemu "$src" g7 || return 1
    nlctl sat attach-qemu g7 "$SDIR/g7.qmp"
    expect "host A's device is active, associated on A's port" wait_state "$src" active
    on_bus2 nlctl da allocate g7 macvtap $MACC link=st0 mode=vepa ifname=nmvf "${PROFC[@]}"
    dst=$(tail -1 "$SDIR/da.out")
    on_bus2 start_qemu "$dst" g7-b -incoming defer || return 1
    on_bus2 nlctl dat attach-qemu g7 "$SDIR/g7-b.qmp"
    "$NLC_CTL" --address "$BUS2" prepare-incoming g7 "unix:$SDIR/migc.sock" >"$SDIR/incoming.out" 2>&1 &
    BG_PIDS+=("$!")
    expect "host B's QEMU listens" wait_socket "$SDIR/migc.sock"
    step "Migrate A -> B (readiness destination-bus, pause-before-switchover)"
    nlctl mig migrate g7 "unix:$SDIR/migc.sock" readiness=destination-bus "destination-bus=$BUS2" \
        destination-instance=g7 pause-before-switchover=true postcopy=never release-source=true
    expect "the migration completed" [ "$RC" = 0 ]
    expect "host B's device is active, its profile associated" on_bus2 wait_state "$dst" active
    expect "... associated" on_bus2 profile_state_is "$dst" associated
    sleep 0.5
    WIRE_PORT=sw1 show_wire "${UUIDC:0:8}" >"$SDIR/wire-b.txt"
    show_wire "${UUIDC:0:8}" >"$SDIR/wire-a.txt"
    sed 's/^/  A /' "$SDIR/wire-a.txt"
    sed 's/^/  B /' "$SDIR/wire-b.txt"
    # Seconds since the pair came up, and the timeline's wall clock.
    assoc_b=$(grep -E 'bridge .* ASSOC\[ACK' "$SDIR/wire-b.txt" | head -1 | awk '{print $1}')
    deassoc_a=$(grep -E 'bridge .*DEASSOC\[ACK' "$SDIR/wire-a.txt" | head -1 | awk '{print $1}')
    # The source's timeline (CLOCK_REALTIME µs) against the capture's seconds.
    cont_us=$(busctl --address="$BUS" get-property org.netlifecd1 "$(head -1 "$SDIR/mig.out" | tr -d ' ')" \
        org.netlifecd1.Migration Timeline | grep -o '"switchover-continue" [0-9]*' | awk '{print $2}')
    cont_rel=$(awk -v a="${cont_us:-0}" -v up="$T_UP" 'BEGIN { printf "%.3f", a / 1e6 - up }')
    say "switch's ASSOC answer on B's port at +${assoc_b:-?} s, QEMU let go on (switchover-continue) at +${cont_rel:-?} s, A's DEASSOC at +${deassoc_a:-?} s"
    expect "the switch answered B's ASSOC on B's port before the source's QEMU went on" lt "${assoc_b:-1e9}" "${cont_rel:-0}"
    expect "A's DEASSOC on A's port came after (A's release)" lt "${cont_rel:-1e9}" "${deassoc_a:-0}"
    expect "B's VSI is still associated after A's DEASSOC" on_bus2 profile_state_is "$dst" associated
    expect "... and B's port saw no DEASSOC" [ "$(grep -c 'DEASSOC' "$SDIR/wire-b.txt")" = 0 ]
    pkill -f "$SDIR/g7" 2>/dev/null
}

# ms_of CMD...: runs it, prints its wall time in ms (three decimals).
ms_of() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || echo "failed: $*" >&2
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e6 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# What a port profile costs an Activate (bench/port-profile.sh runs this):
# N activations of a macvtap with an 802.1Qbg profile (each a new
# association: the device is destroyed and created between two) against N
# of the same macvtap without one, alternating, through netlifectl (its
# start-up is in both). Medians and their ratio.
scen_nlc_daemon_bench() {
    local n=${NLC_BENCH_N:-21} plain prof i
    pair_up || return 1
    wait_evb 20 || return 1
    nlcd_start || return 1
    nlctl bp allocate b1 macvtap 52:54:00:00:20:11 link=st0 mode=vepa ifname=nmb0
    plain=$(tail -1 "$SDIR/bp.out")
    nlctl bq allocate b2 macvtap 52:54:00:00:20:12 link=st0 mode=vepa ifname=nmb1 \
        virtualport=802.1Qbg managerid=1 typeid=9 typeidversion=1 instanceid=91412857-60f7-4ce1-e95a-2164943f5312
    prof=$(tail -1 "$SDIR/bq.out")
    "$NLC_CTL" --address "$BUS" create "$plain" >/dev/null && "$NLC_CTL" --address "$BUS" create "$prof" >/dev/null ||
        { expect "both devices created" false; return 1; }
    : >"$SDIR/plain.ms"
    : >"$SDIR/prof.ms"
    for i in $(seq "$n"); do
        ms_of "$NLC_CTL" --address "$BUS" activate "$plain" >>"$SDIR/plain.ms"
        ms_of "$NLC_CTL" --address "$BUS" activate "$prof" >>"$SDIR/prof.ms"
        # Deactivate keeps the profile: each round destroys and creates the
        # device again, so that every Activate associates anew.
        for d in "$plain" "$prof"; do
            "$NLC_CTL" --address "$BUS" deactivate "$d" >/dev/null
            "$NLC_CTL" --address "$BUS" destroy "$d" >/dev/null
            "$NLC_CTL" --address "$BUS" create "$d" >/dev/null
        done
        sleep 0.1 # the DISASSOCIATE goes out after Destroy's reply
    done
    local mp mq
    mp=$(median <"$SDIR/plain.ms")
    mq=$(median <"$SDIR/prof.ms")
    printf '\n  Activate through netlifectl, median of %d (ms):\n' "$n"
    printf '    %-44s %8.2f\n' "macvtap without a port profile" "$mp"
    printf '    %-44s %8.2f\n' "macvtap with 802.1Qbg (ASSOCIATE first)" "$mq"
    awk -v a="$mq" -v b="$mp" 'BEGIN { printf "    %-44s %8.2f  (%.2fx)\n", "cost of the association", a - b, a / b }'
    printf '    (min/max without: %s/%s, with: %s/%s)\n' "$(sort -n "$SDIR/plain.ms" | head -1)" \
        "$(sort -n "$SDIR/plain.ms" | tail -1)" "$(sort -n "$SDIR/prof.ms" | head -1)" "$(sort -n "$SDIR/prof.ms" | tail -1)"
    expect "every activation with the profile succeeded ($(wc -l <"$SDIR/prof.ms") timed)" \
        [ "$(grep -c . "$SDIR/prof.ms")" = "$n" ]
}

scen_early() {
    step "station lldpad only, request at once (before its EVB modules started)"
    pair_up --no-bridge || return 1
    vdpreq early0 -l mvt0 "${VSI0[@]}" associate
    local e0
    e0=$(sed -n 's/.*errno=\([A-Z]*\).*/\1/p' "$SDIR/early0.out")
    say "at $(since "$T_UP") s after the station start: ${e0:-$OUTCOME}"
    sleep 2
    step "2 s later, still no bridge (no EVB peer)"
    vdpreq early1 -l mvt0 "${VSI0[@]}" associate
    expect "refused by lldpad: EPROTONOSUPPORT (EVB not negotiated)" has early1 'errno=EPROTONOSUPPORT'
    step "start the bridge lldpad; retry every 100 ms (bounded 20 s) until accepted"
    local tb n=0
    tb=$(now)
    start_lldpad br || return 1
    while ((n < 200)); do
        n=$((n + 1))
        ip netns exec "$NS_ST" "$VDPREQ" -P "$SDIR/st/run/lldpad.pid" -l mvt0 "${VSI0[@]}" associate >"$SDIR/early2.out" 2>&1
        grep -q 'errno=EPROTONOSUPPORT' "$SDIR/early2.out" || break
        sleep 0.1
    done
    sed 's/^/      /' <(grep -E 'SETLINK reply|RESULT' "$SDIR/early2.out")
    say "accepted at attempt $n, $(since "$tb") s after the bridge lldpad was started"
    expect "the first accepted request is dropped by the bridge at once (its VDP timers are still 0)" \
        has early2 'outcome=no-entry'
    step "associate once a second until the association holds (still there 1 s later), bounded 40 s"
    n=0
    while ((n < 40)); do
        n=$((n + 1))
        ip netns exec "$NS_ST" "$VDPREQ" -P "$SDIR/st/run/lldpad.pid" -l mvt0 "${VSI0[@]}" associate >"$SDIR/early3.out" 2>&1
        sleep 1
        ip netns exec "$NS_ST" "$VDPREQ" -P "$SDIR/st/run/lldpad.pid" -l mvt0 --uuid "$UUID0" status >"$SDIR/early4.out" 2>&1
        say "attempt $n: $(grep -o 'outcome=[a-z-]*' "$SDIR/early3.out" | head -1), 1 s later $(grep -o 'outcome=[a-z-]*' "$SDIR/early4.out")"
        grep -q 'outcome=success' "$SDIR/early4.out" && break
    done
    say "held from attempt $n, $(since "$tb") s after the bridge lldpad was started"
    expect "an association holds once the bridge has the station's next LLDPDU" has early4 'outcome=success'
    show_wire
}

scen_lldptool_config() {
    step "bridge lldpad started without EVB config, then configured with lldptool (as lldptool-evb22(8) shows)"
    pair_up --bridge-config-by-lldptool || return 1
    sleep 2 # lldpad starts its EVB22/VDP22 modules about 1 s after the start, as a station by default
    in_side br lldptool -L -i sw0 -g ncb adminStatus=rxtx >/dev/null
    in_side br lldptool -T -i sw0 -g ncb -V evb -c evbmode=bridge >/dev/null
    in_side br lldptool -T -i sw0 -g ncb -V evb -c evbrrcap=yes >/dev/null
    in_side br lldptool -T -i sw0 -g ncb -V evb -c enabletx=yes >/dev/null
    wait_evb 20 || return 1
    in_side br lldptool -t -i sw0 -g ncb -V evb -c | tr '\n' ' ' | sed 's/^/      bridge says: /'
    echo
    grep -h -E 'vdp22_create' "$SDIR/br/lldpad.log" | sed 's/^/      bridge log: /'
    vdpreq assoc -l mvt0 "${VSI0[@]}" -t 3000 associate
    expect "the association does not complete (the bridge's VDP22 kept the station role)" [ "$OUTCOME" = timeout ]
    grep -h 'TLV ignored' "$SDIR/br/lldpad.log" | head -1 | sed 's/^/      bridge log: /'
    step "restart the bridge lldpad: lldptool saved evbmode=bridge into its config file"
    stop_lldpad br
    start_lldpad br || return 1
    grep -h -E 'vdp22_create' "$SDIR/br/lldpad.log" | tail -1 | sed 's/^/      bridge log: /'
    wait_evb 20
    step "a new VSI (mvt0's stays busy until the station's ack timer, ~16 s after its request)"
    vdpreq assoc2 -l mvt1 "${VSI1[@]}" associate
    expect "a new VSI associates with the restarted bridge" [ "$OUTCOME" = success ]
}

# the bridge lldpad gone before the request
scen_bridge_down() {
    local sig base=$SDIR
    for sig in KILL TERM; do
        step "bridge lldpad stopped with SIG$sig before the request"
        SDIR=$base/$sig
        mkdir -p "$SDIR"
        pair_up || return 1
        wait_evb 20 || return 1
        stop_lldpad br "$sig"
        say "bridge lldpad stopped (SIG$sig)"
        sleep 0.5
        vdpreq assoc -l mvt0 "${VSI0[@]}" associate
        if [[ $sig == KILL ]]; then
            expect "libvirt's 10 s poll ends in a timeout" [ "$OUTCOME" = timeout ]
            step "keep polling the status until ~25 s after the request (the station's ack timer: ~15.8 s with rwd 20)"
            poll_status 15 "$UUID0"
            expect "the VSI never gets a response (no IFLA_PORT_RESPONSE: 'in progress' for good)" \
                bash -c "grep -q 'in-progress' <<<'$LAST_STATUS'"
            grep -h -E 'vdp22st_(handle_ackto|end)' "$SDIR/st/lldpad.log" | head -2 | sed 's/^/      station log: /'
            step "the VSI is now stuck: new requests for it"
            vdpreq again -l mvt0 "${VSI0[@]}" associate
            expect "ASSOCIATE refused with ENODEV" has again 'errno=ENODEV'
            vdpreq again2 -l mvt0 "${VSI0[@]}" disassociate
            expect "DISASSOCIATE refused with ENODEV" has again2 'errno=ENODEV'
            vdpreq stat -l mvt0 --uuid "$UUID0" status
            expect "status still lists it without a response" has stat 'outcome=in-progress'
            vdpreq again4 -l mvt0 "${VSI0[@]}" associate
            expect "reading the status does not release it: ENODEV again" has again4 'errno=ENODEV'
            step "only a restart of the station lldpad clears it"
            start_lldpad br || return 1
            stop_lldpad st
            rm -f "$SDIR/st/shm/lldpad.state"
            start_lldpad st || return 1
            wait_evb 20
            vdpreq again3 -l mvt0 "${VSI0[@]}" associate
            expect "after the station lldpad's restart the VSI associates" [ "$OUTCOME" = success ]
        else
            expect "SIGTERM: the bridge's LLDP shutdown (TTL 0) does not turn VDP off: the same timeout" \
                [ "$OUTCOME" = timeout ]
            say "the station's probe now: $(vdp_probe); its neighbour view: $(in_side st lldptool -t -n -i st0 -g ncb -V evb 2>&1 | tr '\n\t' '  ' | cut -c1-80)"
        fi
        show_wire 'ECP|TTL=0'
        pair_down
    done
    SDIR=$base
}

# the bridge lldpad dies while the VSI is associated
scen_bridge_gone() {
    pair_up || return 1
    wait_evb 20 || return 1
    step "associate, holding the event socket open for unsolicited messages"
    vdpreq_bg holder -l mvt0 "${VSI0[@]}" -w 45000 associate
    local holder=$LAST_BG
    sleep 1
    grep RESULT "$SDIR/holder.out" | sed 's/^/      /'
    stop_lldpad br KILL
    say "bridge lldpad killed (SIGKILL): status polled once a second for 40 s"
    poll_status 40 "$UUID0"
    local last=$LAST_STATUS
    grep -h -E 'vdp22st_handle_(kato|ackto)|vdp22st_end' "$SDIR/st/lldpad.log" | sed 's/^/      station log: /'
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
    expect "no unsolicited message reached the requester" bash -c "! grep -q UNSOLICITED '$SDIR/holder.out'"
    expect "the entry ends up gone (no-entry)" bash -c "grep -q 'no-entry' <<<'$last'"
    show_wire 'ECP'
}

scen_station_down() {
    pair_up || return 1
    wait_evb 20 || return 1
    vdpreq assoc -l mvt0 "${VSI0[@]}" associate
    step "station lldpad killed (SIGKILL): its pid file stays, nobody at its netlink port"
    stop_lldpad st KILL
    vdpreq dead -l mvt0 "${VSI0[@]}" associate
    expect "sendto fails with ECONNREFUSED at once" has dead 'send:ECONNREFUSED'
    vdpreq dead2 -l mvt0 --uuid "$UUID0" status
    expect "status: ECONNREFUSED too" has dead2 'Connection refused'
    step "restart it: the VSI is forgotten"
    rm -f "$SDIR/st/shm/lldpad.state"
    start_lldpad st || return 1
    wait_evb 20
    vdpreq after -l mvt0 --uuid "$UUID0" status
    expect "status after the restart: no entry" has after 'outcome=no-entry'
    step "associate again: the restarted station's first ECPDU has seqno 1, which the bridge last received too"
    local ta
    ta=$(now)
    vdpreq again -l mvt0 "${VSI0[@]}" associate
    expect "lost as an ECP duplicate (acked, not delivered): timeout" [ "$OUTCOME" = timeout ]
    vdpreq other -l mvt1 "${VSI1[@]}" associate
    expect "the next VSI (ECP seqno 2) associates" [ "$OUTCOME" = success ]
    step "17 s later: the bridge's keep-alive timer for the old association sent a DEASSOC, which ended mvt0's pending VSI"
    sleep "$(awk -v a="$ta" -v b="$(now)" 'BEGIN { w = 17 - (b - a); print (w > 0 ? w : 0) }')"
    grep -h 'vdp22st_end' "$SDIR/st/lldpad.log" | tail -1 | sed 's/^/      station log: /'
    vdpreq again2 -l mvt0 "${VSI0[@]}" associate
    expect "a request for it: ENODEV (ended, result not yet read)" has again2 'errno=ENODEV'
    vdpreq again3 -l mvt0 --uuid "$UUID0" status
    expect "a status read reports it as response 0 (for a VSI that never associated) and removes it" \
        has again3 'outcome=success response=0'
    vdpreq again4 -l mvt0 "${VSI0[@]}" associate
    expect "then it associates" [ "$OUTCOME" = success ]
    step "station lldpad stopped with SIGTERM: it removes its pid file"
    stop_lldpad st TERM
    vdpreq gone -l mvt0 "${VSI0[@]}" associate
    expect "no pid file (libvirt: \"Error opening file /var/run/lldpad.pid\")" has gone 'no-lldpad-pid'
    show_wire 'ECP'
}

scen_refuse() {
    pair_up || return 1
    wait_evb 20 || return 1
    step "type ids that lldpad's bridge simulator refuses in --enable-debug builds (vdp22br.c)"
    local t
    for t in 199 201 202 203; do
        vdpreq refuse$t -l mvt0 --mgr 1 --type $t --typever 1 --uuid "$UUID0" associate
        say "typeid $t: $OUTCOME"
        expect "typeid $t is accepted by Debian's build (no refusal configurable)" [ "$OUTCOME" = success ]
        vdpreq undo$t -l mvt0 --mgr 1 --type $t --typever 1 --uuid "$UUID0" disassociate >/dev/null
        sleep 0.1
    done
    expect "Debian's lldpad is built without BUILD_DEBUG (no trigger_deassoc in the binary)" \
        bash -c "! grep -q trigger_deassoc \"\$(command -v lldpad)\""
}

scen_unsolicited() {
    pair_up || return 1
    wait_evb 20 || return 1
    step "associate from event port 4242 (that process exits), re-associate from port 4343 (exits)"
    vdpreq a -l mvt0 "${VSI0[@]}" --event-port 4242 associate
    vdpreq b -l mvt0 "${VSI0[@]}" --event-port 4343 associate
    step "listeners on both ports; then the station's ECP frames are dropped on st0's egress (tc htb + u32 + pfifo limit 0)"
    vdpreq_bg la listen --event-port 4242 -w 30000
    local la=$LAST_BG
    vdpreq_bg lb listen --event-port 4343 -w 30000
    local lb=$LAST_BG
    sleep 0.3
    ecp_drop on || { say "tc setup failed"; return 1; }
    say "dropping the station's ECP frames; the bridge's keep-alive timer (~15.8 s) should drop the VSI"
    wait "$la" "$lb"
    BG_PIDS=()
    step "what port 4242 (the first requester) received"
    grep -v -E '^ +[0-9a-f]{4} ' "$SDIR/la.out" | sed 's/^/      /'
    step "what port 4343 (the re-associating requester) received"
    grep -v -E '^ +[0-9a-f]{4} ' "$SDIR/lb.out" | sed 's/^/      /'
    expect "the DISASSOCIATE notification went to the first requester's port" has la 'request 3 \(DISASSOCIATE\)'
    expect "nothing went to the later requester's port" bash -c "! grep -q UNSOLICITED '$SDIR/lb.out'"
    step "status now; then the ECP path restored and the VSI re-associated (libvirt's reaction)"
    vdpreq st -l mvt0 --uuid "$UUID0" status
    ecp_drop off
    vdpreq re -l mvt0 "${VSI0[@]}" --event-port 4242 associate
    expect "re-association succeeds" [ "$OUTCOME" = success ]
    step "a DISASSOCIATE by another process: the requester's port gets the same notification"
    vdpreq_bg lc listen --event-port 4242 -w 2000
    local lc=$LAST_BG
    sleep 0.3
    vdpreq d -l mvt0 "${VSI0[@]}" disassociate
    wait "$lc"
    BG_PIDS=()
    grep -E 'UNSOLICITED|port vf' "$SDIR/lc.out" | sed 's/^/      /'
    expect "the own disassociate also arrives as an unsolicited DISASSOCIATE" has lc 'request 3 \(DISASSOCIATE\)'
    show_wire 'ECP'
}

# bridge_restart_variant N: associate N VSIs (the bridge sends N ECPDUs), then
# restart the bridge lldpad and follow mvt0's status for 30 s.
bridge_restart_variant() {
    local n=$1
    pair_up || return 1
    wait_evb 20 || return 1
    vdpreq_bg holder -l mvt0 "${VSI0[@]}" -w 34000 associate
    local holder=$LAST_BG
    sleep 0.5
    grep RESULT "$SDIR/holder.out" | sed 's/^/      /'
    ((n > 1)) && vdpreq assoc1 -l mvt1 "${VSI1[@]}" associate
    step "bridge lldpad restarted (SIGTERM, started again at once); the bridge had sent $n ECPDU(s)"
    stop_lldpad br TERM
    start_lldpad br || return 1
    poll_status 30 "$UUID0"
    wait "$holder" 2>/dev/null
    BG_PIDS=()
    grep -E 'UNSOLICITED|port vf' "$SDIR/holder.out" | sed 's/^/      holder: /'
    show_wire 'ECP|TTL=0'
}

scen_bridge_restart() {
    local base=$SDIR
    step "variant 1: one VSI, so the new bridge's first ECPDU (seqno 1) equals the last one the station got"
    SDIR=$base/one
    mkdir -p "$SDIR"
    bridge_restart_variant 1
    expect "the station drops the new bridge's answer to its keep-alive (ECP duplicate); the VSI is gone ~27 s later" \
        bash -c "grep -q 'no-entry' <<<'$LAST_STATUS'"
    expect "... without a notification to the requester" bash -c "! grep -q UNSOLICITED '$SDIR/holder.out'"
    pair_down
    step "variant 2: two VSIs, the old bridge's last seqno was 2: no collision"
    SDIR=$base/two
    mkdir -p "$SDIR"
    bridge_restart_variant 2
    expect "the keep-alive re-creates the VSI on the new bridge; still associated 30 s later" \
        bash -c "grep -q 'success response=0 entries=2' <<<'$LAST_STATUS'"
    SDIR=$base
}

# ---- main ---------------------------------------------------------------------

echo "lldpad-pair: $(lldpad -v 2>&1 | head -1) ($(dpkg-query -W -f='${Version}' lldpad 2>/dev/null)), kernel $(uname -r), $(nproc) cores"
echo "timers: vdprwd=$VDPRWD vdprka=$VDPRKA ecprte=$ECPRTE ecpretries=$ECPRETRIES; work dir $WORK"
for SCEN in "${RUN[@]}"; do
    SDIR=$WORK/$SCEN
    mkdir -p "$SDIR"
    printf '\n==== %s\n' "$SCEN"
    T0=$(now)
    T_UP=$T0
    before=$UNEXPECTED
    "scen_${SCEN//-/_}" || { printf '  UNEXPECTED  scenario %s could not run\n' "$SCEN"; UNEXPECTED=$((UNEXPECTED + 1)); SUMMARY+=("UNEXPECTED $SCEN: could not run"); }
    pair_down
    printf '  (%s: %s s, %d unexpected)\n' "$SCEN" "$(since "$T0")" $((UNEXPECTED - before))
done
echo
if ((UNEXPECTED)); then
    printf '%s\n' "${SUMMARY[@]}"
    echo "lldpad-pair: $UNEXPECTED unexpected observation(s)"
else
    echo "lldpad-pair: everything as recorded in tests/lldpad/README.md"
fi
exit "$UNEXPECTED"
