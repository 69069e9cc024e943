#!/bin/bash
# bench/userns.sh: user namespaces and rootless berth against podman,
# written to the "## User namespaces and rootless" section of docs/bench.md
# (only that section is replaced; it is appended if missing).
#
# What it does, everything under one temp dir on tmpfs (/dev/shm):
#   1. makes a busybox image offline (scripts/mkrootfs.sh, tarred) and
#      imports it into a private berth store (berth image import) and a
#      private podman store (podman import; --root, --runroot and --tmpdir
#      in the temp dir, file locks instead of the host's /dev/shm/libpod_lock,
#      containers under a cgroup parent of its own), so that the host's
#      podman storage is never touched;
#   2. rootful start-up, in ONE private mount namespace in which
#      /sys/fs/cgroup/unified is unmounted (crun 1.8.1, podman's runtime,
#      refuses hybrid hosts; berth runs there too so both pay the same):
#        berth run --rm --network none --userns=host IMG true
#        berth run --rm --network none --userns=auto IMG true
#        podman run --rm --network none IMG true
#        podman run --rm --network none --userns=auto IMG true
#      podman's auto needs a `containers` line in /etc/subuid and
#      /etc/subgid: one is added (above every range listed) and exactly that
#      line is removed at the end, even on failure;
#   3. rootless start-up: a bench user (useradd berth-bench-XXXXXX, with
#      its own subordinate IDs, a HOME and an XDG_RUNTIME_DIR in the temp
#      dir) runs `berth run --rm --network none IMG true` against rootless
#      `podman run --rm --network none IMG true`, each with its own copy of
#      the image in its own storage;
#   4. each set back to back and cold (sleep 0.25 before each run) with
#      hyperfine -N, in as many passes as it has commands, the order rotated
#      by one each pass (hyperfine runs all of one command's runs before the
#      next's: a busy neighbour would otherwise favour one command); medians
#      and quartiles from the per-run times of all passes;
#   5. TCP throughput container -> host with iperf3 in a network namespace
#      of its own (the "bench netns", which plays the host; nothing else is
#      reached): the server listens on 10.254.254.1, an address on lo
#      there (not 127.0.0.0/8, which slirp4netns keeps out of reach), and the clients are
#        loopback       iperf3 in the bench netns itself
#        rootful        berth run --network bridge (berth0, veth, in the
#                       bench netns)
#        rootless pasta the bench user's berth run --network pasta (what
#                       --network bridge is with pasta installed; pasta,
#                       which berth starts in the bench netns)
#        rootless       the bench user's berth run --network slirp4netns
#        rootless podman  the bench user's podman run --network slirp4netns
#      the rootless runs see a /dev/net/tun open to the user through a
#      private bind mount (the host's node is 0600 here and is not changed);
#   6. writes the section; raw JSON goes to bench/results/userns-*;
#   7. removes the user, its subordinate ID lines, the containers line, the
#      podman stores, the cgroup parent, the bench netns and the temp dir.
#
# Usage: bench/userns.sh   (make bench runs it last; BENCH_USERNS=0 skips it)
# Environment:
#   BENCH_USERNS_RUNS=N       back-to-back runs per command (default 100)
#   BENCH_USERNS_COLD_RUNS=N  cold runs per command (default 30)
#   BENCH_USERNS_ROOTLESS=0   skip the rootless parts (start-up and iperf3)
#   BENCH_USERNS_IPERF=0      skip iperf3
#   BENCH_USERNS_SECONDS=N    seconds per iperf3 test (default 10)
#   BENCH_USERNS_REPS=N       iperf3 repetitions, median taken (default 3)
#   BENCH_OUT=FILE            report to update (default docs/bench.md)
#   BERTH=PATH                benchmark this berth binary (with berth-init
#                             and berth-nsenter next to it) instead of bin/
# Needs root, podman, crun, hyperfine, jq, iperf3, slirp4netns, pasta, newuidmap
# and newgidmap (uidmap), useradd/usermod/userdel, setpriv, busybox-static.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$REPO/bench/results
OUT=${BENCH_OUT:-$REPO/docs/bench.md}
RUNS=${BENCH_USERNS_RUNS:-100}
COLD_RUNS=${BENCH_USERNS_COLD_RUNS:-30}
ROOTLESS=${BENCH_USERNS_ROOTLESS:-1}
IPERF=${BENCH_USERNS_IPERF:-1}
SECS=${BENCH_USERNS_SECONDS:-10}
REPS=${BENCH_USERNS_REPS:-3}
SERVER=10.254.254.1 # the iperf3 server's address, on lo in the bench netns
PORT=5201
SUBCOUNT=65536

