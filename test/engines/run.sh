#!/usr/bin/env bash
# Proves that real container engines drive an OCI runtime: podman (through
# conmon) and containerd (through its io.containerd.runc.v2 shim, with
# `ctr --runc-binary`) run, exec into, pause, stop and delete busybox
# containers with RUNTIME as their runc.
#
# Usage: test/engines/run.sh RUNTIME
#   RUNTIME   path of a runc-compatible binary (bin/berth-oci, /usr/sbin/runc)
# Environment:
#   ENGINES_TRACE=1   put a wrapper in front of RUNTIME that records every
#                     call (argv, exit status) and print that log at the end
#   ENGINES_KEEP=1    keep the work directory (logs, configs) after the run
#
# Needs root on Debian. Installs podman, containerd and busybox-static with
# apt-get if they are missing (running apt-get update only then). Needs no
# network: the image is built from /bin/busybox and imported into podman, then
# exported from podman and imported into containerd.
#
# Everything the engines keep is in a temp dir: podman's storage and
# containers.conf (cgroupfs, file events, no network, nofile/nproc ulimits
# lowered below this machine's hard limits), containerd's root, state, sockets
# and config (CRI plugin off). The paths the engines hard-code outside it
# (/var/lib/containers/cache, /run/containers/networks, /run/containerd/{s,
# fifo,runc}, the cgroups libpod_parent and berth-test, conmon's
# /tmp/conmon-term.* sockets) are removed afterwards if they were not there
# before. Processes left behind are found by that temp dir in their command
# line and ended by PID.
#
# Prints "PASS name" / "FAIL name" per check, then "N passed, N failed".
# Exit status: 0 if every check passed, 1 if one failed, 2 on a setup error.
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

IMAGE=localhost/busybox:berth
NS=berth-test
T0=$(date +%s)

# ---- packages ---------------------------------------------------------------
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v conmon >/dev/null || missing+=(conmon)
{ command -v containerd && command -v ctr && command -v containerd-shim-runc-v2; } >/dev/null || missing+=(containerd)
dpkg-query -W -f '${Status}\n' busybox-static 2>/dev/null | grep -q 'install ok installed' || missing+=(busybox-static)
command -v script >/dev/null || missing+=(bsdutils)
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	# Keep apt from starting the packages' services.
	made_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
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

# ---- work dir, host state to restore -------------------------------------------
W=$(mktemp -d /tmp/berth-engines.XXXXXX)
chmod 755 "$W"
P=$W/podman
C=$W/containerd
mkdir -p "$W/bin" "$W/tmp" "$P"/{root,runroot,tmp,networks} "$C"
export TMPDIR=$W/tmp # ctr's pty dirs (podman does not pass TMPDIR to conmon)
SHIM_ROOT=/run/containerd/runc/$NS # the shim's --root: fixed, whatever containerd's state dir

existed() { [ -e "$1" ] && echo 1 || true; }
had_varlib=$(existed /var/lib/containers)
had_cache=$(existed /var/lib/containers/cache)
had_runcs=$(existed /run/containers)
had_runcd=$(existed /run/containerd)
had_shimroot=$(existed "$SHIM_ROOT")
# conmon's console sockets, left in /tmp when the runtime fails to create a
# container with a terminal
had_term=$(ls -d /tmp/conmon-term.* 2>/dev/null || true)
had_cg=()
for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/$NS /sys/fs/cgroup/libpod_parent /sys/fs/cgroup/$NS; do
	[ -d "$d" ] && had_cg+=("$d")
done

