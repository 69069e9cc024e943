#!/bin/busybox sh
# /init of the test VM (busybox sh), put in the initramfs by run.sh.
#
# Stage 1 (PID 1 on the initramfs): copy the whole system into a tmpfs and
# switch_root into it, because pivot_root refuses to move the initramfs.
# Stage 2: mount the usual filesystems, cgroup2 alone at /sys/fs/cgroup,
# run /payload/integration.test in the child cgroup /sys/fs/cgroup/test,
# print "BERTH_VM_EXIT=<status>" on the console and power off.
# /etc/berth-vm/args.sh (written by run.sh) sets the test arguments.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb

fail() {
	echo "BERTH_VM_SETUP_FAILED: $*"
	poweroff -f
	exit 1
}

# run_tests [CGROUP]: runs the test binary (in CGROUP, when given), prints
# its status and powers off.
run_tests() {
	set -- -test.run Cgroup
	. /etc/berth-vm/args.sh
	echo "berth-vm: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
	echo "berth-vm: running ./integration.test -test.v $*"
	cd /payload || fail "no /payload"
	dmesg -c >/dev/null # keep only the tests' kernel messages, shown on failure
	(
		if [ -n "$join" ]; then
			echo 0 >"$join/cgroup.procs" || { echo "berth-vm: cannot join $join"; exit 125; }
		fi
		export BERTH_BIN=/payload/berth BERTH_OCI_BIN=/payload/berth-oci BERTH_CGROUP_EXPECT=v2 BERTH_VM=1 TMPDIR=/tmp
		exec ./integration.test -test.v "$@"
	) </dev/null 2>&1
	rc=$?
	klog=$(dmesg | tail -n 40)
	if [ "$rc" != 0 ] && [ -n "$klog" ]; then
		echo "berth-vm: --- guest kernel messages during the tests (last 40) ---"
		echo "$klog"
	fi
	echo "BERTH_VM_EXIT=$rc"
	sync
	poweroff -f
}

# Under systemd (BERTH_VM_INIT=systemd), the unit berth-vm.service runs
# this: systemd mounted the file systems and owns the cgroup tree; the
# tests run in the service's own cgroup.
if [ "${1:-}" = payload ]; then
	echo 1 >/proc/sys/kernel/printk
	hostname berth-vm
	ip link set lo up || fail "bring up lo"
	modprobe overlay 2>/dev/null || true
	modprobe tun 2>/dev/null || true
	mkdir -p /tmp && mount -t tmpfs -o nosuid,nodev,mode=1777 tmp /tmp || fail "mount /tmp"
	export BERTH_EXPECT_SYSTEMD=1
	join= run_tests
fi

if [ "${1:-}" != stage2 ]; then
	mount -t proc proc /proc || fail "mount /proc"
	mkdir -p /newroot
	mount -t tmpfs -o mode=0755,size=90% root /newroot || fail "mount tmpfs on /newroot"
	for f in /*; do
		case $f in /proc | /sys | /dev | /newroot) continue ;; esac
		cp -a "$f" /newroot/ || fail "copy $f into the tmpfs root"
	done
	mkdir -p /newroot/proc /newroot/sys /newroot/dev
	umount /proc
	# shellcheck disable=SC2093 # returns only on failure
	exec switch_root /newroot /init stage2
	fail "switch_root"
fi

if [ -e /etc/berth-vm/systemd ]; then
	# shellcheck disable=SC2093 # returns only on failure
	exec /lib/systemd/systemd
	fail "exec /lib/systemd/systemd"
fi

mount -t proc -o nosuid,nodev,noexec proc /proc || fail "mount /proc"
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || fail "mount /sys"
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev || fail "mount /dev"
mkdir -p /dev/pts /dev/shm
mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=666 devpts /dev/pts || fail "mount /dev/pts"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm /dev/shm || fail "mount /dev/shm"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp /tmp || fail "mount /tmp"
mount -t tmpfs -o nosuid,nodev,mode=0755 run /run || fail "mount /run"
# cgroup2 alone, with the options systemd uses on a unified host.
mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup ||
	fail "mount cgroup2 on /sys/fs/cgroup"
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
echo 1 >/proc/sys/kernel/printk # keep kernel messages out of the test output
hostname berth-vm
ip link set lo up || fail "bring up lo"
modprobe overlay 2>/dev/null || true
# /dev/net/tun, which the rootless tests bind a node open to all over (as
# udev's rules make it on a Debian host).
modprobe tun 2>/dev/null || true

cg=/sys/fs/cgroup
ctrls=$(cat $cg/cgroup.controllers)
enable="+cpu +memory +pids +io"
for c in cpuset hugetlb; do
	case " $ctrls " in *" $c "*) enable="$enable +$c" ;; esac
done
echo "$enable" >$cg/cgroup.subtree_control || fail "enable '$enable' in $cg/cgroup.subtree_control (have: $ctrls)"
mkdir -p $cg/test || fail "mkdir $cg/test"

join=$cg/test run_tests
