#!/usr/bin/env bash
# systemd-root.sh ROOT: puts the host's systemd (Debian 12's 252) and
# systemctl, with the libraries they link, into the guest's root tree ROOT
# that run.sh builds, with just the units the test run needs: /init hands
# over to systemd (stage 2 sees /etc/berth-vm/systemd), and systemd's
# default target is a oneshot service that runs the tests (/init payload)
# and powers the VM off with their status on the console as usual.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
root=${1:?usage: $0 ROOT}

sd=/lib/systemd/systemd
[ -x $sd ] || die "BERTH_VM_INIT=systemd needs $sd (apt-get install systemd)"
sysctl=$(command -v systemctl) || die "BERTH_VM_INIT=systemd needs systemctl"
for bin in $sd "$sysctl"; do
	for f in "$bin" $(ldd "$bin" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$f")"
		cp -L --remove-destination "$f" "$root$f"
	done
done
units=$root/etc/systemd/system
mkdir -p "$units" "$root/var/lib" "$root/var/log"
# The slices systemd expects to find as files; -.slice and init.scope are
# built in.
for u in system.slice machine.slice user.slice; do
	[ ! -f "/lib/systemd/system/$u" ] || cp "/lib/systemd/system/$u" "$units/$u"
done
cat >"$units/berth-vm.service" <<'UNIT'
[Unit]
Description=berth tests
DefaultDependencies=no

[Service]
Type=oneshot
ExecStart=/init payload
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/console
UNIT
cat >"$units/berth-vm.target" <<'UNIT'
[Unit]
Description=berth test run
Requires=berth-vm.service
After=berth-vm.service
UNIT
ln -s berth-vm.target "$units/default.target"
[ ! -f /etc/os-release ] || cp -L /etc/os-release "$root/etc/os-release"
: >"$root/etc/machine-id"
touch "$root/etc/berth-vm/systemd"
