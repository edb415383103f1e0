#!/bin/bash
# Builds the Linux guest of the real-QEMU migration tests into OUTDIR:
#   OUTDIR/bzImage     Debian 12's current kernel (linux-image-6.1.0-*-amd64)
#   OUTDIR/initrd.img  busybox-static, the virtio-net module chain, an /init
#                      that sets eth0 to 192.0.2.10/24, prints GUEST-READY and
#                      runs guest-dirtier (96 MiB of pages written in a loop)
#
#   tests/migration/build-guest.sh OUTDIR
#
# Cached: does nothing when both files exist and are newer than this script
# and guest-dirtier.c. Needs what scripts/install-qemu.sh installs
# (busybox-static, gcc, libc6-dev, kmod, xz-utils) and apt access to the
# Debian archive.
set -euo pipefail

die() {
    echo "build-guest: $*" >&2
    exit 1
}

(($# == 1)) || die "usage: $0 OUTDIR"
here=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)

fresh() {
    [[ -f $out/bzImage && -f $out/initrd.img ]] || return 1
    local f
    for f in "$here/build-guest.sh" "$here/guest-dirtier.c"; do
        [[ $out/bzImage -nt $f && $out/initrd.img -nt $f ]] || return 1
    done
}
if fresh; then
    echo "build-guest: $out is up to date"
    exit 0
fi

for tool in apt-get apt-cache dpkg-deb gcc modinfo gzip; do
    command -v "$tool" >/dev/null || die "$tool is missing: run scripts/install-qemu.sh"
done
/bin/busybox true 2>/dev/null ||
    die "/bin/busybox is missing: run scripts/install-qemu.sh (busybox-static)"
ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is dynamic: install busybox-static"

work=$(mktemp -d "${TMPDIR:-/tmp}/nlc-guest-XXXXXX")
trap 'rm -rf "$work"' EXIT

# The kernel package linux-image-amd64 currently points at.
kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1
}
pkg=$(kernel_package)
if [[ -z $pkg && $(id -u) == 0 ]]; then
    apt-get update -qq
    pkg=$(kernel_package)
fi
[[ -n $pkg ]] || die "cannot tell which linux-image linux-image-amd64 depends on (apt-get update?)"
echo "build-guest: kernel package $pkg"
(cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$pkg") ||
    die "apt-get download $pkg failed"
dpkg-deb -x "$work"/"$pkg"_*.deb "$work/kernel"

found=("$work"/kernel/boot/vmlinuz-*)
vmlinuz=${found[0]}
[[ -f $vmlinuz ]] || die "no boot/vmlinuz-* in $pkg"
found=("$work"/kernel/lib/modules/*/kernel)
moddir=${found[0]}
[[ -d $moddir ]] || die "no lib/modules/*/kernel in $pkg"

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}

# A module by name, decompressed into the initramfs (busybox insmod takes
# plain .ko files only); its dependencies first, each once.
declare -A loaded=()
order=()
add_module() {
    local name=$1 file dep
    [[ -n ${loaded[$name]:-} ]] && return 0
    loaded[$name]=1
    file=$(find "$moddir" \( -name "$name.ko*" -o -name "${name//_/-}.ko*" \) -print -quit)
    [[ -n $file ]] || die "module $name is not in $pkg"
    case $file in
    *.ko) cp "$file" "$root/lib/modules/$name.ko" ;;
    *.ko.xz) xz -dc "$file" >"$root/lib/modules/$name.ko" ;;
    *.ko.zst) zstd -qdc "$file" >"$root/lib/modules/$name.ko" ;;
    *.ko.gz) gzip -dc "$file" >"$root/lib/modules/$name.ko" ;;
    *) die "cannot read module file $file" ;;
    esac
    for dep in $(modinfo -F depends "$root/lib/modules/$name.ko" | tr ',' ' '); do
        add_module "$dep"
    done
    order+=("$name")
}
add_module virtio_pci
add_module virtio_net
printf '%s\n' "${order[@]}" >"$root/modules.order"
echo "build-guest: modules ${order[*]}"

cp /bin/busybox "$root/bin/busybox"
gcc -static -O2 -Wall -Wextra -Werror -o "$root/bin/dirtier" "$here/guest-dirtier.c"
strip "$root/bin/dirtier" 2>/dev/null || true

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for m in $(cat /modules.order); do
    insmod /lib/modules/$m.ko || echo "GUEST-ERROR insmod $m"
done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
ip link set lo up
ip addr add 192.0.2.10/24 dev eth0 || echo "GUEST-ERROR no eth0"
ip link set eth0 up
echo "GUEST-READY $(cat /sys/class/net/eth0/address 2>/dev/null)"
/bin/dirtier &
wait
echo "GUEST-ERROR dirtier exited"
while true; do sleep 3600; done
EOF
chmod 755 "$root/init"

# Written next to the result, then renamed: a half-written guest is never
# taken for a cached one.
(cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) | gzip -9 >"$out/.initrd.img.tmp"
cp "$vmlinuz" "$out/.bzImage.tmp"
mv "$out/.bzImage.tmp" "$out/bzImage"
mv "$out/.initrd.img.tmp" "$out/initrd.img"
echo "build-guest: $out/bzImage $out/initrd.img ($(basename "$vmlinuz"))"
