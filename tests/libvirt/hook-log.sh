#!/bin/bash
# A libvirt qemu hook (/etc/libvirt/hooks/qemu) that only records: every call
# appends to /var/log/libvirt/hooks.log (lv-host.sh binds the host's DIR/H/log
# there)
#   <start> <end> BEGIN|END <args...> xml=<bytes> ...
# with, at the start, the host's taps (state, master, STP port state) and
# whether a QEMU runs in this network namespace; the XML libvirt passed on
# stdin is kept in /var/log/libvirt/hook-xml/.
#
# For the blocking checks, per host (the files are in the host's private
# /etc/libvirt/hooks, which the test writes through DIR/H/etc/hooks):
#   sleep-<op>  contains seconds: the call sleeps that long before returning
#   fail-<op>   exists: the call exits 1 (libvirt aborts what it was doing)
#   waitfwd-<op> contains seconds: the call waits (at most that long) until
#               every tap the XML names (<target dev=...>) is a bridge port
#               in STP state forwarding -- a prototype of the destination gate
set -u
t0=$(date +%s.%N)
dir=/var/log/libvirt
log=$dir/hooks.log
mkdir -p "$dir/hook-xml"
xmlfile=$dir/hook-xml/$t0-$1-$2-$3.xml
cat >"$xmlfile"
size=$(stat -c %s "$xmlfile")

mynet=$(readlink /proc/self/ns/net)
qemu=""
for p in $(pgrep -f 'qemu-system-x86_64' 2>/dev/null | sort -un); do
    [[ $(readlink "/proc/$p/ns/net" 2>/dev/null) == "$mynet" ]] && qemu="$qemu $p"
done
taps=$(ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^vnet|^tap|^macvtap/ {print $2}' | cut -d@ -f1 | sort -u)
tapinfo=""
for t in $taps; do
    st=$(ip -o link show dev "$t" 2>/dev/null | grep -o 'state [A-Z]*' | cut -d' ' -f2)
    flags=$(ip -o link show dev "$t" 2>/dev/null | sed -n 's/^[0-9]*: [^<]*<\([^>]*\)>.*/\1/p')
    master=$(ip -o link show dev "$t" 2>/dev/null | grep -o 'master [^ ]*' | cut -d' ' -f2)
    stp=$(bridge link show dev "$t" 2>/dev/null | grep -o 'state [a-z]*' | cut -d' ' -f2)
    tapinfo="$tapinfo $t(<$flags>,oper=$st,master=${master:--},stp=${stp:--})"
done
# Name guest exported in the XML's <target dev=...> of each interface.
targets=$(grep -o "<target dev='[^']*'" "$xmlfile" 2>/dev/null | cut -d"'" -f2 | tr '\n' ',')
echo "$t0 BEGIN $* xml=$size targets=${targets:-none} taps=[${tapinfo# }] qemu=[${qemu# }]" >>"$log"

rc=0
if [[ -f /etc/libvirt/hooks/sleep-$2 ]]; then
    sleep "$(cat "/etc/libvirt/hooks/sleep-$2")"
fi
if [[ -f /etc/libvirt/hooks/waitfwd-$2 ]]; then
    limit=$(cat "/etc/libvirt/hooks/waitfwd-$2")
    deadline=$(($(date +%s) + ${limit%.*}))
    while (($(date +%s) < deadline)); do
        all=1
        for t in ${targets//,/ }; do
            bridge link show dev "$t" 2>/dev/null | grep -q "state forwarding" || all=0
        done
        ((all)) && break
        sleep 0.05
    done
    echo "$(date +%s.%N) WAITFWD $* forwarding=$all" >>"$log"
fi
if [[ -f /etc/libvirt/hooks/fail-$2 ]]; then
    echo "hook-log: refusing $2 (fail-$2 is set)" >&2
    rc=1
fi
echo "$(date +%s.%N) END $* rc=$rc" >>"$log"
exit $rc
