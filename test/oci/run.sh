#!/usr/bin/env bash
# Runs the OCI runtime validation suite (opencontainers/runtime-tools, built by
# test/oci/build.sh) against an OCI runtime and prints one line per program.
#
# Usage: test/oci/run.sh [options] RUNTIME [PROGRAM...]
#   RUNTIME       path or name of a runc-compatible binary (e.g. bin/berth-oci)
#   PROGRAM...    validation programs to run (default: all of them)
# Options:
#   -o FILE       write the TSV summary here
#                 (default: test/oci/.cache/results/<runtime>-<version>.tsv)
#   -L DIR        keep each program's TAP (.tap) and stderr (.err) here
#                 (default: the TSV path without .tsv, plus .logs/)
#   -t SECONDS    timeout per program (default: 120)
#   -V VERSION    suite version: master (default) or v0.9.0
#   -e FILE       expected-pass list (default: test/oci/expected-pass.txt)
#
# Counts per program are TAP ok / not ok / skip ("ok ... # SKIP"). One more
# "not ok" for a program that aborts (exits non-zero) or whose plans ("1..N")
# do not add up to its test lines. A program that prints no test line counts
# one "ok" if it exits 0 with a plan line (or, for process_rlimits_fail,
# nothing at all) and no YAML diagnostic, else one "not ok".
# Result: PASS (exit 0, no "not ok"), FAIL (exit 0 with "not ok"), ERROR
# (exit status not 0), TIMEOUT. Leftover containers (by bundle path, via
# `RUNTIME list`), mounts under the working dirs and the suite's cgroups are
# removed after each program.
# Exit status: 0 if every program in the expected-pass list that was run
# PASSed, 1 otherwise, 2 on a usage or setup error.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=$HERE/.cache
MASTER=v0.9.1-0.20251205004911-5e639034dcdc

