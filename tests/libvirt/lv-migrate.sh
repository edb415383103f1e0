#!/bin/bash
# One live migration of a real guest between two namespace hosts, each with
# its own unmodified libvirtd (lv-host.sh), with libvirt alone: no netlifecd.
# Brings the hosts up, defines and starts the guest on A the ordinary way,
# has the peer ping it every 10 ms, migrates it A -> B, tears everything down
# (also on failure) and writes RUNDIR/timeline.txt (lv-timeline.py): hook
# calls, domain events, QMP commands and events, B's and A's tap and port
# states, the guest's echo gaps, on one clock.
#
#   lv-migrate.sh RUNDIR
#
# Environment (defaults in brackets):
#   LV_MODE             postcopy | precopy                        [postcopy]
#   LV_POSTCOPY_AFTER   postcopy: when `virsh migrate-postcopy` is called:
#                       "iteration" (A's first MIGRATION_ITERATION event),
#                       "asap" (retried every 100 ms from the migration's
#                       start until libvirt accepts it), or N seconds after
#                       the first iteration, or "agent" (nobody here:
#                       netlifecd-libvirt-agent does it)           [iteration]
#   LV_FORWARD_DELAY    br0's forward delay, s                     [4]
#   LV_HOOK_SLEEP_B     "op=seconds ..." sleeps in B's hook, e.g. "started=5"
#   LV_HOOK_SLEEP_A     the same on A
#   LV_HOOK_FAIL_B      "op ..." B's hook fails these calls (exit 1)
#   LV_HOOK_WAITFWD_B   "op=seconds ..." B's hook waits in these calls until
#                       the domain's taps forward (at most that long)
#   LV_NO_HOOK          1: no hook installed at all
#   LV_PROBE_IN_HOOK    1: while B's `started` hook runs, time a few read-only
#                       virsh calls on B and A (can an agent ask libvirt
#                       about the incoming domain while the hook holds it?)
#   LV_AGENT_B_AWAY     1: B's agent is killed (SIGKILL) before the migration
#                       and started again after `virsh migrate` returned: it
#                       misses B's resume and must catch up from the domain's
#                       state
#   LV_MIGRATE_FLAGS    extra `virsh migrate` flags
#   LV_SETTLE           seconds to keep pinging after the migration
#                       [2 x forward delay + 15]
#   LV_GUEST_DIR        the guest kernel and initramfs   [/work/main/build/guest,
#                       or NLC_GUEST_DIR]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
L=$here/lv-host.sh
(($# == 1)) || {
    echo "usage: $0 RUNDIR" >&2
    exit 2
}
RUN=$1
mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd)
MODE=${LV_MODE:-postcopy}
PC_AFTER=${LV_POSTCOPY_AFTER:-iteration}
SETTLE=${LV_SETTLE:-$((${LV_FORWARD_DELAY:-4} * 2 + 15))}
GUEST_DIR=${LV_GUEST_DIR:-${NLC_GUEST_DIR:-/work/main/build/guest}}
DOM=vm1
MAC=52:54:00:12:34:56
DEST=qemu+tcp://198.51.100.2/system
export LV_FORWARD_DELAY=${LV_FORWARD_DELAY:-4}
export LV_TTL=${LV_TTL:-600}
[[ ${LV_NO_HOOK:-0} == 1 ]] || export LV_HOOK=$here/hook-log.sh

now() { date +%s.%N; }
mark() { echo "$(now) $*" >>"$RUN/markers"; }
say() { echo "lv-migrate: $*" >&2; }
fail() {
    say "FAILED: $*"
    mark "FAILED $*"
    exit 1
}

[[ -f $GUEST_DIR/bzImage && -f $GUEST_DIR/initrd.img ]] ||
    fail "no guest in $GUEST_DIR: run tests/migration/build-guest.sh"
