#!/bin/bash
# bench/build.sh: build benchmark of berth build against podman build
# (buildah), written to the "## Build" section of docs/bench.md (only that
# section is replaced; it is appended if missing).
#
# What it does, in its own temp dir:
#   1. makes a busybox image (a rootfs from /bin/busybox), imports it into
#      berth (berth image import) and podman (podman load of berth save),
#      each with its own temporary storage;
#   2. a context of 50 files of 27 kB and the Dockerfile
#        FROM bb:1 / RUN (a file and a directory) / COPY src/ /app/src/ /
#        RUN cat /app/src/*.txt | wc -c > /app/size / CMD
#   3. BENCH_BUILD_RUNS rounds, the tools alternating first: a cold build
#      (--no-cache), a rebuild with nothing changed, and a rebuild after
#      one file of the context changed; wall-clock milliseconds;
#   4. writes the medians and the ratios against podman to the section.
#
# podman runs with runc (its default crun refuses this hybrid cgroup host),
# the overlay storage driver in its temporary root, --network none as berth.
#
# Usage: bench/build.sh
# Environment:
#   BENCH_BUILD_RUNS=N  rounds (default 5)
#   BENCH_OUT=FILE      report to update (default docs/bench.md)
#   BERTH=PATH          the berth binary (default bin/berth; berth-build beside it)
# Needs root, podman, runc, busybox-static.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${BENCH_OUT:-$REPO/docs/bench.md}
RUNS=${BENCH_BUILD_RUNS:-5}
BERTH=${BERTH:-$REPO/bin/berth}
RUNC=$(command -v runc)
TMP=$(mktemp -d /tmp/berth-bench-build.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

B="$BERTH --root $TMP/berth --runroot $TMP/berth-run"
P="podman --root $TMP/podman --runroot $TMP/podman-run --runtime $RUNC"

# 1. The base image, in both.
mkdir -p "$TMP/rootfs/bin" "$TMP/rootfs/etc" "$TMP/rootfs/tmp" "$TMP/rootfs/proc" "$TMP/rootfs/sys" "$TMP/rootfs/dev"
cp /bin/busybox "$TMP/rootfs/bin/"
for a in sh cat wc mkdir echo; do ln -s busybox "$TMP/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$TMP/rootfs/etc/passwd"
tar -C "$TMP/rootfs" -cf "$TMP/rootfs.tar" .
$B image import "$TMP/rootfs.tar" bb:1 >/dev/null
$B save -o "$TMP/bb.tar" bb:1
$P load -q -i "$TMP/bb.tar" >/dev/null

# 2. The context.
CTX=$TMP/ctx
mkdir -p "$CTX/src"
for i in $(seq 1 50); do head -c 20000 /dev/urandom | base64 >"$CTX/src/f$i.txt"; done
cat >"$CTX/Dockerfile" <<'EOF'
FROM docker.io/library/bb:1
RUN echo prepare > /prep && mkdir -p /app
COPY src/ /app/src/
RUN cat /app/src/*.txt | wc -c > /app/size
CMD ["cat", "/app/size"]
EOF

ms() { # a failed build stops the benchmark: its time would mean nothing
	local s
	s=$(date +%s%N)
	"$@" >/dev/null 2>"$TMP/err" || { echo "failed: $*" >&2; cat "$TMP/err" >&2; exit 1; }
	echo $((($(date +%s%N) - s) / 1000000))
}
round() { # tool: prints cold nochange onefile
	local build
	case $1 in
	berth) build="$B build --network none -t bench:1 $CTX" ;;
	podman) build="$P build --pull=never --network none -t bench:1 $CTX" ;;
	esac
	local cold nochange onefile
	cold=$(ms $build --no-cache)
	nochange=$(ms $build)
	echo "changed $RANDOM" >>"$CTX/src/f1.txt"
	onefile=$(ms $build)
	echo "$cold $nochange $onefile"
}

# 3. Rounds, alternating which tool goes first.
: >"$TMP/berth.txt"
: >"$TMP/podman.txt"
for r in $(seq 1 "$RUNS"); do
	if [ $((r % 2)) = 1 ]; then order="berth podman"; else order="podman berth"; fi
	for tool in $order; do round "$tool" >>"$TMP/$tool.txt"; done
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { awk -v c="$2" '{print $c}' "$TMP/$1.txt" | median; }
row() { # name column
	local b p
	b=$(col berth "$2")
	p=$(col podman "$2")
	printf '| %s | %s ms | %s ms | %s |\n' "$1" "$b" "$p" "$(awk -v b="$b" -v p="$p" 'BEGIN {printf "%.2f", b / p}')"
}

# 4. The section.
SECTION=$(
	cat <<EOF
## Build

\`bench/build.sh\`: \`berth build\` against \`podman build\` (buildah; podman $(podman --version | awk '{print $3}'), runc, overlay), the same
Dockerfile (FROM a busybox image, a RUN, COPY of 50 files of 27 kB, a RUN, CMD) and context, each tool with its own temporary storage
and \`--network none\`; medians of $RUNS rounds, the tools alternating first; wall-clock. Issue 14's targets: cold ≤ podman,
no-change rebuild ≤ 0.3× podman's, one-file change ≤ 0.5× podman's.

| build | berth | podman | berth/podman |
|---|---|---|---|
$(row "cold (--no-cache)" 1)
$(row "rebuild, nothing changed" 2)
$(row "rebuild, one file changed" 3)

$(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%d).
EOF
)
if [ -f "$OUT" ] && grep -q '^## Build$' "$OUT"; then
	awk -v section="$SECTION" '
		/^## Build$/ { print section; skip = 1; next }
		skip && /^## / { skip = 0 }
		!skip { print }
	' "$OUT" >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
else
	printf '\n%s\n' "$SECTION" >>"$OUT"
fi
echo "$SECTION"