CONTAINERD_PID=
RUNTIME=$RT
cleanup() {
	local rc=$? pid d m
	set +e
	echo "--- cleanup"
	# podman: containers, images, then its storage's mounts
	if command -v podman >/dev/null && [ -f "$P/containers.conf" ]; then
		timeout 60 podman --runtime "$RUNTIME" rm -a -f -t 0 >/dev/null 2>&1
		timeout 60 podman rmi -a -f >/dev/null 2>&1
	fi
	# containerd: tasks and containers, images, then the daemon
	if [ -n "$CONTAINERD_PID" ]; then
		for c in $("${CTRN[@]}" task ls -q 2>/dev/null); do
			"${CTRN[@]}" task kill -s SIGKILL "$c" >/dev/null 2>&1
			sleep 0.2
			"${CTRN[@]}" task delete -f "$c" >/dev/null 2>&1
		done
		for c in $("${CTRN[@]}" container ls -q 2>/dev/null); do
			"${CTRN[@]}" container delete "$c" >/dev/null 2>&1
		done
		"${CTRN[@]}" image rm "$IMAGE" >/dev/null 2>&1
		kill "$CONTAINERD_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$CONTAINERD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$CONTAINERD_PID" 2>/dev/null
		wait "$CONTAINERD_PID" 2>/dev/null
	fi
	# Anything still running that was started for this run (shims, conmon,
	# container processes' runtimes) names the work dir on its command line.
	for pid in $(grep -lsF "$W" /proc/[0-9]*/cmdline | cut -d/ -f3); do
		[ "$pid" != $$ ] && grep -qsF "$W" "/proc/$pid/cmdline" && kill -9 "$pid" 2>/dev/null
	done
	# mounts under the work dir, deepest first
	for m in $(awk -v w="$W" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	# what the engines made outside the work dir
	[ -n "$had_varlib" ] || rm -rf /var/lib/containers
	[ -n "$had_varlib" ] && [ -z "$had_cache" ] && rm -rf /var/lib/containers/cache
	[ -n "$had_runcs" ] || rm -rf /run/containers
	for d in /tmp/conmon-term.*; do
		[ -S "$d" ] || continue
		printf '%s\n' "$had_term" | grep -qxF "$d" || rm -f "$d"
	done
	if [ -z "$had_runcd" ]; then
		rm -rf /run/containerd
	elif [ -z "$had_shimroot" ]; then
		rmdir "$SHIM_ROOT" 2>/dev/null
	fi
	for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/$NS /sys/fs/cgroup/libpod_parent /sys/fs/cgroup/$NS; do
		[ -d "$d" ] || continue
		case " ${had_cg[*]-} " in *" $d "*) continue ;; esac
		case $(stat -f -c %T "$d") in
		cgroupfs | cgroup2fs) find "$d" -depth -type d -exec rmdir {} + 2>/dev/null ;;
		# A controller this host does not mount (hugetlb, net_cls, ... are
		# plain directories of the /sys/fs/cgroup tmpfs here): podman made
		# ordinary directories and files there.
		*) rm -rf "$d" ;;
		esac
	done
	if [ -n "${ENGINES_KEEP:-}" ]; then
		echo "kept $W"
	else
		rm -rf "$W"
	fi
	echo "wall time: $(($(date +%s) - T0))s"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The runtime as the engines see it: RUNTIME itself, or a logging wrapper
# with the same file name (podman picks flags by the runtime's name).
if [ -n "${ENGINES_TRACE:-}" ]; then
	RUNTIME=$W/bin/$(basename "$RT")
	cat >"$RUNTIME" <<EOF
#!/bin/bash
"$RT" "\$@"
rc=\$?
printf '%s rc=%d:' "\$(date +%T.%N)" \$rc >>"$W/trace.log"
printf ' %q' "$RT" "\$@" >>"$W/trace.log"
echo >>"$W/trace.log"
exit \$rc
EOF
	chmod +x "$RUNTIME"
fi

# ---- checks -------------------------------------------------------------------
npass=0 nfail=0
pass() { echo "PASS $1"; npass=$((npass + 1)); }
fail() {
	echo "FAIL $1"
	shift
	local l
	for l in "$@"; do printf '     %s\n' "$l"; done
	nfail=$((nfail + 1))
}

# check NAME RC OUT ERR CMD...: runs CMD (stdin /dev/null, 120 s at most) and
# passes if its exit status is RC, its stdout (CRs dropped, trimmed) is OUT
# ('*': anything; '~RE': matches the extended regexp RE) and its stderr matches
# the extended regexp ERR ('' : anything).
check() {
	local name=$1 want_rc=$2 want_out=$3 want_err=$4 rc=0 out ok=1
	shift 4
	timeout -k 5 120 "$@" >"$W/out" 2>"$W/err" </dev/null || rc=$?
	out=$(tr -d '\r' <"$W/out" | sed -e 's/[[:space:]]*$//')
	[ "$rc" = "$want_rc" ] || ok=
	case $want_out in
	'*') ;;
	'~'*) printf '%s\n' "$out" | grep -Eq -- "${want_out#\~}" || ok= ;;
	*) [ "$out" = "$want_out" ] || ok= ;;
	esac
	[ -z "$want_err" ] || grep -Eq -- "$want_err" "$W/err" || ok=
	if [ -n "$ok" ]; then
		pass "$name"
	else
		fail "$name" "command: $*" "exit status $rc (want $want_rc)" \
			"stdout: $(head -c 400 "$W/out" | tr '\n\r' '| ')" \
			"stderr: $(tail -c 600 "$W/err" | tr '\n\r' '| ')"
	fi
}

# expect NAME COND...: passes if the shell test COND... is true.
expect() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "false: $*"; fi
}

