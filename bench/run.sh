#!/bin/bash
# bench/run.sh: start-up benchmark of `berth run` and `berth-oci run` against
# runc and crun.
#
# What it does:
#   1. builds bin/berth and bin/berth-oci, a busybox rootfs and two OCI
#      bundles (default config, and with pids/memory limits) equivalent to
#      what `berth run` does: all of pid/mount/uts/ipc/net/cgroup namespaces,
#      the same mounts, capabilities, device rules, masked and read-only
#      paths (but no seccomp: berth run adds Docker's profile);
#      runc, crun and berth-oci run the very same bundles; and, for
#      berth run against berth-oci on the same work, two bundles of the
#      config berth run itself makes (seccomp profile and all), which
#      berth-oci also runs ("berth-oci-same");
#   2. inside ONE private mount namespace with /sys/fs/cgroup/unified unmounted
#      (crun 1.8.1 refuses hybrid cgroup hosts; every runtime runs in the same
#      namespace so they pay the same), runs hyperfine with runc, crun, berth
#      and berth-oci side by side, back to back and cold (0.25 s idle before
#      each run, because writing cgroup.procs is slow after idle), plus the
#      namespace floor `unshare --fork --pid --mount --uts --ipc --net --mount-proc true`
#      and the process floors: an empty static Go program (built with the
#      Go that builds berth-oci) and an empty static C program (gcc), what
#      a process of each language costs here before it does anything;
#   3. measures peak RSS with /usr/bin/time -f %M (and, by bench/mem.py,
#      what the runtime's process holds at its peak, by mapping), the wall time of
#      BENCH_CONC_N (50) starts at once of runc, crun and berth-oci;
#      then bench/phases.py: where one start's time goes, step by step
#      (fork, init stage exec, pivot_root, the program's exec and exit),
#      from the kernel's tracing, for runc, crun, berth-oci, berth and the
#      floor on the default bundle, and bench/steps.py: berth run against
#      berth-oci on the same config, cut at the Go functions of each step
#      (uprobes on unstripped builds; BENCH_PHASES_RUNS=0 skips both);
#   4. computes medians from hyperfine's per-run times and writes
#      docs/bench.md (raw JSON goes to bench/results/);
#   5. removes its temp dir, containers and namespaces;
#   6. runs bench/net.sh, the networking benchmark, which replaces its own
#      "## Networking" section of docs/bench.md (BENCH_NET=0 skips it);
#   7. runs bench/image.sh (pull+unpack against skopeo+umoci, berth run
#      IMAGE latency), which replaces "## Images" (BENCH_IMAGE=0 skips it);
#   8. runs bench/monitor.sh (memory of idle detached containers' monitors
#      against conmon and containerd's shim), "## Monitors" (BENCH_MONITOR=0).
#      Sections of docs/bench.md that this script does not write, such as
#      that one, are kept as they were;
#   9. runs bench/userns.sh (--userns=auto and rootless berth against
#      podman, and rootless throughput), "## User namespaces and rootless
#      (issue 12)" (BENCH_USERNS=0 skips it);
#  10. runs bench/build.sh (berth build against podman build: cold,
#      no-change and one-file rebuilds), "## Build" (BENCH_BUILD=0 skips it);
#  11. runs bench/stopped.sh (berth run --rm with 0 and with 500 stopped
#      containers present, berth-oci run with 0 and 500 kept ones),
#      "## Many stopped containers (issue 15)"
#      (BENCH_STOPPED=0 skips it);
#  12. runs bench/summary.sh: issue 15's targets, each with its figures,
#      ratio and whether it is met, from bench/results/figures-*.json (which
#      run.sh, net.sh, monitor.sh and stopped.sh write), printed and put at
#      the top of docs/bench.md.
#
# berth run gets --network none: runc, crun and berth-oci run a bundle
# whose network namespace has only loopback, and berth's default network
# is a bridge.
#
# Usage: bench/run.sh            (or: make bench)
# Environment:
#   BENCH_RUNS=N       back-to-back runs per command (default 300)
#   BENCH_COLD_RUNS=N  cold runs per command (default BENCH_RUNS/3)
#   BENCH_RSS_RUNS=N   runs for the peak RSS median (default 21)
#   BENCH_ROUNDS=N     rounds the back-to-back and cold runs are split
#                      into, the runtimes' order rotated (default 5)
#   BENCH_CONC_N=N     containers started at once (default 50)
#   BENCH_CONC_ROUNDS=N rounds of concurrent starts, median taken (default 9)
#   BENCH_PHASES_RUNS=N traced starts per command for the phases (default
#                      50; 0 skips them)
#   BENCH_MEM_RUNS=N   starts per runtime for the peak memory by mapping
#                      (default 9; 0 skips it)
#   BENCH_CPU_RUNS=N   starts per runtime for the CPU breakdown (perf;
#                      default 100; 0 skips it, as does a missing perf)
#   BENCH_OUT=FILE     report to write (default docs/bench.md)
#   BERTH=PATH         benchmark this berth binary instead of building
#                      bin/berth (make bench passes the one `make build` made)
#   BERTH_OCI=PATH     the same for berth-oci (default: build bin/berth-oci)
#   BENCH_NET=0        skip bench/net.sh (its knobs: see there)
#   BENCH_SETTLE=S     seconds of idle before bench/net.sh (default 30)
#   BENCH_IMAGE=0      skip bench/image.sh (its knobs: see there)
#   BENCH_MONITOR=0    skip bench/monitor.sh (its knobs: see there)
#   BENCH_USERNS=0     skip bench/userns.sh (its knobs: see there)
#   BENCH_BUILD=0      skip bench/build.sh (its knobs: see there)
#   BENCH_STOPPED=0    skip bench/stopped.sh (its knobs: see there)
# Needs root, runc, crun, hyperfine, jq, GNU time, busybox-static, go,
# python3 and tracefs for the phases, readelf (binutils) for the steps, and
# for bench/net.sh iperf3.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$REPO/bench/results
# shellcheck source=bench/rounds.sh
. "$REPO/bench/rounds.sh"
RUNTIMES="runc crun berth berth-oci"
# berth-oci-same: berth-oci on the config berth run makes (bundle-berth-*),
# the like-for-like reference of berth run. Timed with the others, not in
# the RSS or spread tables.
TIMED="$RUNTIMES berth-oci-same"
FLOOR_CMD="unshare --fork --pid --mount --uts --ipc --net --mount-proc true"

