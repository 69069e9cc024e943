#!/usr/bin/env bash
# run.sh PAYLOAD_DIR [-- TEST_ARGS...]
#
# Boots a qemu VM whose only cgroup hierarchy is cgroup2, copies PAYLOAD_DIR
# into it at /payload and runs, as root in the cgroup /sys/fs/cgroup/test:
#   cd /payload && BERTH_BIN=/payload/berth BERTH_CGROUP_EXPECT=v2 \
#     ./integration.test -test.v TEST_ARGS...      (default: -test.run Cgroup)
# The guest's output is streamed to stdout; the exit status is the test
# binary's. Setup, boot and timeout failures print one "berth-vm:" line on
# stderr and exit 2, 125 and 124. See README.md for the knobs.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

usage() { die "usage: $0 PAYLOAD_DIR [-- TEST_ARGS...]"; }
[ $# -ge 1 ] || usage
payload=$1
shift
[ "${1:-}" != -- ] || shift
[ $# -gt 0 ] || set -- -test.run Cgroup

timeout_s=${BERTH_VM_TIMEOUT:-900}
mem=${BERTH_VM_MEM:-1024}
smp=${BERTH_VM_SMP:-2}
# Modules put in the guest (with their dependencies) for tests that need
# them; the guest loads overlay, the kernel loads the others on demand.
modules=${BERTH_VM_MODULES:-overlay veth bridge br_netfilter dummy macvlan ipvlan tun
	nf_tables nft_chain_nat nft_ct nft_nat nft_masq nft_redir nft_reject_inet
	nft_fib_inet nft_compat nf_conntrack nf_nat crc32c_generic loop
	unix_diag inet_diag tcp_diag udp_diag netlink_diag af_packet_diag}
# Host programs put in the guest with the libraries they link, for tests
# that need more than busybox has (busybox's ip has no netns).
tools=${BERTH_VM_TOOLS:-ip nsenter nft}
# For the rootless tests: shadow's useradd, usermod and userdel (the
# test's user and its /etc/subuid lines), newuidmap and newgidmap (setuid
# root, kept so), util-linux's setpriv and unshare, and slirp4netns.
rootless_tools=${BERTH_VM_ROOTLESS_TOOLS:-useradd usermod userdel newuidmap newgidmap setpriv unshare slirp4netns}
# Copied when the host has them: criu and GNU tar (its tmpfs images), for
# the checkpoint tests (CRIU needs the socket diag modules above); podman,
# conmon and runc; pasta (passt), which runs pasta.avx2 where the CPU has
# AVX2.
optional_tools=${BERTH_VM_OPTIONAL_TOOLS:-criu tar podman conmon runc pasta pasta.avx2}

[ -d "$payload" ] || die "payload directory $payload does not exist"
for f in berth integration.test; do
	[ -f "$payload/$f" ] || die "payload directory $payload has no $f"
done
[ -x "$payload/integration.test" ] || die "$payload/integration.test is not executable"
for c in qemu-system-x86_64 cpio timeout; do
	command -v "$c" >/dev/null || die "$c is missing: run test/vm/install-deps.sh"
done
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
	die "/bin/busybox is missing or not static: run test/vm/install-deps.sh (busybox-static)"
fi

kdir=$("$vm_dir/fetch-kernel.sh") || die "no kernel: run test/vm/install-deps.sh"
kver=$(ls "$kdir/lib/modules")
kernel=$kdir/boot/vmlinuz-$kver

tmp=$(mktemp -d "${TMPDIR:-/tmp}/berth-vm.XXXXXX")
qpid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -z "$qpid" ] || kill -TERM "$qpid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "berth-vm: interrupted" >&2; exit 130' INT TERM HUP

# The guest's root filesystem: busybox with its applets, /init, a few
# files in /etc, the modules and the payload.
root=$tmp/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/berth-vm,proc,sys,dev,tmp,run,root,mnt,payload}
# The host tools first, so busybox's links do not take their places.
# --remove-destination: never write through a link in the guest's tree,
# which may point at the host's own files. --preserve=mode keeps the
# setuid bit of newuidmap and newgidmap (cpio makes root the owner).
for t in $tools $rootless_tools $optional_tools; do
	if ! bin=$(command -v "$t"); then
		case " $optional_tools " in *" $t "*) continue ;; esac
		die "$t is missing: run test/vm/install-deps.sh"
	fi
	for f in "$bin" $(ldd "$bin" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$f")"
		cp -L --preserve=mode --remove-destination "$f" "$root$f"
	done
done
cp /bin/busybox "$root/bin/busybox"
for a in $("$root/bin/busybox" --list-full); do
	[ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
done
install -m 0755 "$vm_dir/init.sh" "$root/init"
# BERTH_VM_INIT=systemd: the host's systemd boots the guest as PID 1 and
# runs the tests from a oneshot unit (for berth-oci's systemd cgroup
# driver); see README.md.
if [ "${BERTH_VM_INIT:-busybox}" = systemd ]; then
	"$vm_dir/systemd-root.sh" "$root" || die "cannot put systemd in the guest"
fi
[ "$(id -u)" != 0 ] || mknod -m 600 "$root/dev/console" c 5 1
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' >"$root/etc/group"
# What useradd, usermod and userdel edit or read besides (the rootless
# tests' user): the shadow files, empty /etc/subuid and /etc/subgid (usermod
# -v needs them to exist), the host's login.defs, a skeleton and /home.
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' >"$root/etc/shadow"
printf 'root:*::\ntty:*::\nnogroup:*::\n' >"$root/etc/gshadow"
chmod 0640 "$root/etc/shadow" "$root/etc/gshadow"
: >"$root/etc/subuid"
: >"$root/etc/subgid"
for f in /etc/login.defs /etc/default/useradd; do
	[ ! -f "$f" ] || install -D -m 0644 "$f" "$root$f"
done
mkdir -p "$root/etc/skel" "$root/home" "$root/var/mail"
printf '127.0.0.1\tlocalhost berth-vm\n::1\tlocalhost\n' >"$root/etc/hosts"
# No DNS (no network), but the file is there, as on any host: ip netns
# exec binds /etc/netns/NAME/resolv.conf over it (TestRootlessPasta).
: >"$root/etc/resolv.conf"
{
	printf 'set --'
	for a in "$@"; do printf " '%s'" "${a//\'/\'\\\'\'}"; done
	printf '\n'
} >"$root/etc/berth-vm/args.sh"

mods=$kdir/lib/modules/$kver
mkdir -p "$root/lib/modules/$kver"
cp "$mods"/modules.builtin* "$mods/modules.order" "$root/lib/modules/$kver/"
awk -v want="$modules" '
	BEGIN { n = split(want, w); for (i = 1; i <= n; i++) { gsub(/-/, "_", w[i]); W[w[i]] = 1 } }
	{
		sub(/:$/, "", $1); m = $1; sub(/.*\//, "", m); sub(/\.ko.*/, "", m); gsub(/-/, "_", m)
		if (m in W) { found[m] = 1; for (i = 1; i <= NF; i++) print $i }
	}
	END { for (m in W) if (!(m in found)) print "berth-vm: no module " m " in this kernel" > "/dev/stderr" }
' "$mods/modules.dep" | sort -u | while read -r m; do
	mkdir -p "$root/lib/modules/$kver/$(dirname "$m")"
	cp "$mods/$m" "$root/lib/modules/$kver/$m"
done
busybox depmod -b "$root" "$kver"

cp -a "$payload/." "$root/payload/"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$tmp/initrd"

# systemd: the unified hierarchy, no status lines or logs on the console
# (the tests' output goes there), no attempt to read a machine ID.
sd_append=
[ "${BERTH_VM_INIT:-busybox}" != systemd ] ||
	sd_append="systemd.unified_cgroup_hierarchy=1 systemd.show_status=0 systemd.log_level=warning systemd.log_target=kmsg"

# Boot. The console goes through a fifo so that this shell can wait for
# qemu (and stop it when interrupted) while the output is streamed.
log=$tmp/console.log
mkfifo "$tmp/console"
# Drop carriage returns and the firmware's terminal escapes.
sed -u 's/\r$//; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' <"$tmp/console" | tee "$log" &
teepid=$!
start=$(date +%s)
timeout -k 10 "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -m "$mem" -smp "$smp" \
	-nographic -no-reboot -nic none \
	-kernel "$kernel" -initrd "$tmp/initrd" \
	-append "console=ttyS0 panic=-1 quiet $sd_append ${BERTH_VM_APPEND:-}" \
	</dev/null >"$tmp/console" &
qpid=$!
qrc=0
wait "$qpid" || qrc=$?
qpid=
wait "$teepid" || true
wall=$(($(date +%s) - start))

rc=$(sed -n 's/^BERTH_VM_EXIT=\([0-9][0-9]*\)$/\1/p' "$log" | tail -n 1)
if [ -n "$rc" ]; then
	echo "berth-vm: guest tests exited with status $rc (VM wall time ${wall}s)" >&2
	exit "$rc"
fi
why=$(sed -n 's/^BERTH_VM_SETUP_FAILED: //p' "$log" | tail -n 1)
if [ -n "$why" ]; then
	echo "berth-vm: guest setup failed: $why (${wall}s)" >&2
elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "berth-vm: VM timed out after ${timeout_s}s without reporting a test status (BERTH_VM_TIMEOUT)" >&2
	exit 124
elif panic=$(grep -a -o -m 1 'Kernel panic.*' "$log"); then
	echo "berth-vm: VM did not boot: $panic" >&2
else
	echo "berth-vm: VM stopped after ${wall}s (qemu status $qrc) without reporting a test status (console output above)" >&2
fi
exit 125
