#!/usr/bin/env bash
# Runs Kubernetes' critest (cri-tools v1.37.0) through containerd's CRI
# plugin twice, with the runtime handler `runc` (/usr/sbin/runc, the
# baseline) and with `berth` (RUNTIME through the runc v2 shim's
# BinaryName), and fails unless every case that passes with runc passes
# with berth.
#
# Usage: test/cri/run.sh RUNTIME
#   RUNTIME   path of berth-oci
# Environment:
#   CRI_FOCUS=RE      run only the critest cases matching RE (both handlers)
#   CRI_HANDLERS="runc berth"  the handlers to run (compare needs both)
#   CRI_KEEP=1        keep the work directory (logs, reports, configs)
#   CRI_MIN_RUNC_PASS=N  fail if runc passes fewer than N cases (default 80;
#                     0 with CRI_FOCUS): a harness that runs nothing fails
#
# Needs root on Debian. Installs containerd, containernetworking-plugins,
# busybox-static and iptables with apt-get if missing. Needs no network but
# loopback and the Go module proxy (critest is built from its module with
# `go test -c`: cmd/critest is a test package, `go install` cannot build it;
# the binary is kept in ~/.cache/berth-cri).
#
# Images: test/cri/crihelper serves, on 127.0.0.1, equivalents of every image
# critest pulls, built from busybox-static; containerd's registry mirrors
# point registry.k8s.io, k8s.gcr.io and gcr.io at it (hosts.toml). Network: CNI's bridge
# plugin makes the bridge berthcri0 on 10.233.71.0/24 and portmap its
# iptables chains; both go at the end. Everything containerd keeps is in a
# temp dir (root, state, sockets, the runtimes' --root dirs, the CNI config
# and IPAM store). What containerd and the CNI plugins hard-code outside it
# (/run/containerd, /var/run/netns/cni-*, /var/lib/cni, the pods' cgroups
# (test.slice*), the CNI-* iptables chains, net.ipv4.ip_forward that the bridge
# plugin turns on) is removed or restored afterwards if it was not there
# before. Processes left behind are found by the temp dir in their command
# line, or by their cgroup, and ended by PID.
#
# Prints critest's summary per handler, then the figures, the cases that
# pass with runc and not with berth, and "N passed, N failed": of the cases
# that pass with runc, how many pass and fail with berth. Exit status: 0 if
# the gate holds, 1 if not, 2 on a setup error.
set -eu

