#!/bin/bash
# bench/stopped.sh: does a start cost more when many containers exist?
# Issue 15: memory and time per started container must not grow with the
# number of containers that exist.
#
# What it does:
#   1. makes a busybox rootfs and two berth roots (--root and --runroot) in
#      a temp dir on tmpfs: "empty", and "full", in which N containers are
#      made with `berth run --network none --rootfs R true` (no --rm, so
#      each stays as an exited container: a record and a name, no cgroup,
#      mount or process);
#   2. times `berth run --rm --network none --rootfs R true` against each
#      root, interleaved (empty, full, full, empty, ...), RUNS times each,
#      and takes the medians; then berth's peak RSS (/usr/bin/time -f %M,
#      the largest of berth and the processes it waited for) the same way;
#      the same for berth-oci (BERTH_OCI): `berth-oci run` of berth run's
#      own config as a bundle, against a state root with no containers and
#      one with N kept ones (each `create`d and `start`ed, its `true`
#      exited, not deleted: what engines keep), interleaved with the rest;
#   3. checks that the full root still holds exactly N containers, and
#      counts with strace (if installed) the container records one run
#      opens against each root;
#   4. writes the "## Many stopped containers (issue 15)" section of
#      docs/bench.md (only that section; appended if missing) and
#      bench/results/figures-stopped.json for bench/summary.sh;
#   5. removes the N containers with `berth rm` and the temp dir.
#
# Usage: bench/stopped.sh   (make bench runs it; BENCH_STOPPED=0 skips it)
# Environment:
#   BENCH_STOPPED_N=N      stopped containers in the full root (default 500)
#   BENCH_STOPPED_RUNS=N   timed runs per root, interleaved (default 100)
#   BENCH_STOPPED_RSS=N    peak RSS runs per root (default 21)
#   BENCH_OUT=FILE         report to update (default docs/bench.md)
#   BERTH=PATH             this berth binary (default bin/berth; berth-init
#                          must be beside it, as make build leaves it)
#   BERTH_OCI=PATH         this berth-oci binary (default bin/berth-oci;
#                          "none" skips it)
#   BERTH_BASE=PATH        another build to compare with (an A/B): it gets
#                          two roots of its own, made the same way, and its
#                          runs are interleaved with this build's; the
#                          section then shows both and the ratio
#   BERTH_BASE_NAME=TEXT   what the section calls the base build (default
#                          its path)
# Needs root, jq, GNU time, busybox-static.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$REPO/bench/results
OUT=${BENCH_OUT:-$REPO/docs/bench.md}
N=${BENCH_STOPPED_N:-500}
RUNS=${BENCH_STOPPED_RUNS:-100}
RSS_RUNS=${BENCH_STOPPED_RSS:-21}
BERTH=${BERTH:-$REPO/bin/berth}
BERTH_OCI=${BERTH_OCI:-$REPO/bin/berth-oci}
[ "$BERTH_OCI" != none ] || BERTH_OCI=
BASE=${BERTH_BASE:-}
BASE_NAME=${BERTH_BASE_NAME:-$BASE}
ROOTS="empty full"
[ -z "$BASE" ] || ROOTS="empty full base-empty base-full"
[ -z "$BERTH_OCI" ] || ROOTS="$ROOTS oci-empty oci-full"
SECTION_TITLE='Many stopped containers (issue 15)'

[ "$(id -u)" = 0 ] || { echo "bench/stopped: needs root" >&2; exit 1; }
for v in "$N" "$RUNS" "$RSS_RUNS"; do
	case $v in '' | *[!0-9]* | 0) echo "bench/stopped: BENCH_STOPPED_N, _RUNS and _RSS must be positive numbers" >&2; exit 1 ;; esac
done
[ -x "$BERTH" ] || { echo "bench/stopped: $BERTH is not executable (make build, or set BERTH)" >&2; exit 1; }
[ -z "$BASE" ] || [ -x "$BASE" ] || { echo "bench/stopped: BERTH_BASE $BASE is not executable" >&2; exit 1; }
[ -z "$BERTH_OCI" ] || [ -x "$BERTH_OCI" ] || { echo "bench/stopped: BERTH_OCI $BERTH_OCI is not executable (make build, set BERTH_OCI, or BERTH_OCI=none)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/stopped: GNU time not found (apt-get install time)" >&2; exit 1; }