# ---------------------------------------------------------------------------
# Measurement phase: runs inside the private mount namespace (see main below).
# ---------------------------------------------------------------------------
if [ "${1:-}" = __measure ]; then
	if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
		echo "bench: /sys/fs/cgroup/unified is still mounted in the namespace" >&2
		exit 1
	fi
	# Fixed IDs are fine: runs are sequential, and `run` of a non-detached
	# container deletes it on exit. State lives in our own --root dirs, and
	# berth's runtime state in a --runroot of ours beside them: its default,
	# /run/berth, is on this machine's ext4 disk (/run is not a tmpfs
	# here), where creating and removing the container's state cost berth
	# 0.4 ms of each start that berth-oci, its state on tmpfs, did not pay.
	# rt_cmd RUNTIME VARIANT: the command that starts the container.
	rt_cmd() {
		case $1 in
		runc | crun) echo "$1 --root $WORK/state/$1 run --bundle $WORK/bundle-$2 bench-$1" ;;
		berth-oci) echo "$BERTH_OCI --root $WORK/state/berth-oci run --bundle $WORK/bundle-$2 bench-berth-oci" ;;
		berth-oci-same) echo "$BERTH_OCI --root $WORK/state/berth-oci run --bundle $WORK/bundle-berth-$2 bench-berth-oci-same" ;;
		berth)
			local extra=
			[ "$2" = limits ] && extra="--pids-limit 64 --memory 256m "
			echo "$BERTH --root $WORK/state/berth --runroot $WORK/state/berth-run run --rm --network none ${extra}--rootfs $WORK/rootfs true"
			;;
		esac
	}
	# set_hf_args VARIANT: hf_args becomes hyperfine's -n NAME COMMAND
	# pairs, one per runtime.
	set_hf_args() {
		hf_args=()
		for name in $TIMED; do hf_args+=(-n "$name" "$(rt_cmd "$name" "$1")"); done
	}

	# The config berth run makes, as berth-oci's bundle: a kept run's
	# saved spec (its seccomp profile, hostname and all), the container
	# then removed.
	for v in default limits; do
		extra=()
		[ $v = limits ] && extra=(--pids-limit 64 --memory 256m)
		id=$("$BERTH" --root "$WORK/state/berth-spec" run -d --network none "${extra[@]}" --rootfs "$WORK/rootfs" true)
		"$BERTH" --root "$WORK/state/berth-spec" wait "$id" >/dev/null
		mkdir -p "$WORK/bundle-berth-$v"
		cp "$WORK/state/berth-spec/containers/$id/spec.json" "$WORK/bundle-berth-$v/config.json"
		"$BERTH" --root "$WORK/state/berth-spec" rm "$id" >/dev/null
	done

	# Smoke test: each command once, with its output visible, so that a
	# failure says what went wrong instead of just failing hyperfine.
	for v in default limits; do
		for name in $TIMED; do
			c=$(rt_cmd "$name" $v)
			echo "+ $c"
			$c || { echo "bench: command failed (status $?): $c" >&2; exit 1; }
		done
	done

	WARMUP=20
	[ "$BENCH_RUNS" -lt 60 ] && WARMUP=5
	for v in default limits; do
		floor=()
		[ $v = default ] && floor=(-n floor "$FLOOR_CMD" -n go-floor "$BINDIR/go-floor" -n c-floor "$BINDIR/c-floor")
		set_hf_args $v
		echo "== $v, back to back: $BENCH_RUNS runs in $BENCH_ROUNDS rounds"
		rounds "$RESULTS/$v-b2b.json" "$BENCH_RUNS" $WARMUP -- "${floor[@]}" "${hf_args[@]}"
		echo "== $v, cold (sleep 0.25 before each run): $BENCH_COLD_RUNS runs in $BENCH_ROUNDS rounds"
		rounds "$RESULTS/$v-cold.json" "$BENCH_COLD_RUNS" 3 --prepare 'sleep 0.25' -- "${floor[@]}" "${hf_args[@]}"
	done

	# Peak RSS: GNU time reports the largest resident set among the command
	# and the descendants it waited for (runc init, berth's init stage, ...).
	echo "== peak RSS: $BENCH_RSS_RUNS runs each"
	: >"$RESULTS/rss.tsv"
	for name in $RUNTIMES; do
		cmd=$(rt_cmd "$name" default)
		for _ in $(seq "$BENCH_RSS_RUNS"); do
			# shellcheck disable=SC2086 # the command's words
			/usr/bin/time -f %M -o "$WORK/rss" $cmd
			printf '%s\t%s\n' "$name" "$(tail -n1 "$WORK/rss")" >>"$RESULTS/rss.tsv"
		done
	done

	# Concurrency: BENCH_CONC_N starts at once of one runtime, timed from
	# the first fork to the last exit; the runtimes take turns within each
	# round (the order rotates), so drift on this shared machine hits all
	# alike. On 2 cores this is CPU per start more than latency.
	echo "== $BENCH_CONC_N concurrent starts: $BENCH_CONC_ROUNDS rounds"
	conc_round() { # NAME ROUND: one round's wall time in ms, on stdout
		local i t0 t1 fail=0 pids=() cmd
		cmd=$(rt_cmd "$1" default)
		t0=$EPOCHREALTIME
		for i in $(seq "$BENCH_CONC_N"); do
			# shellcheck disable=SC2086 # the command's words
			$cmd-$2-$i >/dev/null 2>"$WORK/conc-$1-$i.err" &
			pids+=($!)
		done
		for i in "${pids[@]}"; do wait "$i" || fail=1; done
		t1=$EPOCHREALTIME
		if [ $fail = 1 ]; then
			echo "bench: a concurrent start of $1 failed:" >&2
			cat "$WORK"/conc-"$1"-*.err >&2
			return 1
		fi
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }'
	}
	CONC_RUNTIMES="runc crun berth-oci"
	: >"$RESULTS/conc.tsv"
	for r in $(seq "$BENCH_CONC_ROUNDS"); do
		# rotate: round r starts with the ((r-1) mod 3)th runtime
		order=$(echo $CONC_RUNTIMES $CONC_RUNTIMES | cut -d' ' -f$(( (r - 1) % 3 + 1 ))-$(( (r - 1) % 3 + 3 )))
		for name in $order; do
			ms=$(conc_round "$name" "$r")
			printf '%s\t%s\t%s\n' "$name" "$r" "$ms" >>"$RESULTS/conc.tsv"
			echo "   round $r $name: $ms ms"
		done
	done

	# Phases: the steps of one start, from the kernel's tracing of each
	# run's process tree (see bench/phases.py), the runtimes interleaved.
	if [ "$BENCH_PHASES_RUNS" != 0 ]; then
		echo "== phases of one start (kernel tracing): $BENCH_PHASES_RUNS runs each"
		phase_args=()
		for name in runc crun berth-oci berth; do phase_args+=("$name=$(rt_cmd "$name" default)"); done
		python3 "$REPO/bench/phases.py" --runs "$BENCH_PHASES_RUNS" --json "$RESULTS/phases.json" \
			"${phase_args[@]}" floor >"$WORK/phases.md"
		sed -i "s|$WORK/|WORK/|g" "$WORK/phases.md" # as the report's commands say it
		cat "$WORK/phases.md"
		# berth run against berth-oci on the same config, cut at the Go
		# functions that do each step (bench/steps.py), with unstripped
		# builds of the same source in $WORK/steps.
		echo "== berth run against berth-oci, step by step (uprobes): $BENCH_PHASES_RUNS runs each"
		b=$(rt_cmd berth default); o=$(rt_cmd berth-oci-same default)
		python3 "$REPO/bench/steps.py" --runs "$BENCH_PHASES_RUNS" --json "$RESULTS/steps.json" \
			"berth run=$WORK/steps/berth${b#"$BERTH"}" "berth-oci=$WORK/steps/berth-oci${o#"$BERTH_OCI"}" \
			>"$WORK/steps.md"
		sed -i "s|$WORK/|WORK/|g" "$WORK/steps.md"
		cat "$WORK/steps.md"
	fi
	# Memory: what the runtime's process holds at its peak, by mapping
	# (see bench/mem.py), beside the floors waiting on their stdin.
	if [ "$BENCH_MEM_RUNS" != 0 ]; then
		echo "== peak memory by mapping: $BENCH_MEM_RUNS runs each"
		python3 "$REPO/bench/mem.py" --runs "$BENCH_MEM_RUNS" --json "$RESULTS/mem.json" \
			--config "$WORK/bundle-default/config.json" \
			"crun=crun --root $WORK/state/crun run --bundle {bundle} {id}" \
			"berth-oci=$BERTH_OCI --root $WORK/state/berth-oci run --bundle {bundle} {id}" \
			"runc=runc --root $WORK/state/runc run --bundle {bundle} {id}" \
			"empty Go program=$WORK/go-wait" "empty C program=$WORK/c-wait" >"$WORK/mem.md"
		cat "$WORK/mem.md"
	fi
	# CPU: where each start's CPU time goes, sampled with perf, one start
	# after another and $BENCH_CONC_N at once (see bench/cpu.py).
	if [ "$BENCH_CPU_RUNS" != 0 ]; then
		echo "== CPU per start (perf): $BENCH_CPU_RUNS starts each"
		python3 "$REPO/bench/cpu.py" --runs "$BENCH_CPU_RUNS" --conc "$BENCH_CONC_N" --json "$RESULTS/cpu.json" \
			"crun=$(rt_cmd crun default)-{id}" "berth-oci=$(rt_cmd berth-oci default)-{id}" \
			"berth*=$(rt_cmd berth default)" >"$WORK/cpu.md"
		cat "$WORK/cpu.md"
	fi
	exit 0
