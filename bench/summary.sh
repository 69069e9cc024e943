#!/bin/bash
# bench/summary.sh: the table of issue 15's targets, from the figures the
# bench scripts leave in bench/results/figures-*.json (run.sh, net.sh,
# monitor.sh, stopped.sh): for each target the berth figure, the reference
# it is compared with, their ratio (or the difference, for the targets
# given in ms), the target and whether it is met. A script that did not run
# leaves its rows "not measured".
#
# Prints the table, and writes it as the "## Summary: issue 15's targets"
# section at the top of docs/bench.md (after the title paragraph), replacing
# that section only.
#
# Usage: bench/summary.sh   (make bench runs it last)
# Environment:
#   BENCH_OUT=FILE        report to update (default docs/bench.md; "-": print only)
#   BENCH_SUMMARY_NOTE=T  a line to put under the table (such as the run counts
#                         of a reduced run)
# Needs jq.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$REPO/bench/results
OUT=${BENCH_OUT:-$REPO/docs/bench.md}
TITLE="## Summary: issue 15's targets"

command -v jq >/dev/null || { echo "bench/summary: jq not found (apt-get install jq)" >&2; exit 1; }

# All figures in one object: {run: ..., net: ..., monitor: ..., stopped: ...}.
figures() {
	local f name out='{}'
	for name in run net monitor stopped; do
		f=$RESULTS/figures-$name.json
		[ -f "$f" ] || continue
		out=$(jq -c --arg n "$name" --argjson o "$out" '. as $x | $o + {($n): $x}' "$f")
	done
	echo "$out"
}