WORK=$(mktemp -d /dev/shm/berth-bench-stopped.XXXXXX)
cleanup() {
	set +e
	local ids
	for root in $ROOTS; do
		[ -d "$WORK/$root" ] || continue
		if [ "${root#oci-}" != "$root" ]; then
			for id in $(ls "$WORK/$root/root" 2>/dev/null); do o "$root" delete --force "$id" >/dev/null 2>&1; done
			continue
		fi
		ids=$(b "$root" ps -aq --no-trunc 2>/dev/null)
		# shellcheck disable=SC2086 # one word per ID
		[ -z "$ids" ] || b "$root" rm -f $ids >/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bin ROOT: the build that runs against ROOT (base-*: BERTH_BASE's).
bin() { case $1 in base-*) echo "$BASE" ;; *) echo "$BERTH" ;; esac; }
# b ROOT ARGS...: berth with ROOT's state.
b() { local r=$1; shift; "$(bin "$r")" --root "$WORK/$r/root" --runroot "$WORK/$r/run" "$@"; }
# o ROOT ARGS...: berth-oci with ROOT's state (oci-*).
o() { local r=$1; shift; "$BERTH_OCI" --root "$WORK/$r/root" "$@"; }

R=$WORK/rootfs
mkdir -p "$R"/bin "$R"/etc "$R"/proc "$R"/sys "$R"/dev "$R"/tmp "$R"/root
cp /bin/busybox "$R"/bin/busybox
ln -s busybox "$R"/bin/true
echo 'root:x:0:0:root:/root:/bin/sh' >"$R"/etc/passwd
echo 'root:x:0:' >"$R"/etc/group
RUN_ARGS=(run --rm --network none --rootfs "$R" true)

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
FULL_ROOTS=full
[ -z "$BASE" ] || FULL_ROOTS="full base-full"
for full in $FULL_ROOTS; do
	echo "== making $N stopped containers ($full)"
	T0=$EPOCHREALTIME
	for i in $(seq "$N"); do
		b "$full" run --network none --rootfs "$R" true || { echo "bench/stopped: making container $i failed" >&2; exit 1; }
	done
	[ "$full" != full ] || MAKE_S=$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	have=$(b "$full" ps -aq | wc -l)
	[ "$have" = "$N" ] || { echo "bench/stopped: the $full root holds $have containers, not $N" >&2; exit 1; }
	b "${full%full}empty" "${RUN_ARGS[@]}" # makes the empty root's dirs
done
if [ -n "$BERTH_OCI" ]; then
	# berth run's own config, as bench/run.sh's berth-oci-same bundle.
	id=$(b empty run -d --network none --rootfs "$R" true)
	b empty wait "$id" >/dev/null
	mkdir -p "$WORK/bundle"
	cp "$WORK/empty/root/containers/$id/spec.json" "$WORK/bundle/config.json"
	b empty rm "$id" >/dev/null
	echo "== making $N kept berth-oci containers (oci-full)"
	for i in $(seq "$N"); do
		{ o oci-full create --bundle "$WORK/bundle" "kept$i" >/dev/null && o oci-full start "kept$i"; } ||
			{ echo "bench/stopped: making berth-oci container $i failed" >&2; exit 1; }
	done
	have=$(ls "$WORK/oci-full/root" | wc -l)
	[ "$have" = "$N" ] || { echo "bench/stopped: the oci-full root holds $have containers, not $N" >&2; exit 1; }
fi