fi

# ---------------------------------------------------------------------------
# Main phase: set up, measure in the namespace, report, clean up.
# ---------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 1; }
BENCH_NET=${BENCH_NET:-1}
tools="runc crun hyperfine jq unshare /usr/bin/time"
[ "$BENCH_NET" = 0 ] || tools="$tools iperf3"
for tool in $tools; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found (scripts/install-deps.sh, or apt-get install runc crun hyperfine jq time iperf3)" >&2; exit 1; }
done
if ! [ -x /bin/busybox ] || ! /bin/busybox --list | grep -qx sh; then
	echo "bench: need a static /bin/busybox (apt-get install busybox-static)" >&2; exit 1
fi

for tool in go gcc; do # gcc and go build the process floors (and go berth, unless given)
	command -v $tool >/dev/null || { echo "bench: $tool not found (apt-get install gcc; Go from go.dev)" >&2; exit 1; }
done

export BENCH_RUNS=${BENCH_RUNS:-300}
export BENCH_COLD_RUNS=${BENCH_COLD_RUNS:-$(( BENCH_RUNS / 3 > 10 ? BENCH_RUNS / 3 : 10 ))}
export BENCH_RSS_RUNS=${BENCH_RSS_RUNS:-21}
export BENCH_CONC_N=${BENCH_CONC_N:-50}
export BENCH_CONC_ROUNDS=${BENCH_CONC_ROUNDS:-9}
export BENCH_ROUNDS=${BENCH_ROUNDS:-5}
export BENCH_PHASES_RUNS=${BENCH_PHASES_RUNS:-50}
export BENCH_CPU_RUNS=${BENCH_CPU_RUNS:-100}
export BENCH_MEM_RUNS=${BENCH_MEM_RUNS:-9}
BENCH_SETTLE=${BENCH_SETTLE:-30}
if [ "$BENCH_CPU_RUNS" != 0 ] && ! command -v perf >/dev/null; then
	echo "bench: perf not found (apt-get install linux-perf): no CPU breakdown" >&2
	BENCH_CPU_RUNS=0
fi
OUT=${BENCH_OUT:-$REPO/docs/bench.md}

# Runs "$@" in a private mount namespace with the cgroup2 mount of a hybrid
# host removed (the host itself is not touched; / is private here).
in_ns() {
	unshare -m --propagation private sh -c \
		'if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified || exit 1; fi; exec "$@"' sh "$@"
}

# tmpfs keeps the ext4 disk's slow file creation out of the state writes.
export WORK
WORK=$(mktemp -d /dev/shm/berth-bench.XXXXXX)
# The binaries timed (berth, berth-oci, their stages, the floors) are on
# the disk, where recache can put each in the page cache the same way.
export BINDIR
BINDIR=$(mktemp -d /var/tmp/berth-bench-bin.XXXXXX)
chmod 755 "$BINDIR"

