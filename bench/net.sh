#!/bin/bash
# bench/net.sh: networking benchmark of `berth run`: TCP throughput between
# a container and its host over berth's bridge and veth, against the host's
# loopback, and the time each network mode adds to `berth run`.
#
# What it does:
#   1. creates a network namespace of its own, the "bench netns", which
#      stands for the host: berth runs in it (nsenter --net), so berth0,
#      the veths, berth's nftables table and ip_forward all live there, and
#      the real host's network is never touched; every address used is
#      inside that namespace or its containers;
#   2. builds a rootfs with busybox and Debian's (dynamically linked)
#      iperf3 plus the libraries ldd lists, at their own paths;
#   3. times `berth run --rm --rootfs R true` with --network none, bridge,
#      host and bridge -p 8080:80 side by side with hyperfine, back to back
#      and cold (sleep 0.25 before each run), after a warm-up run of each
#      (the first bridge run creates berth0 and the nftables table);
#   4. measures TCP throughput with iperf3 (1 and 4 streams, N seconds,
#      median of M, the receiver's figure end.sum_received) for:
#        loopback      client and server in the bench netns, 127.0.0.1
#        ctr->host     client in a `berth run --network bridge` container,
#                      server in the bench netns on berth0's 10.88.0.1
#        host->ctr     client in the bench netns, server in a container,
#                      to the container's address
#        published     the same server container published with
#                      -p 127.0.0.1:5202:5201, client to 127.0.0.1:5202
#                      (nftables DNAT, route_localnet)
#      interleaved: each repetition runs every case once, so drift on this
#      shared VM hits all cases alike;
#   3b. times `berth run -d` and `berth rm -f` apart, bridge with and
#      without -p 8080:80, interleaved: what -p adds at start and at stop;
#   5. writes (or replaces) the "## Networking" section of docs/bench.md,
#      leaving the rest of the file as it is; raw JSON goes to
#      bench/results/net-*.json;
#   6. removes its namespace, containers, state and temp dir.
#
# Usage: bench/net.sh   (make bench runs it after bench/run.sh; BENCH_NET=0
#                        skips it there)
# Environment:
#   BENCH_NET_SECONDS=N    seconds per iperf3 test (default 10)
#   BENCH_NET_REPS=N       iperf3 repetitions per case, median taken (default 3)
#   BENCH_NET_RUNS=N       back-to-back `berth run`s per network mode (default 100)
#   BENCH_NET_COLD_RUNS=N  cold `berth run`s per network mode (default 30)
#   BENCH_NET_PUB_ROUNDS=N rounds of `run -d` + `rm -f`, bridge with and
#                          without -p, for -p's cost at start and at stop (default 30)
#   BENCH_OUT=FILE         report to update (default docs/bench.md)
#   BERTH=PATH             benchmark this berth binary instead of building bin/berth
# Needs root, iperf3, hyperfine, jq, busybox-static, iproute2 (ip, ss),
# nsenter, ldd, go (unless BERTH is set).
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/rounds.sh
. "$REPO/bench/rounds.sh"
RESULTS=$REPO/bench/results
OUT=${BENCH_OUT:-$REPO/docs/bench.md}
SECS=${BENCH_NET_SECONDS:-10}
REPS=${BENCH_NET_REPS:-3}
RUNS=${BENCH_NET_RUNS:-100}
COLD_RUNS=${BENCH_NET_COLD_RUNS:-30}
PUB_ROUNDS=${BENCH_NET_PUB_ROUNDS:-30}
MODES="none bridge host publish"
CASES="loopback ctr2host host2ctr published"
PORT=5201     # iperf3 servers listen here, in the bench netns and in the container
PUB_PORT=5202 # the server container's port 5201 published on 127.0.0.1:5202
GATEWAY=10.88.0.1 # berth0's address on the default bridge network

[ "$(id -u)" = 0 ] || { echo "bench/net: needs root" >&2; exit 1; }
for tool in iperf3 hyperfine jq ip ss nsenter ldd; do
	command -v $tool >/dev/null || { echo "bench/net: $tool not found (scripts/install-deps.sh, or apt-get install iperf3 hyperfine jq)" >&2; exit 1; }