[ "$(id -u)" = 0 ] || { echo "bench/userns: needs root" >&2; exit 1; }
tools="podman crun hyperfine jq unshare setpriv useradd usermod userdel"
[ "$ROOTLESS" = 0 ] || tools="$tools newuidmap newgidmap"
[ "$IPERF" = 0 ] || tools="$tools iperf3 ip ss nsenter ldd"
[ "$IPERF" = 0 ] || [ "$ROOTLESS" = 0 ] || tools="$tools slirp4netns pasta"
for tool in $tools; do
	command -v "$tool" >/dev/null || { echo "bench/userns: $tool not found (apt-get install podman crun hyperfine jq iperf3 slirp4netns passt uidmap)" >&2; exit 1; }
done
if ! [ -x /bin/busybox ] || ! /bin/busybox --list | grep -qx sh; then
	echo "bench/userns: need a static /bin/busybox (apt-get install busybox-static)" >&2; exit 1
fi

WORK=$(mktemp -d /dev/shm/berth-bench-userns.XXXXXX)
# Container root of --userns=auto is an unmapped ID on the host: the store
# below must be reachable by it (a 0700 parent refuses the overlay mount).
chmod 0755 "$WORK"
TAG=berth-bench-userns-$$
CGPARENT=/$TAG             # podman's rootful containers and conmons go below this
NS=$TAG                    # the bench netns
CONF=$WORK/containers.conf # podman's configuration for the bench
PR=$WORK/podman            # podman's rootful store
BR=$WORK/berth             # berth's rootful store
CONTAINERS_LINE=           # the line added to /etc/subuid and /etc/subgid
BERTH_LINE_BEFORE=$(grep -c '^berth:' /etc/subuid || true)
UNAME=                     # the bench user, once created
USUB=                      # its subordinate range, START-END
SRV_PID=

# remove_line FILE LINE: removes the first line of FILE equal to LINE,
# and no other; the file keeps its inode, owner and mode.
remove_line() {
	local f=$1 l=$2 tmp
	grep -qxF -- "$l" "$f" || return 0
	tmp=$(mktemp)
	awk -v l="$l" '!done && $0 == l { done = 1; next } { print }' "$f" >"$tmp" && cat "$tmp" >"$f"
	rm -f "$tmp"
}
# pids_of UID: the processes running as UID (real uid).
pids_of() {
	awk -v u="$1" '/^Uid:/ { if ($2 == u) { split(FILENAME, p, "/"); print p[3] } nextfile }' /proc/[0-9]*/status 2>/dev/null || true
}