rm -rf "${RUN:?}"/{A,B,markers,ping.txt,sniff.txt,stop,timeline.txt,migrate.out,guest}
# shellcheck disable=SC2317 # run by the traps
cleanup() {
    local rc=$?
    touch "$RUN/stop"
    sleep 0.5
    "$L" down "$RUN" || true
    if [[ -f $RUN/markers ]]; then
        /usr/bin/python3 "$here/lv-timeline.py" "$RUN" >"$RUN/timeline.txt" 2>&1 || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap "exit 143" TERM INT HUP

# Hook sleeps and failures are files in the host's private /etc/libvirt/hooks.
hook_files() {
    local h=$1 spec=$2 kind=$3 item
    for item in $spec; do
        if [[ $kind == sleep || $kind == waitfwd ]]; then
            echo "${item#*=}" >"$RUN/$h/etc/hooks/$kind-${item%%=*}"
        else
            : >"$RUN/$h/etc/hooks/fail-$item"
        fi
    done
}

mark "up"
"$L" up "$RUN"
# Warm B's QEMU capabilities cache (a host that has run guests before; the
# first use probes QEMU for seconds, inside the migration otherwise).
"$L" virsh "$RUN" B domcapabilities --virttype qemu >/dev/null
mkdir -p "$RUN/guest"
cp "$GUEST_DIR/bzImage" "$GUEST_DIR/initrd.img" "$RUN/guest/"
for h in A B; do
    setsid "$L" virsh "$RUN" "$h" event --all --loop --timestamp >"$RUN/$h/events.log" 2>&1 </dev/null &
done
cat >"$RUN/$DOM.xml" <<EOF
<domain type='qemu'>
  <name>$DOM</name>
  <uuid>5a5a5a5a-1111-4000-8000-000000000001</uuid>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$RUN/guest/bzImage</kernel>
    <initrd>$RUN/guest/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='bridge'>
      <source bridge='br0'/>
      <mac address='$MAC'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='/var/log/libvirt/qemu/$DOM-serial.log' append='on'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
"$L" virsh "$RUN" A define "$RUN/$DOM.xml" >/dev/null
mark "start-guest"
"$L" virsh "$RUN" A start "$DOM" >/dev/null
mark "started-guest"
for ((i = 0; i < 600; i++)); do
    grep -q GUEST-READY "$RUN/A/log/qemu/$DOM-serial.log" 2>/dev/null && break
    sleep 0.1
done
grep -q GUEST-READY "$RUN/A/log/qemu/$DOM-serial.log" || fail "the guest did not boot on A in 60 s"
mark "guest-ready"
for ((i = 0; i < 300; i++)); do
    "$L" exec "$RUN" A bridge link show dev vnet0 2>/dev/null | grep -q "state forwarding" && break
    sleep 0.1
done
mark "A-vnet0-forwarding"
"$L" peer "$RUN" /usr/bin/python3 "$here/lv-ping.py" 192.0.2.10 /nonexistent "$RUN/ping-before.txt" 10 2
grep -q "answered 0 " "$RUN/ping-before.txt" && fail "the guest does not answer the peer on A"
say "guest up on A, answers the peer ($(head -n1 "$RUN/ping-before.txt"))"

hook_files B "${LV_HOOK_SLEEP_B:-}" sleep
hook_files A "${LV_HOOK_SLEEP_A:-}" sleep
hook_files B "${LV_HOOK_FAIL_B:-}" fail
hook_files B "${LV_HOOK_WAITFWD_B:-}" waitfwd

setsid "$L" peer "$RUN" /usr/bin/python3 "$here/lv-ping.py" 192.0.2.10 "$RUN/stop" "$RUN/ping.txt" 10 240 </dev/null &
# What the switch gets from and sends to each host for the guest's MAC.
setsid "$L" switch "$RUN" /usr/bin/python3 "$here/lv-sniff.py" "$MAC" "$RUN/stop" "$RUN/sniff.txt" 240 up-A up-B \
    </dev/null >"$RUN/sniff.err" 2>&1 &
sleep 1
flags=(--live --p2p --verbose)
[[ $MODE == postcopy ]] && flags+=(--postcopy)
# shellcheck disable=SC2206
flags+=(${LV_MIGRATE_FLAGS:-})
if [[ ${LV_AGENT_B_AWAY:-0} == 1 ]]; then
    "$L" agent "$RUN" B kill
    mark "B-agent-killed"
fi
mark "migrate-start virsh migrate ${flags[*]} $DOM $DEST"
setsid "$L" virsh "$RUN" A migrate "${flags[@]}" "$DOM" "$DEST" >"$RUN/migrate.out" 2>&1 </dev/null &
mig=$!

if [[ ${LV_PROBE_IN_HOOK:-0} == 1 ]]; then
    for ((i = 0; i < 600; i++)); do
        grep -q " BEGIN $DOM started begin" "$RUN/B/log/hooks.log" 2>/dev/null && break
        sleep 0.1
    done
    mark "probe: B's started hook is running"
    for probe in "B domstate --reason $DOM" "B domjobinfo $DOM" "B dumpxml $DOM" "B domiflist $DOM" \
        "A domjobinfo $DOM" "A domstate --reason $DOM"; do
        t=$(now)
        # shellcheck disable=SC2086
        out=$(timeout 20 "$L" virsh "$RUN" $probe 2>&1 | tr '\n' ' ' | cut -c1-160) && r=0 || r=$?
        mark "probe: virsh $probe: rc=$r in $(echo "$(now) - $t" | bc) s: $out"
    done
fi

if [[ $MODE == postcopy && $PC_AFTER != agent ]]; then
    deadline=$((SECONDS + 120))
    if [[ $PC_AFTER != asap ]]; then
        until grep -q "migration-iteration" "$RUN/A/events.log"; do
            ((SECONDS < deadline)) || fail "no MIGRATION_ITERATION on A in 120 s"
            kill -0 "$mig" 2>/dev/null || fail "virsh migrate ended before the first iteration"
            sleep 0.05
        done
        mark "first-iteration-seen"
        [[ $PC_AFTER == iteration ]] || sleep "$PC_AFTER"
    fi
    tries=0
    until "$L" virsh "$RUN" A migrate-postcopy "$DOM" 2>"$RUN/postcopy.err"; do
        tries=$((tries + 1))
        ((tries == 1)) && mark "migrate-postcopy refused: $(tr '\n' ' ' <"$RUN/postcopy.err")"
        ((SECONDS < deadline)) || fail "migrate-postcopy refused for 120 s: $(cat "$RUN/postcopy.err")"
        kill -0 "$mig" 2>/dev/null || fail "virsh migrate ended before post-copy could start"
        sleep 0.1
    done
    mark "migrate-postcopy accepted after $tries refusals"
fi
# Bounded: virsh migrate gets 180 s.
for ((i = 0; i < 1800; i++)); do
    kill -0 "$mig" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$mig" 2>/dev/null; then
    mark "migrate still running after 180 s: virsh domjobabort"
    "$L" virsh "$RUN" A domjobabort "$DOM" || true
fi
rc=0
wait "$mig" || rc=$?
mark "migrate-end rc=$rc"
if [[ ${LV_AGENT_B_AWAY:-0} == 1 ]]; then
    "$L" agent "$RUN" B start
    mark "B-agent-started"
fi
say "virsh migrate rc=$rc: $(tr '\r' '\n' <"$RUN/migrate.out" | tail -n2 | tr '\n' ' ')"
sleep "$SETTLE"
touch "$RUN/stop"
for ((i = 0; i < 50; i++)); do
    [[ -f $RUN/ping.txt ]] && break
    sleep 0.1
done
mark "end"
for h in A B; do
    "$L" virsh "$RUN" "$h" list --all >"$RUN/$h/list.txt" 2>&1 || true
done
if grep -qiE "Oops|panic|BUG:|GUEST-ERROR|DIRTIER-BAD|corrupt" "$RUN"/{A,B}/log/qemu/"$DOM"-serial.log 2>/dev/null; then
    say "the guest's console shows an emulator failure (see the serial logs)"
    mark "guest-console-failure"
fi
exit "$rc"
