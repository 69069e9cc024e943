#!/bin/bash
# bench/image.sh: image benchmark of berth, written to the "## Images"
# section of docs/bench.md (only that section is replaced; it is appended
# if missing).
#
# What it does, everything on a tmpfs mounted in its own temp dir:
#   1. builds a 3-layer test image from host files (a sorted, deterministic
#      selection of /usr/lib/x86_64-linux-gnu, /usr/share, /usr/bin and
#      /usr/include, plus a busybox rootfs so that the image can run
#      `true`), about the size of a debootstrap minbase image: ~100 MB
#      gzipped, ~240 MB uncompressed, ~10k entries;
#   2. serves it from bench/registry (an in-memory registry on 127.0.0.1, a
#      random free port, plain http) and pushes it there once;
#   3. pull + unpack, BENCH_IMAGE_RUNS times each, interleaved (the order
#      alternating each round), into fresh directories every time:
#        berth --root NEW pull --tls-verify=false -q REF
#        skopeo copy --src-tls-verify=false docker://REF oci:NEW:x
#          followed by  umoci unpack --image NEW:x NEWBUNDLE
#      medians of seconds and MB/s of compressed bytes (MB = 10^6 bytes);
#   4. `berth run ... true` latency with hyperfine, side by side: a busybox
#      image (scripts/mkrootfs.sh, tarred, `berth image import`) with the
#      overlay mount, the same with --storage-driver vfs (a copy), the same
#      rootfs as --rootfs DIR, and the 3-layer image with the overlay;
#      back to back and cold (sleep 0.25 before each run), each in four
#      hyperfine passes with the commands' order rotated; medians from the
#      per-run times of all passes;
#   5. writes the section; raw results go to bench/results/image-*;
#   6. kills its registry, unmounts its tmpfs and removes its temp dir.
#
# berth run gets --network none (berth's default, a bridge network, would
# change the host's network configuration).
#
# Usage: bench/image.sh
# Environment:
#   BENCH_IMAGE_RUNS=N       pull + unpack rounds (default 5)
#   BENCH_IMAGE_RUN_RUNS=N   back-to-back `berth run` runs per command (default 100),
#                            a quarter in each of four passes
#   BENCH_IMAGE_COLD_RUNS=N  cold `berth run` runs per command (default 40), the same
#   BENCH_OUT=FILE           report to update (default docs/bench.md)
#   BERTH=PATH               benchmark this berth binary instead of building one
# Needs root, go (unless BERTH is given), busybox-static; installs skopeo,
# umoci, hyperfine and jq with apt-get if they are missing.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$REPO/bench/results
RUNS=${BENCH_IMAGE_RUNS:-5}
RUN_RUNS=${BENCH_IMAGE_RUN_RUNS:-100}
COLD_RUNS=${BENCH_IMAGE_COLD_RUNS:-40}
OUT=${BENCH_OUT:-$REPO/docs/bench.md}
GO=${GO:-go}
command -v "$GO" >/dev/null || GO=/usr/local/go/bin/go

[ "$(id -u)" = 0 ] || { echo "bench/image: needs root" >&2; exit 1; }

# Tools: installed from Debian's packages if missing.
missing=
for p in skopeo:skopeo umoci:umoci hyperfine:hyperfine jq:jq; do
	command -v "${p%%:*}" >/dev/null || missing="$missing ${p#*:}"
done
if [ -n "$missing" ]; then
	echo "== installing$missing"
	apt-get update -qq
	# shellcheck disable=SC2086 # package names
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
if ! [ -x /bin/busybox ] || ! /bin/busybox --list | grep -qx sh; then
	echo "bench/image: need a static /bin/busybox (apt-get install busybox-static)" >&2; exit 1
fi