if [ $# -ne 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
	sed -n '2,/^set -eu/{/^#/p}' "$0"
	[ $# -eq 1 ] && exit 0 || exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "run.sh: needs root" >&2
	exit 2
fi
RT=$(command -v "$1" || true)
if [ -z "$RT" ] || [ ! -x "$RT" ]; then
	echo "run.sh: $1: not an executable" >&2
	exit 2
fi
RT=$(readlink -f "$RT")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CRITEST_VERSION=v1.37.0
BRIDGE=berthcri0
SUBNET=10.233.71.0/24
NETNAME=berth-cri
HANDLERS=${CRI_HANDLERS:-runc berth}
MIN_RUNC_PASS=${CRI_MIN_RUNC_PASS:-80}
[ -z "${CRI_FOCUS:-}" ] || MIN_RUNC_PASS=${CRI_MIN_RUNC_PASS:-0}
T0=$(date +%s)

# ---- packages ---------------------------------------------------------------
missing=()
{ command -v containerd && command -v containerd-shim-runc-v2; } >/dev/null || missing+=(containerd)
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/portmap ] || missing+=(containernetworking-plugins)
dpkg-query -W -f '${Status}\n' busybox-static 2>/dev/null | grep -q 'install ok installed' || missing+=(busybox-static)
command -v iptables >/dev/null || missing+=(iptables)
command -v runc >/dev/null || missing+=(runc)
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	made_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then # keep apt from starting services
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		made_policy=1
	fi
	apt_rc=0
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } || apt_rc=$?
	[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
	if [ $apt_rc -ne 0 ]; then
		echo "run.sh: apt-get install ${missing[*]} failed" >&2
		exit 2
	fi
fi
RUNC=${CRI_RUNC:-$(command -v runc)}

# ---- critest and the helper ---------------------------------------------------
# critest is kept outside the work tree, so that CI's fresh clones reuse it.
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/berth-cri
mkdir -p "$CACHE"
CRITEST=$CACHE/critest-$CRITEST_VERSION
if [ ! -x "$CRITEST" ]; then
	echo "building critest $CRITEST_VERSION"
	moddir=$(cd / && go mod download -json "sigs.k8s.io/cri-tools@$CRITEST_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	if [ -z "$moddir" ] || ! (cd "$moddir" && go test -c -o "$CRITEST.tmp" ./cmd/critest); then
		echo "run.sh: cannot build critest $CRITEST_VERSION" >&2
		exit 2
	fi
	mv "$CRITEST.tmp" "$CRITEST"
fi
HELPER=$REPO/.cache/crihelper
(cd "$REPO" && CGO_ENABLED=0 go build -o "$HELPER" ./test/cri/crihelper) || {
	echo "run.sh: cannot build test/cri/crihelper" >&2
	exit 2
}

# ---- work dir, host state to restore -------------------------------------------
W=$(mktemp -d /tmp/berth-cri.XXXXXX)
chmod 755 "$W"
C=$W/containerd
mkdir -p "$C" "$W/cni" "$W/tmp" "$W/reports"

existed() { [ -e "$1" ] && echo 1 || true; }
had_runcd=$(existed /run/containerd)
had_varlibcni=$(existed /var/lib/cni)
had_netns=$(ls /var/run/netns 2>/dev/null | grep '^cni-' || true)
had_bridge=$(ip link show "$BRIDGE" >/dev/null 2>&1 && echo 1 || true)
if [ -n "$had_bridge" ]; then
	echo "run.sh: the bridge $BRIDGE already exists: another run, or left over (ip link del $BRIDGE)" >&2
	exit 2
fi
fwd4=$(cat /proc/sys/net/ipv4/ip_forward)
fwd6=$(cat /proc/sys/net/ipv6/conf/all/forwarding 2>/dev/null || true)
had_tables=$(nft list tables 2>/dev/null || true)
# critest's HostIpc cases make a 1 MiB System V shm segment on the host
# with ipcmk and leave it.
had_shm=$(awk 'NR > 1 {print $2}' /proc/sysvipc/shm)
# The pods' cgroups: critest asks for the parent /test.slice, which
# containerd 1.6 turns into the systemd-style "test.slice:cri-containerd:ID"
# that runc (and berth-oci) without systemd place as a cgroupfs path below
# the caller's own cgroup in each hierarchy.
cri_cgroups() {
	find /sys/fs/cgroup -maxdepth 6 -type d \( -name test.slice -o -name 'test.slice:cri-containerd:*' -o -name k8s.io \) 2>/dev/null
}
had_cg=$(cri_cgroups)
CONTAINERD_PID= REGISTRY_PID=
cleanup() {
	local rc=$? pid d m t fam left
	set +e
	echo "--- cleanup"
	if [ -n "$CONTAINERD_PID" ]; then
		kill "$CONTAINERD_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$CONTAINERD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$CONTAINERD_PID" 2>/dev/null
		wait "$CONTAINERD_PID" 2>/dev/null
	fi
	if [ -n "$REGISTRY_PID" ]; then
		kill "$REGISTRY_PID" 2>/dev/null
		wait "$REGISTRY_PID" 2>/dev/null
	fi
	# Shims and runtimes name the work dir on their command line.
	for pid in $(grep -lsF "$W" /proc/[0-9]*/cmdline | cut -d/ -f3); do
		[ "$pid" != $$ ] && grep -qsF "$W" "/proc/$pid/cmdline" && kill -9 "$pid" 2>/dev/null
	done
	# Containers' processes are found by their cgroups (ours: made here).
	new_cg=$(cri_cgroups | grep -vxF -f <(printf '%s\n' "$had_cg") || true)
	for d in $new_cg; do
		for pid in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
	done
	# Killed processes leave their cgroup once reaped: retry a while.
	for _ in $(seq 50); do
		left=
		for d in $new_cg; do
			[ -d "$d" ] || continue
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$d" ] && left=1
		done
		[ -n "$left" ] || break
		sleep 0.1
	done
	[ -z "$left" ] || echo "run.sh: cgroups left: $(for d in $new_cg; do [ -d "$d" ] && echo "$d"; done)" >&2
	# Mounts under the work dir, deepest first; the pods' network
	# namespaces containerd left in /var/run/netns.
	for m in $(awk -v w="$W" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	for d in $(ls /var/run/netns 2>/dev/null | grep '^cni-'); do
		printf '%s\n' "$had_netns" | grep -qxF "$d" && continue
		umount -l "/var/run/netns/$d" 2>/dev/null
		rm -f "/var/run/netns/$d"
	done
	# The network: bridge, portmap's iptables chains, the sysctls.
	ip link del "$BRIDGE" 2>/dev/null
	for fam in iptables ip6tables; do
		for t in nat filter; do
			$fam -t "$t" -S 2>/dev/null | grep -E '^-A .*-j CNI-' | sed 's/^-A/-D/' |
				while read -r rule; do eval "$fam -t $t $rule" 2>/dev/null; done
			for ch in $($fam -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^CNI-/ {print $2}'); do
				$fam -t "$t" -F "$ch" 2>/dev/null
			done
			for ch in $($fam -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^CNI-/ {print $2}'); do
				$fam -t "$t" -X "$ch" 2>/dev/null
			done
		done
	done
	# Tables iptables-nft made for those chains, now empty, if new.
	for t in "ip nat" "ip filter" "ip6 nat" "ip6 filter"; do
		printf '%s\n' "$had_tables" | grep -qxF "table $t" && continue
		nft list table $t >/dev/null 2>&1 || continue
		if ! nft list table $t | grep -qE '^[[:space:]]+(ip|ip6|meta|counter|jump|goto|oifname|iifname|fib|mark|tcp|udp)'; then
			nft delete table $t 2>/dev/null
		fi
	done
	for id in $(awk 'NR > 1 && $4 == 1048576 && $7 == 0 {print $2}' /proc/sysvipc/shm); do
		printf '%s\n' "$had_shm" | grep -qxF "$id" || ipcrm -m "$id" 2>/dev/null
	done
	echo "$fwd4" >/proc/sys/net/ipv4/ip_forward
	[ -z "$fwd6" ] || echo "$fwd6" >/proc/sys/net/ipv6/conf/all/forwarding
	rm -rf /var/lib/cni/results/$NETNAME-* /var/lib/cni/networks/$NETNAME
	[ -n "$had_varlibcni" ] || rm -rf /var/lib/cni
	[ -n "$had_runcd" ] || rm -rf /run/containerd
	if [ -n "${CRI_KEEP:-}" ]; then
		echo "kept $W"
	else
		rm -rf "$W"
	fi
	echo "wall time: $(($(date +%s) - T0))s"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "runtime: $RT ($("$RT" --version 2>&1 | head -1)); baseline $RUNC ($("$RUNC" --version | head -1))"
echo "containerd $(containerd --version | awk '{print $3}'), critest $CRITEST_VERSION, work dir $W"

# ---- registry --------------------------------------------------------------------
"$HELPER" registry /bin/busybox "$W/registry.port" >"$W/registry.log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 300); do
	[ -s "$W/registry.port" ] && break
	kill -0 "$REGISTRY_PID" 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$W/registry.port" ]; then
	echo "run.sh: the registry did not start: $(tail -3 "$W/registry.log")" >&2
	exit 2
fi
REG=127.0.0.1:$(cat "$W/registry.port")

# ---- CNI --------------------------------------------------------------------------
# No ipMasq: nothing a pod sends is NATed to the host's network.
cat >"$W/cni/10-$NETNAME.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NETNAME",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$W/ipam",
        "ranges": [[{"subnet": "$SUBNET"}]]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOF

# ---- containerd -----------------------------------------------------------------
# The registries critest's images name are all the loopback registry: as
# the server (not only a mirror) of each, so that containerd never falls
# back to the real host for an image that is not there (the one pinned by
# digest), and nothing leaves this machine.
for host in registry.k8s.io k8s.gcr.io gcr.io; do
	mkdir -p "$W/hosts/$host"
	cat >"$W/hosts/$host/hosts.toml" <<EOF
server = "http://$REG"
[host."http://$REG"]
  capabilities = ["pull", "resolve"]
EOF
done
CRI='plugins."io.containerd.grpc.v1.cri"'
cat >"$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
[grpc]
  address = "$C/containerd.sock"
[ttrpc]
  address = "$C/containerd-ttrpc.sock"
[debug]
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "$C/opt"
[$CRI]
  sandbox_image = "registry.k8s.io/pause:3.9"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # This machine's root lacks CAP_SYS_RESOURCE: the pause container's
  # oom_score_adj (-998) would fail "permission denied" in runc too.
  restrict_oom_score_adj = true
  [$CRI.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$W/cni"
    max_conf_num = 1
  [$CRI.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [$CRI.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [$CRI.containerd.runtimes.runc.options]
        BinaryName = "$RUNC"
        Root = "$C/runc-root"
    [$CRI.containerd.runtimes.berth]
      runtime_type = "io.containerd.runc.v2"
      [$CRI.containerd.runtimes.berth.options]
        BinaryName = "$RT"
        Root = "$C/berth-root"
  [$CRI.registry]
    config_path = "$W/hosts"
EOF
TMPDIR=$W/tmp containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 &
CONTAINERD_PID=$!
up=
for _ in $(seq 150); do
	if [ -S "$C/containerd.sock" ] && ctr --address "$C/containerd.sock" version >/dev/null 2>&1; then
		up=1
		break
	fi
	kill -0 "$CONTAINERD_PID" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$up" ]; then
	echo "run.sh: containerd did not start: $(tail -5 "$C/containerd.log")" >&2
	exit 2
fi

# ---- critest ---------------------------------------------------------------------
# Cases skipped, each for a reason that is neither runc's nor berth's:
SKIPS=(
	# containerd 1.6 has none of these (they came with 1.7 and 2.x), and
	# some wait out a timeout before failing:
	'Image Volume \[Feature:ImageVolume\]' # image volumes
	'Security Context UserNamespaces'       # pod user namespaces
	'Security Context SupplementalGroupsPolicy'
	'PodSandbox runtime should support metrics operations' # ListMetricDescriptors, ListPodSandboxMetrics
	# NRI needs critest's -nri-socket and an NRI-enabled containerd
	'\[k8s.io\] NRI '
)
skip_args=()
for s in "${SKIPS[@]}"; do skip_args+=("-ginkgo.skip=$s"); done
focus_args=()
[ -z "${CRI_FOCUS:-}" ] || focus_args=("-ginkgo.focus=$CRI_FOCUS")

ran=()
for h in $HANDLERS; do
	echo "--- critest, runtime handler $h"
	t=$(date +%s)
	(cd "$W/tmp" && TMPDIR=$W/tmp timeout -k 10 1500 "$CRITEST" \
		-runtime-endpoint "unix://$C/containerd.sock" \
		-runtime-handler "$h" \
		-ginkgo.no-color -ginkgo.timeout=24m \
		-ginkgo.junit-report="$W/reports/$h.xml" \
		"${skip_args[@]}" "${focus_args[@]}") >"$W/critest-$h.log" 2>&1 || true
	grep -E '^(Ran [0-9]+ of|(PASS|FAIL)(!| --)|SUCCESS!|FAIL!)' "$W/critest-$h.log" | tail -3 || true
	echo "($(($(date +%s) - t))s)"
	if [ ! -s "$W/reports/$h.xml" ]; then
		echo "run.sh: critest wrote no report for $h: $(tail -5 "$W/critest-$h.log")" >&2
		exit 2
	fi
	ran+=("$h")
done

# ---- summary ---------------------------------------------------------------------
case " $HANDLERS " in *" runc "*) ;; *) both= ;; esac
case " $HANDLERS " in *" berth "*) ;; *) both= ;; esac
if [ -z "${both-1}" ]; then
	echo "only $HANDLERS ran: nothing to compare"
	exit 0
fi
rc=0
"$HELPER" compare runc "$W/reports/runc.xml" berth "$W/reports/berth.xml" "$MIN_RUNC_PASS" || rc=$?
if [ $rc -ne 0 ] && [ -n "${CRI_KEEP:-}" ]; then
	echo "logs: $W/critest-berth.log, $W/critest-runc.log, $C/containerd.log"
fi
[ $rc -le 1 ] || exit 2
exit $rc