done
if ! [ -x /bin/busybox ] || ! /bin/busybox --list | grep -qx sh; then
	echo "bench/net: need a static /bin/busybox (apt-get install busybox-static)" >&2; exit 1
fi
[ -n "${BERTH:-}" ] || command -v go >/dev/null || { echo "bench/net: go not found (or set BERTH)" >&2; exit 1; }

WORK=$(mktemp -d /dev/shm/berth-bench-net.XXXXXX)
NS=berth-bench-net-$$
NSENTER=(nsenter "--net=/run/netns/$NS")
STATE=$WORK/state
RUNROOT=$WORK/state/run # the runtime records of running containers
SRV_PID=     # iperf3 server in the bench netns
CTR_PID=     # berth running the iperf3 server container

# alive PID START: whether PID is still the process that started at START
# (clock ticks after boot, /proc/PID/stat field 22).
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "$(echo "$stat" | cut -d' ' -f20)" = "$2" ]
}

cleanup() {
	set +e
	if [ -n "$CTR_PID" ]; then kill -TERM "$CTR_PID" 2>/dev/null; wait "$CTR_PID" 2>/dev/null; fi
	if [ -n "$SRV_PID" ]; then kill -TERM "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; fi
	# A berth killed halfway leaves its record: end that container's
	# process (which this script started) and remove its cgroups.
	for rec in "$RUNROOT"/*/state.json; do
		[ -f "$rec" ] || continue
		echo "bench/net: berth left a container record: $rec" >&2
		pid=$(jq -r '.pid // empty' "$rec")
		start=$(jq -r '.pidStart // empty' "$rec")
		if [ -n "$pid" ] && [ -n "$start" ] && alive "$pid" "$start"; then
			kill -KILL "$pid"
			for _ in $(seq 50); do alive "$pid" "$start" || break; sleep 0.1; done
		fi
		for d in $(jq -r '.cgroupDirs[]?' "$rec" | sort -r); do rmdir "$d" 2>/dev/null; done
	done
	# Deleting the namespace takes berth0, the veths and berth's nftables
	# table with it.
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${BERTH:-}" ]; then
	BUILT="${BERTH#"$REPO"/} (as given in BERTH)"
else
	echo "== building bin/berth"
	(cd "$REPO" && CGO_ENABLED=0 go build -o bin/berth ./cmd/berth)
	BERTH=$REPO/bin/berth
	BUILT="bin/berth (built with CGO_ENABLED=0 go build)"
fi
[ -x "$BERTH" ] || { echo "bench/net: $BERTH is not executable" >&2; exit 1; }
# A private copy: others may rebuild bin/ while the benchmark runs.
cp "$BERTH" "$WORK/berth"
BERTH=$WORK/berth
# The commit the binary comes from: its own --version where the build set
# one (make build: git describe --always --dirty), else this tree's commit,
# where "dirty" only counts berth's own sources.
COMMIT=$("$BERTH" --version 2>/dev/null | awk '{print $NF}')
if [ -n "$COMMIT" ] && [ "$COMMIT" != dev ]; then
	COMMIT="$COMMIT (the binary's --version)"
else
	COMMIT=$(cd "$REPO" && git describe --always)
	if [ -n "$(cd "$REPO" && git status --porcelain --untracked-files=no -- cmd internal go.mod go.sum)" ]; then
		COMMIT="$COMMIT (with uncommitted changes to cmd/ or internal/)"
	fi
fi

echo "== rootfs with busybox and iperf3 in $WORK"
R=$WORK/rootfs
mkdir -p "$R"/bin "$R"/etc "$R"/proc "$R"/sys "$R"/dev "$R"/tmp "$R"/root "$STATE"
cp /bin/busybox "$R"/bin/busybox
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -s busybox "$R/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$R"/etc/passwd
echo 'root:x:0:' >"$R"/etc/group
IPERF=$(command -v iperf3)
# ldd's lines: "name => /path (addr)", and the loader as "/path (addr)".
# shellcheck disable=SC2046 # one word per path
cp -L --parents "$IPERF" $(ldd "$IPERF" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }') "$R"/
chroot "$R" "$IPERF" --version >/dev/null ||
	{ echo "bench/net: iperf3 does not run in the rootfs (missing library?)" >&2; exit 1; }

echo "== bench netns $NS"
ip netns add "$NS"
ip -n "$NS" link set lo up

berth_run() { "${NSENTER[@]}" "$BERTH" --root "$STATE" --runroot "$RUNROOT" run --rm "$@"; }
# mode_args MODE: berth run's network flags for MODE.
mode_args() {
	case $1 in
	none | bridge | host) echo "--network $1" ;;
	publish) echo "--network bridge -p 8080:80" ;;
	esac
}
mode_cmd() { echo "$BERTH --root $STATE --runroot $RUNROOT run --rm $(mode_args "$1") --rootfs $R true"; }

# ---------------------------------------------------------------------------
# The time networking adds to berth run.
# ---------------------------------------------------------------------------
mkdir -p "$RESULTS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)
hf_args=()
for m in $MODES; do
	c=$(mode_cmd "$m")
	echo "+ $c"
	# shellcheck disable=SC2086 # word splitting wanted
	"${NSENTER[@]}" $c || { echo "bench/net: command failed (status $?): $c" >&2; exit 1; }
	hf_args+=(-n "$m" "$c")
done
WARMUP=10
[ "$RUNS" -lt 60 ] && WARMUP=3
# In rounds (bench/rounds.sh), as run.sh's: in one hyperfine run of each
# mode after the other, a busy minute moved one mode's median and not the
# next's (`host` measured up to 1.8 ms less than `none`).
ROUNDS_PREFIX=("${NSENTER[@]}")
echo "== berth run by network mode, back to back: $RUNS runs in $BENCH_ROUNDS rounds"
rounds "$RESULTS/net-run-b2b.json" "$RUNS" $WARMUP -- "${hf_args[@]}"
echo "== berth run by network mode, cold (sleep 0.25 before each run): $COLD_RUNS runs in $BENCH_ROUNDS rounds"
rounds "$RESULTS/net-run-cold.json" "$COLD_RUNS" 3 --prepare 'sleep 0.25' -- "${hf_args[@]}"

# What all those runs left behind: a container's netns (and with it the
# host end of its veth) goes away asynchronously after the container
# exits; addresses and port mappings must be gone at once. A mapping is a
# map element (or, made by an earlier berth, a rule) tagged "owner:".
SETTLE=0
while [ "$(ip -n "$NS" -o link show | grep -c ': bth')" -gt 0 ] && [ $SETTLE -lt 100 ]; do
	sleep 0.1; SETTLE=$((SETTLE + 1))
done
LEFT_VETHS=$(ip -n "$NS" -o link show | grep -c ': bth' || true)
LEFT_ADDRS=$(jq '.allocations | length' "$STATE/networks/bridge/ipam.json")
LEFT_RULES=$("${NSENTER[@]}" nft list table ip berth | grep -c 'owner:' || true)
echo "== left after the runs: $LEFT_VETHS veths (after $((SETTLE * 100)) ms), $LEFT_ADDRS addresses, $LEFT_RULES port mappings"

# -p at start and at stop, apart (issue 15's targets): `berth run -d`
# returns once the container runs with its ports published, and
# `berth rm -f` kills it and takes its network and port mappings down.
# Bridge without and with -p 8080:80, interleaved (the order alternates),
# PUB_ROUNDS rounds; times in ms, from bash's EPOCHREALTIME around each
# command (the same nsenter and fork for both modes).
echo "== -p at start (run -d) and at stop (rm -f): $PUB_ROUNDS rounds"
berth_ns() { "${NSENTER[@]}" "$BERTH" --root "$STATE" --runroot "$RUNROOT" "$@"; }
ms_since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) * 1000 }'; }
: >"$RESULTS/net-publish.tsv"
for i in $(seq "$PUB_ROUNDS"); do
	order="bridge publish"
	[ $((i % 2)) = 0 ] && order="publish bridge"
	for m in $order; do
		# shellcheck disable=SC2046 # mode_args' words
		t0=$EPOCHREALTIME; id=$(berth_ns run -d $(mode_args "$m") --rootfs "$R" sleep 100000); t1=$EPOCHREALTIME
		berth_ns rm -f "$id" >/dev/null; t2=$EPOCHREALTIME
		printf '%s\t%s\t%s\n' "$m" "$(ms_since "$t0" "$t1")" "$(ms_since "$t1" "$t2")" >>"$RESULTS/net-publish.tsv"
	done
done
LEFT_RULES_PUB=$("${NSENTER[@]}" nft list table ip berth 2>/dev/null | grep -c 'owner:' || true)

# ---------------------------------------------------------------------------
# iperf3.
# ---------------------------------------------------------------------------
# wait_listen NETNS PORT: wait until something listens on TCP PORT in NETNS.
wait_listen() {
	for _ in $(seq 100); do
		[ -n "$(nsenter "--net=$1" ss -Hltn "sport = :$2")" ] && return 0
		sleep 0.1
	done
	echo "bench/net: nothing listens on port $2 in $1" >&2
	return 1
}

# The server in the bench netns: 127.0.0.1 and 10.88.0.1 (berth0, made by
# the runs above) alike.
ip -n "$NS" -4 -o addr show dev berth0 | grep -q " $GATEWAY/" ||
	{ echo "bench/net: berth0 has no $GATEWAY" >&2; exit 1; }
"${NSENTER[@]}" iperf3 -s -p $PORT >"$WORK/server.log" 2>&1 &
SRV_PID=$!
wait_listen "/run/netns/$NS" $PORT

# The server container, published on 127.0.0.1:PUB_PORT.
# Not through berth_run: $! must be berth's PID (nsenter execs it), not a
# subshell's, for the kill in cleanup to reach berth.
"${NSENTER[@]}" "$BERTH" --root "$STATE" --runroot "$RUNROOT" run --rm --name bench-iperf3-server --network bridge \
	-p 127.0.0.1:$PUB_PORT:$PORT --rootfs "$R" iperf3 -s -p $PORT >"$WORK/ctr-server.log" 2>&1 &
CTR_PID=$!
CTR_PID1=
for _ in $(seq 100); do
	CTR_PID1=$("$BERTH" --root "$STATE" --runroot "$RUNROOT" inspect bench-iperf3-server 2>/dev/null |
		jq -r 'if .[0].State.Status == "running" then .[0].State.Pid else empty end' 2>/dev/null || true)
	[ -n "$CTR_PID1" ] && break
	sleep 0.1
done
[ -n "$CTR_PID1" ] || { echo "bench/net: the server container did not start:" >&2; cat "$WORK/ctr-server.log" >&2; exit 1; }
CTR_NETNS=/proc/$CTR_PID1/ns/net
wait_listen "$CTR_NETNS" $PORT
CTR_ADDR=$(nsenter "--net=$CTR_NETNS" ip -4 -o addr show dev eth0 | awk '{ sub("/.*", "", $4); print $4 }')
echo "== iperf3 server container at $CTR_ADDR, published on 127.0.0.1:$PUB_PORT"

# iperf CASE STREAMS SECONDS: one iperf3 client run, its JSON on stdout.
iperf() {
	local c=(iperf3 -J -t "$3" -P "$2")
	case $1 in
	loopback) "${NSENTER[@]}" "${c[@]}" -c 127.0.0.1 -p $PORT ;;
	ctr2host) berth_run --network bridge --rootfs "$R" "${c[@]}" -c $GATEWAY -p $PORT ;;
	host2ctr) "${NSENTER[@]}" "${c[@]}" -c "$CTR_ADDR" -p $PORT ;;
	published) "${NSENTER[@]}" "${c[@]}" -c 127.0.0.1 -p $PUB_PORT ;;
	esac
}
# Each path once, briefly, with its output visible on failure.
for c in $CASES; do
	echo "+ iperf3 check: $c"
	iperf "$c" 1 1 >"$WORK/check.json" ||
		{ echo "bench/net: iperf3 $c failed:" >&2; jq -r '.error // .' "$WORK/check.json" >&2; exit 1; }
done
for rep in $(seq "$REPS"); do
	for c in $CASES; do
		for p in 1 4; do
			f=$RESULTS/net-iperf3-$c-P$p-$rep.json
			iperf "$c" $p "$SECS" >"$f" ||
				{ echo "bench/net: iperf3 $c -P $p failed:" >&2; jq -r '.error // .' "$f" >&2; exit 1; }
			bps=$(jq '.end.sum_received.bits_per_second' "$f")
			printf '== %d/%d %-9s -P %d: %s Gbit/s\n' "$rep" "$REPS" "$c" $p "$(awk -v b="$bps" 'BEGIN { printf "%.2f", b / 1e9 }')"
		done
	done
done
ELAPSED=$(( $(date +%s) - START ))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------
# gbits CASE STREAMS STAT: median, min or max over the repetitions, Gbit/s.
gbits() {
	local rep
	for rep in $(seq "$REPS"); do
		jq '.end.sum_received.bits_per_second' "$RESULTS/net-iperf3-$1-P$2-$rep.json"
	done | sort -g | awk -v s="$3" '{ v[NR] = $1 / 1e9 }
		END {
			if (s == "min") x = v[1]; else if (s == "max") x = v[NR];
			else x = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.1f", x
		}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# quantile NAME FILE Q: as in bench/run.sh, ms.
quantile() {
	jq -r --arg n "$1" --argjson q "$3" '
		def quantile($q): sort | ((length - 1) * $q) as $i | ($i | floor) as $lo | ($i | ceil) as $hi
			| .[$lo] + (.[$hi] - .[$lo]) * ($i - $lo);
		.results[] | select(.command == $n) | .times | quantile($q) * 1000' "$2"
}
fmt() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }
added() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f", a - b }'; }

iperf_row() {
	local one four lo1 lo4
	one=$(gbits "$2" 1 median); four=$(gbits "$2" 4 median)
	lo1=$(gbits loopback 1 median); lo4=$(gbits loopback 4 median)
	printf '| %s | **%s** (%s–%s) | **%s** (%s–%s) | %s | %s |\n' "$1" \
		"$one" "$(gbits "$2" 1 min)" "$(gbits "$2" 1 max)" \
		"$four" "$(gbits "$2" 4 min)" "$(gbits "$2" 4 max)" \
		"$(ratio "$one" "$lo1")" "$(ratio "$four" "$lo4")"
}
mode_label() {
	case $1 in
	none) echo "\`--network none\`" ;;
	bridge) echo "\`--network bridge\`" ;;
	host) echo "\`--network host\`" ;;
	publish) echo "\`--network bridge -p 8080:80\`" ;;
	esac
}
run_row() {
	local m=$1 b2b=$RESULTS/net-run-b2b.json cold=$RESULTS/net-run-cold.json
	local b c b0 c0
	b=$(quantile "$m" "$b2b" 0.5); c=$(quantile "$m" "$cold" 0.5)
	b0=$(quantile none "$b2b" 0.5); c0=$(quantile none "$cold" 0.5)
	printf '| %s | %s | %s | %s–%s | %s | %s | %s–%s |\n' "$(mode_label "$m")" \
		"$(fmt "$b")" "$(added "$b" "$b0")" "$(fmt "$(quantile "$m" "$b2b" 0.25)")" "$(fmt "$(quantile "$m" "$b2b" 0.75)")" \
		"$(fmt "$c")" "$(added "$c" "$c0")" "$(fmt "$(quantile "$m" "$cold" 0.25)")" "$(fmt "$(quantile "$m" "$cold" 0.75)")"
}

# pub_q MODE COL Q: the Q-quantile of column COL (2 start, 3 stop) of MODE's rounds.
pub_q() {
	awk -F'\t' -v m="$1" -v c="$2" '$1 == m { print $c }' "$RESULTS/net-publish.tsv" | sort -n |
		awk -v q="$3" '{ v[NR] = $1 } END { i = (NR - 1) * q; lo = int(i); hi = (lo < i) ? lo + 1 : lo;
			printf "%.2f", v[lo + 1] + (v[hi + 1] - v[lo + 1]) * (i - lo) }'
}
pub_row() { # LABEL COL
	local b p
	b=$(pub_q bridge "$2" 0.5); p=$(pub_q publish "$2" 0.5)
	printf '| %s | %s (%s–%s) | %s (%s–%s) | **%s** |\n' "$1" \
		"$b" "$(pub_q bridge "$2" 0.25)" "$(pub_q bridge "$2" 0.75)" \
		"$p" "$(pub_q publish "$2" 0.25)" "$(pub_q publish "$2" 0.75)" "$(added "$p" "$b")"
}
# The figures bench/summary.sh reads, ms.
{
	printf '{\n  "runs": %s, "cold_runs": %s, "pub_rounds": %s,\n' "$RUNS" "$COLD_RUNS" "$PUB_ROUNDS"
	printf '  "load_before": "%s", "load_after": "%s",\n' "$LOAD_BEFORE" "$LOAD_AFTER"
	sep=
	printf '  "run_b2b_ms": {'
	for m in $MODES; do printf '%s"%s": %s' "$sep" "$m" "$(quantile "$m" "$RESULTS/net-run-b2b.json" 0.5)"; sep=", "; done
	printf '},\n  "run_cold_ms": {'
	sep=
	for m in $MODES; do printf '%s"%s": %s' "$sep" "$m" "$(quantile "$m" "$RESULTS/net-run-cold.json" 0.5)"; sep=", "; done
	printf '},\n  "publish_start_ms": {"bridge": %s, "publish": %s},\n' "$(pub_q bridge 2 0.5)" "$(pub_q publish 2 0.5)"
	printf '  "publish_stop_ms": {"bridge": %s, "publish": %s}\n}\n' "$(pub_q bridge 3 0.5)" "$(pub_q publish 3 0.5)"
} >"$RESULTS/figures-net.json"
jq -e . "$RESULTS/figures-net.json" >/dev/null

SECTION=$WORK/section.md
cat >"$SECTION" <<EOF
## Networking

Generated by \`bench/net.sh\` (\`make bench\` runs it after the start-up
benchmark; \`BENCH_NET=0\` skips it) on $(date -u '+%Y-%m-%d %H:%M UTC'), berth commit
$COMMIT; binary: $BUILT.
Load average before / after: $LOAD_BEFORE / $LOAD_AFTER; the measurements took ${ELAPSED} s.
Raw JSON: \`bench/results/net-*.json\` after a run.

Everything runs in a network namespace the script makes, the "bench
netns", which plays the host: berth runs in it (\`nsenter --net\`), so
berth0 (10.88.0.1/16), the veths, berth's nftables table and ip_forward
are all made there, and the real host's network is not touched.

### TCP throughput, Gbit/s

$(iperf3 --version | head -n1 | awk '{print "iperf3 " $2}') (Debian's), ${SECS} s per test, **median of $REPS** (min–max in
brackets); the figure is the receiver's (\`end.sum_received\` of \`iperf3 -J\`).
The repetitions are interleaved: each one runs every path, 1 then 4
streams. The container's rootfs holds busybox, \`/usr/bin/iperf3\` and the
libraries \`ldd\` lists. Both ends share the VM's $(nproc) cores, so these
are CPU-bound figures: differences under ~15% are noise here.

| path | 1 stream | 4 streams (\`-P 4\`) | 1 stream / loopback | 4 streams / loopback |
|---|---:|---:|---:|---:|
$(iperf_row "loopback 127.0.0.1 (client and server in the bench netns)" loopback)
$(iperf_row "container → host over the veth (client in \`berth run --network bridge\`, server on berth0's 10.88.0.1)" ctr2host)
$(iperf_row "host → container over the veth (server in a bridge container, to its address $CTR_ADDR)" host2ctr)
$(iperf_row "host → container via published port (\`-p 127.0.0.1:$PUB_PORT:$PORT\`, client to 127.0.0.1:$PUB_PORT, nftables DNAT)" published)

For comparison, **not measured by this run**: the figures recorded in
shared/anchors.md ("Networking, images and monitors") for this machine
type, iperf3 10 s, median of 3, Gbit/s. The VM's speed drifts (this run's
loopback, 1 stream: $(gbits loopback 1 median) Gbit/s, against 28.8 there): compare
paths by their ratios to loopback, each within its own run.

| path (from anchors.md) | 1 stream | 4 streams |
|---|---:|---:|
| loopback 127.0.0.1 | 28.8 | 25.2 |
| netns ↔ netns over one veth pair (the floor for a container network) | 19.6 | 52.1 |
| host → netns via bridge + veth | 17.9 | 50.5 |
| published port via nftables DNAT, to 127.0.0.1 | 16.8 | 41.4 |
| podman (netavark) bridge, container → host | 17.3 | 43.0 |
| podman \`-p 127.0.0.1:PORT:PORT\` | 16.8 | 35.8 |

### Time networking adds to \`berth run\`, ms

\`berth run --rm MODE --rootfs R true\` in the bench netns, the four modes
side by side in $BENCH_ROUNDS rounds of hyperfine (\`-N\`; each round runs a
share of every mode's runs, in an order rotated from round to round, as
bench/run.sh does), after a warm-up (the first bridge run creates berth0
and berth's nftables table; later runs find them). Back to back: $RUNS
runs per mode; cold: $COLD_RUNS runs, each after \`sleep 0.25\`. Medians and
25th–75th percentiles from hyperfine's per-run times, of all rounds;
"added" is the median minus that of \`--network none\` in the same runs.

| mode | back to back | added | 25th–75th | cold | added | 25th–75th |
|---|---:|---:|---:|---:|---:|---:|
$(for m in $MODES; do run_row "$m"; done)

After all $((RUNS + COLD_RUNS + WARMUP + 4)) runs of each mode, $LEFT_ADDRS addresses and $LEFT_RULES port mappings were
left, and $LEFT_VETHS veths after $((SETTLE * 100)) ms (a container's veth goes with its
network namespace, which the kernel frees asynchronously after the exit).

### What \`-p\` adds at start and at stop, ms

\`berth run -d --network bridge [-p 8080:80] --rootfs R sleep 100000\` (start:
until \`run -d\` returns, the container running and its port published), then
\`berth rm -f\` (stop: kill, network and port mapping taken down, record
removed), timed apart; without and with \`-p\` interleaved, $PUB_ROUNDS rounds. Medians
with the 25th–75th percentile; "added" is with \`-p\` minus without. Port
mappings left after the rounds: $LEFT_RULES_PUB.

| step | bridge | bridge -p 8080:80 | added |
|---|---:|---:|---:|
$(pub_row "start (\`run -d\`)" 2)
$(pub_row "stop (\`rm -f\`)" 3)
EOF

# Replace the section, or append it; the rest of the file stays as it is.
if [ -f "$OUT" ] && grep -q '^## Networking[[:space:]]*$' "$OUT"; then
	awk -v f="$SECTION" '
		/^## Networking[[:space:]]*$/ { while ((getline l < f) > 0) print l; skip = 1; next }
		skip && /^## / { skip = 0; print "" }
		!skip { print }' "$OUT" >"$WORK/out.md"
elif [ -f "$OUT" ]; then
	{ cat "$OUT"; echo; cat "$SECTION"; } >"$WORK/out.md"
else
	cp "$SECTION" "$WORK/out.md"
fi
cat "$WORK/out.md" >"$OUT"
echo "== updated the Networking section of $OUT"
cat "$SECTION"