# One timed run, in ms, of berth run --rm (or berth-oci run) against ROOT.
timed() {
	local t0=$EPOCHREALTIME
	case $1 in
	oci-*) o "$1" run --bundle "$WORK/bundle" timed >/dev/null || { echo "bench/stopped: berth-oci run failed against the $1 root" >&2; exit 1; } ;;
	*) b "$1" "${RUN_ARGS[@]}" || { echo "bench/stopped: berth run failed against the $1 root" >&2; exit 1; } ;;
	esac
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'
}
# Rotating order (empty first, then full first...) so that no root always
# runs right after another.
order() {
	local -a r=($ROOTS)
	local i k=$(($1 % ${#r[@]}))
	for ((i = 0; i < ${#r[@]}; i++)); do echo "${r[(i + k) % ${#r[@]}]}"; done
}

echo "== warm-up"
for _ in 1 2 3; do for r in $ROOTS; do timed "$r" >/dev/null; done; done
echo "== berth run --rm, $RUNS runs per root, interleaved"
: >"$WORK/times.tsv"
for i in $(seq "$RUNS"); do
	for r in $(order "$i"); do printf '%s\t%s\n' "$r" "$(timed "$r")" >>"$WORK/times.tsv"; done
done
echo "== peak RSS, $RSS_RUNS runs per root"
: >"$WORK/rss.tsv"
for i in $(seq "$RSS_RUNS"); do
	for r in $(order "$i"); do
		[ "${r#oci-}" = "$r" ] || continue
		/usr/bin/time -f %M -o "$WORK/rss" "$(bin "$r")" --root "$WORK/$r/root" --runroot "$WORK/$r/run" "${RUN_ARGS[@]}"
		printf '%s\t%s\n' "$r" "$(tail -n1 "$WORK/rss")" >>"$WORK/rss.tsv"
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
# What grows with N: how many container records one berth run opens,
# from strace (when it is installed), against each root.
READS_NOTE=
if command -v strace >/dev/null; then
	for r in empty full; do
		strace -f -e trace=openat -o "$WORK/strace-$r" "$BERTH" --root "$WORK/$r/root" --runroot "$WORK/$r/run" "${RUN_ARGS[@]}"
	done
	READS_NOTE="One \`berth run --rm\` opened $(grep -c '/container\.json"' "$WORK/strace-empty") container records
(container.json) with no containers and $(grep -c '/container\.json"' "$WORK/strace-full") with $N (strace -e openat)."
fi
for full in $FULL_ROOTS; do
	have=$(b "$full" ps -aq | wc -l)
	[ "$have" = "$N" ] || { echo "bench/stopped: after the runs the $full root holds $have containers, not $N" >&2; exit 1; }
done
if [ -n "$BERTH_OCI" ]; then
	have=$(ls "$WORK/oci-full/root" | wc -l)
	[ "$have" = "$N" ] || { echo "bench/stopped: after the runs the oci-full root holds $have containers, not $N" >&2; exit 1; }
fi

# quant FILE ROOT Q: the Q-quantile of ROOT's column-2 values in FILE.
quant() {
	awk -F'\t' -v r="$2" '$1 == r { print $2 }' "$1" | sort -n |
		awk -v q="$3" '{ v[NR] = $1 } END { i = (NR - 1) * q; lo = int(i); hi = (lo < i) ? lo + 1 : lo;
			printf "%.2f", v[lo + 1] + (v[hi + 1] - v[lo + 1]) * (i - lo) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
T_EMPTY=$(quant "$WORK/times.tsv" empty 0.5); T_FULL=$(quant "$WORK/times.tsv" full 0.5)
RSS_EMPTY=$(quant "$WORK/rss.tsv" empty 0.5 | cut -d. -f1); RSS_FULL=$(quant "$WORK/rss.tsv" full 0.5 | cut -d. -f1)
mkdir -p "$RESULTS"
cp "$WORK/times.tsv" "$RESULTS/stopped-times.tsv"
cp "$WORK/rss.tsv" "$RESULTS/stopped-rss.tsv"
OCI_JSON= OCI_ROWS=
if [ -n "$BERTH_OCI" ]; then
	OT_EMPTY=$(quant "$WORK/times.tsv" oci-empty 0.5); OT_FULL=$(quant "$WORK/times.tsv" oci-full 0.5)
	OCI_JSON=",
  \"oci_run_ms\": {\"empty\": $OT_EMPTY, \"full\": $OT_FULL}"
	OCI_ROWS="| \`berth-oci run\` of berth run's config, ms ($N kept containers, see above) | $OT_EMPTY ($(quant "$WORK/times.tsv" oci-empty 0.25)-$(quant "$WORK/times.tsv" oci-empty 0.75)) | $OT_FULL ($(quant "$WORK/times.tsv" oci-full 0.25)-$(quant "$WORK/times.tsv" oci-full 0.75)) | **$(ratio "$OT_FULL" "$OT_EMPTY")** |"
fi
cat >"$RESULTS/figures-stopped.json" <<JSON
{
  "n": $N, "runs": $RUNS, "rss_runs": $RSS_RUNS,
  "load_before": "$LOAD_BEFORE", "load_after": "$LOAD_AFTER",
  "run_ms": {"empty": $T_EMPTY, "full": $T_FULL},
  "rss_kib": {"empty": $RSS_EMPTY, "full": $RSS_FULL}$OCI_JSON
}
JSON
jq -e . "$RESULTS/figures-stopped.json" >/dev/null

BASE_ROWS= BASE_NOTE=
if [ -n "$BASE" ]; then
	BASE_NOTE=" A base build, $BASE_NAME, ran the same way against two
roots of its own, its runs interleaved with this build's (four roots in
rotating order)."
	BT_EMPTY=$(quant "$WORK/times.tsv" base-empty 0.5); BT_FULL=$(quant "$WORK/times.tsv" base-full 0.5)
	BRSS_EMPTY=$(quant "$WORK/rss.tsv" base-empty 0.5 | cut -d. -f1); BRSS_FULL=$(quant "$WORK/rss.tsv" base-full 0.5 | cut -d. -f1)
	BASE_ROWS="| base build (\`$BASE_NAME\`): \`berth run --rm\`, ms | $BT_EMPTY ($(quant "$WORK/times.tsv" base-empty 0.25)-$(quant "$WORK/times.tsv" base-empty 0.75)) | $BT_FULL ($(quant "$WORK/times.tsv" base-full 0.25)-$(quant "$WORK/times.tsv" base-full 0.75)) | **$(ratio "$BT_FULL" "$BT_EMPTY")** |
| base build: peak RSS, KiB | $BRSS_EMPTY | $BRSS_FULL | **$(ratio "$BRSS_FULL" "$BRSS_EMPTY")** |
| this build / base build, ms | $(ratio "$T_EMPTY" "$BT_EMPTY") | $(ratio "$T_FULL" "$BT_FULL") | |"
fi
SECTION=$WORK/section.md
cat >"$SECTION" <<EOF
## $SECTION_TITLE

Generated by \`bench/stopped.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); load average
before / after: $LOAD_BEFORE / $LOAD_AFTER.

\`berth run --rm --network none --rootfs R true\` against two berth roots on
tmpfs: one with no containers, one with $N exited containers (made with
\`berth run\` without \`--rm\` in ${MAKE_S} s: each leaves its record and its
name). Runs alternate between the two roots, $RUNS each (after 3 warm-up runs
each); peak RSS is \`/usr/bin/time -f %M\` over $RSS_RUNS runs each, also
alternating. Medians, with the 25th-75th percentile for the times. The
target is that the full root costs no more: a ratio of at most 1.10 on this
noisy machine.$BASE_NOTE${BERTH_OCI:+ berth-oci runs berth run's own config (its saved spec as the
bundle's config.json) against a state root with no containers and one
with $N kept containers, each \`create\`d and \`start\`ed and its \`true\`
exited but not deleted, as engines keep theirs (a state record each, no
process), interleaved with the berth runs.}

| | no containers | $N stopped | $N stopped / none |
|---|---:|---:|---:|
| \`berth run --rm\`, ms | $T_EMPTY ($(quant "$WORK/times.tsv" empty 0.25)-$(quant "$WORK/times.tsv" empty 0.75)) | $T_FULL ($(quant "$WORK/times.tsv" full 0.25)-$(quant "$WORK/times.tsv" full 0.75)) | **$(ratio "$T_FULL" "$T_EMPTY")** |
| peak RSS, KiB | $RSS_EMPTY | $RSS_FULL | **$(ratio "$RSS_FULL" "$RSS_EMPTY")** |
${OCI_ROWS:+$OCI_ROWS
}${BASE_ROWS:+$BASE_ROWS
}${READS_NOTE:+
$READS_NOTE}
EOF

# Replace the section, or append it; the rest of the file stays as it is.
if [ -f "$OUT" ] && grep -qF "## $SECTION_TITLE" "$OUT"; then
	awk -v f="$SECTION" -v t="## $SECTION_TITLE" '
		$0 == t { while ((getline l < f) > 0) print l; skip = 1; next }
		skip && /^## / { skip = 0; print "" }
		!skip { print }' "$OUT" >"$WORK/out.md"
elif [ -f "$OUT" ]; then
	{ cat "$OUT"; echo; cat "$SECTION"; } >"$WORK/out.md"
else
	cp "$SECTION" "$WORK/out.md"
fi
cat "$WORK/out.md" >"$OUT"
echo "== updated the \"$SECTION_TITLE\" section of $OUT"
cat "$SECTION"
