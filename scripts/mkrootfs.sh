#!/usr/bin/env bash
# mkrootfs.sh DIR: build a minimal root filesystem from Debian's static
# busybox (package busybox-static): the binary, one link per applet, a
# passwd with root. Needs no network.
set -eu
dir=${1:?usage: mkrootfs.sh DIR}
bb=/bin/busybox
[ -x "$bb" ] || { echo "mkrootfs: $bb is missing: apt-get install -y busybox-static" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir"/{bin,sbin,usr/bin,etc,proc,sys,dev,tmp,root,run,var}
chmod 1777 "$dir/tmp"
cp "$bb" "$dir/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
echo "mkrootfs: busybox root filesystem in $dir"