cleanup() {
	set +e
	if [ -n "$SRV_PID" ]; then kill -TERM "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; fi
	if [ -n "$UNAME" ]; then
		# Only the script's own processes run as the fresh user (podman's
		# rootless pause process, conmon, slirp4netns, if any are left).
		uid=$(id -u "$UNAME" 2>/dev/null)
		if [ -n "$uid" ]; then
			for p in $(pids_of "$uid"); do kill -KILL "$p" 2>/dev/null; done
			sleep 0.2
		fi
		[ -n "$USUB" ] && usermod -V "$USUB" -W "$USUB" "$UNAME"
		userdel -r "$UNAME" 2>&1 | grep -v 'mail spool' >&2
		for f in /etc/subuid /etc/subgid; do
			grep -q "^$UNAME:" "$f" && echo "bench/userns: $f still lists $UNAME" >&2
		done
	fi
	if [ -d "$PR" ]; then
		podman_root ps -aq 2>/dev/null | while read -r c; do podman_root rm -f "$c" >/dev/null 2>&1; done
	fi
	for rec in "$BR"/run/*/state.json; do
		[ -f "$rec" ] || continue
		echo "bench/userns: berth left a container record: $rec" >&2
		for d in $(jq -r '.cgroupDirs[]?' "$rec" | sort -r); do rmdir "$d" 2>/dev/null; done
	done
	if [ -n "$CONTAINERS_LINE" ]; then
		remove_line /etc/subuid "$CONTAINERS_LINE"
		remove_line /etc/subgid "$CONTAINERS_LINE"
	fi
	# berth adds its own line on first use; if this run made it, it goes.
	if [ "$BERTH_LINE_BEFORE" = 0 ]; then
		for f in /etc/subuid /etc/subgid; do
			l=$(grep '^berth:' "$f" | head -n1)
			[ -n "$l" ] && remove_line "$f" "$l"
		done
	fi
	# The cgroup parent of podman's containers, deepest first; conmon
	# exits a moment after `podman run --rm` returns. Where a controller
	# has no hierarchy mounted (hugetlb, perf_event, net_cls here) conmon
	# made plain directories on /sys/fs/cgroup's tmpfs: those go with rm.
	for c in /sys/fs/cgroup/*/"$TAG"; do
		[ -d "$c" ] || continue
		if [ "$(stat -f -c %T "$c")" = tmpfs ]; then rm -rf "$c"; continue; fi
		for _ in $(seq 30); do
			find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$c" ] || break
			sleep 0.1
		done
		[ -d "$c" ] && echo "bench/userns: cgroup $c left" >&2
	done
	ip netns del "$NS" 2>/dev/null
	# Anything still mounted under the temp dir, deepest first.
	awk -v w="$WORK" '$5 == w || index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount "$m" || umount -l "$m"; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Binaries: a private copy (others may rebuild bin/ while this runs).
if [ -n "${BERTH:-}" ]; then
	BUILT="${BERTH#"$REPO"/} (as given in BERTH)"
else
	echo "== make build"
	(cd "$REPO" && make build >/dev/null)
	BERTH=$REPO/bin/berth
	BUILT="bin/berth (make build)"
fi
[ -x "$BERTH" ] || { echo "bench/userns: $BERTH is not executable" >&2; exit 1; }
mkdir -p "$WORK/bin"
for b in berth berth-init berth-nsenter berth-oci; do
	[ -x "$(dirname "$BERTH")/$b" ] && cp "$(dirname "$BERTH")/$b" "$WORK/bin/$b"
done
cp "$BERTH" "$WORK/bin/berth"
chmod 0755 "$WORK/bin"
BERTH=$WORK/bin/berth
COMMIT=$("$BERTH" --version 2>/dev/null | awk '{print $NF}')
if [ -z "$COMMIT" ] || [ "$COMMIT" = dev ]; then COMMIT=$(git -C "$REPO" describe --always); fi

# podman: its own store, file locks (not the host's /dev/shm/libpod_lock),
# no events, cgroupfs. Its default ulimits (nofile 1048576) exceed this
# machine's hard limit and root lacks CAP_SYS_RESOURCE: lower them.
cat >"$CONF" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
lock_type = "file"
events_logger = "none"
cgroup_manager = "cgroupfs"
EOF
chmod 0644 "$CONF"
export CONTAINERS_CONF=$CONF
podman_root() { podman --root "$PR/root" --runroot "$PR/run" --tmpdir "$PR/tmp" --storage-driver overlay "$@"; }
berth_root() { "$BERTH" --root "$BR/root" --runroot "$BR/run" "$@"; }

echo "== busybox image in $WORK"
mkdir -m 0755 "$BR" "$PR"
RFS=$WORK/rootfs
bash "$REPO/scripts/mkrootfs.sh" "$RFS" >/dev/null
tar -C "$RFS" -cf "$WORK/busybox.tar" .
chmod 0644 "$WORK/busybox.tar"
berth_root image import "$WORK/busybox.tar" bench-busybox >/dev/null
podman_root import -q "$WORK/busybox.tar" localhost/bench-busybox >/dev/null
IMG_BERTH=bench-busybox
IMG_PODMAN=localhost/bench-busybox

# A `containers` line for podman's --userns=auto (unless the host has one),
# above every range the files list, so that it overlaps none.
free_start() {
	cat /etc/subuid /etc/subgid | awk -F: 'NF == 3 && $2 + $3 > e { e = $2 + $3 } END { e = e < 1048576 ? 1048576 : e; printf "%d\n", (int(e / 65536) + 1) * 65536 }'
}
# berth makes its own line on its first --userns=auto: run one first.
berth_root run --rm --network none --userns=auto "$IMG_BERTH" true
if grep -q '^containers:' /etc/subuid && grep -q '^containers:' /etc/subgid; then
	echo "== using the host's containers lines"
else
	CONTAINERS_LINE="containers:$(free_start):$((SUBCOUNT * 16))"
	echo "== adding $CONTAINERS_LINE to /etc/subuid and /etc/subgid"
	echo "$CONTAINERS_LINE" >>/etc/subuid
	echo "$CONTAINERS_LINE" >>/etc/subgid
fi

mkdir -p "$RESULTS"
rm -f "$RESULTS"/userns-*.json

HF_DIR=$WORK # where hyperfine writes its JSON (the user's own dir for the rootless set)
# measure SET NAMES... -- COMMANDS...: hyperfine over the commands, back to
# back and cold, in one pass per command with the order rotated; RUNNER is
# prefixed to hyperfine (a namespace, a user).
measure() {
	local set=$1 n pass k j b2b cold warm
	shift
	local names=() cmds=()
	while [ "$1" != -- ]; do names+=("$1"); shift; done
	shift
	cmds=("$@")
	n=${#names[@]}
	b2b=$(((RUNS + n - 1) / n))
	cold=$(((COLD_RUNS + n - 1) / n))
	warm=5
	[ "$b2b" -lt 10 ] && warm=2
	for pass in $(seq 0 $((n - 1))); do
		local hf=()
		for k in $(seq 0 $((n - 1))); do
			j=$(((k + pass) % n))
			hf+=(-n "${names[j]}" "${cmds[j]}")
		done
		echo "== $set, back to back, pass $((pass + 1)) of $n: $b2b runs"
		"${RUNNER[@]}" hyperfine -N --style basic --warmup $warm --runs "$b2b" \
			--export-json "$HF_DIR/hf.json" "${hf[@]}"
		cp "$HF_DIR/hf.json" "$RESULTS/userns-$set-b2b-$pass.json"
		echo "== $set, cold (sleep 0.25 before each run), pass $((pass + 1)) of $n: $cold runs"
		"${RUNNER[@]}" hyperfine -N --style basic --warmup 2 --runs "$cold" --prepare 'sleep 0.25' \
			--export-json "$HF_DIR/hf.json" "${hf[@]}"
		cp "$HF_DIR/hf.json" "$RESULTS/userns-$set-cold-$pass.json"
	done
}
# smoke COMMAND...: each command once, visibly, so that a failure says why.
smoke() {
	local c
	for c in "$@"; do
		echo "+ $c"
		# shellcheck disable=SC2086 # the command's words
		"${RUNNER[@]}" $c || { echo "bench/userns: command failed (status $?): $c" >&2; exit 1; }
	done
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)

# ---------------------------------------------------------------------------
# Rootful start-up.
# ---------------------------------------------------------------------------
B="$BERTH --root $BR/root --runroot $BR/run"
P="podman --root $PR/root --runroot $PR/run --tmpdir $PR/tmp --storage-driver overlay"
PRUN="run --rm --network none --cgroup-parent $CGPARENT"
ROOTFUL_NAMES=(berth berth-auto podman podman-auto)
ROOTFUL_CMDS=(
	"$B run --rm --network none --userns=host $IMG_BERTH true"
	"$B run --rm --network none --userns=auto $IMG_BERTH true"
	"$P $PRUN $IMG_PODMAN true"
	"$P $PRUN --userns=auto $IMG_PODMAN true"
)
# The private mount namespace without the cgroup2 mount of a hybrid host
# (the host's mounts are not touched: / is private there), and with a
# /dev/null of its own: hyperfine gives every run /dev/null as stdin, and
# crun 1.8.1 (podman's runtime) chowns a user-namespaced container's stdio
# to the container's root, which made the host's /dev/null belong to
# podman's auto range (runc's bug 3674, which berth-oci passes).
mkdir -m 0700 "$WORK/devnull"
mknod -m 0666 "$WORK/devnull/null" c 1 3
RUNNER=(unshare -m --propagation private sh -c
	'if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified || exit 1; fi
	 mount --bind "$0" /dev/null || exit 1
	 exec "$@"' "$WORK/devnull/null")
smoke "${ROOTFUL_CMDS[@]}"
# What each sees as its uid_map, for the report.
# shellcheck disable=SC2086
MAP_BERTH_AUTO=$("${RUNNER[@]}" $B run --rm --network none --userns=auto $IMG_BERTH cat /proc/self/uid_map | awk '{$1=$1; print}')
# shellcheck disable=SC2086
MAP_PODMAN_AUTO=$("${RUNNER[@]}" $P $PRUN --userns=auto $IMG_PODMAN cat /proc/self/uid_map | awk '{$1=$1; print}')
echo "   uid_map: berth auto: $MAP_BERTH_AUTO; podman auto: $MAP_PODMAN_AUTO"
measure rootful "${ROOTFUL_NAMES[@]}" -- "${ROOTFUL_CMDS[@]}"

# ---------------------------------------------------------------------------
# The bench user, for the rootless parts.
# ---------------------------------------------------------------------------
ROOTLESS_NOTE=
if [ "$ROOTLESS" != 0 ]; then
	UNAME=berth-bench-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	UHOME=$WORK/home
	URUN=$WORK/run-user
	useradd -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 -U -m -d "$UHOME" -s /bin/sh "$UNAME"
	UUID=$(id -u "$UNAME"); UGID=$(id -g "$UNAME")
	mkdir -m 0700 "$URUN"
	chown "$UUID:$UGID" "$URUN"
	s=$(free_start)
	USUB="$s-$((s + SUBCOUNT - 1))"
	usermod -v "$USUB" -w "$USUB" "$UNAME"
	echo "== bench user $UNAME ($UUID), subordinate IDs $USUB"
	# A /dev/net/tun open to the user, for slirp4netns, in a private mount
	# namespace only (root's 0700 WORK/tun: only the bind mount reaches it).
	mkdir -m 0700 "$WORK/tun"
	mknod -m 0666 "$WORK/tun/tun" c 10 200
	# as_user: the rest of the command line as the bench user, with its own
	# environment, in a private mount namespace (unified unmounted, as for
	# the rootful set; /dev/net/tun as above).
	USER_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		HOME="$UHOME" USER="$UNAME" LOGNAME="$UNAME" XDG_RUNTIME_DIR="$URUN"
		XDG_DATA_HOME="$UHOME/.local/share" XDG_CONFIG_HOME="$UHOME/.config" CONTAINERS_CONF="$CONF")
	RUNNER=(unshare -m --propagation private sh -c
		'if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified || exit 1; fi
		 mount --bind "$0" /dev/net/tun || exit 1
		 cd "$1" && shift && exec "$@"' "$WORK/tun/tun" "$UHOME"
		"${USER_ENV[@]}" setpriv --reuid="$UUID" --regid="$UGID" --clear-groups --)
	UP="podman --root $UHOME/podman/root --runroot $URUN/podman --tmpdir $URUN/podman-tmp --storage-driver overlay"
	# shellcheck disable=SC2086
	if ! "${RUNNER[@]}" "$BERTH" image import "$WORK/busybox.tar" bench-busybox >/dev/null; then
		ROOTLESS_NOTE="rootless berth could not import the image"
	fi
	# shellcheck disable=SC2086
	"${RUNNER[@]}" $UP import -q "$WORK/busybox.tar" localhost/bench-busybox >/dev/null
	ROOTLESS_NAMES=(berth-rootless podman-rootless)
	ROOTLESS_CMDS=(
		"$BERTH run --rm --network none $IMG_BERTH true"
		"$UP run --rm --network none $IMG_PODMAN true"
	)
	if [ -z "$ROOTLESS_NOTE" ]; then
		smoke "${ROOTLESS_CMDS[@]}"
		# shellcheck disable=SC2086
		MAP_BERTH_RL=$("${RUNNER[@]}" $BERTH run --rm --network none $IMG_BERTH cat /proc/self/uid_map | awk '{$1=$1; print}' | paste -sd';' -)
		# shellcheck disable=SC2086
		MAP_PODMAN_RL=$("${RUNNER[@]}" $UP run --rm --network none $IMG_PODMAN cat /proc/self/uid_map | awk '{$1=$1; print}' | paste -sd';' -)
		echo "   uid_map: rootless berth: $MAP_BERTH_RL; rootless podman: $MAP_PODMAN_RL"
		HF_DIR=$URUN
		measure rootless "${ROOTLESS_NAMES[@]}" -- "${ROOTLESS_CMDS[@]}"
	fi
fi
ELAPSED_START=$(($(date +%s) - START))

# ---------------------------------------------------------------------------
# iperf3, container -> host.
# ---------------------------------------------------------------------------
IPERF_CASES=
if [ "$IPERF" != 0 ]; then
	echo "== rootfs with busybox and iperf3"
	NR=$WORK/iperf-rootfs
	mkdir -p "$NR"/bin "$NR"/etc "$NR"/proc "$NR"/sys "$NR"/dev "$NR"/tmp "$NR"/root
	cp /bin/busybox "$NR"/bin/busybox
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$NR/bin/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$NR"/etc/passwd
	echo 'root:x:0:' >"$NR"/etc/group
	IPERF_BIN=$(command -v iperf3)
	# shellcheck disable=SC2046 # one word per path
	cp -L --parents "$IPERF_BIN" $(ldd "$IPERF_BIN" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }') "$NR"/
	chroot "$NR" "$IPERF_BIN" --version >/dev/null
	tar -C "$NR" -cf "$WORK/iperf.tar" .
	chmod 0644 "$WORK/iperf.tar"
	# An image, not --rootfs: a rootless container's root cannot write to
	# a root-owned directory (iperf3 makes a temp file per stream).
	berth_root image import "$WORK/iperf.tar" bench-iperf >/dev/null

	echo "== bench netns $NS, server on $SERVER"
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	# On lo (this kernel has no dummy devices): a local address of the
	# bench netns that is not 127.0.0.0/8, which slirp4netns refuses.
	ip -n "$NS" addr add "$SERVER/32" dev lo
	# pasta takes its outside interface from the default route, and
	# refuses to start without one: a veth pair of the netns's own, whose
	# peer leads nowhere, gives it one.
	ip -n "$NS" link add bench0 type veth peer name bench1
	ip -n "$NS" addr add 198.18.0.1/24 dev bench0
	ip -n "$NS" link set bench0 up
	ip -n "$NS" link set bench1 up
	ip -n "$NS" route add default via 198.18.0.254 dev bench0
	NSENTER=(nsenter "--net=/run/netns/$NS")
	"${NSENTER[@]}" iperf3 -s -B "$SERVER" -p $PORT >"$WORK/server.log" 2>&1 &
	SRV_PID=$!
	for _ in $(seq 100); do
		[ -n "$("${NSENTER[@]}" ss -Hltn "sport = :$PORT")" ] && break
		sleep 0.1
	done

	IPERF_CASES="loopback rootful"
	if [ "$ROOTLESS" != 0 ] && [ -z "$ROOTLESS_NOTE" ]; then
		# The user's runs enter the bench netns first (as root), so that
		# slirp4netns, which berth and podman start, opens its sockets there.
		USER_NET=("${NSENTER[@]}" "${RUNNER[@]}")
		# shellcheck disable=SC2086
		"${USER_NET[@]}" $UP import -q "$WORK/iperf.tar" localhost/bench-iperf >/dev/null
		"${USER_NET[@]}" "$BERTH" image import "$WORK/iperf.tar" bench-iperf >/dev/null
		IPERF_CASES="$IPERF_CASES rootless-pasta rootless rootless-podman"
	fi
	# iperf CASE STREAMS SECONDS: one client run, its JSON on stdout.
	iperf() {
		local c=(iperf3 -J -t "$3" -P "$2" -c $SERVER -p $PORT)
		case $1 in
		loopback) "${NSENTER[@]}" "${c[@]}" ;;
		rootful) "${NSENTER[@]}" "$BERTH" --root "$BR/root" --runroot "$BR/run" run --rm --network bridge bench-iperf "${c[@]}" ;;
		rootless-pasta) "${USER_NET[@]}" "$BERTH" run --rm --network pasta bench-iperf "${c[@]}" ;;
		rootless) "${USER_NET[@]}" "$BERTH" run --rm --network slirp4netns bench-iperf "${c[@]}" ;;
		# shellcheck disable=SC2086
		rootless-podman) "${USER_NET[@]}" $UP run --rm --network slirp4netns localhost/bench-iperf "${c[@]}" ;;
		esac
	}
	for c in $IPERF_CASES; do
		echo "+ iperf3 check: $c"
		if ! iperf "$c" 1 1 >"$WORK/check.json" || [ "$(jq -r '.error // empty' "$WORK/check.json")" != "" ]; then
			echo "bench/userns: iperf3 $c failed:" >&2
			jq -r '.error // .' "$WORK/check.json" >&2 || cat "$WORK/check.json" >&2
			exit 1
		fi
	done
	: >"$RESULTS/userns-iperf.tsv"
	for rep in $(seq "$REPS"); do
		for c in $IPERF_CASES; do
			for p in 1 4; do
				echo "== iperf3 $c, $p stream(s), repetition $rep of $REPS"
				iperf "$c" "$p" "$SECS" >"$WORK/iperf.json"
				if [ "$(jq -r '.error // empty' "$WORK/iperf.json")" != "" ]; then
					echo "bench/userns: iperf3 $c: $(jq -r .error "$WORK/iperf.json")" >&2
					exit 1
				fi
				cp "$WORK/iperf.json" "$RESULTS/userns-iperf-$c-$p-$rep.json"
				printf '%s\t%s\t%s\n' "$c" "$p" "$(jq '.end.sum_received.bits_per_second / 1e9' "$WORK/iperf.json")" >>"$RESULTS/userns-iperf.tsv"
			done
		done
	done
	cat "$RESULTS/userns-iperf.tsv"