WORK=$(mktemp -d /tmp/berth-image-bench.XXXXXX)
T=$WORK/tmpfs
REG_PID=
cleanup() {
	set +e
	if [ -n "$REG_PID" ]; then
		kill "$REG_PID" 2>/dev/null
		wait "$REG_PID" 2>/dev/null
	fi
	# berth --rm removes its cgroups; a record left behind (berth killed)
	# still lists them.
	for rec in "$T"/run*/*/state.json; do
		[ -f "$rec" ] || continue
		echo "bench/image: berth left a container record: $rec" >&2
		for d in $(jq -r '.cgroupDirs[]?' "$rec" | sort -r); do rmdir "$d" 2>/dev/null; done
	done
	# Anything mounted under the temp dir, deepest first (berth's overlays
	# live in the containers' own mount namespaces, so normally only the
	# tmpfs itself is here).
	awk -v w="$WORK" '$5 == w || index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount "$m" || umount -l "$m"; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$T"
mount -t tmpfs -o size=8g,mode=0700 berth-image-bench "$T"

# The commit the binary comes from; "dirty" only counts berth's own sources.
DESCRIBE=$(git -C "$REPO" describe --always --tags)
if [ -n "$(cd "$REPO" && git status --porcelain --untracked-files=no -- cmd internal go.mod go.sum)" ]; then
	DESCRIBE="$DESCRIBE (with uncommitted changes to cmd/ or internal/)"
fi
if [ -n "${BERTH:-}" ]; then
	[ -x "$BERTH" ] || { echo "bench/image: $BERTH is not executable" >&2; exit 1; }
	BUILT="\`$("$BERTH" --version 2>&1 | head -n1)\` from BERTH=${BERTH#"$REPO"/}; the work tree is at \`$DESCRIBE\`"
	cp "$BERTH" "$WORK/berth"
	# berth runs its helpers from beside itself: berth-registry pulls.
	for helper in berth-registry berth-init berth-stage berth-nsenter berth-monitor berth-pid1 berth-format berth-cdi; do
		[ ! -e "$(dirname "$BERTH")/$helper" ] || cp "$(dirname "$BERTH")/$helper" "$WORK/$helper"
	done
else
	echo "== building berth"
	for cmd in berth berth-registry berth-init; do
		(cd "$REPO" && CGO_ENABLED=0 "$GO" build -trimpath -o "$WORK/$cmd" ./cmd/$cmd)
	done
	BUILT="\`$DESCRIBE\`, built from the work tree with CGO_ENABLED=0 go build"
fi
BERTH=$WORK/berth
echo "== building bench/registry"
(cd "$REPO" && CGO_ENABLED=0 "$GO" build -trimpath -o "$WORK/registry" ./bench/registry)

# ---------------------------------------------------------------------------
# The test image.
# ---------------------------------------------------------------------------
# pick DIR BUDGET_MIB MAX_ENTRIES MAX_FILE_BYTES: regular files (not
# hardlinked) and symlinks under DIR in C-locale path order, skipping files
# over MAX_FILE_BYTES, until the next one would pass the budget or the
# entry count. Paths are printed without their leading "/".
pick() {
	find "$1" \( -type f -links 1 -o -type l \) -printf '%s\t%P\n' 2>/dev/null |
		awk -F'\t' -v d="${1#/}" '{ print $1 "\t" d "/" $2 }' |
		LC_ALL=C sort -t "$(printf '\t')" -k2,2 |
		awk -F'\t' -v b=$(($2 * 1048576)) -v m="$3" -v x="$4" '
			$1 > x { next }
			{ if (s + $1 > b || n >= m) exit; s += $1; n++; print $2 }'
}
# withdirs: the paths read, plus every parent directory, sorted.
withdirs() {
	awk '{ p = $0; print; while (sub("/[^/]*$", "", p) && p != "") if (!(p in d)) { d[p]; print p } }' |
		LC_ALL=C sort -u
}
# layer LIST OUT: a gzipped tar of the paths in LIST (relative to /, or to
# a "-C DIR" line before them); numeric owners, no atime/ctime headers.
layer() {
	local rc=0
	tar -C / --no-recursion --numeric-owner --format=gnu -cf - -T "$1" | gzip -n -6 >"$2" || rc=$?
	# 1: a file changed as it was read (a package being upgraded).
	[ "$rc" = 0 ] || [ "$rc" = 1 ] || { echo "bench/image: tar failed ($rc)" >&2; exit 1; }
}

echo "== building the test image in $T"
scripts_rootfs=$T/busybox-rootfs
bash "$REPO/scripts/mkrootfs.sh" "$scripts_rootfs" >/dev/null
find "$scripts_rootfs" -exec touch -h -d @946684800 {} + # the same digest every time
{
	pick /usr/lib/x86_64-linux-gnu 125 100000 16777216
	pick /usr/share 50 8000 131072
} | withdirs >"$T/layer1.list"
pick /usr/bin 40 100000 16777216 | withdirs >"$T/layer2.list"
{
	pick /usr/include 15 1500 262144 | withdirs
	echo "-C $scripts_rootfs"
	(cd "$scripts_rootfs" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort)
} >"$T/layer3.list"
for i in 1 2 3; do layer "$T/layer$i.list" "$T/layer$i.tar.gz"; done

IMG_ENTRIES=0
IMG_UNCOMPRESSED=0
for i in 1 2 3; do
	IMG_ENTRIES=$((IMG_ENTRIES + $(tar -tzf "$T/layer$i.tar.gz" | wc -l)))
	IMG_UNCOMPRESSED=$((IMG_UNCOMPRESSED + $(gzip -dc "$T/layer$i.tar.gz" | wc -c)))
done

echo "== registry on 127.0.0.1"
"$WORK/registry" -info "$T/registry.json" -max-life 3h "$T"/layer1.tar.gz "$T"/layer2.tar.gz "$T"/layer3.tar.gz &
REG_PID=$!
for _ in $(seq 600); do
	[ -f "$T/registry.json" ] && break
	kill -0 "$REG_PID" 2>/dev/null || { echo "bench/image: the registry exited" >&2; exit 1; }
	sleep 0.1
done
[ -f "$T/registry.json" ] || { echo "bench/image: the registry did not come up" >&2; exit 1; }
REF=$(jq -r .ref "$T/registry.json")
COMPRESSED=$(jq -r .compressed "$T/registry.json")
LAYER_SIZES=$(jq -r '[.layers[].size / 1e6 | . * 10 | round / 10 | tostring] | join(" + ")' "$T/registry.json")
rm -f "$T"/layer?.tar.gz # the registry holds them in memory
echo "   $REF: $IMG_ENTRIES entries, $COMPRESSED bytes compressed, $IMG_UNCOMPRESSED uncompressed"

# ---------------------------------------------------------------------------
# Pull + unpack.
# ---------------------------------------------------------------------------
now() { date +%s%N; }
# timed FILE COMMAND...: COMMAND, its peak RSS in KiB written to FILE if
# RSS_ON is 1.
RSS_ON=0
timed() {
	local f=$1
	shift
	if [ "$RSS_ON" = 1 ]; then /usr/bin/time -f %M -o "$f" "$@"; else "$@"; fi
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

# pull_berth DIR: one timed berth pull into the empty store DIR.
pull_berth() {
	local t0 t1
	mkdir -p "$1/root" "$1/run"
	t0=$(now)
	timed "$T/rss-berth" "$BERTH" --root "$1/root" --runroot "$1/run" pull --tls-verify=false -q "$REF" >/dev/null
	t1=$(now)
	echo "berth	$(secs "$t0" "$t1")" >>"$TIMES"
}
# pull_skopeo DIR: one timed skopeo copy and umoci unpack into DIR.
pull_skopeo() {
	local t0 t1 t2
	mkdir -p "$1"
	t0=$(now)
	timed "$T/rss-skopeo" skopeo copy -q --src-tls-verify=false "docker://$REF" "oci:$1/oci:x" >/dev/null
	t1=$(now)
	timed "$T/rss-umoci" umoci unpack --image "$1/oci:x" "$1/bundle" >/dev/null
	t2=$(now)
	printf 'skopeo\t%s\numoci\t%s\nskopeo+umoci\t%s\n' \
		"$(secs "$t0" "$t1")" "$(secs "$t1" "$t2")" "$(secs "$t0" "$t2")" >>"$TIMES"
}

# The warm-up round, not counted, also checks that both unpacked the same
# thing: the number of entries and bytes of regular files.
# It also measures peak RSS (GNU time's %M: the largest resident set among
# the command and the processes it waited for).
echo "== pull + unpack: warm-up round"
TIMES=$T/warmup.tsv
[ -x /usr/bin/time ] && RSS_ON=1
pull_berth "$T/w-berth"
pull_skopeo "$T/w-skopeo"
# rss NAME: peak RSS of NAME's warm-up command, MiB.
rss() {
	if [ -f "$T/rss-$1" ]; then
		awk '{ v = $1 } END { printf "%.0f", v / 1024 }' "$T/rss-$1"
	else
		echo "?"
	fi
}
RSS_BERTH=$(rss berth); RSS_SKOPEO=$(rss skopeo); RSS_UMOCI=$(rss umoci)
RSS_ON=0
"$BERTH" --root "$T/w-berth/root" --runroot "$T/w-berth/run" images
count() { find "$@" -mindepth 1 | wc -l; }
bytes() { find "$@" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
BERTH_LAYER_DIRS=$(echo "$T"/w-berth/root/images/layers/*/diff)
# shellcheck disable=SC2086 # one word per layer directory
BERTH_UNPACKED="$(count $BERTH_LAYER_DIRS) entries, $(bytes $BERTH_LAYER_DIRS) file bytes in $(echo "$BERTH_LAYER_DIRS" | wc -w) layer dirs"
UMOCI_UNPACKED="$(count "$T/w-skopeo/bundle/rootfs") entries, $(bytes "$T/w-skopeo/bundle/rootfs") file bytes in one rootfs"
echo "   berth: $BERTH_UNPACKED"
echo "   umoci: $UMOCI_UNPACKED"
BERTH_STORE_KB=$(du -sk "$T/w-berth" | cut -f1)
SKOPEO_STORE_KB=$(du -sk "$T/w-skopeo" | cut -f1)
rm -rf "$T/w-berth" "$T/w-skopeo"