echo "runtime: $RT ($("$RT" --version 2>&1 | head -1))"
echo "podman $(podman --version | awk '{print $3}'), containerd $(containerd --version | awk '{print $3}'), work dir $W"

# ---- the image: busybox-static in a rootfs, imported into podman ----------------
R=$W/rootfs
mkdir -p "$R"/{bin,etc,dev,proc,sys,tmp,root,run}
chmod 1777 "$R/tmp"
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"
tar --numeric-owner -C "$R" -cf "$W/busybox.tar" .

nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] || [ "$nofile" -gt 1024 ] && nofile=1024
nproc=$(ulimit -Hu)
[ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
cat >"$P/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$P/root"
runroot = "$P/runroot"
EOF
cat >"$P/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P/events.log"
tmp_dir = "$P/tmp"
lock_type = "file"
[network]
network_config_dir = "$P/networks"
EOF
export CONTAINERS_CONF=$P/containers.conf CONTAINERS_STORAGE_CONF=$P/storage.conf

check "podman import busybox" 0 '*' '' \
	podman import --change 'CMD ["sh"]' --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
	"$W/busybox.tar" "$IMAGE"
check "podman save docker-archive" 0 '*' '' \
	podman save --format docker-archive -o "$W/busybox-docker.tar" "$IMAGE"

# ---- podman -----------------------------------------------------------------------
PM=(podman --runtime "$RUNTIME")

check "podman run --rm echo hi" 0 hi '' "${PM[@]}" run --rm "$IMAGE" echo hi
check "podman run --rm exit status 5" 5 '' '' "${PM[@]}" run --rm "$IMAGE" sh -c 'exit 5'
check "podman run -d c1 sleep" 0 '~^[0-9a-f]{64}$' '' "${PM[@]}" run -d --name c1 "$IMAGE" sleep 1000
check "podman c1 is running" 0 running '' "${PM[@]}" inspect -f '{{.State.Status}}' c1
check "podman exec echo in-exec" 0 in-exec '' "${PM[@]}" exec c1 sh -c 'echo in-exec'
check "podman exec exit status 3" 3 '' '' "${PM[@]}" exec c1 sh -c 'exit 3'
check "podman exec sees sleep as PID 1" 0 'sleep 1000' '' "${PM[@]}" exec c1 sh -c 'tr "\\0" " " </proc/1/cmdline'
check "podman pause c1" 0 '*' '' "${PM[@]}" pause c1
check "podman c1 is paused" 0 paused '' "${PM[@]}" inspect -f '{{.State.Status}}' c1
check "podman unpause c1" 0 '*' '' "${PM[@]}" unpause c1
check "podman c1 is running again" 0 running '' "${PM[@]}" inspect -f '{{.State.Status}}' c1
check "podman exec after unpause" 0 ok '' "${PM[@]}" exec c1 echo ok
check "podman stop -t 1 c1" 0 c1 '' "${PM[@]}" stop -t 1 c1
check "podman c1 is exited" 0 exited '' "${PM[@]}" inspect -f '{{.State.Status}}' c1
check "podman rm c1" 0 c1 '' "${PM[@]}" rm c1
check "podman run -d c4, kill" 0 '*' '' sh -c "podman --runtime '$RUNTIME' run -d --name c4 '$IMAGE' sleep 1000 >/dev/null && podman --runtime '$RUNTIME' kill c4 && podman --runtime '$RUNTIME' wait c4"
check "podman rm c4" 0 c4 '' "${PM[@]}" rm c4
check "podman run /nonexistent exits 127" 127 '' 'nonexistent' "${PM[@]}" run --rm "$IMAGE" /nonexistent
check "podman run /etc/passwd exits 126" 126 '' '/etc/passwd|[Pp]ermission denied' "${PM[@]}" run --rm "$IMAGE" /etc/passwd
# A terminal: conmon hands the runtime a --console-socket; script gives us a tty.
check "podman run -t (console socket)" 0 '~^/dev/pts/[0-9]+ xterm$' '' \
	script -qec "podman --runtime '$RUNTIME' run --rm -t '$IMAGE' sh -c 'echo \$(tty) \$TERM'" /dev/null
check "podman run -i (stdin)" 0 got:hello '' \
	sh -c "echo hello | podman --runtime '$RUNTIME' run --rm -i '$IMAGE' sh -c 'read l; echo got:\$l'"
# Seccomp: podman's default profile (/usr/share/containers/seccomp.json) is
# applied, and a profile in the OCI shape that lists every architecture runc
# knows (podman passes the list on as written) is accepted, as runc does.
check "podman run, default seccomp profile" 0 'Seccomp: 2' '' \
	"${PM[@]}" run --rm "$IMAGE" sh -c 'grep Seccomp: /proc/self/status | tr -s "\t" " "'
cat >"$W/seccomp-arches.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW",
 "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X"],
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]}
EOF
check "podman run, seccomp profile listing every architecture" 1 '' 'No message of desired type' \
	"${PM[@]}" run --rm --security-opt seccomp="$W/seccomp-arches.json" "$IMAGE" mkdir /tmp/x