# The rows, in jq: ratio rows compare berth with a reference and must stay
# at or below the target ratio; "added" rows are a difference in ms; "abs"
# rows an absolute figure against a bound.
TABLE=$(figures | jq -r '
	# two decimals, shown and compared as shown
	def r2: . * 100 | round / 100;
	def f2: if . == null then "—" else r2 | (if . < 0 then "-" else "" end) as $s | fabs * 100 | round
		| "\($s)\(. / 100 | floor).\(. % 100 | tostring | if length < 2 then "0" + . else . end)" end;
	def met($ok): if $ok then "yes" else "**no**" end;
	def ratio($what; $b; $r; $t; $unit):
		if $b == null or $r == null then "| \($what) | not measured | | | ≤ \($t) | |"
		else ($b / $r | r2) as $q
		| "| \($what) | \($b | f2) \($unit) | \($r | f2) \($unit) | \($q | f2) | ≤ \($t) | \(met($q <= $t)) |" end;
	def added($what; $b; $r; $t):
		if $b == null or $r == null then "| \($what) | not measured | | | ≤ +\($t) ms | |"
		else ($b - $r | r2) as $d
		| "| \($what) | \($b | f2) ms | \($r | f2) ms | \(if $d < 0 then "" else "+" end)\($d | f2) ms | ≤ +\($t) ms | \(met($d <= $t)) |" end;
	def abs($what; $b; $r; $t; $unit):
		if $b == null then "| \($what) | not measured | | | ≤ \($t) \($unit) | |"
		else "| \($what) | \($b | f2) \($unit) | \($r | f2) \($unit) | \(if $r then ($b / $r | f2) else "—" end) | ≤ \($t) \($unit) | \(met($b <= $t)) |" end;
	"| target | berth | reference | ratio | target | met |",
	"|---|---:|---:|---:|---:|:---:|",
	ratio("berth-oci `run true` / crun, back to back"; .run.default_b2b["berth-oci"]; .run.default_b2b.crun; 0.8; "ms"),
	ratio("berth-oci / crun, with limits, back to back"; .run.limits_b2b["berth-oci"]; .run.limits_b2b.crun; 0.8; "ms"),
	ratio("berth-oci / crun, cold"; .run.default_cold["berth-oci"]; .run.default_cold.crun; 0.5; "ms"),
	ratio("berth-oci / crun, with limits, cold"; .run.limits_cold["berth-oci"]; .run.limits_cold.crun; 0.5; "ms"),
	ratio("\(.run.conc_n // 50) concurrent starts, wall, berth-oci / crun"; .run.conc_wall_ms["berth-oci"]; .run.conc_wall_ms.crun; 0.8; "ms"),
	ratio("peak RSS, berth-oci / crun"; (.run.rss_kib["berth-oci"] // null | if . then . / 1024 else null end);
		(.run.rss_kib.crun // null | if . then . / 1024 else null end); 1; "MiB"),
	ratio("`berth run --network none --rootfs` / berth-oci on the same config (berth run'"'"'s own)"; .run.default_b2b.berth; .run.default_b2b["berth-oci-same"]; 1.1; "ms"),
	added("`--network bridge` added to `berth run` (vs none)"; .net.run_b2b_ms.bridge; .net.run_b2b_ms.none; 1),
	added("`-p` added at start (`run -d`, bridge)"; .net.publish_start_ms.publish; .net.publish_start_ms.bridge; 1),
	added("`-p` added at stop (`rm -f`, bridge)"; .net.publish_stop_ms.publish; .net.publish_stop_ms.bridge; 1),
	abs("idle monitor PSS per detached container (\(.monitor.n // 20)), reference conmon"; .monitor.pss_mib.berth; .monitor.pss_mib.conmon; 0.5; "MiB"),
	ratio("`berth run --rm`, \(.stopped.n // 500) stopped containers / none"; .stopped.run_ms.full; .stopped.run_ms.empty; 1.1; "ms"),
	ratio("berth peak RSS, \(.stopped.n // 500) stopped containers / none"; (.stopped.rss_kib.full // null | if . then . / 1024 else null end);
		(.stopped.rss_kib.empty // null | if . then . / 1024 else null end); 1.1; "MiB"),
	ratio("berth-oci `run`, \(.stopped.n // 500) kept containers / none"; .stopped.oci_run_ms.full; .stopped.oci_run_ms.empty; 1.1; "ms")
')
# Where the figures came from: run counts and load, per script.
PROVENANCE=$(figures | jq -r '
	[ (.run | if . then "run.sh: \(.runs) back-to-back and \(.cold_runs) cold runs, \(.rss_runs) RSS runs, \(.conc_rounds) rounds of \(.conc_n) concurrent starts; load \(.load_before) / \(.load_after)" else empty end),
	  (.net | if . then "net.sh: \(.runs) back-to-back runs per mode, \(.pub_rounds) `-p` start/stop rounds; load \(.load_before) / \(.load_after)" else empty end),
	  (.monitor | if . then "monitor.sh: \(.n) containers per engine" else empty end),
	  (.stopped | if . then "stopped.sh: \(.n) stopped containers, \(.runs) runs and \(.rss_runs) RSS runs per root; load \(.load_before) / \(.load_after)" else empty end)
	] | map("- " + .) | join("\n")')

# What a process costs before it does anything (bench/run.sh's process
# floors), against the 0.8 × crun target: a Go runtime cannot start a
# container in less than its empty program plus the namespaces.
FLOORS=$(figures | jq -r '
	def f2: . * 100 | round / 100 | tostring;
	.run // {} | select(.floors_b2b and .default_b2b) | .floors_b2b as $f | .default_b2b as $d
	| "Process floors, back to back (bench/run.sh, same run): an empty static C program \($f.c | f2) ms, an empty static Go program \($f.go | f2) ms, the namespaces \($f.namespaces | f2) ms. 0.8 × crun is \($d.crun * 0.8 | f2) ms, against \($f.go + $f.namespaces | f2) ms for the Go floor plus the namespaces before any of a container'"'"'s mounts, cgroups or state. berth-oci spends \($d["berth-oci"] - $f.go | f2) ms above the Go floor, crun \($d.crun - $f.c | f2) ms above the C floor."')

SECTION=$(mktemp)
trap 'rm -f "$SECTION" "$SECTION.out"' EXIT
cat >"$SECTION" <<EOF
$TITLE

Written by \`bench/summary.sh\` at the end of \`make bench\` from the figures in
\`bench/results/figures-*.json\` ($(date -u '+%Y-%m-%d %H:%M UTC')). Medians; each ratio is of two
figures measured side by side in the same run (the sections below say how).
"ratio" is berth over the reference; for the targets in ms it is the time
added, berth minus the reference. Load averages are 1, 5 and 15 minutes,
before / after.

$TABLE

${PROVENANCE:-No figures: run make bench first.}
${FLOORS:+
$FLOORS}
${BENCH_SUMMARY_NOTE:+
$BENCH_SUMMARY_NOTE}
EOF
cat "$SECTION"
[ "$OUT" = - ] && exit 0

# Replace the section, or put it before the first "## " section.
if [ -f "$OUT" ]; then
	awk -v f="$SECTION" -v t="$TITLE" '
		function put() { while ((getline l < f) > 0) print l; print ""; done = 1 }
		$0 == t { skip = 1; next }
		skip && /^## / { skip = 0 }
		skip { next }
		/^## / && !done { put() }
		{ print }
		END { if (!done) { print ""; put() } }' "$OUT" >"$SECTION.out"
	cat "$SECTION.out" >"$OUT"
else
	cp "$SECTION" "$OUT"
fi
echo "== wrote the summary at the top of $OUT"
