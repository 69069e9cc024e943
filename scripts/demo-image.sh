#!/usr/bin/env bash
# demo-image.sh ROOTFS TAR: make the demo's image busybox from ROOTFS,
# through TAR. Every import is a new image (its config records the time,
# as docker import's does), so a re-run of make demo imports only when the
# root filesystem changed (a new busybox-static): the tar is reproducible
# (sorted names, fixed times and owners) and compared with the layer
# busybox already has. When the tag does move, the image it left is
# removed, unless a container still uses it, so that the demo leaves no
# <none> image behind. BERTH is the berth command (default bin/berth).
set -eu
rootfs=${1:?usage: demo-image.sh ROOTFS TAR}
tar=${2:?usage: demo-image.sh ROOTFS TAR}
berth=${BERTH:-bin/berth}
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$tar" .
diff="sha256:$(sha256sum "$tar" | cut -d' ' -f1)"
current=$($berth image inspect busybox 2>/dev/null || true)
if grep -q "\"diffID\": \"$diff\"" <<<"$current"; then
  echo "demo: the busybox image is up to date"
  exit 0
fi
old=$(sed -n 's/^ *"Id": "\(sha256:[0-9a-f]*\)".*/\1/p' <<<"$current" | head -n1)
$berth image import "$tar" busybox
if [ -n "$old" ] && ! $berth rmi "$old" >/dev/null 2>&1; then
  echo "demo: the previous busybox image ${old:7:12} is kept: a container uses it"
fi
