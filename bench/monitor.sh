#!/bin/bash
# bench/monitor.sh: memory held per idle detached container: berth's
# monitor against podman's conmon and containerd's runc shim, on this
# machine, in one run. Writes the "## Monitors" section of docs/bench.md
# (only that section is replaced; it is appended if missing).
#
# What it does, one engine after the other (each one's containers are
# removed before the next one starts):
#   1. berth: N containers `berth run -d --network none --rootfs DIR
#      sleep 100000` from a busybox rootfs (scripts/mkrootfs.sh), then N
#      more `berth run -d --network none busybox sleep 100000` from that
#      rootfs imported as an image (`berth image import`, overlay); the
#      monitors are `[0].State.MonitorPid` of `berth inspect`;
#   2. podman: the same rootfs tarred and `podman import`ed, N containers
#      `podman run -d --network none --rm=false IMAGE sleep 100000` with
#      runc (crun 1.8.1 refuses this hybrid cgroup host), storage and
#      containers.conf in the temp dir; conmon's PID from
#      `podman inspect --format '{{.State.ConmonPid}}'`;
#   3. containerd: a private daemon (root, state, sockets, config in the
#      temp dir, CRI plugin off), the berth image exported as an OCI/docker
#      archive (`berth image export`) and `ctr images import`ed, N
#      containers `ctr run -d IMAGE ID sleep 100000` (io.containerd.runc.v2
#      with runc; no --net-host: each container gets a new network
#      namespace with only lo); the shims are the containerd-shim-runc-v2
#      processes whose command line names the daemon's socket; the daemon
#      itself is measured too;
#   4. after BENCH_MONITOR_SETTLE seconds idle, reads each monitor's Rss,
#      Pss and Private_Clean+Private_Dirty (USS) from /proc/PID/smaps_rollup
#      and Threads from /proc/PID/status; raw figures go to
#      bench/results/monitor.tsv, the medians bench/summary.sh reads to
#      bench/results/figures-monitor.json;
#   5. writes the section: per-container medians, totals, the anchors'
#      figures as a reference.
# An engine that cannot run here (missing, or failing) is reported in the
# section as not measured instead of failing the run.
#
# Nothing outside the temp dir is kept: containers are removed (rm -f,
# then any process left in their cgroups killed by PID), the daemon is
# killed by PID, mounts under the temp dir are unmounted, and the paths
# the engines hard-code on the host are removed if this run made them
# (/run/containerd/runc/NS and the empty /run/containerd dirs, runc's
# /run/runc/ID for podman's containers, the cgroups NS and libpod_parent). podman import runs in a private mount
# namespace with a tmpfs over /var/lib/containers/cache, so that the
# host's blob info cache is not written.
#
# Usage: bench/monitor.sh
# Environment:
#   BENCH_MONITOR_N=N        containers per engine (default 20)
#   BENCH_MONITOR_SETTLE=S   seconds idle before measuring (default 5)
#   BENCH_OUT=FILE           report to update (default docs/bench.md)
#   BERTH=PATH               measure this berth binary instead of building one
# Needs root, go (unless BERTH is given), jq, busybox-static; podman,
# conmon, runc, containerd and ctr for the comparisons.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$REPO/bench/results
N=${BENCH_MONITOR_N:-20}
SETTLE=${BENCH_MONITOR_SETTLE:-5}
OUT=${BENCH_OUT:-$REPO/docs/bench.md}
GO=${GO:-go}
command -v "$GO" >/dev/null || GO=/usr/local/go/bin/go

