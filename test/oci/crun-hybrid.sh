#!/bin/sh
# Runs crun 1.8.1 on this cgroup-v1 hybrid host, for the OCI validation suite:
#   test/oci/run.sh test/oci/crun-hybrid.sh
# - crun 1.8.1 refuses hybrid hosts ("cgroups in hybrid mode not supported")
#   because /sys/fs/cgroup/unified lists hugetlb: each call runs in a private
#   mount namespace with that mount removed (the host is not touched).
# - crun 1.8.1 rejects configs whose ociVersion lacks "1.0"; the master suite
#   writes 1.3.0, so create/run rewrite it to 1.0.2 in the bundle's config.json.
# CRUN=/path/to/crun overrides the binary.
CRUN=${CRUN:-crun}

bundle=.
cmd=
prev=
for a in "$@"; do
	case $prev in
	--bundle | -b) bundle=$a ;;
	esac
	case $a in
	--bundle=*) bundle=${a#--bundle=} ;;
	create | run) [ -z "$cmd" ] && cmd=$a ;;
	esac
	prev=$a
done
if [ -n "$cmd" ] && [ -f "$bundle/config.json" ] &&
	! grep -q '"ociVersion": *"[^"]*1\.0' "$bundle/config.json"; then
	sed -i 's/"ociVersion": *"[^"]*"/"ociVersion": "1.0.2"/' "$bundle/config.json"
fi

exec unshare -m sh -c '
	if grep -q " /sys/fs/cgroup/unified " /proc/self/mountinfo; then
		umount /sys/fs/cgroup/unified || exit 125
	fi
	exec "$0" "$@"' "$CRUN" "$@"