mkdir -p "$RESULTS"
TIMES=$RESULTS/image-pull.tsv
: >"$TIMES"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)
for i in $(seq "$RUNS"); do
	echo "== pull + unpack: round $i of $RUNS"
	if [ $((i % 2)) = 1 ]; then
		pull_berth "$T/berth-$i"
		pull_skopeo "$T/skopeo-$i"
	else
		pull_skopeo "$T/skopeo-$i"
		pull_berth "$T/berth-$i"
	fi
	rm -rf "$T/berth-$i" "$T/skopeo-$i"
done
tail -n $((RUNS * 4)) "$TIMES"

# med NAME: the median of NAME's seconds in TIMES.
med() {
	awk -F'\t' -v n="$1" '$1 == n { print $2 }' "$TIMES" | sort -g |
		awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() {
	awk -F'\t' -v n="$1" '$1 == n { print $2 }' "$TIMES" | sort -g |
		awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f–%.2f", lo, hi }'
}
mbs() { awk -v b="$COMPRESSED" -v s="$1" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
P_BERTH=$(med berth); P_SKOPEO=$(med skopeo); P_UMOCI=$(med umoci); P_SUM=$(med skopeo+umoci)

# ---------------------------------------------------------------------------
# berth run ... true.
# ---------------------------------------------------------------------------
echo "== berth run latency"
STORE=$T/store
STATE=$T/run
RFS=$T/rootfs
bash "$REPO/scripts/mkrootfs.sh" "$RFS" >/dev/null
tar -C "$RFS" -cf "$T/busybox.tar" .
"$BERTH" --root "$STORE" --runroot "$STATE" image import "$T/busybox.tar" busybox >/dev/null
"$BERTH" --root "$STORE" --runroot "$STATE" pull --tls-verify=false -q "$REF" >/dev/null
"$BERTH" --root "$STORE" --runroot "$STATE" images
B="$BERTH --root $STORE --runroot $STATE"
CMD_ROOTFS="$B run --rm --network none --rootfs $RFS true"
CMD_OVERLAY="$B run --rm --network none busybox true"
CMD_VFS="$B --storage-driver vfs run --rm --network none busybox true"
CMD_BIG="$B run --rm --network none $REF true"
for c in "$CMD_ROOTFS" "$CMD_OVERLAY" "$CMD_VFS" "$CMD_BIG"; do
	echo "+ $c"
	$c || { echo "bench/image: command failed (status $?): $c" >&2; exit 1; }
done
# hyperfine runs all of one command's runs before the next command's, so a
# busy neighbour (or the position in the block: the first command's cold
# runs come out faster) can favour one command: four passes, the order of
# the commands rotated by one each time, so that each runs once in each
# position.
NAMES=(rootfs overlay vfs overlay-3-layers)
CMDS=("$CMD_ROOTFS" "$CMD_OVERLAY" "$CMD_VFS" "$CMD_BIG")
PASSES=4
B2B_PASS=$(((RUN_RUNS + PASSES - 1) / PASSES))
COLD_PASS=$(((COLD_RUNS + PASSES - 1) / PASSES))
WARMUP=5
[ "$B2B_PASS" -lt 10 ] && WARMUP=2
rm -f "$RESULTS"/image-run-*.json
for pass in $(seq 0 $((PASSES - 1))); do
	hf=()
	for k in 0 1 2 3; do
		j=$(((k + pass) % 4))
		hf+=(-n "${NAMES[j]}" "${CMDS[j]}")
	done
	echo "== back to back, pass $((pass + 1)) of $PASSES: $B2B_PASS runs"
	hyperfine -N --style basic --warmup $WARMUP --runs "$B2B_PASS" \
		--export-json "$RESULTS/image-run-b2b-$pass.json" "${hf[@]}"
	echo "== cold (sleep 0.25 before each run), pass $((pass + 1)) of $PASSES: $COLD_PASS runs"
	hyperfine -N --style basic --warmup 2 --runs "$COLD_PASS" --prepare 'sleep 0.25' \
		--export-json "$RESULTS/image-run-cold-$pass.json" "${hf[@]}"
done
ELAPSED=$(($(date +%s) - START))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
left=$(find "$STORE/containers" -mindepth 1 -maxdepth 1 -type d ! -name '.*' 2>/dev/null | wc -l)
[ "$left" = 0 ] || echo "bench/image: $left snapshot(s) left in the store after the runs" >&2

# hmed NAME KIND: the median of NAME's per-run times in all passes of
# KIND (b2b or cold), ms.
hmed() {
	jq -rs --arg n "$1" '
		[.[].results[] | select(.command == $n) | .times[]] | sort
		| ((length - 1) / 2) as $i | (.[$i | floor] + .[$i | ceil]) / 2 * 1000' \
		"$RESULTS/image-run-$2-"*.json
}
fmt() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }
added() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f", a - b }'; }
R_B2B=$(hmed rootfs b2b); R_COLD=$(hmed rootfs cold)
runrow() {
	local b c
	b=$(hmed "$1" b2b); c=$(hmed "$1" cold)
	if [ "$1" = rootfs ]; then
		printf '| %s | %s | — | %s | — |\n' "$2" "$(fmt "$b")" "$(fmt "$c")"
	else
		printf '| %s | %s | %s | %s | %s |\n' "$2" "$(fmt "$b")" "$(added "$b" "$R_B2B")" "$(fmt "$c")" "$(added "$c" "$R_COLD")"
	fi
}

# ---------------------------------------------------------------------------
# Report: the "## Images" section of $OUT.
# ---------------------------------------------------------------------------
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
SECTION=$T/section.md
cat >"$SECTION" <<EOF
## Images

Generated by \`bench/image.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); berth
$BUILT; $(skopeo --version), $(umoci --version),
$(hyperfine --version). Load average before / after: $LOAD_BEFORE / $LOAD_AFTER;
the measurements took ${ELAPSED} s. Everything (registry data aside, which
bench/registry holds in memory) is on a tmpfs: on this VM's disk the same
pulls swing up to 3×. MB = 10^6 bytes.

**The image**: 3 layers built from host files (a sorted, deterministic
selection of /usr/lib/x86_64-linux-gnu, /usr/share, /usr/bin and
/usr/include, plus a busybox rootfs so that it can run \`true\`), gzip -6:
**$(mb "$COMPRESSED") MB compressed** ($LAYER_SIZES), **$(mb "$IMG_UNCOMPRESSED") MB
uncompressed** (tar streams), **$IMG_ENTRIES tar entries**, an OCI manifest (\`$(jq -r .digest "$T/registry.json" | cut -c1-19)…\`), served
by \`bench/registry\` (go-containerregistry's in-memory registry) over plain
http on 127.0.0.1.

### Pull + unpack

Median of $RUNS rounds (range in brackets), each into fresh empty
directories, the tools interleaved (berth first in odd rounds, skopeo first
in even ones), after one warm-up round; MB/s counts compressed bytes.

\`\`\`
berth --root NEW --runroot NEW pull --tls-verify=false -q 127.0.0.1:PORT/bench/image:latest
skopeo copy --src-tls-verify=false docker://127.0.0.1:PORT/bench/image:latest oci:NEW:x
umoci unpack --image NEW:x NEWBUNDLE
\`\`\`

| tool | seconds | MB/s | time of berth ÷ time of this |
|---|---:|---:|---:|
| **berth pull** (fetch, verify, unpack each layer into the store) | **$P_BERTH** ($(range berth)) | **$(mbs "$P_BERTH")** | 1.00 |
| skopeo copy (fetch, verify into an OCI layout) | $P_SKOPEO ($(range skopeo)) | $(mbs "$P_SKOPEO") | $(ratio "$P_BERTH" "$P_SKOPEO") |
| umoci unpack (one rootfs, plus its mtree manifest) | $P_UMOCI ($(range umoci)) | $(mbs "$P_UMOCI") | $(ratio "$P_BERTH" "$P_UMOCI") |
| **skopeo copy + umoci unpack** (median of per-round sums) | **$P_SUM** ($(range skopeo+umoci)) | **$(mbs "$P_SUM")** | **$(ratio "$P_BERTH" "$P_SUM")** |

berth/(skopeo+umoci) = **$(ratio "$P_BERTH" "$P_SUM")**. What each left on
the tmpfs: berth's store $((BERTH_STORE_KB / 1024)) MiB (layers unpacked:
$BERTH_UNPACKED), skopeo's layout plus umoci's bundle $((SKOPEO_STORE_KB / 1024)) MiB
(unpacked: $UMOCI_UNPACKED). Entries count each layer's directories
separately for berth (its layers stay apart, as overlay lower dirs), so
directories present in several layers count once for umoci. Peak RSS in
the warm-up round (GNU time): berth pull $RSS_BERTH MiB, skopeo copy
$RSS_SKOPEO MiB, umoci unpack $RSS_UMOCI MiB.

For reference only, **not measured here**: /work/shared/anchors.md
("Networking, images and monitors") gives, for a different image of the
same shape (debootstrap minbase + 2 layers; 101 MB compressed, 243 MB
uncompressed, 9,444 entries) from a local registry onto tmpfs on this kind
of machine: \`podman pull\` 2.79 s (36 MB/s), \`ctr image pull\` 2.94 s,
\`skopeo copy\` + \`umoci unpack\` 3.16 s.

### \`berth run IMAGE true\`

Median ms from hyperfine's per-run times (\`-N\`), the four commands side
by side: $((B2B_PASS * PASSES)) runs back to back, $((COLD_PASS * PASSES)) cold ones
(\`--prepare 'sleep 0.25'\`), each in $PASSES hyperfine passes with the
commands' order rotated (hyperfine runs one command's runs as a block, so a
busy neighbour, or the position in the pass, can favour one command;
differences under ~1 ms back to back and ~2 ms cold are noise here). "busybox" is scripts/mkrootfs.sh's rootfs,
tarred and imported with \`berth image import\` (one layer); "--rootfs" runs
that same directory without an image. Store and state on the tmpfs.

\`\`\`
berth --root S --runroot R run --rm --network none --rootfs DIR true
berth --root S --runroot R run --rm --network none busybox true
berth --root S --runroot R --storage-driver vfs run --rm --network none busybox true
berth --root S --runroot R run --rm --network none 127.0.0.1:PORT/bench/image:latest true
\`\`\`

| case | back to back | added vs --rootfs | cold | added vs --rootfs |
|---|---:|---:|---:|---:|
$(runrow rootfs "\`--rootfs DIR\` (no image)")
$(runrow overlay "busybox image, overlay")
$(runrow vfs "busybox image, \`--storage-driver vfs\` (copy)")
$(runrow overlay-3-layers "the 3-layer image above, overlay")
EOF

# Replace the section in the report as it is now (others may have written
# other sections meanwhile), or append it.
touch "$OUT"
awk -v sec="$SECTION" '
	function emit() { while ((getline l < sec) > 0) print l; done = 1 }
	/^## Images[[:space:]]*$/ { skip = 1; if (NR > 1 && prev != "") print ""; emit(); next }
	skip && /^## / { skip = 0; print "" }
	!skip { print; prev = $0 }
	END { if (!done) { if (NR > 0 && prev != "") print ""; emit() } }' "$OUT" >"$T/out.md"
cat "$T/out.md" >"$OUT"
echo "== wrote the Images section of $OUT"
cat "$SECTION"
