#!/usr/bin/env bash
# install-deps.sh: install what test/vm/run.sh needs on a fresh Debian
# machine (qemu, a static busybox, cpio, the rootless tests' uidmap,
# slirp4netns and passt) and fetch the guest kernel into
# the cache. Idempotent; waits for another apt-get's lock.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "install-deps.sh must run as root (apt-get install)"

pkgs=(qemu-system-x86 busybox-static cpio coreutils iproute2 util-linux nftables criu podman conmon runc systemd
	passwd uidmap slirp4netns passt)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "berth-vm: installing ${missing[*]}" >&2
	if ! apt_get install -y --no-install-recommends "${missing[@]}"; then
		apt_get update || die "apt-get update failed"
		apt_get install -y --no-install-recommends "${missing[@]}" ||
			die "apt-get install ${missing[*]} failed"
	fi
fi

"$vm_dir/fetch-kernel.sh" >/dev/null
