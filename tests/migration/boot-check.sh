#!/bin/bash
# Smoke test of the migration tests' guest, no daemon involved: boots it under
# QEMU (TCG) on a tap in a throwaway network namespace and pings it from a
# peer namespace.
#
#   tests/migration/boot-check.sh [GUESTDIR]   (default: build/guest; built
#                                               with build-guest.sh if absent)
#
#   host namespace:  br0 (STP off) ── tap (QEMU's NIC) and veth ──┐
#   peer namespace:  veth 192.0.2.1/24, static neighbour for the guest ─┘
#
# Exit 0 when the guest printed GUEST-READY and answered ICMP echo, 1 when it
# did not, 2 when the emulator corrupted the guest (Oops/panic on the serial
# console). Every namespace, link and the QEMU are removed at the end, also on
# failure. Needs root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
guest=${1:-$here/../../build/guest}
MAC=52:54:00:12:34:56
BOOT_TIMEOUT=${BOOT_TIMEOUT:-90}

die() {
    echo "boot-check: $*" >&2
    exit 1
}

[[ $(id -u) == 0 ]] || die "needs root (network namespaces, taps)"
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64: run scripts/install-qemu.sh"
[[ -f $guest/bzImage && -f $guest/initrd.img ]] || "$here/build-guest.sh" "$guest"

tag=nlcbc$$
host_ns=$tag-host
peer_ns=$tag-peer
work=$(mktemp -d "${TMPDIR:-/tmp}/nlc-boot-check-XXXXXX")
qemu_pid=

cleanup() {
    local rc=$?
    if [[ -n $qemu_pid ]]; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    ip netns del "$host_ns" 2>/dev/null || true
    ip netns del "$peer_ns" 2>/dev/null || true
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_host() { ip netns exec "$host_ns" "$@"; }
in_peer() { ip netns exec "$peer_ns" "$@"; }

ip netns add "$host_ns"
ip netns add "$peer_ns"
in_host ip link set lo up
in_peer ip link set lo up
in_host ip link add br0 type bridge stp_state 0
in_host ip tuntap add dev tap0 mode tap
in_host ip link set tap0 master br0
in_host ip link add up0 type veth peer name eth0 netns "$peer_ns"
in_host ip link set up0 master br0
in_host ip link set up0 up
in_host ip link set tap0 up
in_host ip link set br0 up
in_peer ip addr add 192.0.2.1/24 dev eth0
in_peer ip link set eth0 up
in_peer ip neigh replace 192.0.2.10 lladdr "$MAC" dev eth0 nud permanent

serial=$work/serial.log
: >"$serial"
# Not through in_host: $! must be QEMU itself (ip netns exec execs it).
ip netns exec "$host_ns" qemu-system-x86_64 -accel tcg -m 256 -nographic -display none \
    -kernel "$guest/bzImage" -initrd "$guest/initrd.img" -append 'console=ttyS0 quiet' \
    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
    -device virtio-net-pci,netdev=n0,mac=$MAC \
    -serial "file:$serial" -monitor none -qmp "unix:$work/qmp.sock,server=on,wait=off" \
    </dev/null >"$work/qemu.log" 2>&1 &
qemu_pid=$!

corrupted() {
    grep -qE 'Oops|Kernel panic|general protection fault|BUG:' "$serial"
}

start=$SECONDS
while ! grep -q GUEST-READY "$serial"; do
    kill -0 "$qemu_pid" 2>/dev/null || {
        cat "$work/qemu.log" >&2
        die "QEMU exited before the guest was ready"
    }
    if corrupted; then
        cat "$serial" >&2
        echo "boot-check: EMULATOR FAILURE: the guest crashed while booting" >&2
        exit 2
    fi
    ((SECONDS - start < BOOT_TIMEOUT)) || {
        cat "$serial" >&2
        die "no GUEST-READY within ${BOOT_TIMEOUT}s"
    }
    sleep 0.2
done
echo "boot-check: $(grep -o -m1 'GUEST-READY.*' "$serial") after $((SECONDS - start))s"

if ! in_peer busybox ping -c 5 -W 2 192.0.2.10; then
    cat "$serial" >&2
    corrupted && {
        echo "boot-check: EMULATOR FAILURE: the guest crashed" >&2
        exit 2
    }
    die "the guest did not answer ICMP echo"
fi
if corrupted; then
    cat "$serial" >&2
    echo "boot-check: EMULATOR FAILURE: the guest crashed" >&2
    exit 2
fi
grep -q DIRTIER-ALIVE "$serial" || sleep 2
grep -q DIRTIER-ALIVE "$serial" || die "the guest's workload is not running"
echo "boot-check: OK ($(qemu-system-x86_64 --version | head -n1))"
