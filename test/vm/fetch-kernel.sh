#!/usr/bin/env bash
# fetch-kernel.sh: make sure a Debian kernel (linux-image-*-amd64, the one
# linux-image-amd64 depends on) is unpacked in the cache, and print the
# directory holding it (boot/vmlinuz-KVER and lib/modules/KVER with a
# modules.dep). Downloads only when the cache has no kernel yet;
# BERTH_VM_KERNEL_PKG=linux-image-X-amd64 picks another package.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

if [ -z "${BERTH_VM_KERNEL_PKG:-}" ] && [ -f "$vm_cache/kernel/.complete" ]; then
	readlink -f "$vm_cache/kernel"
	exit 0
fi

pkg=${BERTH_VM_KERNEL_PKG:-}
find_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }'
}
if [ -z "$pkg" ]; then
	pkg=$(find_pkg)
	if [ -z "$pkg" ]; then
		echo "berth-vm: apt does not know linux-image-amd64 yet: running apt-get update" >&2
		apt_get update || die "apt-get update failed"
		pkg=$(find_pkg)
	fi
	[ -n "$pkg" ] || die "cannot find the kernel package: apt-cache depends linux-image-amd64 names no linux-image-*-amd64"
fi
if [ -f "$vm_cache/$pkg/.complete" ]; then
	ln -sfn "$pkg" "$vm_cache/kernel"
	readlink -f "$vm_cache/kernel"
	exit 0
fi

mkdir -p "$vm_cache"
tmp=$(mktemp -d "$vm_cache/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "berth-vm: downloading $pkg" >&2
(cd "$tmp" && apt_get download "$pkg" >&2) || die "apt-get download $pkg failed"
dpkg -x "$tmp"/"$pkg"_*.deb "$tmp/x"
rm -f "$tmp"/*.deb
kver=$(ls "$tmp/x/lib/modules")
[ -f "$tmp/x/boot/vmlinuz-$kver" ] || die "$pkg holds no boot/vmlinuz-$kver"
command -v busybox >/dev/null || die "busybox is missing: run test/vm/install-deps.sh"
busybox depmod -b "$tmp/x" "$kver"
touch "$tmp/x/.complete"
rm -rf "${vm_cache:?}/$pkg"
mv -T "$tmp/x" "$vm_cache/$pkg"
ln -sfn "$pkg" "$vm_cache/kernel"
echo "berth-vm: kernel $kver unpacked in $vm_cache/$pkg" >&2
readlink -f "$vm_cache/kernel"
