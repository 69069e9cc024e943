# shellcheck shell=bash
# bench/rounds.sh: sourced by bench/run.sh and bench/net.sh.
#
# BENCH_ROUNDS is the number of rounds (default 5); round files go in
# $WORK; ROUNDS_PREFIX, when set (an array), runs hyperfine under it (net.sh:
# nsenter into its network namespace).
BENCH_ROUNDS=${BENCH_ROUNDS:-5}
[ -n "${ROUNDS_PREFIX+set}" ] || ROUNDS_PREFIX=()

# rounds OUT RUNS WARMUP [HYPERFINE-OPTION...] -- -n NAME COMMAND...:
# hyperfine BENCH_ROUNDS times, RUNS/BENCH_ROUNDS runs of each command
# per round, the commands' order rotated from round to round, every
# run's time merged into OUT. hyperfine runs all of one command's runs
# before the next command's: in one block, a busy neighbour for a
# minute moves one runtime's median and not the other's (one evening's
# crun block spread 9.1-11.1 ms where its next was 7.0-7.8); in
# rounds it hits each runtime in some round and moves the ratio less.
rounds() {
	local out=$1 runs=$(( $2 / BENCH_ROUNDS > 0 ? $2 / BENCH_ROUNDS : 1 )) warmup=$3 opts=() cmds=() r i n parts=()
	shift 3
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	cmds=("$@")
	n=$(( ${#cmds[@]} / 3 ))
	for r in $(seq 0 $(( BENCH_ROUNDS - 1 ))); do
		local order=()
		for i in $(seq 0 $(( n - 1 ))); do
			local k=$(( (i + r) % n * 3 ))
			order+=("${cmds[@]:k:3}")
		done
		"${ROUNDS_PREFIX[@]}" hyperfine -N --style basic --warmup "$warmup" --runs "$runs" "${opts[@]}" \
			--export-json "$WORK/round-$r.json" "${order[@]}" >"$WORK/round-$r.out" ||
			{ cat "$WORK/round-$r.out"; return 1; }
		parts+=("$WORK/round-$r.json")
		warmup=3
	done
	# Each command's runs from every round; hyperfine's own summary
	# fields (of one round) are dropped, the report reads the times.
	jq -s '. as $all | {rounds: length, results: [$all[0].results[] | .command as $c
		| {command: $c, times: [$all[].results[] | select(.command == $c) | .times[]]}]}' \
		"${parts[@]}" >"$out"
	jq -r '.results[] | "   \(.command): \(.times | length) runs, median \(.times | sort | .[length / 2 | floor] * 1000 | . * 100 | round / 100) ms"' "$out"
}