out= logdir= timeout_s=120 version=master expected=$HERE/expected-pass.txt
while getopts "o:L:t:V:e:h" opt; do
	case $opt in
	o) out=$OPTARG ;;
	L) logdir=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	V) version=$OPTARG ;;
	e) expected=$OPTARG ;;
	h) sed -n '2,26p' "$0"; exit 0 ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[[ $# -ge 1 ]] || { sed -n '2,26p' "$0" >&2; exit 2; }

die() { echo "run.sh: $*" >&2; exit 2; }

rt=$1
shift
if [[ $rt == */* ]]; then
	[[ -x $rt && -f $rt ]] || die "runtime $rt is not an executable file"
	rt=$(cd "$(dirname "$rt")" && pwd)/$(basename "$rt")
else
	rt=$(command -v "$rt") || die "runtime $1 not found in PATH"
fi
[[ $(id -u) == 0 ]] || die "must run as root"

case $version in
master) version=$MASTER; buildflag= ;;
v0.9.0) buildflag=--v0.9.0 ;;
"$MASTER") buildflag= ;;
*) die "unknown suite version $version (master or v0.9.0)" ;;
esac
bin=$CACHE/$version/bin
if [[ ! -f $CACHE/$version/.complete ]]; then
	echo "run.sh: suite $version not built yet; running build.sh" >&2
	"$HERE/build.sh" $buildflag >/dev/null || die "build.sh failed"
fi

if [[ $# -gt 0 ]]; then
	programs=("$@")
else
	mapfile -t programs <"$CACHE/$version/programs.txt"
fi

short=${version%%-*}
[[ $version == "$MASTER" ]] && short=master
if [[ -z $out ]]; then
	mkdir -p "$CACHE/results"
	out=$CACHE/results/$(basename "$rt")-$short.tsv
fi
[[ -n $logdir ]] || logdir=${out%.tsv}.logs
mkdir -p "$(dirname "$out")" "$logdir"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

declare -A want=()
if [[ -f $expected ]]; then
	while read -r p _; do
		[[ -z $p || $p == \#* ]] && continue
		want[$p]=1
	done <"$expected"
else
	echo "run.sh: no expected-pass list at $expected: nothing gates the exit status" >&2
fi

work=
# Removes what a program may leave behind under its working dir: containers
# (found through the runtime's `list`, by bundle path), mounts, then the dir.
cleanup_work() {
	local w=$1 log=${2:-/dev/null} id bundle i m
	[[ -n $w && -d $w ]] || return 0
	# Containers whose bundle is under $w: `RUNTIME list --format json` is
	# runc's and crun's; a runtime without it is skipped quietly.
	timeout 20 "$rt" list --format json 2>/dev/null | tr '{}' '\n\n' |
		sed -n 's/.*"id": *"\([^"]*\)".*"bundle": *"\([^"]*\)".*/\1 \2/p' |
		while read -r id bundle; do
			[[ $bundle == "$w"/* ]] || continue
			echo "run.sh: deleting leftover container $id" >>"$log"
			timeout 20 "$rt" delete --force "$id" >>"$log" 2>&1
		done
	# Mounts under $w, deepest first, a few rounds for stacked ones.
	for i in 1 2 3 4 5; do
		mapfile -t mnts < <(awk -v p="$w/" 'substr($5, 1, length(p)) == p { print $5 }' /proc/self/mountinfo |
			awk '{ print length($0), $0 }' | sort -rn | cut -d' ' -f2-)
		[[ ${#mnts[@]} -eq 0 ]] && break
		echo "run.sh: unmounting ${#mnts[@]} leftover mounts under $w" >>"$log"
		for m in "${mnts[@]}"; do umount -l "$m" 2>>"$log" || true; done
	done
	if awk -v p="$w/" 'substr($5, 1, length(p)) == p { f = 1 } END { exit !f }' /proc/self/mountinfo; then
		echo "run.sh: mounts remain under $w; not removing it" >&2
		return 0
	fi
	rm -rf --one-file-system "$w"
}

# The cgroup tests use /cgrouptest and testdir/cgrouptest/container (relative
# to the runtime's cgroup); a runtime may leave them, or their parents, behind.
suite_cgroups() {
	find /sys/fs/cgroup -maxdepth 8 -type d \( -name cgrouptest -o -name testdir \) 2>/dev/null | sort
}
cgroups_before=$(suite_cgroups)
cleanup_cgroups() {
	local d
	comm -13 <(echo "$cgroups_before") <(suite_cgroups) | while read -r d; do
		[[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		[[ -d $d ]] && echo "run.sh: cannot remove cgroup $d (still in use?)" >&2
	done
	return 0
}
trap 'cleanup_work "$work"; cleanup_cgroups; exit 130' INT TERM

printf '%-34s %5s %6s %5s  %-7s %6s\n' program ok notok skip result secs
printf 'program\tok\tnot_ok\tskip\tresult\texit\tseconds\texpected\n' >"$out"

declare -A result=()
tot_ok=0 tot_nok=0 tot_skip=0
declare -A nres=([PASS]=0 [FAIL]=0 [ERROR]=0 [TIMEOUT]=0)
suite_start=$(date +%s.%N)
for p in "${programs[@]}"; do
	tap=$logdir/$p.tap err=$logdir/$p.err
	: >"$tap"
	: >"$err"
	t0=$(date +%s.%N)
	if [[ ! -x $bin/$p || $p == runtimetest ]]; then
		echo "no such validation program: $p" >"$err"
		rc=127
		t1=$t0
	else
		work=$(mktemp -d "${TMPDIR:-/tmp}/berth-oci-$p.XXXXXX")
		chmod 0755 "$work" # user-namespace tests need to reach the bundle
		cp "$bin/$p" "$bin/runtimetest" "$bin/rootfs-amd64.tar.gz" "$work/"
		# Bundles (os.MkdirTemp) go under $work too, through TMPDIR.
		# timeout runs the program in its own process group and signals the
		# whole group when time is up.
		(cd "$work" && RUNTIME=$rt TMPDIR=$work exec timeout -k 10 "$timeout_s" "./$p") \
			</dev/null >"$tap" 2>"$err"
		rc=$?
		t1=$(date +%s.%N)
		cleanup_work "$work" "$err"
		cleanup_cgroups
		work=
	fi
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

	ok=$(grep -Eci '^ok\b' "$tap" || true)
	skip=$(grep -Eci '^ok\b[^#]*#[[:space:]]*skip' "$tap" || true)
	nok=$(grep -Eci '^not ok\b' "$tap" || true)
	ok=$((ok - skip))
	if [[ $((ok + nok + skip)) == 0 ]]; then
		# Some programs print no test line: the hook tests report a failure
		# as a YAML diagnostic only and success by a bare plan ("1..0");
		# process_rlimits_fail and process_capabilities_fail print nothing at
		# all when the runtime rightly refuses the config (an out-of-range
		# rlimit; the unknown capability CAP_TEST). Count their verdict as
		# one test. Otherwise no
		# TAP at all (e.g. runtimetest's output got lost) is a failure.
		if [[ $rc == 0 ]] && ! grep -q '^[[:space:]]*---' "$tap" &&
			{ grep -q '^1\.\.' "$tap" || [[ $p == process_rlimits_fail || $p == process_capabilities_fail ]]; }; then
			ok=1
		else
			nok=1
		fi
	elif [[ $rc != 0 ]]; then
		nok=$((nok + 1)) # the abort itself
	elif [[ $(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' "$tap" | awk '{ s += $1 } END { print s + 0 }') != $((ok + nok + skip)) ]]; then
		nok=$((nok + 1)) # plans do not add up: the TAP stream was cut short
	fi
	if [[ $rc == 124 || $rc == 137 ]]; then
		res=TIMEOUT
	elif [[ $rc != 0 ]]; then
		res=ERROR
	elif [[ $nok -gt 0 ]]; then
		res=FAIL
	else
		res=PASS
	fi
	result[$p]=$res
	nres[$res]=$((nres[$res] + 1))
	tot_ok=$((tot_ok + ok)) tot_nok=$((tot_nok + nok)) tot_skip=$((tot_skip + skip))
	exp=no
	[[ -n ${want[$p]:-} ]] && exp=yes
	mark=
	[[ $exp == yes && $res != PASS ]] && mark="  <- expected to pass"
	printf '%-34s %5d %6d %5d  %-7s %6.1f%s\n' "$p" "$ok" "$nok" "$skip" "$res" "$secs" "$mark"
	printf '%s\t%d\t%d\t%d\t%s\t%d\t%.1f\t%s\n' "$p" "$ok" "$nok" "$skip" "$res" "$rc" "$secs" "$exp" >>"$out"
done
wall=$(awk -v a="$suite_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

missed=() gated=0 extra=()
for p in "${programs[@]}"; do
	if [[ -n ${want[$p]:-} ]]; then
		gated=$((gated + 1))
		[[ ${result[$p]} == PASS ]] || missed+=("$p")
	elif [[ ${result[$p]} == PASS && -f $expected ]]; then
		extra+=("$p")
	fi
done

echo
printf 'runtime %s, suite %s: %d programs in %.0f s: PASS %d, FAIL %d, ERROR %d, TIMEOUT %d; tests ok %d, not ok %d, skip %d\n' \
	"$rt" "$short" "${#programs[@]}" "$wall" "${nres[PASS]}" "${nres[FAIL]}" "${nres[ERROR]}" "${nres[TIMEOUT]}" \
	"$tot_ok" "$tot_nok" "$tot_skip"
echo "summary: $out; TAP and stderr: $logdir/"
[[ ${#extra[@]} -gt 0 ]] && echo "passing but not in $(basename "$expected"): ${extra[*]}"
if [[ ${#missed[@]} -gt 0 ]]; then
	echo "gate: $((gated - ${#missed[@]}))/$gated expected programs pass; NOT passing: ${missed[*]}"
	exit 1
fi
echo "gate: $gated/$gated expected programs pass"
exit 0
