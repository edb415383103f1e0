#!/bin/bash
# Installs Debian 12's lldpad (802.1Qbg EVB/VDP, lldptool, vdptool) for the
# port-profile tests (tests/lldpad), without letting it run on the host.
#
# The package's maintainer scripts would start lldpad through invoke-rc.d
# (SysV script /etc/init.d/lldpad) and enable lldpad.service/lldpad.socket.
# On a test machine the host's lldpad would then speak LLDP on every host
# interface, so this script:
#   - installs with a policy-rc.d that forbids starting anything (only when
#     the machine has none; an existing one is left as it is);
#   - afterwards disables the SysV links and the systemd units;
#   - stops an lldpad that the installation started anyway (one that was not
#     running before); one that ran before is left alone, with a warning.
# The tests run their own lldpad instances in private namespaces.
#
# Also installs tcpdump, gcc and libc6-dev, which tests/lldpad needs.
# Idempotent: when all is installed it only checks the disabled state.
set -euo pipefail

die() {
    echo "install-lldpad: $*" >&2
    exit 1
}

POLICY=/usr/sbin/policy-rc.d
own_policy=0
cleanup() {
    if ((own_policy)); then rm -f "$POLICY"; fi
}
trap cleanup EXIT

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# pids of lldpad processes running in the host's (this shell's) pid namespace
# and mount namespace; test instances in their own namespaces are not ours.
host_lldpads() {
    local p mine
    mine=$(readlink /proc/self/ns/mnt)
    for p in $(pgrep -x lldpad || true); do
        [[ $(readlink "/proc/$p/ns/mnt" 2>/dev/null) == "$mine" ]] && echo "$p"
    done
    return 0
}

before=$(host_lldpads | sort)

# tcpdump: the harness shows the LLDP/ECP exchange on the wire.
# gcc, libc6-dev: tests/lldpad/vdp-request.c is built by the harness;
# python3 runs tests/lldpad/ecp-dump.py.
missing=()
for p in lldpad tcpdump gcc libc6-dev python3; do
    installed "$p" || missing+=("$p")
done

if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "installing ${missing[*]} needs root"
    export DEBIAN_FRONTEND=noninteractive
    if [[ ! -e $POLICY ]]; then
        printf '#!/bin/sh\n# install-lldpad.sh: start no service while installing\nexit 101\n' >"$POLICY"
        chmod 755 "$POLICY"
        own_policy=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    echo "install-lldpad: installed ${missing[*]} (lldpad $(dpkg-query -W -f='${Version}' lldpad))"
fi

if [[ $(id -u) == 0 ]]; then
    # Boot-time start: off (both init systems; works without a running systemd).
    if [[ -x /etc/init.d/lldpad ]] && ls /etc/rc[2-5].d/S*lldpad >/dev/null 2>&1; then
        update-rc.d lldpad disable >/dev/null 2>&1 || true
    fi
    for unit in lldpad.socket lldpad.service; do
        deb-systemd-helper disable "$unit" >/dev/null 2>&1 || true
        rm -f /etc/systemd/system/*.wants/"$unit"
    done
fi

# An lldpad the installation started (not one that ran before): stop it.
after=$(host_lldpads | sort)
for p in $(comm -13 <(echo "$before") <(echo "$after")); do
    echo "install-lldpad: stopping the lldpad (pid $p) the package started" >&2
    kill "$p" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
done
left=$(host_lldpads | tr '\n' ' ')
[[ -z ${left// /} ]] ||
    echo "install-lldpad: warning: an lldpad that ran before runs on the host (pid $left); left alone" >&2

for f in /usr/sbin/lldpad /usr/sbin/lldptool /usr/sbin/vdptool; do
    [[ -x $f ]] || die "$f missing after install"
done
echo "install-lldpad: $(lldpad -v 2>&1 | head -n1); not running, not enabled"