[ "$(id -u)" = 0 ] || { echo "bench/monitor: needs root" >&2; exit 1; }
case $N in '' | *[!0-9]* | 0) echo "bench/monitor: BENCH_MONITOR_N must be a positive number" >&2; exit 1 ;; esac
command -v jq >/dev/null || { echo "bench/monitor: jq not found (apt-get install jq)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/berth-monitor-bench.XXXXXX)
chmod 755 "$WORK"
LOG=$WORK/log
RAW=$WORK/monitor.tsv
: >"$LOG"
: >"$RAW"
# containerd namespace, also the name of its cgroups and of the shim's
# runc root under /run/containerd/runc: unique to this run.
NS=berth-bench-monitor-${WORK##*.}

# What the engines may make on the host, as it was before.
existed() { if [ -e "$1" ]; then echo 1; fi; }
had_runcd=$(existed /run/containerd)
had_runcd_runc=$(existed /run/containerd/runc)
had_runcd_s=$(existed /run/containerd/s)
had_runcs=$(existed /run/containers)
had_runc=$(existed /run/runc)
had_libpod=()
for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
	[ -d "$d" ] && had_libpod+=("$d")
done

BERTH_IDS=()  # berth containers started
BERTH_MONS=() # their monitors
PODMAN_IDS=()
PODMAN_MONS=()
CTR_IDS=()
CTR_MONS=()
CONTAINERD_PID=

# mine PID: PID is a process of this run (its command line names WORK).
mine() { grep -qsF "$WORK" "/proc/$1/cmdline"; }
# wait_gone PID...: waits up to 10 s for the PIDs to exit, then kills those
# of this run that are left.
wait_gone() {
	local pid left
	local -
	set +e # best effort: also runs from the EXIT trap
	for _ in $(seq 100); do
		left=
		for pid; do [ -d "/proc/$pid" ] && left=1; done
		[ -n "$left" ] || return 0
		sleep 0.1
	done
	for pid; do
		if [ -d "/proc/$pid" ] && mine "$pid"; then
			echo "bench/monitor: killing $pid, still running: $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-120)" >&2
			kill -9 "$pid" 2>/dev/null || true
		fi
	done
}
# drop_cgroups GLOB...: kills any process left in the cgroup dirs matching
# GLOB (this run's own), then removes them, deepest first.
drop_cgroups() {
	local d pid
	local -
	set +e # best effort: also runs from the EXIT trap
	for d in "$@"; do
		[ -d "$d" ] || continue
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do
			kill -9 "$pid" 2>/dev/null
		done
		for _ in $(seq 20); do
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$d" ] || break
			sleep 0.1
		done
	done
}

# ---------------------------------------------------------------------------
# Tear-down, per engine (idempotent: also run by the EXIT trap).
# ---------------------------------------------------------------------------
berth_down() {
	local id
	local -
	set +e # best effort: also runs from the EXIT trap
	[ ${#BERTH_IDS[@]} -gt 0 ] || return 0
	"$BERTH" --root "$WORK/berth/root" --runroot "$WORK/berth/run" rm -f "${BERTH_IDS[@]}" >>"$LOG" 2>&1 ||
		echo "bench/monitor: berth rm -f failed (see below)" >&2
	[ ${#BERTH_MONS[@]} -eq 0 ] || wait_gone "${BERTH_MONS[@]}"
	for id in "${BERTH_IDS[@]}"; do
		drop_cgroups /sys/fs/cgroup/*/berth/"$id" /sys/fs/cgroup/berth/"$id"
	done
	BERTH_IDS=() BERTH_MONS=()
}

PM=(env CONTAINERS_CONF="$WORK/podman/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/podman/storage.conf" podman)
podman_down() {
	local id
	local -
	set +e # best effort: also runs from the EXIT trap
	[ -f "$WORK/podman/containers.conf" ] || return 0
	if [ ${#PODMAN_IDS[@]} -gt 0 ]; then
		timeout 120 "${PM[@]}" rm -f -t 0 "${PODMAN_IDS[@]}" >>"$LOG" 2>&1 ||
			echo "bench/monitor: podman rm -f failed" >&2
		[ ${#PODMAN_MONS[@]} -eq 0 ] || wait_gone "${PODMAN_MONS[@]}"
		for id in "${PODMAN_IDS[@]}"; do
			drop_cgroups /sys/fs/cgroup/*/libpod_parent/libpod-"$id" /sys/fs/cgroup/libpod_parent/libpod-"$id"
			# podman passes runc no --root: its state is /run/runc/ID.
			rm -rf "/run/runc/$id"
		done
	fi
	timeout 60 "${PM[@]}" rmi -a -f >>"$LOG" 2>&1 || true
	PODMAN_IDS=() PODMAN_MONS=()
	rm -f "$WORK/podman/containers.conf"
}

CTR=(ctr --address "$WORK/containerd/containerd.sock" --namespace "$NS")
containerd_down() {
	local id
	local -
	set +e # best effort: also runs from the EXIT trap
	[ -n "$CONTAINERD_PID" ] || return 0
	for id in "${CTR_IDS[@]}"; do
		timeout 30 "${CTR[@]}" task kill -s SIGKILL "$id" >>"$LOG" 2>&1
	done
	for id in "${CTR_IDS[@]}"; do
		for _ in $(seq 50); do
			timeout 30 "${CTR[@]}" task delete -f "$id" >>"$LOG" 2>&1 && break
			sleep 0.1
		done
		timeout 30 "${CTR[@]}" container delete "$id" >>"$LOG" 2>&1
	done
	[ ${#CTR_MONS[@]} -eq 0 ] || wait_gone "${CTR_MONS[@]}"
	timeout 30 "${CTR[@]}" images rm "$CTR_IMAGE" >>"$LOG" 2>&1
	kill "$CONTAINERD_PID" 2>/dev/null
	wait_gone "$CONTAINERD_PID"
	wait "$CONTAINERD_PID" 2>/dev/null
	CONTAINERD_PID='' CTR_IDS=() CTR_MONS=()
	drop_cgroups /sys/fs/cgroup/*/"$NS" /sys/fs/cgroup/"$NS"
	rm -rf "/run/containerd/runc/$NS"
}
CTR_IMAGE=

cleanup() {
	local rc=$? pid m d
	set +e
	berth_down
	podman_down
	containerd_down
	# Anything of this run still running names WORK on its command line.
	grep -lsF "$WORK" /proc/[0-9]*/cmdline | cut -d/ -f3 | while read -r pid; do
		[ "$pid" != $$ ] && mine "$pid" && kill -9 "$pid" 2>/dev/null
	done
	# Mounts under WORK (podman's overlay storage), deepest first.
	awk -v w="$WORK" '$5 == w || index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
	# Host paths the engines made, if this run made them.
	[ -n "$had_runcd_runc" ] || rmdir /run/containerd/runc 2>/dev/null
	[ -n "$had_runcd_s" ] || rmdir /run/containerd/s 2>/dev/null
	[ -n "$had_runcd" ] || rmdir /run/containerd 2>/dev/null
	[ -n "$had_runcs" ] || rmdir /run/containers 2>/dev/null
	[ -n "$had_runc" ] || rmdir /run/runc 2>/dev/null
	for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
		[ -d "$d" ] || continue
		case " ${had_libpod[*]-} " in *" $d "*) continue ;; esac
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	if [ "$rc" != 0 ] && [ -s "$LOG" ]; then
		echo "bench/monitor: failed; the last lines of its log:" >&2
		tail -n 20 "$LOG" >&2
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# Measurement.
# ---------------------------------------------------------------------------
# measure LABEL PID...: a line per process in RAW: label, PID, Rss, Pss,
# USS (Private_Clean + Private_Dirty), all KiB, and the thread count.
measure() {
	local label=$1 pid
	shift
	for pid; do
		[ -r "/proc/$pid/smaps_rollup" ] || { echo "bench/monitor: $label: process $pid is gone" >&2; exit 1; }
		awk -v l="$label" -v p="$pid" '
			/^Rss:/ { rss = $2 } /^Pss:/ { pss = $2 } /^Private_(Clean|Dirty):/ { uss += $2 }
			/^Threads:/ { thr = $2 }
			END { printf "%s\t%s\t%d\t%d\t%d\t%d\n", l, p, rss, pss, uss, thr }' \
			"/proc/$pid/smaps_rollup" "/proc/$pid/status" >>"$RAW"
	done
}
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
settle() {
	echo "   settling for ${SETTLE}s"
	sleep "$SETTLE"
}
declare -A START_S=() # label: seconds to start the N containers
declare -A SKIP=()    # engine: why it was not measured

# ---------------------------------------------------------------------------
# berth
# ---------------------------------------------------------------------------
DESCRIBE=$(git -C "$REPO" describe --always --tags)
if [ -n "$(cd "$REPO" && git status --porcelain --untracked-files=no -- cmd internal go.mod go.sum)" ]; then
	DESCRIBE="$DESCRIBE (with uncommitted changes to cmd/ or internal/)"
fi
if [ -n "${BERTH:-}" ]; then
	[ -x "$BERTH" ] || { echo "bench/monitor: $BERTH is not executable" >&2; exit 1; }
	BUILT="the binary BERTH=${BERTH#"$REPO"/}; the work tree is at \`$DESCRIBE\`"
	mkdir -p "$WORK/bin"
	cp "$BERTH" "$WORK/bin/berth"
	# Its helpers beside the copy, as make install puts them: without
	# berth-monitor the monitor stays berth itself.
	for helper in berth-init berth-nsenter berth-stage berth-monitor; do
		if [ -x "$(dirname "$BERTH")/$helper" ]; then cp "$(dirname "$BERTH")/$helper" "$WORK/bin/"; fi
	done
else
	echo "== building berth"
	(cd "$REPO" && CGO_ENABLED=0 "$GO" build -trimpath -o "$WORK/bin/berth" ./cmd/berth)
	if [ -d "$REPO/cmd/berth-monitor" ]; then
		gcc -static -Os -s -std=gnu11 -o "$WORK/bin/berth-monitor" "$REPO"/cmd/berth-monitor/*.c
	fi
	BUILT="\`$DESCRIBE\`, built from the work tree with CGO_ENABLED=0 go build -trimpath (and berth-monitor with gcc -static -Os)"
fi
# A private copy: its text pages are shared by this run's monitors only.
BERTH=$WORK/bin/berth
GOVERSION=$("$GO" version "$BERTH" 2>/dev/null | awk '{ print $2 }' || true)
B=("$BERTH" --root "$WORK/berth/root" --runroot "$WORK/berth/run")

bash "$REPO/scripts/mkrootfs.sh" "$WORK/rootfs" >>"$LOG"
tar --numeric-owner -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
"${B[@]}" image import "$WORK/busybox.tar" busybox >>"$LOG" 2>&1

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
T_ALL=$(date +%s)

# berth_phase LABEL RUN-ARGS...: N containers `berth run -d --network none
# RUN-ARGS... sleep 100000`, measured, removed.
berth_phase() {
	local label=$1 t0 id
	shift
	echo "== $label: $N detached containers"
	t0=$(now)
	for _ in $(seq "$N"); do
		id=$("${B[@]}" run -d --network none "$@" sleep 100000 2>>"$LOG")
		BERTH_IDS+=("$id")
	done
	START_S[$label]=$(secs "$t0" "$(now)")
	mapfile -t BERTH_MONS < <("${B[@]}" inspect "${BERTH_IDS[@]}" | jq -r '.[].State.MonitorPid')
	[ ${#BERTH_MONS[@]} -eq "$N" ] || { echo "bench/monitor: $label: ${#BERTH_MONS[@]} monitors for $N containers" >&2; exit 1; }
	settle
	measure "$label" "${BERTH_MONS[@]}"
	berth_down
}
berth_phase "berth --rootfs" --rootfs "$WORK/rootfs"
berth_phase "berth image" busybox

# ---------------------------------------------------------------------------
# podman (conmon)
# ---------------------------------------------------------------------------
# skip ENGINE WHY: ENGINE is not measured, for the reason WHY.
skip() {
	SKIP[$1]=$2
	echo "   $1 not measured: $2" >&2
}
lastlog() { tail -n 3 "$LOG" | tr '\n' ' ' | sed 's/[[:space:]]*$//' | cut -c1-300; }

podman_phase() {
	local t tool id pid P=$WORK/podman nofile nproc cache
	echo "== podman: $N detached containers"
	for tool in podman conmon runc; do
		command -v "$tool" >/dev/null || { skip podman "$tool is not installed"; return 0; }
	done
	mkdir -p "$P"/root "$P"/runroot "$P"/tmp "$P"/networks
	nofile=$(ulimit -Hn)
	[ "$nofile" = unlimited ] || [ "$nofile" -gt 1024 ] && nofile=1024
	nproc=$(ulimit -Hu)
	[ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
	cat >"$P/storage.conf" <<-EOF
		[storage]
		driver = "overlay"
		graphroot = "$P/root"
		runroot = "$P/runroot"
	EOF
	# cgroupfs (no systemd here), no network, ulimits below this machine's
	# hard limits, runc (crun 1.8.1 refuses hybrid cgroup hosts).
	cat >"$P/containers.conf" <<-EOF
		[containers]
		netns = "none"
		default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$P/events.log"
		tmp_dir = "$P/tmp"
		lock_type = "file"
		runtime = "runc"
		[network]
		network_config_dir = "$P/networks"
	EOF
	# podman import writes its blob info cache to /var/lib/containers/cache:
	# give it a tmpfs there, in a mount namespace of its own.
	cache=/var/lib/containers/cache
	[ -d "$cache" ] || cache=/var/lib/containers
	[ -d "$cache" ] || cache=/var/lib
	# shellcheck disable=SC2016 # for the inner sh
	unshare -m --propagation private sh -c 'mount -t tmpfs bench-monitor "$0" && exec "$@"' "$cache" \
		"${PM[@]}" import --change 'CMD ["sh"]' "$WORK/busybox.tar" localhost/busybox:bench >>"$LOG" 2>&1 ||
		{ skip podman "podman import failed: $(lastlog)"; podman_down; return 0; }
	t=$(now)
	for _ in $(seq "$N"); do
		id=$("${PM[@]}" run -d --network none --rm=false localhost/busybox:bench sleep 100000 2>>"$LOG") ||
			{ skip podman "podman run -d failed: $(lastlog)"; podman_down; return 0; }
		PODMAN_IDS+=("$id")
		pid=$("${PM[@]}" inspect --format '{{.State.ConmonPid}}' "$id" 2>>"$LOG") ||
			{ skip podman "podman inspect failed: $(lastlog)"; podman_down; return 0; }
		PODMAN_MONS+=("$pid")
	done
	START_S[conmon]=$(secs "$t" "$(now)")
	settle
	for pid in "${PODMAN_MONS[@]}"; do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = conmon ] ||
			{ skip podman "ConmonPid $pid is not a running conmon"; podman_down; return 0; }
	done
	measure conmon "${PODMAN_MONS[@]}"
	podman_down
}
podman_phase

# ---------------------------------------------------------------------------
# containerd (containerd-shim-runc-v2)
# ---------------------------------------------------------------------------
containerd_phase() {
	local t tool i pid C=$WORK/containerd
	echo "== containerd: $N detached containers"
	for tool in containerd ctr containerd-shim-runc-v2 runc; do
		command -v "$tool" >/dev/null || { skip containerd "$tool is not installed"; return 0; }
	done
	mkdir -p "$C/fifo"
	cat >"$C/config.toml" <<-EOF
		version = 2
		root = "$C/root"
		state = "$C/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$C/containerd.sock"
		[ttrpc]
		  address = "$C/containerd-ttrpc.sock"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$C/opt"
	EOF
	containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 &
	CONTAINERD_PID=$!
	for _ in $(seq 100); do
		[ -S "$C/containerd.sock" ] && "${CTR[@]}" version >/dev/null 2>&1 && break
		kill -0 "$CONTAINERD_PID" 2>/dev/null || break
		sleep 0.1
	done
	"${CTR[@]}" version >/dev/null 2>&1 ||
		{ skip containerd "the daemon did not start: $(tail -n 2 "$C/containerd.log" | tr '\n' ' ' | cut -c1-300)"; containerd_down; return 0; }
	"${B[@]}" image export -o "$WORK/busybox-image.tar" busybox >>"$LOG" 2>&1
	"${CTR[@]}" images import "$WORK/busybox-image.tar" >>"$LOG" 2>&1 ||
		{ skip containerd "ctr images import failed: $(lastlog)"; containerd_down; return 0; }
	CTR_IMAGE=$("${CTR[@]}" images ls -q | head -n 1)
	t=$(now)
	for i in $(seq "$N"); do
		"${CTR[@]}" run -d --fifo-dir "$C/fifo" "$CTR_IMAGE" "bench-$i" sleep 100000 >>"$LOG" 2>&1 ||
			{ CTR_IDS+=("bench-$i"); skip containerd "ctr run -d failed: $(lastlog)"; containerd_down; return 0; }
		CTR_IDS+=("bench-$i")
	done
	START_S[shim]=$(secs "$t" "$(now)")
	# The shims: containerd-shim-runc-v2 (comm is cut to 15 characters)
	# naming this daemon's socket.
	mapfile -t CTR_MONS < <(grep -lsF "$C/containerd.sock" /proc/[0-9]*/cmdline | cut -d/ -f3 | while read -r pid; do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = containerd-shim ] && echo "$pid"
	done)
	[ ${#CTR_MONS[@]} -eq "$N" ] ||
		{ skip containerd "found ${#CTR_MONS[@]} shims for $N containers"; containerd_down; return 0; }
	settle
	measure shim "${CTR_MONS[@]}"
	measure containerd "$CONTAINERD_PID"
	containerd_down
}
containerd_phase

ELAPSED=$(($(date +%s) - T_ALL))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$RESULTS"
{
	printf 'label\tpid\trss_kib\tpss_kib\tuss_kib\tthreads\n'
	cat "$RAW"
} >"$RESULTS/monitor.tsv"

# ---------------------------------------------------------------------------
# Report: the "## Monitors" section of $OUT.
# ---------------------------------------------------------------------------
# col LABEL K: column K (3 rss, 4 pss, 5 uss, 6 threads) of LABEL's rows.
col() { awk -F'\t' -v l="$1" -v k="$2" '$1 == l { print $k }' "$RAW"; }
median() {
	col "$1" "$2" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) printf "%.0f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() { col "$1" "$2" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (lo == hi) print lo; else print lo "–" hi }'; }
total_mib() { col "$1" "$2" | awk '{ s += $1 } END { printf "%.1f", s / 1024 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.2f", k / 1024 }'; }
has() { [ -n "$(col "$1" 3)" ]; }

# The figures bench/summary.sh reads: median PSS per container, MiB (null:
# not measured).
pss_mib() { if has "$1"; then mib "$(median "$1" 4)"; else echo null; fi; }
printf '{"n": %s, "pss_mib": {"berth": %s, "berth image": %s, "conmon": %s, "shim": %s}}\n' "$N" \
	"$(pss_mib "berth --rootfs")" "$(pss_mib "berth image")" "$(pss_mib conmon)" "$(pss_mib shim)" \
	>"$RESULTS/figures-monitor.json"
jq -e . "$RESULTS/figures-monitor.json" >/dev/null

# row LABEL NAME: a table row for LABEL's processes.
row() {
	local l=$1
	if has "$l"; then
		printf '| %s | %s | %s | %s | **%s** | %s | %s | %s | %s |\n' "$2" "$(col "$l" 3 | wc -l)" \
			"$(median "$l" 3)" "$(mib "$(median "$l" 3)")" "$(median "$l" 4)" "$(median "$l" 5)" \
			"$(range "$l" 6)" "$(total_mib "$l" 3) / **$(total_mib "$l" 4)**" "${START_S[$l]:-—}"
	else
		local why=${SKIP[podman]:-}
		case $l in shim | containerd) why=${SKIP[containerd]:-} ;; esac
		printf '| %s | not measured: %s | | | | | | | |\n' "$2" "${why:-no data}"
	fi
}
version() { "$@" 2>/dev/null | head -n 1 || true; }
PODMAN_V=$(version podman --version)
CONMON_V=$(version conmon --version)
CONTAINERD_V=$(version containerd --version | awk '{ print $1, $3 }')
RUNC_V=$(version runc --version)

# containerd's daemon serves every container: its share per container.
DAEMON_NOTE=
if has shim && has containerd; then
	DAEMON_NOTE="The containerd daemon itself (one process for all containers, not in the
table's per-container figures) held $(mib "$(median containerd 3)") MiB RSS /
$(mib "$(median containerd 4)") MiB PSS with $(median containerd 6) threads at that point:
with its share, each containerd container costs about
$(awk -v s="$(median shim 4)" -v d="$(median containerd 4)" -v n="$N" 'BEGIN { printf "%.2f", (s + d / n) / 1024 }') MiB PSS.
berth and podman have no daemon."
fi

# ratio A B: median PSS of A over that of B.
ratio() { awk -v a="$(median "$1" 4)" -v b="$(median "$2" 4)" 'BEGIN { r = a / b; printf (r < 1 ? "%.2f" : "%.1f"), r }'; }
RATIO_NOTE=
if has conmon && has shim; then
	RATIO_NOTE="Median PSS per container, berth's monitor (\`--rootfs\`) over conmon's:
**$(ratio "berth --rootfs" conmon)×**; over the shim's: **$(ratio "berth --rootfs" shim)×**."
elif has conmon; then
	RATIO_NOTE="Median PSS per container, berth's monitor (\`--rootfs\`) over conmon's: **$(ratio "berth --rootfs" conmon)×**."
elif has shim; then
	RATIO_NOTE="Median PSS per container, berth's monitor (\`--rootfs\`) over the shim's: **$(ratio "berth --rootfs" shim)×**."
fi

SECTION=$WORK/section.md
cat >"$SECTION" <<EOF
## Monitors

Generated by \`bench/monitor.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); berth
$BUILT${GOVERSION:+ ($GOVERSION)};
$PODMAN_V with $CONMON_V; $CONTAINERD_V; $RUNC_V (podman and containerd
both run runc). Load average before / after: $LOAD_BEFORE / $LOAD_AFTER;
the run took ${ELAPSED} s.

What an idle detached container costs in memory: the process each engine
leaves behind per container (berth's monitor, podman's conmon, containerd's
containerd-shim-runc-v2), for **N = $N** containers running \`sleep 100000\`
from a busybox rootfs, all with no network (\`--network none\`; ctr's
default: a new network namespace with only lo). Measured after
${SETTLE} s idle, from /proc/PID/smaps_rollup (Rss, Pss; USS =
Private_Clean + Private_Dirty, what removing that one container frees) and
/proc/PID/status (Threads). Each engine's N containers run alone: the
previous engine's are removed first. The container's own processes are not
counted.

\`\`\`
berth --root S --runroot R run -d --network none --rootfs DIR sleep 100000
berth --root S --runroot R run -d --network none busybox sleep 100000        (image, overlay)
podman run -d --network none --rm=false localhost/busybox:bench sleep 100000 (cgroupfs, runc, overlay)
ctr run -d IMAGE ID sleep 100000                                            (io.containerd.runc.v2, runc)
\`\`\`

| monitor | N | RSS, KiB | RSS, MiB | PSS, KiB | USS, KiB | threads | total RSS / PSS, MiB | start N, s |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
$(row "berth --rootfs" "berth's monitor (\`--rootfs\`)")
$(row "berth image" "berth's monitor (image)")
$(row conmon "podman's conmon")
$(row shim "containerd-shim-runc-v2")

RSS, PSS, USS and threads are medians per container; totals are sums over
the N processes; "start N, s" is the wall time of the N \`run -d\` commands
(informational: podman and ctr are clients, berth is the whole runtime).
Raw figures per process: \`bench/results/monitor.tsv\` after a run.
$RATIO_NOTE
$DAEMON_NOTE

**PSS is the fairer figure for many monitors**: RSS counts every page a
process maps in full, so N monitors running one static binary (berth's
monitor is berth-monitor, static C, once the container runs) each count the same text and
read-only data pages again, while PSS divides each shared page among the
processes that map it and sums to what the machine actually holds;
conmon's shared libraries (glib, libc) are shared with every other process
using them in the same way. USS is the floor PSS approaches as N grows.

For reference only, **not measured by this run**: /work/shared/anchors.md
("Networking, images and monitors"), measured earlier on this machine with
20 detached \`sleep\` containers: podman's conmon 2.0 MiB RSS / 418 KiB PSS
per container (1 thread); containerd-shim-runc-v2 13.0 MiB RSS / 3.0 MiB
PSS per container (11–12 threads).
EOF

# Replace the section in the report as it is now (others may have written
# other sections meanwhile), or append it.
touch "$OUT"
awk -v sec="$SECTION" '
	function emit() { while ((getline l < sec) > 0) print l; done = 1 }
	/^## Monitors[[:space:]]*$/ { skip = 1; if (NR > 1 && prev != "") print ""; emit(); next }
	skip && /^## / { skip = 0; print "" }
	!skip { print; prev = $0 }
	END { if (!done) { if (NR > 0 && prev != "") print ""; emit() } }' "$OUT" >"$WORK/out.md"
cat "$WORK/out.md" >"$OUT"
echo "== wrote the Monitors section of $OUT"
cat "$SECTION"
