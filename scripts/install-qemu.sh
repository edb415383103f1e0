#!/bin/bash
# Makes QEMU 10 available for the real-QEMU migration tests (tests/migration),
# and installs what tests/migration/build-guest.sh needs to build the guest.
#
# Debian 12 ships QEMU 7.2, whose TCG corrupts a migrated Linux guest about
# half of the time; bookworm-backports has QEMU 10.0, which migrates cleanly.
# The backports entry reuses the URIs (and keyring) of the machine's own
# Debian entry, read at run time: this script names no mirror.
#
# Idempotent: does nothing for QEMU when `qemu-system-x86_64 --version`
# already says 10.x, and installs only the guest tools that are missing.
set -euo pipefail

GUEST_PACKAGES=(busybox-static gcc libc6-dev kmod xz-utils)
SOURCES_FILE=/etc/apt/sources.list.d/netlifecd-bookworm-backports.sources

die() {
    echo "install-qemu: $*" >&2
    exit 1
}

qemu_major() {
    qemu-system-x86_64 --version 2>/dev/null |
        sed -n 's/^QEMU emulator version \([0-9]\+\)\..*/\1/p' | head -n1
}

need_root() {
    [[ $(id -u) == 0 ]] || die "installing $* needs root"
}

# "URIS<TAB>SIGNED-BY" of the entry that serves suite "bookworm" (the main
# archive, not -security or -updates), from the deb822 .sources files.
deb822_entry() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ &&
                    enabled != "no" && uris != "" && !done) {
                    print uris "\t" signed
                    done = 1
                }
                types = suites = uris = signed = ""; enabled = ""
            }
            /^[[:space:]]*#/ { next }
            /^[[:space:]]*$/ { flush(); next }
            {
                key = tolower($1); sub(/:$/, "", key)
                val = $0; sub(/^[^:]*:[[:space:]]*/, "", val)
                if (key == "types") types = val
                else if (key == "suites") suites = val
                else if (key == "uris") uris = val
                else if (key == "signed-by") signed = val
                else if (key == "enabled") enabled = tolower(val)
            }
            END { flush() }
        ' "$f"
    done | head -n1
}

# The same from one-line entries: "deb [options] URI bookworm components".
oneline_entry() {
    local files=()
    [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] && files+=("$f")
    done
    ((${#files[@]})) || return 0
    awk '
        $1 != "deb" { next }
        {
            signed = ""; i = 2
            if ($2 ~ /^\[/) {
                while (i <= NF) {
                    if ($i ~ /signed-by=/) {
                        s = $i; sub(/.*signed-by=/, "", s); sub(/\]$/, "", s); signed = s
                    }
                    if ($i ~ /\]$/) { i++; break }
                    i++
                }
            }
            if ($(i + 1) == "bookworm") { print $i "\t" signed; exit }
        }
    ' "${files[@]}"
}

has_backports_entry() {
    grep -rqsE '(^|[[:space:]])bookworm-backports([[:space:]]|$)' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
}

add_backports_entry() {
    local entry uris signed
    entry=$(deb822_entry)
    [[ -n $entry ]] || entry=$(oneline_entry)
    [[ -n $entry ]] || die "no Debian entry with suite 'bookworm' in the apt sources to copy"
    uris=${entry%%$'\t'*}
    signed=${entry#*$'\t'}
    {
        echo "# bookworm-backports for QEMU 10 (scripts/install-qemu.sh), same archive"
        echo "# as the machine's bookworm entry."
        echo "Types: deb"
        echo "URIs: $uris"
        echo "Suites: bookworm-backports"
        echo "Components: main"
        [[ -n $signed ]] && echo "Signed-By: $signed"
    } >"$SOURCES_FILE"
    echo "install-qemu: added bookworm-backports from $uris"
}

export DEBIAN_FRONTEND=noninteractive
updated=0

if [[ $(qemu_major) -ge 10 ]] 2>/dev/null; then
    echo "install-qemu: $(qemu-system-x86_64 --version | head -n1)"
else
    need_root "qemu-system-x86 from bookworm-backports"
    has_backports_entry || add_backports_entry
    apt-get update -qq
    updated=1
    apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null
    major=$(qemu_major)
    [[ -n $major && $major -ge 10 ]] ||
        die "qemu-system-x86_64 is still '$(qemu-system-x86_64 --version 2>&1 | head -n1)'"
    echo "install-qemu: installed $(qemu-system-x86_64 --version | head -n1)"
fi

missing=()
for p in "${GUEST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$p")
done
if ((${#missing[@]})); then
    need_root "${missing[*]}"
    ((updated)) || apt-get update -qq
    echo "install-qemu: installing ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
