#!/bin/sh
# An unprivileged user's VM on a host bridge, without a setuid helper
# (qemu-bridge-helper): netlifecd makes the tap, puts it on a bridge the host
# lists for the user ([allow] bridges = br0:@netlifecd in
# /etc/netlifecd/netlifecd.conf), hardens the port, and hands its queue to the
# QEMU this user runs; the MAC is placed when the guest runs (Activate). The
# user needs org.netlifecd1.manage (polkit's default rules: the group
# netlifecd) and the bus policy's group.
#
#   user-bridged-tap.sh INSTANCE MAC BRIDGE -- CMD [ARG...]
#
# CMD runs holding the tap's queue; {0} in its arguments is the fd number:
#   user-bridged-tap.sh vm1 52:54:00:12:34:56 br0 -- \
#       qemu-system-x86_64 ... -netdev tap,id=n0,fd={0} -device virtio-net,netdev=n0,mac=52:54:00:12:34:56
# When CMD ends, the device is destroyed and freed.
set -eu
[ $# -ge 5 ] && [ "$4" = -- ] || {
        echo "usage: $0 INSTANCE MAC BRIDGE -- CMD [ARG...]" >&2
        exit 2
}
instance=$1 mac=$2 bridge=$3
shift 4
ctl=${NETLIFECTL:-netlifectl}
device=$($ctl allocate "$instance" tap-bridge "$mac" "bridge=$bridge")
status=0
# CMD's wrapper holds the queue: the MAC is placed (the port is locked to
# it), then CMD takes over the process and the fd.
$ctl create "$device" --exec -- sh -c '"$0" activate "$1" >/dev/null && shift && exec "$@"' \
        "$ctl" "$device" "$@" || status=$?
$ctl deactivate "$device" >/dev/null
$ctl destroy "$device" >/dev/null
$ctl free "$device" >/dev/null
exit $status