# --read-only: podman mounts /run, /tmp and /var/tmp as tmpfs with tmpcopyup.
check "podman run --read-only (tmpcopyup)" 0 ok '' \
	"${PM[@]}" run --rm --read-only "$IMAGE" sh -c 'touch /run/x /tmp/x /var/tmp/x && ! touch /x 2>/dev/null && echo ok'
# Those tmpfs keep the modes of the image's directories (/run 0755, /tmp 1777).
check "podman run --read-only keeps /run 755" 0 "$(printf '755\n1777')" '' \
	"${PM[@]}" run --rm --read-only "$IMAGE" stat -c %a /run /tmp
# The container's own cgroup limits, seen from inside (podman uses no cgroup
# namespace on v1): a limit of 8 pids leaves room for 8 tasks of its own.
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
	cg_pids=/sys/fs/cgroup/pids cg_mem=/sys/fs/cgroup/memory.max
else
	cg_pids=/sys/fs/cgroup/pids/pids cg_mem=/sys/fs/cgroup/memory/memory.limit_in_bytes
fi
check "podman run --pids-limit 8 sees pids.max 8, forks 6" 0 "$(printf '8\n7')" '' "${PM[@]}" run --rm --pids-limit 8 "$IMAGE" \
	sh -c "cat $cg_pids.max; for i in 1 2 3 4 5 6; do sleep 2 & done; cat $cg_pids.current"
check "podman run --memory 64m sees its memory limit" 0 67108864 '' "${PM[@]}" run --rm --memory 64m "$IMAGE" cat "$cg_mem"
# A user namespace (podman's --uidmap): root inside is the host's 100000,
# the image's files are root's inside, and the container still reads its own
# memory limit. On v1 podman gives it no cgroup namespace, where no cgroup
# file system can be mounted: the runtime binds the container's own cgroups.
UM=(--uidmap 0:100000:65536 --gidmap 0:100000:65536)
check "podman run --uidmap: id is root" 0 '~^uid=0\(root\) gid=0\(root\)' '' "${PM[@]}" run --rm "${UM[@]}" "$IMAGE" id
check "podman run --uidmap: uid_map is 0 100000 65536" 0 '0 100000 65536' '' \
	"${PM[@]}" run --rm "${UM[@]}" "$IMAGE" sh -c 'set -- $(cat /proc/self/uid_map); echo "$@"'
check "podman run --uidmap --memory 64m sees its memory limit" 0 67108864 '' \
	"${PM[@]}" run --rm "${UM[@]}" --memory 64m "$IMAGE" cat "$cg_mem"
check "podman run --uidmap: the image's files are root's" 0 "$(printf '0 0\n0 0\n0 0')" '' \
	"${PM[@]}" run --rm "${UM[@]}" "$IMAGE" stat -c '%u %g' /bin/busybox /etc/passwd /root
check "podman run -d --uidmap: PID 1 is the host's 100000" 0 100000 '' sh -c \
	"id=\$(podman --runtime '$RUNTIME' run -d ${UM[*]} '$IMAGE' sleep 1000) && pid=\$(podman inspect -f '{{.State.Pid}}' \$id) &&
	 awk '/^Uid:/ {print \$2}' /proc/\$pid/status; podman --runtime '$RUNTIME' rm -f -t 0 \$id >/dev/null"
# -v SRC:DST:idmap (runtimes whose features list idmap; runc 1.1.5 has none):
# a root-owned host directory is root's inside and root writes as the host's root.
if "$RT" features 2>/dev/null | grep -q '"idmap"'; then
	mkdir -p "$W/idmapped" && echo x >"$W/idmapped/f"
	check "podman run --uidmap -v SRC:DST:idmap" 0 "$(printf '0 0\nwrote')" '' \
		"${PM[@]}" run --rm "${UM[@]}" -v "$W/idmapped:/v:idmap" "$IMAGE" sh -c 'stat -c "%u %g" /v/f && touch /v/new && echo wrote'
	expect "podman --uidmap idmap: the file made is the host's root's" test "$(stat -c %u "$W/idmapped/new" 2>/dev/null)" = 0
fi
check "podman ps -a is empty" 0 '' '' "${PM[@]}" ps -a -q