fi
ELAPSED=$(($(date +%s) - START))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------
# hq SET KIND NAME Q: the Q-quantile of NAME's per-run times in all passes
# of SET's KIND (b2b or cold), ms.
hq() {
	jq -rs --arg n "$3" --argjson q "$4" '
		[.[].results[] | select(.command == $n) | .times[]] | sort
		| ((length - 1) * $q) as $i | (.[$i | floor] + (.[$i | ceil] - .[$i | floor]) * ($i - ($i | floor))) * 1000' \
		"$RESULTS/userns-$1-$2-"*.json
}
fmt() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# start_row SET NAME LABEL
start_row() {
	printf '| %s | **%s** | %s–%s | **%s** | %s–%s |\n' "$3" \
		"$(fmt "$(hq "$1" b2b "$2" 0.5)")" "$(fmt "$(hq "$1" b2b "$2" 0.25)")" "$(fmt "$(hq "$1" b2b "$2" 0.75)")" \
		"$(fmt "$(hq "$1" cold "$2" 0.5)")" "$(fmt "$(hq "$1" cold "$2" 0.25)")" "$(fmt "$(hq "$1" cold "$2" 0.75)")"
}
# ratio_row SET A B LABEL: A's median over B's, back to back and cold.
ratio_row() {
	printf '| %s | %s | %s |\n' "$4" \
		"$(ratio "$(hq "$1" b2b "$2" 0.5)" "$(hq "$1" b2b "$3" 0.5)")" \
		"$(ratio "$(hq "$1" cold "$2" 0.5)" "$(hq "$1" cold "$3" 0.5)")"
}
# gbits CASE STREAMS: median (min–max) of the repetitions, Gbit/s.
gbits() {
	awk -F'\t' -v c="$1" -v p="$2" '$1 == c && $2 == p { print $3 }' "$RESULTS/userns-iperf.tsv" | sort -g |
		awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "**%.1f** (%.1f–%.1f)", m, v[1], v[NR] }'
}
gmed() {
	awk -F'\t' -v c="$1" -v p="$2" '$1 == c && $2 == p { print $3 }' "$RESULTS/userns-iperf.tsv" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
iperf_row() {
	printf '| %s | %s | %s | %s | %s |\n' "$2" "$(gbits "$1" 1)" "$(gbits "$1" 4)" \
		"$(ratio "$(gmed "$1" 1)" "$(gmed rootful 1)")" "$(ratio "$(gmed "$1" 4)" "$(gmed rootful 4)")"
}

SECTION=$WORK/section.md
N_ROOTFUL=${#ROOTFUL_NAMES[@]}
{
	cat <<EOF
## User namespaces and rootless (issue 12)

Generated by \`bench/userns.sh\` (\`make bench\` runs it last;
\`BENCH_USERNS=0\` skips it) on $(date -u '+%Y-%m-%d %H:%M UTC'), berth commit
$COMMIT; binary: $BUILT. $(podman --version), $(crun --version | head -n1),
$(hyperfine --version), $(slirp4netns --version 2>/dev/null | head -n1), pasta $(dpkg-query -W -f '${Version}' passt 2>/dev/null).
Load average before / after: $LOAD_BEFORE / $LOAD_AFTER; the start-up
measurements took ${ELAPSED_START} s, everything ${ELAPSED} s. Raw JSON:
\`bench/results/userns-*\` after a run. As everywhere in this file, **only the
ratios within one table count**: this VM is shared and its speed drifts.

### Start-up, median ms

The same busybox image (scripts/mkrootfs.sh, tarred) imported offline
into each store: \`berth image import\` and \`podman import\`, overlay for
both; stores and state on tmpfs (/dev/shm). Every command is
\`run --rm --network none IMG true\`. Rootful: berth's and podman's stores
are private to the benchmark (podman: \`--root\`, \`--runroot\`, \`--tmpdir\`,
\`--storage-driver overlay\`, a \`containers.conf\` with file locks, no
events, cgroupfs, and nofile/nproc ulimits under this machine's hard
limits; \`--cgroup-parent\` of its own), and all of them run in one private
mount namespace with /sys/fs/cgroup/unified unmounted (podman's runtime,
crun 1.8.1, refuses hybrid hosts). \`--userns=auto\` maps, as seen in
/proc/self/uid_map: berth \`$MAP_BERTH_AUTO\`, podman \`$MAP_PODMAN_AUTO\`
(podman's from a \`containers\` line the script adds to /etc/subuid and
/etc/subgid and removes after, and podman sizes its range from the image's highest ID,
1024 at the least, where berth always takes 65536).

Back to back: $RUNS runs per command after a warm-up; cold: $COLD_RUNS runs,
each after \`sleep 0.25\`. Each set runs in as many hyperfine passes as it
has commands, the order rotated by one each pass; medians and 25th–75th
percentiles from the per-run times of all passes.

\`\`\`
berth  --root R --runroot S run --rm --network none [--userns=host|--userns=auto] bench-busybox true
podman --root R --runroot S --tmpdir T --storage-driver overlay run --rm --network none --cgroup-parent /$TAG [--userns=auto] localhost/bench-busybox true
\`\`\`

| rootful ($N_ROOTFUL commands side by side) | back to back | 25th–75th | cold | 25th–75th |
|---|---:|---:|---:|---:|
$(start_row rootful berth "berth \`--userns=host\`")
$(start_row rootful berth-auto "berth \`--userns=auto\`")
$(start_row rootful podman "podman (no user namespace)")
$(start_row rootful podman-auto "podman \`--userns=auto\`")

| ratio of medians | back to back | cold |
|---|---:|---:|
$(ratio_row rootful berth podman "berth / podman, no user namespace")
$(ratio_row rootful berth-auto podman-auto "**berth / podman, \`--userns=auto\`**")
$(ratio_row rootful berth-auto berth "berth: auto / host (what the user namespace costs)")
$(ratio_row rootful podman-auto podman "podman: auto / none")
EOF
	if [ "$ROOTLESS" = 0 ]; then
		echo
		echo "Rootless: not measured in this run (BENCH_USERNS_ROOTLESS=0)."
	elif [ -n "$ROOTLESS_NOTE" ]; then
		echo
		echo "Rootless: not measured in this run: $ROOTLESS_NOTE."
	else
		cat <<EOF

Rootless: a user the script creates (\`useradd\`, $SUBCOUNT subordinate
IDs of its own, HOME and XDG_RUNTIME_DIR in the temp dir) runs both, each
with its own copy of the image in its own storage (berth under
\$XDG_DATA_HOME/berth, podman under \`--root HOME/podman/root\`), in a
private mount namespace as above. Each maps the user's own ID to 0 and its
subordinate IDs after it: berth \`$MAP_BERTH_RL\`, podman \`$MAP_PODMAN_RL\`.
Neither gets a cgroup (cgroup v1: nothing is delegated to the user).
Rootless podman keeps a pause process holding its user namespace between
commands; rootless berth enters a new one every command.

\`\`\`
berth run --rm --network none bench-busybox true
podman --root HOME/podman/root --runroot RUN/podman --tmpdir RUN/podman-tmp --storage-driver overlay run --rm --network none localhost/bench-busybox true
\`\`\`

| rootless (2 commands side by side) | back to back | 25th–75th | cold | 25th–75th |
|---|---:|---:|---:|---:|
$(start_row rootless berth-rootless "rootless berth")
$(start_row rootless podman-rootless "rootless podman")

| ratio of medians | back to back | cold |
|---|---:|---:|
$(ratio_row rootless berth-rootless podman-rootless "**rootless berth / rootless podman**")
EOF
	fi
	if [ "$IPERF" != 0 ]; then
		cat <<EOF

### TCP throughput container → host, Gbit/s

$(iperf3 --version | head -n1 | awk '{print "iperf3 " $2}'), ${SECS} s per test, **median of $REPS** (min–max in brackets), the
receiver's figure (\`end.sum_received\`); repetitions interleaved (each one
runs every path, 1 then 4 streams). Everything happens in a network
namespace of the script's own, which plays the host: the iperf3 server
listens there on $SERVER, an address on its lo (not 127.0.0.0/8), and nothing
outside that namespace and the containers' own is reached. The rootful
container runs in it (berth0, veth, nftables there, as in the Networking
section); the rootless runs are the bench user's, entered into it, so that
pasta or slirp4netns, which berth (or podman) starts, makes its connections
from there: the container reaches the server through the user-mode stack
(10.0.2.100 → the host's $SERVER; pasta maps the tap device's frames
onto sockets of its own without a TCP stack, slirp4netns runs one), the way a rootless container reaches
any host address other than loopback (loopback stays out of reach, in
berth and in podman). /dev/net/tun is 0600 on this host; the rootless runs
see a 0666 node bind-mounted over it in their own mount namespace. The
client containers run an image (imported into each store) of busybox and
Debian's iperf3 with the libraries \`ldd\` lists.

| path | 1 stream | 4 streams (\`-P 4\`) | 1 stream / rootful | 4 streams / rootful |
|---|---:|---:|---:|---:|
$(iperf_row loopback "no container: client in the bench netns (local delivery)")
$(iperf_row rootful "rootful \`berth run --network bridge\` (veth + berth0)")
EOF
		if [[ " $IPERF_CASES " == *" rootless "* ]]; then
			iperf_row rootless-pasta "**rootless \`berth run --network pasta\`** (= \`--network bridge\` with pasta installed)"
			iperf_row rootless "rootless \`berth run --network slirp4netns\`"
			iperf_row rootless-podman "rootless \`podman run --network slirp4netns\`"
		else
			echo
			echo "Rootless: not measured in this run${ROOTLESS_NOTE:+: $ROOTLESS_NOTE}."
		fi
	fi
} >"$SECTION"

# Replace the section, or append it; the rest of the file stays as it is.
HEADER='## User namespaces and rootless (issue 12)'
if [ -f "$OUT" ] && grep -qxF "$HEADER" "$OUT"; then
	awk -v f="$SECTION" -v h="$HEADER" '
		$0 == h { while ((getline l < f) > 0) print l; skip = 1; next }
		skip && /^## / { skip = 0; print "" }
		!skip { print }' "$OUT" >"$WORK/out.md"
elif [ -f "$OUT" ]; then
	{ cat "$OUT"; echo; cat "$SECTION"; } >"$WORK/out.md"
else
	cp "$SECTION" "$WORK/out.md"
fi
cat "$WORK/out.md" >"$OUT"
echo "== updated the user namespaces section of $OUT"
cat "$SECTION"
