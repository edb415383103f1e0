#!/bin/bash
# Makes libvirt 11.3 (bookworm-backports, the libvirt that matches the QEMU 10
# of scripts/install-qemu.sh) available for the libvirt tests (tests/libvirt):
# libvirtd and its QEMU driver, virsh, libvirt-dev.
#
# Only the libvirt packages come from bookworm-backports; their dependencies
# come from bookworm. (`apt-get install -t bookworm-backports ...` would also
# take systemd, udev and libsystemd0 254 from backports, replacing the
# machine's systemd 252.) Recommends are left out (open-iscsi, lvm2, swtpm,
# passt, the storage back-ends: not needed to run a guest).
#
# Nothing is started on the machine: the tests run their own libvirtd in
# namespaces. The package scripts try to start libvirtd, virtlogd, virtlockd
# (invoke-rc.d, deb-systemd-invoke); a policy-rc.d that refuses is put in
# place for the install when the machine has none, and any of those daemons
# that was not running before and is afterwards is stopped (by its pid).
#
# The backports entry is the one scripts/install-qemu.sh adds (same archive
# as the machine's bookworm entry, no mirror named here); this script runs
# install-qemu.sh first, so QEMU 10 is there too.
#
# Idempotent: does nothing when libvirtd and virsh already say 11.x and
# libvirt-dev is installed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# Everything libvirt-daemon-system needs at version 11.3, named so that apt
# takes them (and only them) from bookworm-backports.
PACKAGES=(libvirt-daemon-system libvirt-clients libvirt-dev libvirt0 libvirt-common
    libvirt-daemon libvirt-daemon-common libvirt-daemon-log
    libvirt-daemon-config-network libvirt-daemon-config-nwfilter
    libvirt-daemon-driver-network libvirt-daemon-driver-nodedev
    libvirt-daemon-driver-nwfilter libvirt-daemon-driver-qemu
    libvirt-daemon-driver-secret libvirt-daemon-driver-storage)
DAEMONS=(libvirtd virtlogd virtlockd virtqemud virtproxyd virtnetworkd virtnodedevd
    virtnwfilterd virtsecretd virtstoraged virtinterfaced dnsmasq systemd-udevd udevd)
POLICY=/usr/sbin/policy-rc.d

die() {
    echo "install-libvirt: $*" >&2
    exit 1
}

major() { # "$1 --version" -> "11"
    "$1" --version 2>/dev/null | grep -o '[0-9]\+\.[0-9]\+\.[0-9]\+' | head -n1 | cut -d. -f1
}

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

have_libvirt() {
    [[ $(major libvirtd) -ge 11 && $(major virsh) -ge 11 ]] 2>/dev/null && installed libvirt-dev
}

# "pid comm" of the daemons above that run now.
daemon_pids() {
    local d
    for d in "${DAEMONS[@]}"; do
        pgrep -x "$d" 2>/dev/null | sed "s/\$/ $d/" || true
    done | sort
}

"$here/install-qemu.sh"

if have_libvirt; then
    echo "install-libvirt: libvirtd $(libvirtd --version | awk '{print $NF}'), virsh $(virsh --version)"
    exit 0
fi
[[ $(id -u) == 0 ]] || die "installing libvirt needs root"
grep -rqsE '(^|[[:space:]])bookworm-backports([[:space:]]|$)' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources ||
    die "no bookworm-backports entry (install-qemu.sh should have added it)"

export DEBIAN_FRONTEND=noninteractive
before=$(daemon_pids)
made_policy=0
if [[ ! -e $POLICY ]]; then
    printf '#!/bin/sh\n# scripts/install-libvirt.sh: start no service while it installs\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    made_policy=1
fi
cleanup() {
    if ((made_policy)); then rm -f "$POLICY"; fi
}
trap cleanup EXIT

apt-get update -qq
targets=()
for p in "${PACKAGES[@]}"; do targets+=("$p/bookworm-backports"); done
echo "install-libvirt: installing ${PACKAGES[*]} from bookworm-backports"
apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${targets[@]}" >/dev/null

# A daemon the package scripts started despite the policy: stop it.
after=$(daemon_pids)
started=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')
if [[ -n $started ]]; then
    echo "install-libvirt: the install started, stopping: $(echo "$started" | tr '\n' ' ')" >&2
    while read -r pid _; do kill "$pid" 2>/dev/null || true; done <<<"$started"
fi

have_libvirt || die "libvirtd/virsh are not 11.x after the install: $(libvirtd --version 2>&1)"
echo "install-libvirt: libvirtd $(libvirtd --version | awk '{print $NF}'), virsh $(virsh --version)"