# No runtime state left for any container podman made (podman passes no
# --root: the runtime's default root).
ids=$(podman events --stream=false --filter type=container --format '{{.ID}}' 2>/dev/null | sort -u)
nids=$(printf '%s\n' "$ids" | grep -c . || true)
left=
for id in $ids; do
	"$RT" state "$id" >/dev/null 2>&1 && left="$left $id"
done
expect "podman: no runtime state left ($nids containers)" test -z "$left" -a "$nids" -gt 0

# ---- containerd ---------------------------------------------------------------------
cat >"$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$C/containerd.sock"
[ttrpc]
  address = "$C/containerd-ttrpc.sock"
[debug]
  level = "debug"
[plugins."io.containerd.internal.v1.opt"]
  path = "$C/opt"
EOF
CTRN=(ctr --address "$C/containerd.sock" -n $NS)

containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 &
CONTAINERD_PID=$!
for _ in $(seq 100); do
	[ -S "$C/containerd.sock" ] && ctr --address "$C/containerd.sock" version >/dev/null 2>&1 && break
	kill -0 "$CONTAINERD_PID" 2>/dev/null || break
	sleep 0.1
done
if ! ctr --address "$C/containerd.sock" version >/dev/null 2>&1; then
	fail "containerd starts" "log: $(tail -5 "$C/containerd.log")"
	exit 1
fi
pass "containerd starts"

check "ctr image import" 0 '*' '' "${CTRN[@]}" image import "$W/busybox-docker.tar"
check "ctr run --rm echo hi" 0 hi '' "${CTRN[@]}" run --rm --runc-binary "$RUNTIME" "$IMAGE" c2 echo hi
check "ctr run --rm exit status 5" 5 '' '' "${CTRN[@]}" run --rm --runc-binary "$RUNTIME" "$IMAGE" c5 sh -c 'exit 5'
check "ctr run -d c3 sleep" 0 '*' '' "${CTRN[@]}" run -d --runc-binary "$RUNTIME" "$IMAGE" c3 sleep 1000
check "ctr c3 is RUNNING" 0 '~^c3 +[0-9]+ +RUNNING$' '' "${CTRN[@]}" task ls
check "ctr task exec echo in-exec" 0 in-exec '' "${CTRN[@]}" task exec --exec-id e1 c3 sh -c 'echo in-exec'
check "ctr task exec exit status 3" 3 '' '' "${CTRN[@]}" task exec --exec-id e2 c3 sh -c 'exit 3'
check "ctr task pause c3" 0 '*' '' "${CTRN[@]}" task pause c3
check "ctr c3 is PAUSED" 0 '~^c3 +[0-9]+ +PAUSED$' '' "${CTRN[@]}" task ls
check "ctr task resume c3" 0 '*' '' "${CTRN[@]}" task resume c3
check "ctr c3 is RUNNING again" 0 '~^c3 +[0-9]+ +RUNNING$' '' "${CTRN[@]}" task ls
check "ctr task exec after resume" 0 ok '' "${CTRN[@]}" task exec --exec-id e3 c3 echo ok
check "ctr task kill -s SIGKILL c3" 0 '*' '' "${CTRN[@]}" task kill -s SIGKILL c3
stopped=
for _ in $(seq 100); do
	"${CTRN[@]}" task ls 2>/dev/null | grep -Eq '^c3 +[0-9]+ +STOPPED$' && { stopped=1; break; }
	sleep 0.1
done
expect "ctr c3 is STOPPED after SIGKILL" test -n "$stopped"
check "ctr task delete c3" 0 '*' '' "${CTRN[@]}" task delete c3
check "ctr container delete c3" 0 '*' '' "${CTRN[@]}" container delete c3
check "ctr run --rm --tty" 0 '~/dev/pts/[0-9]+$' '' \
	script -qec "ctr --address '$C/containerd.sock' -n $NS run --rm --tty --runc-binary '$RUNTIME' '$IMAGE' c6 tty" /dev/null
check "ctr task ls is empty" 0 '' '' "${CTRN[@]}" task ls -q
check "ctr container ls is empty" 0 '' '' "${CTRN[@]}" container ls -q
check "no runtime state in the shim's --root $SHIM_ROOT" 0 '' '' \
	sh -c "'$RT' --root '$SHIM_ROOT' list -q; ls -A '$SHIM_ROOT' 2>/dev/null || true"

# ---- summary ---------------------------------------------------------------------------
if [ -n "${ENGINES_TRACE:-}" ] && [ -f "$W/trace.log" ]; then
	echo "--- runtime calls ($W/trace.log)"
	cat "$W/trace.log"
fi
echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