# recache FILE...: evicts each file from the page cache and reads it back
# in one pass. How a binary's pages came into the page cache (written by
# a linker or cp on tmpfs, read back by readahead) decides its folio sizes
# and so the page faults that map it: the same berth build measured 1.05
# against a cp copy of itself (docs/bench.md, "Before and after a
# change"). Every runtime timed here is cached this way, crun and runc in
# place (their shared libraries, mapped by running processes, stay as
# they are).
recache() {
	sync
	python3 - "$@" <<'PY'
import os, sys
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    while os.read(fd, 1 << 20):
        pass
    os.close(fd)
PY
}
cleanup() {
	set +e
	if [ -d "$WORK/state/runc" ]; then in_ns runc --root "$WORK/state/runc" delete -f bench-runc >/dev/null 2>&1; fi
	if [ -d "$WORK/state/crun" ]; then in_ns crun --root "$WORK/state/crun" delete -f bench-crun >/dev/null 2>&1; fi
	if [ -d "$WORK/state/berth-oci" ]; then
		in_ns "$BERTH_OCI" --root "$WORK/state/berth-oci" delete -f bench-berth-oci >/dev/null 2>&1
		in_ns "$BERTH_OCI" --root "$WORK/state/berth-oci" delete -f bench-berth-oci-same >/dev/null 2>&1
	fi
	# berth --rm removes its own cgroups; a record left behind (berth killed)
	# still lists them.
	for rec in "$WORK"/state/berth-run/*/state.json; do
		[ -f "$rec" ] || continue
		echo "bench: berth left a container record: $rec" >&2
		for d in $(jq -r '.cgroupDirs[]?' "$rec" | sort -r); do rmdir "$d" 2>/dev/null; done
	done
	rm -rf "$WORK" "$BINDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The commit the binary comes from; "dirty" only counts berth's own sources.
COMMIT=$(cd "$REPO" && git rev-parse --short HEAD)
if [ -n "$(cd "$REPO" && git status --porcelain --untracked-files=no -- cmd internal go.mod go.sum)" ]; then
	COMMIT="$COMMIT (with uncommitted changes to cmd/ or internal/)"
fi
# binary VAR NAME: the binary in $VAR, or bin/NAME built now; a private copy
# of it goes to $WORK/NAME (others may rebuild bin/ while the benchmark
# runs), and VAR names that copy. BUILT says where each came from.
BUILT=
binary() {
	local bin=${!1:-} from
	if [ -n "$bin" ]; then
		from="${bin#"$REPO"/} (as given in $1)"
	else
		echo "== building bin/$2"
		(cd "$REPO" && CGO_ENABLED=0 go build -o "bin/$2" "./cmd/$2" && CGO_ENABLED=0 go build -o bin/berth-init ./cmd/berth-init)
		bin=$REPO/bin/$2
		from="bin/$2 (built with CGO_ENABLED=0 go build)"
	fi
	[ -x "$bin" ] || { echo "bench: $bin is not executable" >&2; exit 1; }
	cp "$bin" "$BINDIR/$2"
	# The init stage berth and berth-oci exec goes beside the copy, as
	# make install puts it: without it both fall back to exec'ing
	# themselves (the whole binary's start), which is not what users run.
	local helper
	for helper in berth-init berth-nsenter berth-stage berth-monitor berth-pid1 berth-build berth-registry berth-format berth-cdi; do
		[ -e "$BINDIR/$helper" ] && continue
		if [ -x "$(dirname "$bin")/$helper" ]; then
			cp "$(dirname "$bin")/$helper" "$BINDIR/$helper"
		elif [ "$helper" = berth-init ]; then
			echo "bench: no berth-init beside $bin (make build makes it)" >&2
			exit 1
		fi
	done
	export "$1=$BINDIR/$2"
	BUILT="${BUILT:+$BUILT and }$from"
}
# bench/userns.sh needs berth-init and berth-nsenter beside berth: it gets
# the binary where it was given (or built), not the copy below.
BERTH_DIR_BIN=${BERTH:-$REPO/bin/berth}
binary BERTH berth
binary BERTH_OCI berth-oci
# bench/steps.py places its probes by symbol: unstripped builds of the
# same source, with the helpers beside them.
if [ "$BENCH_PHASES_RUNS" != 0 ]; then
	echo "== unstripped berth and berth-oci for bench/steps.py"
	mkdir -p "$WORK/steps"
	(cd "$REPO" && CGO_ENABLED=0 go build -o "$WORK/steps/berth" ./cmd/berth &&
		CGO_ENABLED=0 go build -o "$WORK/steps/berth-oci" ./cmd/berth-oci)
	for helper in berth-init berth-nsenter berth-stage berth-monitor; do
		[ -e "$BINDIR/$helper" ] && cp "$BINDIR/$helper" "$WORK/steps/$helper"
	done
fi

# The process floors: what starting an empty static program costs here,
# in Go (the toolchain that builds berth-oci, the same CGO_ENABLED=0) and
# in C. berth-oci pays the first before it does anything; crun, a C
# program, pays the second.
echo "== process floors: empty static Go and C programs"
mkdir -p "$WORK/floors"
printf 'package main\n\nfunc main() {}\n' >"$WORK/floors/main.go"
printf 'module floor\n\ngo 1.22\n' >"$WORK/floors/go.mod"
(cd "$WORK/floors" && CGO_ENABLED=0 GOFLAGS= go build -o "$BINDIR/go-floor" .) ||
	{ echo "bench: cannot build the Go floor (go needed)" >&2; exit 1; }
printf 'int main(void) { return 0; }\n' >"$WORK/floors/main.c"
gcc -static -O2 -o "$BINDIR/c-floor" "$WORK/floors/main.c" ||
	{ echo "bench: cannot build the C floor (gcc needed)" >&2; exit 1; }
# The same floors for bench/mem.py, which reads a process's memory while
# it waits: each says it is ready, then waits for its stdin to close.
mkdir -p "$WORK/floors/wait"
cat >"$WORK/floors/wait/main.go" <<'EOF'
package main

import "os"

func main() {
	os.Stdout.WriteString("ready\n")
	os.Stdin.Read(make([]byte, 1))
}
EOF
printf 'module floor\n\ngo 1.22\n' >"$WORK/floors/wait/go.mod"
(cd "$WORK/floors/wait" && CGO_ENABLED=0 GOFLAGS= go build -o "$WORK/go-wait" .) ||
	{ echo "bench: cannot build the waiting Go floor" >&2; exit 1; }
cat >"$WORK/floors/wait.c" <<'EOF'
#include <unistd.h>
int main(void) { char c; write(1, "ready\n", 6); return read(0, &c, 1) < 0; }
EOF
gcc -static -O2 -o "$WORK/c-wait" "$WORK/floors/wait.c" ||
	{ echo "bench: cannot build the waiting C floor" >&2; exit 1; }

echo "== busybox rootfs and OCI bundles in $WORK"
R=$WORK/rootfs
mkdir -p "$R"/bin "$R"/etc "$R"/proc "$R"/sys "$R"/dev "$R"/tmp "$R"/root "$WORK"/state
cp /bin/busybox "$R"/bin/busybox
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -s busybox "$R/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$R"/etc/passwd
echo 'root:x:0:' >"$R"/etc/group

# The bundle config: `runc spec`, made to match internal/spec's Default().
mkdir -p "$WORK/bundle-default" "$WORK/bundle-limits"
(cd "$WORK/bundle-default" && runc spec)
jq --arg rootfs "$R" '
	["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD",
	 "CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP",
	 "CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"] as $caps
	| def dev($t; $maj; $min): {allow: true, type: $t, major: $maj, minor: $min, access: "rwm"};
	.ociVersion = "1.0.2-dev"   # crun 1.8.1 wants "1.0" in it
	| .root = {path: $rootfs, readonly: false}
	| .hostname = "berth"
	| .process.terminal = false
	| .process.args = ["true"]
	| .process.cwd = "/"
	| .process.user = {uid: 0, gid: 0}
	| .process.env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	                  "HOSTNAME=berth", "HOME=/root"]
	| .process.capabilities = {bounding: $caps, effective: $caps, permitted: $caps}
	| .process.noNewPrivileges = true
	| del(.process.rlimits)
	| .mounts = [
		{destination: "/proc", type: "proc", source: "proc", options: ["nosuid","noexec","nodev"]},
		{destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid","strictatime","mode=755","size=65536k"]},
		{destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
		{destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid","noexec","nodev","mode=1777","size=65536k"]},
		{destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid","noexec","nodev"]},
		{destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid","noexec","nodev","ro"]},
		{destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid","noexec","nodev","relatime","ro"]}]
	| .linux.namespaces = [{type: "pid"}, {type: "mount"}, {type: "uts"}, {type: "ipc"}, {type: "network"}, {type: "cgroup"}]
	| .linux.resources = {devices: [
		{allow: false, access: "rwm"},
		{allow: true, type: "c", access: "m"},
		{allow: true, type: "b", access: "m"},
		dev("c"; 1; 3), dev("c"; 1; 5), dev("c"; 1; 7), dev("c"; 1; 8), dev("c"; 1; 9),
		dev("c"; 5; 0), dev("c"; 5; 1), dev("c"; 5; 2), {allow: true, type: "c", major: 136, access: "rwm"},
		dev("c"; 10; 200)]}
	| .linux.maskedPaths = ["/proc/asound","/proc/acpi","/proc/interrupts","/proc/kcore","/proc/keys",
		"/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/proc/scsi",
		"/sys/firmware","/sys/devices/virtual/powercap"]
	| .linux.readonlyPaths = ["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]
' "$WORK/bundle-default/config.json" >"$WORK/config.json"
mv "$WORK/config.json" "$WORK/bundle-default/config.json"
# Same limits as `berth run --pids-limit 64 --memory 256m` (swap: as much as
# memory again, Docker's default, which berth follows).
jq '.linux.resources.pids = {limit: 64}
	| .linux.resources.memory = {limit: 268435456, swap: 536870912}' \
	"$WORK/bundle-default/config.json" >"$WORK/bundle-limits/config.json"

mkdir -p "$RESULTS"
rm -f "$RESULTS"/figures-*.json # figures of this run only, for bench/summary.sh
export RESULTS
recache "$BINDIR"/* "$(command -v crun)" "$(command -v runc)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)
in_ns bash "$REPO/bench/run.sh" __measure
ELAPSED=$(( $(date +%s) - START ))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
cp "$WORK/bundle-default/config.json" "$RESULTS/config-default.json"
cp "$WORK/bundle-limits/config.json" "$RESULTS/config-limits.json"

# ---------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------
# quantile NAME FILE Q: the Q-quantile (0.5: the median) of one command's
# per-run times in FILE, in ms, interpolated between the two nearest runs.
quantile() {
	jq -r --arg n "$1" --argjson q "$3" '
		def quantile($q): sort | ((length - 1) * $q) as $i | ($i | floor) as $lo | ($i | ceil) as $hi
			| .[$lo] + (.[$hi] - .[$lo]) * ($i - $lo);
		.results[] | select(.command == $n) | .times | quantile($q) * 1000' "$2"
}
median() { quantile "$1" "$2" 0.5; }
fmt() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# row LABEL FILE: a table row with the medians of FILE and the ratios.
row() {
	local runc crun berth oci fl
	runc=$(median runc "$2"); crun=$(median crun "$2"); berth=$(median berth "$2"); oci=$(median berth-oci "$2")
	if jq -e '.results[] | select(.command == "floor")' "$2" >/dev/null; then
		fl=$(fmt "$(median floor "$2")")
	else
		fl=—
	fi
	printf '| %s | %s | %s | %s | %s | %s | %s | **%s** | **%s** | %s | %s |\n' "$1" \
		"$(fmt "$runc")" "$(fmt "$crun")" "$(fmt "$berth")" "$(fmt "$oci")" \
		"$(ratio "$berth" "$runc")" "$(ratio "$berth" "$crun")" \
		"$(ratio "$oci" "$runc")" "$(ratio "$oci" "$crun")" "$(ratio "$crun" "$runc")" "$fl"
}
# same_row LABEL FILE: berth against berth-oci on its own config and on the
# bench bundle.
same_row() {
	local berth same oci
	berth=$(median berth "$2"); same=$(median berth-oci-same "$2"); oci=$(median berth-oci "$2")
	printf '| %s | %s | %s | %s | **%s** | %s | %s |\n' "$1" "$(fmt "$berth")" "$(fmt "$same")" "$(fmt "$oci")" \
		"$(ratio "$berth" "$same")" "$(ratio "$berth" "$oci")" "$(ratio "$same" "$oci")"
}
# spread LABEL FILE: a table row with the 25th-75th percentiles of FILE.
spread() {
	local out="| $1 |" name
	for name in $RUNTIMES; do
		out="$out $(fmt "$(quantile "$name" "$2" 0.25)")–$(fmt "$(quantile "$name" "$2" 0.75)") |"
	done
	echo "$out"
}
rss_median() {
	awk -F'\t' -v n="$1" '$1 == n { print $2 }' "$RESULTS/rss.tsv" | sort -n |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

RSS_RUNC=$(rss_median runc); RSS_CRUN=$(rss_median crun); RSS_BERTH=$(rss_median berth)
RSS_OCI=$(rss_median berth-oci)
# conc_median NAME: median wall time of NAME's concurrent rounds, ms.
conc_median() {
	awk -F'\t' -v n="$1" '$1 == n { print $3 }' "$RESULTS/conc.tsv" | sort -n |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
conc_range() { awk -F'\t' -v n="$1" '$1 == n { print $3 }' "$RESULTS/conc.tsv" | sort -n | sed -n '1p;$p' | paste -sd'-'; }
CONC_RUNC=$(conc_median runc); CONC_CRUN=$(conc_median crun); CONC_OCI=$(conc_median berth-oci)

# floors_table: the process floors against crun and berth-oci, back to
# back and cold.
floors_table() {
	local f v c g n crun oci
	echo "| case | empty C program | empty Go program | namespace floor | crun | berth-oci | crun − C | berth-oci − Go |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for v in b2b cold; do
		f=$RESULTS/default-$v.json
		c=$(median c-floor "$f"); g=$(median go-floor "$f"); n=$(median floor "$f")
		crun=$(median crun "$f"); oci=$(median berth-oci "$f")
		printf '| default, %s | %s | %s | %s | %s | %s | %s | %s |\n' \
			"$([ $v = b2b ] && echo "back to back" || echo cold)" "$(fmt "$c")" "$(fmt "$g")" "$(fmt "$n")" \
			"$(fmt "$crun")" "$(fmt "$oci")" "$(fmt "$(awk -v a="$crun" -v b="$c" 'BEGIN { print a - b }')")" \
			"$(fmt "$(awk -v a="$oci" -v b="$g" 'BEGIN { print a - b }')")"
	done
}

# The figures bench/summary.sh reads (medians: ms, RSS: KiB).
# figure_set NAME FILE: "NAME": {runtime: median, ...} for FILE.
figure_set() {
	local out="\"$1\": {" sep= name
	for name in $TIMED; do out="$out$sep\"$name\": $(median "$name" "$2")"; sep=", "; done
	echo "$out}"
}
cat >"$RESULTS/figures-run.json" <<JSON
{
  "runs": $BENCH_RUNS, "cold_runs": $BENCH_COLD_RUNS, "rss_runs": $BENCH_RSS_RUNS,
  "conc_n": $BENCH_CONC_N, "conc_rounds": $BENCH_CONC_ROUNDS,
  "load_before": "$LOAD_BEFORE", "load_after": "$LOAD_AFTER",
  $(figure_set default_b2b "$RESULTS/default-b2b.json"),
  $(figure_set default_cold "$RESULTS/default-cold.json"),
  $(figure_set limits_b2b "$RESULTS/limits-b2b.json"),
  $(figure_set limits_cold "$RESULTS/limits-cold.json"),
  "floors_b2b": {"namespaces": $(median floor "$RESULTS/default-b2b.json"), "go": $(median go-floor "$RESULTS/default-b2b.json"), "c": $(median c-floor "$RESULTS/default-b2b.json")},
  "floors_cold": {"namespaces": $(median floor "$RESULTS/default-cold.json"), "go": $(median go-floor "$RESULTS/default-cold.json"), "c": $(median c-floor "$RESULTS/default-cold.json")},
  "rss_kib": {"runc": $RSS_RUNC, "crun": $RSS_CRUN, "berth": $RSS_BERTH, "berth-oci": $RSS_OCI},
  "conc_wall_ms": {"runc": $CONC_RUNC, "crun": $CONC_CRUN, "berth-oci": $CONC_OCI}
}
JSON
jq -e . "$RESULTS/figures-run.json" >/dev/null

# The sections other scripts write (bench/net.sh's "## Networking", and
# any other "## " section this script does not write) are kept as they
# are, after this script's own; bench/net.sh then replaces its own.
OWN_SECTIONS='Machine|Method|Start-up time, median ms|Process floors, median ms|Peak RSS, KiB|Concurrent starts, wall ms'
# Skipped, the phases keep the section an earlier run wrote.
[ "$BENCH_PHASES_RUNS" = 0 ] || OWN_SECTIONS="$OWN_SECTIONS|Where the start time goes [(]phases[)]|berth run against berth-oci, step by step [(]uprobes[)]"
[ "$BENCH_CPU_RUNS" = 0 ] || OWN_SECTIONS="$OWN_SECTIONS|Where the CPU time goes [(]perf[)]"
KEPT=
if [ -f "$OUT" ]; then
	KEPT=$(awk -v own="^## ($OWN_SECTIONS)[[:space:]]*\$" '/^## / { keep = ($0 !~ own) } keep' "$OUT")
fi

# The phases' section, when they ran (it starts with a blank line: it
# follows the last table's row directly).
PHASES_SECTION=
if [ -s "$WORK/phases.md" ]; then
	PHASES_SECTION="

## Where the start time goes (phases)

One start of the default bundle cut into steps, median ms over $BENCH_PHASES_RUNS
traced runs per command (the commands take turns, round robin). The steps
come from the kernel's own tracing, not from the runtimes: a tracefs
instance records fork, exec, exit, unshare and pivot_root of the runtime's
process tree only (set_event_pid with event-fork), on the mono clock, and
\`bench/phases.py\` finds in each run the runtime's exec, the fork (out of
the runtime's process) of the program's first ancestor, the first exec on
that lineage (the init stage: \`runc init\` by /proc/self/exe, berth-init or
berth-stage by a descriptor, /proc/self/fd/N; crun and the floor have
none), the first pivot_root, the program's exec and exit, and the
runtime's exit. A row runs from the step before it; where a step is absent
(—) the next row counts from the step before that. Medians are per row, so
they need not add up to the total, whose median is given apart. The
runtimes do the same work in different steps (crun and berth make the
namespaces in the fork, runc in its init stage: see the lineages below the
table), so compare a row across runtimes with that in mind. The floor runs
the host's /usr/bin/true (dynamically linked), the runtimes busybox's. The
tracing records a few dozen events per start, and while it runs every
syscall on the host takes the traced entry path (the pivot_root and unshare
events); interleaved starts with and without it differed by less than the
run-to-run noise. Raw steps: \`bench/results/phases.json\`.

$(cat "$WORK/phases.md")"
fi
if [ -s "$WORK/steps.md" ]; then
	PHASES_SECTION="$PHASES_SECTION

## berth run against berth-oci, step by step (uprobes)

\`berth run --rm --network none --rootfs\` against berth-oci on the config
berth run makes (the berth-oci-same bundle), median ms over
$BENCH_PHASES_RUNS traced runs each, taking turns. The phases above cut a
start where the kernel acts (fork, exec, exit), which both do alike; what
berth run does more falls before the fork and after the program's exit.
\`bench/steps.py\` cuts those apart at the entry of the Go functions that
do each step: a uprobe on each, in unstripped builds of the same source,
records an event in the phases' tracefs instance beside its fork, exec and
exit events. A row runs from the step before it that the runtime reached;
where a runtime has no such step (—: berth-oci keeps no record and no
name) its time falls in the next row it has. Each probe is a breakpoint
trap of a few microseconds, about ten per start for either. Raw steps:
\`bench/results/steps.json\`.

$(cat "$WORK/steps.md")"
fi

# The peak memory by mapping, when it ran: part of the Peak RSS section.
MEM_SECTION=
if [ -s "$WORK/mem.md" ]; then
	MEM_SECTION="

What that peak is made of, by \`bench/mem.py\`: the runtime's own process
(the largest in each tree) started on the default config with a program
that waits on its stdin, its VmHWM and its resident pages by what they map
(from /proc/PID/smaps) while the program waits, median KiB over
$BENCH_MEM_RUNS runs each; and the same for an empty static Go and C
program that wait on their stdin, the floors. A runtime's binary and its
shared libraries are file pages, shared with every other process that
maps the same file, but each counts them whole in its RSS. The kernel
maps the page cache's pages around the one that faulted (fault-around,
in large folios on this kernel), so after any start nearly the whole of
a binary is resident: compare its row with the file's size.

$(cat "$WORK/mem.md")"
fi

# The CPU breakdown's section, when it ran.
if [ -s "$WORK/cpu.md" ]; then
	PHASES_SECTION="$PHASES_SECTION

## Where the CPU time goes (perf)

CPU time per start of the default bundle (ms), $BENCH_CPU_RUNS starts per
runtime, one after another and $BENCH_CONC_N at once, of the whole process
tree (the runtime, its threads, its init stage, the container's program),
by \`bench/cpu.py\`: \`perf stat\` gives the total, less a loop of the host's
/bin/true; \`perf record -g\` at 10 kHz how it splits, by the system call on
each sample's kernel stack (grouped by what the call does) or else user
space, a page fault taken there, or the rest of the kernel. Unlike the
phases above this counts every CPU's time, so work done on the second CPU
while the first waits counts too: what decides 50 starts at once on 2
cores. crun is dynamically linked (its user space includes ld.so and
libc's start); berth-oci's user space includes the Go runtime; the bench
binaries are stripped, so perf tells neither apart from the runtime's own
code. Raw figures: \`bench/results/cpu.json\`.

$(cat "$WORK/cpu.md")"
fi

# shellcheck disable=SC1091 # /etc/os-release
cat >"$OUT" <<EOF
# berth start-up benchmark

Generated by \`make bench\` (\`bench/run.sh\`) on $(date -u '+%Y-%m-%d %H:%M UTC'),
berth commit $COMMIT; binaries: $BUILT. Raw hyperfine JSON and the
bundle configs are in \`bench/results/\` after a run.

## Machine

A shared, noisy VM: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')),
kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME"), cgroups v1 (hybrid host).
Load average before / after: $LOAD_BEFORE / $LOAD_AFTER; the measurements took ${ELAPSED} s.
Absolute times drift about 30% between runs here: **only the ratios measured
within one run count**; compare absolute numbers only within one table.

$(runc --version | head -n1), crun $(crun --version | head -n1 | awk '{print $3}'), $(hyperfine --version).

## Method

- Runtimes start \`true\` from the same busybox rootfs (busybox-static with a
  symlink per applet, /etc/passwd, /etc/group) on tmpfs.
- Every binary timed (berth and berth-oci, copied with their stages to a
  directory on the disk; crun and runc where Debian puts them; the empty
  Go and C programs) is evicted from the page cache and read back in one
  pass before the runs, so that each is cached the same way: how a
  binary's pages came into the page cache decides the page faults that
  map it (a berth build measured 1.05 against a \`cp\` copy of itself).
  Runs before 2026-12-07 23:45 timed berth and berth-oci as \`cp\` left
  them on tmpfs and the floors as the linker wrote them there.
- runc, crun and berth-oci run the same bundle, one config.json for all
  three: \`runc spec\` changed to match what \`berth run\` does: pid, mount,
  uts, ipc, net and cgroup namespaces; Docker's default mounts, 14
  capabilities, device cgroup rules, masked and read-only paths; no
  rlimits, no seccomp, no terminal, ociVersion 1.0.2-dev (crun 1.8.1
  insists on "1.0").
- **berth-oci is the like-for-like comparison**: the same config and the
  same command line as runc and crun. What is left differs by
  implementation, not by config: on cgroup v1 berth-oci (like berth) mounts
  the 7 hierarchies it has cgroups in under /sys/fs/cgroup, where runc also
  mounts cpuset and name=systemd and crun also cpuset, name=systemd,
  net_cls and net_prio; and with no cgroupsPath in the config berth-oci
  puts the container in /berth/ID, runc and crun in /ID.
- \`berth run\` is timed as users get it, which is not quite that bundle.
  Differences left: **berth run applies Docker's default seccomp profile**
  (compiled by berth itself, loaded before the exec) where the bundle has
  no seccomp, so its figures include that cost; its host name is the
  container ID's first 12 characters, not "berth"; and the cgroup mounts
  and cgroup path as for berth-oci. It runs with \`--network none\`
  (loopback only, like the bundle's network namespace; berth's default is
  a bridge network, whose cost the Networking section measures).
- **berth run against berth-oci on the same work**: berth-oci also runs
  the config berth run itself makes ("berth-oci-same": a \`berth run -d\`
  of each case, its saved spec copied into a bundle, the container
  removed), seccomp profile and all, so that the ratio of the two is what
  berth's engine adds to the OCI runtime underneath it (the record, the
  name, events, the image and network machinery, the larger binary), not
  what the bundle leaves out.
- "limits" adds \`--pids-limit 64 --memory 256m\` to berth and
  \`pids.limit 64\`, \`memory.limit 256 MiB\`, \`memory.swap 512 MiB\` to the
  bundle's config.
- All hyperfine runs happen in ONE private mount namespace in which
  /sys/fs/cgroup/unified is unmounted (crun 1.8.1 refuses hybrid hosts),
  for every runtime alike; hyperfine runs with \`-N\` (no shell).
- Back to back: $BENCH_RUNS runs after a warm-up. Cold: $BENCH_COLD_RUNS runs,
  each after \`sleep 0.25\` (\`--prepare\`): writing a PID into cgroup.procs
  is slow once the machine has been idle, and back-to-back runs hide that.
- Both in $BENCH_ROUNDS rounds: hyperfine runs all of one command's runs
  before the next command's, so each round runs a share of every
  command's runs, in an order rotated from round to round, and a busy
  neighbour for a while hits every runtime in some round.
- Medians are computed from hyperfine's per-run times, of all rounds.
- The floor is \`$FLOOR_CMD\`, the cost of the namespaces alone.

Commands (WORK is a temp dir; fixed IDs, since runs are sequential and
\`run\` deletes a foreground container on exit):

\`\`\`
runc      --root WORK/state/runc run --bundle WORK/bundle-{default,limits} bench-runc
crun      --root WORK/state/crun run --bundle WORK/bundle-{default,limits} bench-crun
berth-oci --root WORK/state/berth-oci run --bundle WORK/bundle-{default,limits} bench-berth-oci
berth-oci --root WORK/state/berth-oci run --bundle WORK/bundle-berth-{default,limits} bench-berth-oci-same
berth     --root WORK/state/berth --runroot WORK/state/berth-run run --rm --network none [--pids-limit 64 --memory 256m] --rootfs WORK/rootfs true
$FLOOR_CMD
\`\`\`

## Start-up time, median ms

The target is berth-oci/runc at most 0.50; the goal beyond it is
berth-oci/crun below 1.

| case | runc | crun | berth | berth-oci | berth/runc | berth/crun | berth-oci/runc | berth-oci/crun | crun/runc | floor |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(row "default, back to back" "$RESULTS/default-b2b.json")
$(row "default, cold" "$RESULTS/default-cold.json")
$(row "limits, back to back" "$RESULTS/limits-b2b.json")
$(row "limits, cold" "$RESULTS/limits-cold.json")

berth run against berth-oci on berth run's own config (berth-oci-same,
the same work) and on the bench bundle (no seccomp profile):

| case | berth | berth-oci-same | berth-oci | berth / berth-oci-same | berth / berth-oci | berth-oci-same / berth-oci |
|---|---:|---:|---:|---:|---:|---:|
$(same_row "default, back to back" "$RESULTS/default-b2b.json")
$(same_row "default, cold" "$RESULTS/default-cold.json")
$(same_row "limits, back to back" "$RESULTS/limits-b2b.json")
$(same_row "limits, cold" "$RESULTS/limits-cold.json")

Spread, 25th–75th percentile, ms (a wide spread means another tenant was
busy during some of that command's runs):

| case | runc | crun | berth | berth-oci |
|---|---:|---:|---:|---:|
$(spread "default, back to back" "$RESULTS/default-b2b.json")
$(spread "default, cold" "$RESULTS/default-cold.json")
$(spread "limits, back to back" "$RESULTS/limits-b2b.json")
$(spread "limits, cold" "$RESULTS/limits-cold.json")

## Process floors, median ms

What a process costs here before it does anything, measured in the same
hyperfine runs as the default case above: an empty static C program
(\`gcc -static\`, what crun is written in), an empty static Go program
(\`CGO_ENABLED=0\`, the Go that builds berth-oci), and the namespace floor.
berth-oci cannot start a container in less than the Go floor plus the
namespaces' cost; the last two columns are what each runtime spends above
its own language's empty program.

$(floors_table)

## Peak RSS, KiB

Median over $BENCH_RSS_RUNS runs of \`/usr/bin/time -f %M\` on the default case:
the largest resident set among the runtime and the processes it waited for
(runc's \`runc init\`, berth's and berth-oci's init stage, the container's \`true\`).

| runc | crun | berth | berth-oci | berth/runc | berth/crun | berth-oci/runc | berth-oci/crun |
|---:|---:|---:|---:|---:|---:|---:|---:|
| $RSS_RUNC | $RSS_CRUN | $RSS_BERTH | $RSS_OCI | $(ratio "$RSS_BERTH" "$RSS_RUNC") | $(ratio "$RSS_BERTH" "$RSS_CRUN") | $(ratio "$RSS_OCI" "$RSS_RUNC") | $(ratio "$RSS_OCI" "$RSS_CRUN") |$MEM_SECTION

## Concurrent starts, wall ms

$BENCH_CONC_N containers of the default bundle started at once (\`&\` from bash,
then \`wait\`), timed from the first fork to the last exit; median over
$BENCH_CONC_ROUNDS rounds (min-max beside it). Each round runs every runtime once,
in an order that rotates from round to round. On $(nproc) cores this measures the
CPU each start costs more than its latency.

| runc | crun | berth-oci | berth-oci/runc | berth-oci/crun | crun/runc |
|---:|---:|---:|---:|---:|---:|
| $CONC_RUNC ($(conc_range runc)) | $CONC_CRUN ($(conc_range crun)) | $CONC_OCI ($(conc_range berth-oci)) | $(ratio "$CONC_OCI" "$CONC_RUNC") | **$(ratio "$CONC_OCI" "$CONC_CRUN")** | $(ratio "$CONC_CRUN" "$CONC_RUNC") |$PHASES_SECTION
EOF
echo "== wrote $OUT"
cat "$OUT"

if [ -n "$KEPT" ]; then
	printf '\n%s\n' "$KEPT" >>"$OUT"
	echo "== kept the other sections of $OUT: $(echo "$KEPT" | grep '^## ' | cut -c4- | paste -sd, -)"
fi
if [ "$BENCH_NET" = 0 ]; then
	echo "== BENCH_NET=0: no networking benchmark"
else
	# The concurrent rounds and the CPU breakdown leave hundreds of
	# network namespaces that the kernel tears down afterwards, on its
	# own workers and under the rtnl lock that creating a veth or a
	# bridge port also takes. Measured at once (load 8), a bridge added
	# 1.10 ms back to back and 4.25 cold; measured again 10 minutes
	# later, on the same build, 0.45 and 0.02.
	echo "== networking benchmark: bench/net.sh, after ${BENCH_SETTLE}s for the kernel to settle"
	sleep "$BENCH_SETTLE"
	BERTH=$BERTH BENCH_OUT=$OUT bash "$REPO/bench/net.sh"
fi
if [ "${BENCH_IMAGE:-1}" = 0 ]; then
	echo "== BENCH_IMAGE=0: no image benchmark"
else
	echo "== image benchmark: bench/image.sh"
	BERTH=$BERTH BENCH_OUT=$OUT bash "$REPO/bench/image.sh"
fi
if [ "${BENCH_MONITOR:-1}" = 0 ]; then
	echo "== BENCH_MONITOR=0: no monitor benchmark"
else
	echo "== monitor benchmark: bench/monitor.sh"
	BERTH=$BERTH BENCH_OUT=$OUT bash "$REPO/bench/monitor.sh"
fi
if [ "${BENCH_USERNS:-1}" = 0 ]; then
	echo "== BENCH_USERNS=0: no user namespace benchmark"
else
	echo "== user namespace and rootless benchmark: bench/userns.sh"
	BERTH=$BERTH_DIR_BIN BENCH_OUT=$OUT bash "$REPO/bench/userns.sh"
fi
if [ "${BENCH_BUILD:-1}" = 0 ]; then
	echo "== BENCH_BUILD=0: no build benchmark"
else
	echo "== build benchmark: bench/build.sh"
	BERTH=$BERTH BENCH_OUT=$OUT bash "$REPO/bench/build.sh"
fi
if [ "${BENCH_STOPPED:-1}" = 0 ]; then
	echo "== BENCH_STOPPED=0: no many-stopped-containers benchmark"
else
	echo "== many stopped containers: bench/stopped.sh"
	BERTH=$BERTH BERTH_OCI=$BERTH_OCI BENCH_OUT=$OUT bash "$REPO/bench/stopped.sh"
fi
# Last: issue 15's targets, from the figures-*.json the scripts above wrote
# (a skipped script's figures would be an older run's: they are removed
# first, so its rows say "not measured").
echo "== summary: bench/summary.sh"
BENCH_OUT=$OUT bash "$REPO/bench/summary.sh"
