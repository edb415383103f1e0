#!/bin/bash
# Installs what a fresh Debian 12 machine lacks to build, run and test
# netlifecd. Does nothing (and needs no network) when all is there.
set -euo pipefail

PACKAGES=(
    gcc meson ninja-build pkg-config python3
    libglib2.0-dev libglib2.0-bin libnl-3-dev libnl-route-3-dev libmnl-dev
    libjson-glib-dev libdbus-1-dev libpolkit-gobject-1-dev
    polkitd                       # the authorization tests run a real polkitd
    dbus dbus-daemon systemd      # dbus-daemon for private buses, busctl
    iproute2 util-linux           # ip/bridge, unshare
    clang-format
    clang libclang-rt-14-dev       # the QMP fuzzer (libFuzzer)
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $(id -u) != 0 ]]; then
        echo "install-deps: these packages are missing and installing them needs root: ${missing[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
