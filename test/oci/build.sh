#!/usr/bin/env bash
# Builds the OCI runtime validation suite (opencontainers/runtime-tools):
# runtimetest and every validation/<name>/ program, plus rootfs-amd64.tar.gz,
# into test/oci/.cache/<version>/bin/. Fetched with the Go toolchain through the
# module proxy; a second run with the same version does nothing.
#
# Usage: test/oci/build.sh [--v0.9.0 | --all] [--force]
#   (default)  the runtime-tools master pseudo-version below
#   --v0.9.0   the 2019 release v0.9.0 instead (no go.mod upstream: one is made
#              with go mod tidy, opencontainers/selinux kept at v1.8.0)
#   --all      both
#   --force    rebuild even if the cache is complete
# Prints the bin directory of each version built, one per line, on stdout.
set -euo pipefail

MASTER=v0.9.1-0.20251205004911-5e639034dcdc
OLD=v0.9.0
MOD=github.com/opencontainers/runtime-tools

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=$HERE/.cache
export PATH=/usr/local/go/bin:$PATH
# Static binaries: runtimetest runs inside the busybox rootfs.
export CGO_ENABLED=0 GOWORK=off GO111MODULE=on GOTOOLCHAIN=local

versions=("$MASTER")
force=0
for a in "$@"; do
	case $a in
	--v0.9.0 | --v090 | --old) versions=("$OLD") ;;
	--all) versions=("$MASTER" "$OLD") ;;
	--master) versions=("$MASTER") ;;
	--force) force=1 ;;
	-h | --help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "build.sh: unknown argument $a" >&2; exit 2 ;;
	esac
done

log() { echo "build.sh: $*" >&2; }

# v0.9.0 predates modules: make a go.mod. The module proxy serves only
# published versions, not Godeps.json's bare commits, so take the newest
# release of each dependency, except opencontainers/selinux (v1.9+ changed
# the API that v0.9.0 uses) and runtime-spec (v1.3.0 made pids.limit a
# pointer; v1.0.2 is the release nearest to Godeps' v1.0.1-57).
make_gomod_v090() {
	local src=$1
	(cd "$src" && go mod init "$MOD" >/dev/null 2>&1 &&
		GOFLAGS=-mod=mod go get github.com/opencontainers/selinux@v1.8.0 \
			github.com/opencontainers/runtime-spec@v1.0.2 >&2 &&
		GOFLAGS=-mod=mod go mod tidy >&2)
}

build_version() {
	local v=$1 dir=$CACHE/$1 bin=$CACHE/$1/bin
	if [[ $force == 0 && -f $dir/.complete && -x $bin/runtimetest && -f $bin/rootfs-amd64.tar.gz ]]; then
		log "$v: up to date ($bin)"
		echo "$bin"
		return
	fi
	log "$v: fetching $MOD@$v"
	mkdir -p "$CACHE/fetch"
	# A throwaway module so that no go.mod around us (berth's) is involved.
	[[ -f $CACHE/fetch/go.mod ]] || printf 'module berth-oci-fetch\n\ngo 1.21\n' >"$CACHE/fetch/go.mod"
	local srcdir
	srcdir=$(cd "$CACHE/fetch" && GOFLAGS=-mod=mod go mod download -json "$MOD@$v" |
		sed -n 's/^[[:space:]]*"Dir": *"\(.*\)",\{0,1\}$/\1/p')
	[[ -n $srcdir && -d $srcdir ]] || { log "$v: go mod download gave no directory"; exit 1; }

	rm -rf "$dir" && mkdir -p "$dir"
	local src=$dir/src tmpbin=$dir/bin.tmp
	cp -r "$srcdir" "$src"
	chmod -R u+w "$src"
	rm -rf "$src/vendor" "$src/Godeps/_workspace"
	if [[ ! -f $src/go.mod ]]; then
		make_gomod_v090 "$src"
	fi

	local progs=() d
	for d in "$src"/validation/*/; do
		d=${d%/}
		grep -qs '^package main' "$d"/*.go && progs+=("$(basename "$d")")
	done
	log "$v: building runtimetest and ${#progs[@]} validation programs"
	mkdir -p "$tmpbin"
	(cd "$src" && GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -o "$tmpbin/" \
		./cmd/runtimetest $(printf './validation/%s ' "${progs[@]}") >&2)
	cp "$src/rootfs-amd64.tar.gz" "$tmpbin/"
	printf '%s\n' "${progs[@]}" >"$dir/programs.txt"
	rm -rf "$bin" && mv "$tmpbin" "$bin"
	# Keep the go.mod/go.sum used (handy for v0.9.0), drop the rest of the source.
	cp "$src/go.mod" "$src/go.sum" "$dir/" 2>/dev/null || true
	rm -rf "$src"
	echo "$MOD@$v" >"$dir/.complete"
	log "$v: done ($bin)"
	echo "$bin"
}

mkdir -p "$CACHE"
for v in "${versions[@]}"; do build_version "$v"; done
