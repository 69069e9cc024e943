#!/usr/bin/env bash
# install-deps.sh: install what building, testing and benchmarking berth
# needs on a Debian machine (run as root). Go itself must be on PATH.
set -eu
pkgs="gcc libc6-dev busybox-static runc crun hyperfine jq qemu-system-x86 cpio make podman containerd iperf3 skopeo umoci strace linux-perf passt slirp4netns git openssh-client"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
command -v go >/dev/null || { echo "install-deps: Go is not on PATH (Go 1.26 expected at /usr/local/go)" >&2; exit 1; }
