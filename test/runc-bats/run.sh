#!/usr/bin/env bash
# Runs runc's own integration suite (bats, tests/integration at runc v1.1.5)
# against a runc-compatible runtime, one .bats file at a time, and records
# each test's result. Needs root; no GitHub: runc's source comes from the Go
# module proxy, bats/jq/gcc/debootstrap/libseccomp-dev from Debian.
#
# Usage: test/runc-bats/run.sh [options] RUNTIME [FILE.bats...]
#        test/runc-bats/run.sh -c|-m BASE.tsv OTHER.tsv
#   RUNTIME     path or name of a runc-compatible binary (bin/berth-oci,
#               /usr/sbin/runc, test/oci/crun-hybrid.sh for crun on a hybrid
#               cgroup host)
#   FILE.bats   files of the suite to run (default: all of them)
#   -c          compare two result files: print every test that passes in
#               BASE and does not pass in OTHER, one line each, with its
#               reason from test/runc-bats/reasons.txt (or the failure line)
# Options:
#   -o DIR      results: DIR/results.tsv (file, test, ok|fail|skip, detail)
#               and DIR/FILE.tap (default: .cache/runc-bats/results/NAME)
#   -t SECONDS  timeout per test (default 120; BATS_TEST_TIMEOUT)
#   -f REGEX    run only tests whose name matches (bats --filter)
#   -p DIR      only rewrite DIR/results.tsv from the .tap files in DIR
# Environment: RUNC_BATS_CACHE (default .cache/runc-bats) holds the prepared
# suite (runc's module with its helper binaries built) and the images; a run
# works in a temporary dir that is removed, and removes what a test leaves
# behind (containers, mounts, processes, the suite's cgroups).
# Images: busybox from Debian's busybox-static (scripts/mkrootfs.sh), with
# the users and groups of the busybox image the suite downloads; debian (for
# hooks.bats) by debootstrap --variant=minbase bookworm from the Debian mirror
# (DEBIAN_MIRROR); without it hooks.bats is skipped.
# Exit status: 0 when the run completed (whatever the tests did), 2 on a
# usage or setup error.
set -uo pipefail

# The whole script is one block, read before it runs: editing it during a
# run (a run takes minutes) does not change the run.
{

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RUNC_VERSION=v1.1.5
CACHE=${RUNC_BATS_CACHE:-$REPO/.cache/runc-bats}
SUITE=$CACHE/$RUNC_VERSION
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export PATH=/usr/local/go/bin:$PATH

die() { echo "run.sh: $*" >&2; exit 2; }

# compare BASE OTHER: the counts of both, then every test ok in BASE and
# not ok in OTHER, by area (who works on it), with its reason from
# reasons.txt ("FILE: TEST<TAB>reason") or else the failure seen.
compare() {
	local base=$1 other=$2 reasons=$HERE/reasons.txt t
	[[ -f $base && -f $other ]] || die "-c needs two results.tsv files"
	for t in "$base" "$other"; do
		awk -F'\t' -v n="$t" 'NR > 1 { c[$3]++; all++ }
			END { printf "# %s: %d tests: ok %d, fail %d, skip %d\n", n, all, c["ok"], c["fail"], c["skip"] }' "$t"
	done
	awk -F'\t' -v reasons="$reasons" '
		BEGIN { while ((getline l < reasons) > 0) { if (l ~ /^#/ || l == "") continue
			split(l, r, "\t"); why[r[1]] = r[2] } }
		function area(f) {
			if (f ~ /^checkpoint/) return "checkpoint"
			if (f ~ /^seccomp/) return "seccomp"
			if (f ~ /^hooks/) return "hooks"
			if (f ~ /^tty/) return "tty"
			if (f ~ /^exec/) return "exec"
			if (f ~ /^(mounts|mask|no_pivot|dev|userns)/) return "mounts"
			if (f ~ /^(cgroup|update|events)/) return "cgroups/update"
			if (f ~ /^(cwd|umask)/) return "other"
			return "cli/state"
		}
		FNR == NR { if ($3 == "ok") base[$1 ": " $2] = 1; next }
		($1 ": " $2) in base && $3 != "ok" { k = $1 ": " $2
			printf "%s\t%s\t%s\t%s\n", area($1), k, $3, (k in why) ? why[k] : "(no reason recorded) " $4 }
	' "$base" "$other" | sort -s -t$'\t' -k1,1
}

# tap2tsv FILE TAP: one line per test: result and a detail: the skip
# reason, or the failed assertion, the last runtime command before it (with
# its exit status) and the first line of that command's output.
tap2tsv() {
	awk -v file="$1" '
		function flush(  d) {
			if (name == "") return
			d = detail
			if (res == "fail") {
				d = (assertion != "" ? assertion : "failed")
				if (cmd != "") d = d " | " cmd (cmdout != "" ? " -> " cmdout : "")
				if (detail != "") d = detail " | " d
			}
			gsub(/\t/, " ", d)
			if (length(d) > 400) d = substr(d, 1, 400) "..."
			printf "%s\t%s\t%s\t%s\n", file, name, res, d
			name = ""
		}
		/^(not )?ok [0-9]+ / {
			flush()
			res = /^not ok/ ? "fail" : "ok"
			line = $0
			sub(/^(not )?ok [0-9]+ /, "", line)
			detail = assertion = cmd = cmdout = ""
			wantout = 0
			if (match(line, / # [sS][kK][iI][pP]( |$)/)) {
				detail = substr(line, RSTART + 3)
				sub(/^[sS][kK][iI][pP] ?/, "", detail)
				line = substr(line, 1, RSTART - 1)
				res = "skip"
			} else if (match(line, / # timeout after [0-9]+s$/)) {
				detail = substr(line, RSTART + 3)
				line = substr(line, 1, RSTART - 1)
			}
			name = line
			next
		}
		/^#/ && res == "fail" && name != "" {
			l = $0
			sub(/^# ?/, "", l)
			if (l ~ /^ *\(in test file|^ *\(?from function/) next
			if (l ~ /\(status=[0-9]+\):$/) { cmd = l; cmdout = ""; wantout = 1; next }
			if (wantout && l != "") { cmdout = l; wantout = 0; next }
			if (assertion == "" && l ~ /failed( with status [0-9]+)?$/) {
				sub(/^ +/, "", l); assertion = l; next
			}
			next
		}
		END { flush() }
	' "$2"
}

# markdown: compare's output as docs/conformance.md lists it.
markdown() {
	awk -F'\t' '
		/^#/ { sub(/^# /, ""); print "- " $0; next }
		$1 != area { area = $1; printf "\n**%s**\n\n", area }
		{ r = $4; sub(/^\(no reason recorded\) /, "(no reason recorded) ", r); gsub(/\|/, "\\|", r)
		  printf "- `%s`%s: %s\n", $2, ($3 == "skip" ? " (skipped)" : ""), r }'
}

out= timeout_s=120 filter= reparse=
while getopts "o:t:f:p:cmh" opt; do
	case $opt in
	o) out=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	f) filter=$OPTARG ;;
	p) reparse=$OPTARG ;;
	c) shift $((OPTIND - 1)); compare "$@"; exit 0 ;;
	m) shift $((OPTIND - 1)); compare "$@" | markdown; exit 0 ;;
	h) sed -n '2,30p' "$0"; exit 0 ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[[ $# -ge 1 || -n $reparse ]] || { sed -n '2,30p' "$0" >&2; exit 2; }
if [[ -n $reparse ]]; then
	printf 'file\ttest\tresult\tdetail\n' >"$reparse/results.tsv.new"
	for tap in "$reparse"/*.tap; do
		f=$(basename "$tap" .tap).bats
		tap2tsv "$f" "$tap" >"$reparse/.part"
		[[ -s $reparse/.part ]] ||
			printf '%s\t(the whole file)\tfail\tno test reported; see %s\n' "$f" "$tap" >"$reparse/.part"
		cat "$reparse/.part" >>"$reparse/results.tsv.new"
	done
	# Rows that have no TAP (a file skipped by run.sh) are kept.
	awk -F'\t' 'NR > 1 && $2 == "runs with the debian image"' "$reparse/results.tsv" >>"$reparse/results.tsv.new" 2>/dev/null
	rm -f "$reparse/.part"
	mv "$reparse/results.tsv.new" "$reparse/results.tsv"
	exit 0
fi

[[ $(id -u) == 0 ]] || die "must run as root (the suite's root tests)"

rt=$1
shift
if [[ $rt == */* ]]; then
	[[ -x $rt && -f $rt ]] || die "runtime $rt is not an executable file"
	rt=$(cd "$(dirname "$rt")" && pwd)/$(basename "$rt")
else
	rt=$(command -v "$rt") || die "runtime $1 not found in PATH"
fi

# Debian packages the suite uses on the host.
need=()
for p in bats:bats jq:jq gcc:gcc gawk:gawk pkg-config:pkg-config; do
	command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
[[ -e /usr/include/seccomp.h ]] || need+=(libseccomp-dev)
[[ -x /bin/busybox ]] || need+=(busybox-static)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [[ ${#need[@]} -gt 0 ]]; then
	echo "run.sh: apt-get install ${need[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
fi

# prepare: runc's module from the proxy, writable, its helper binaries built
# where helpers.bash looks for them, and the images where get-images.sh
# finds them (it downloads only what is missing).
prepare() {
	local dir src tmp c
	[[ -f $SUITE/.complete ]] && return 0
	echo "run.sh: preparing runc $RUNC_VERSION's suite in $SUITE" >&2
	dir=$(go mod download -json "github.com/opencontainers/runc@$RUNC_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || return 1
	[[ -d $dir/tests/integration ]] || { echo "no tests/integration in $dir" >&2; return 1; }
	rm -rf "$SUITE"
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/prep.XXXXXX")
	src=$tmp/runc
	cp -r "$dir" "$src" && chmod -R u+w "$src" || return 1
	# Module zips keep no mode bits: the suite's scripts must be executable.
	find "$src" -name '*.sh' -exec chmod +x {} + || return 1
	# The module zip keeps only vendor/modules.txt: build from the proxy.
	rm -rf "$src/vendor"
	for c in recvtty sd-helper seccompagent; do
		[[ -d $src/contrib/cmd/$c ]] || continue
		(cd "$src" && CGO_ENABLED=1 GOFLAGS="-mod=mod -buildvcs=false" \
			go build -tags seccomp -o "contrib/cmd/$c/$c" "./contrib/cmd/$c") || return 1
	done
	local arch
	arch=$(go env GOARCH)
	make_busybox "$tmp/busybox" "$src/tests/integration/testdata/busybox-$arch.tar.xz" || return 1
	make_debian "$tmp/debian" "$src/tests/integration/testdata/debian-$arch.tar.xz" ||
		echo "run.sh: no debian image (debootstrap failed): hooks.bats will be skipped" >&2
	rm -rf --one-file-system "$tmp/busybox" "$tmp/debian"
	mv "$src" "$SUITE" && rmdir "$tmp" && touch "$SUITE/.complete"
}

# The suite's busybox image is docker-library's busybox (glibc): its users
# and groups, home dirs, one binary per applet.
make_busybox() {
	local dir=$1 tarball=$2
	"$REPO/scripts/mkrootfs.sh" "$dir" >/dev/null || return 1
	mkdir -p "$dir"/{home,usr/sbin,var/spool/mail,var/www}
	# That image has no /proc, /sys or /run: the runtime creates them, and
	# mask.bats makes /proc and /sys symlinks (ln -s into a directory
	# would not).
	rm -rf "${dir:?}"/{proc,sys,run}
	cat >"$dir/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		daemon:x:1:1:daemon:/usr/sbin:/bin/false
		bin:x:2:2:bin:/bin:/bin/false
		sys:x:3:3:sys:/dev:/bin/false
		sync:x:4:100:sync:/bin:/bin/sync
		mail:x:8:8:mail:/var/spool/mail:/bin/false
		www-data:x:33:33:www-data:/var/www:/bin/false
		operator:x:37:37:Operator:/var:/bin/false
		nobody:x:65534:65534:nobody:/home:/bin/false
	EOF
	cat >"$dir/etc/group" <<-'EOF'
		root:x:0:
		daemon:x:1:
		bin:x:2:
		sys:x:3:
		adm:x:4:
		tty:x:5:
		disk:x:6:
		lp:x:7:
		mail:x:8:
		kmem:x:9:
		wheel:x:10:root
		cdrom:x:11:
		dialout:x:18:
		floppy:x:19:
		video:x:28:
		audio:x:29:
		tape:x:32:
		www-data:x:33:
		operator:x:37:
		utmp:x:43:
		plugdev:x:46:
		staff:x:50:
		lock:x:54:
		netdev:x:82:
		users:x:100:
		nogroup:x:65534:
	EOF
	tar --numeric-owner -C "$dir" -cJf "$tarball" .
}

# debian: the suite pins Debian 10 slim; Debian 12 minbase is what the
# mirror serves. Only hooks.bats uses it (ldconfig, sh, grep).
make_debian() {
	local dir=$1 tarball=$2
	debootstrap --variant=minbase bookworm "$dir" "$DEBIAN_MIRROR" >"$dir.log" 2>&1 || {
		tail -5 "$dir.log" >&2
		return 1
	}
	rm -f "$dir.log"
	XZ_OPT=-0T0 tar --numeric-owner -C "$dir" -cJf "$tarball" .
}

# One run at a time on a machine: the suite names every container
# test_busybox, and runc's, crun's and berth-oci's default cgroup paths come
# from the name, so two runs would find each other's cgroups in use.
lock=${RUNC_BATS_LOCK:-/run/lock/berth-runc-bats.lock}
exec 9>>"$lock" || die "cannot open the lock $lock"
if ! flock -n 9; then
	echo "run.sh: waiting for another run of the suite on this machine ($lock)" >&2
	flock 9 || die "cannot take the lock $lock"
fi

prepare || die "preparing the suite failed"
ITEST=$SUITE/tests/integration

# skip.txt: tests made to skip, with a reason, by a `skip` at their start
# (in the prepared copy; done once per test).
while IFS=$'\t' read -r key why; do
	[[ -z $key || $key == \#* ]] && continue
	f=${key%%: *} t=${key#*: }
	[[ -f $ITEST/$f ]] || die "skip.txt: no file $f in the suite"
	grep -qF "@test \"$t\" {" "$ITEST/$f" || die "skip.txt: no test \"$t\" in $f"
	grep -qF "skip \"run.sh: $why\"" "$ITEST/$f" && continue
	T=$t W=$why perl -0pi -e 's/(\@test "\Q$ENV{T}\E" \{\n)/$1\tskip "run.sh: $ENV{W}"\n/' "$ITEST/$f"
done <"$HERE/skip.txt"

if [[ $# -gt 0 ]]; then
	files=()
	for f in "$@"; do files+=("$(basename "$f")"); done
else
	mapfile -t files < <(cd "$ITEST" && ls -- *.bats)
fi

name=$(basename "$rt")
name=${name%.sh}
[[ -n $out ]] || out=$CACHE/results/$name
mkdir -p "$out"
out=$(cd "$out" && pwd)
tsv=$out/results.tsv
printf 'file\ttest\tresult\tdetail\n' >"$tsv"

# What the suite may leave on the host, to remove after each file: cgroups
# named after its containers or its test cgroups (never anything else),
# processes running from the work dir or the suite's helpers, mounts under
# the work dir.
suite_cgroups() {
	find /sys/fs/cgroup -mindepth 2 -maxdepth 5 -type d \
		\( -name 'runc-cgroups-integration-test' -o -name 'test-cgroup-*' -o -name 'test_*' \
		-o -name 'ct[0-9]' -o -name detached -o -name testbusyboxdelete -o -name 'integration-test-*' \) \
		-prune -print 2>/dev/null | sort
}
cgroups_before=$(suite_cgroups)
# The host's device nodes: runc's issue 3674 (exec --user chowned the
# caller's /dev/null, its stdin) is a test here; a runtime with that bug
# changes the host. Restored after each file, and reported.
HOST_DEVS=(/dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/ptmx)
devs_before=$(stat -c '%n %u %g %a' "${HOST_DEVS[@]}" 2>/dev/null)
restore_devs() {
	local log=$1 n u g a now
	now=$(stat -c '%n %u %g %a' "${HOST_DEVS[@]}" 2>/dev/null)
	[[ $now == "$devs_before" ]] && return 0
	while read -r n u g a; do
		chown "$u:$g" "$n" && chmod "$a" "$n"
	done <<<"$devs_before"
	echo "run.sh: the host's device nodes changed during $f; restored: $(diff <(echo "$devs_before") <(echo "$now") | grep '^>' | tr '\n' ' ')" | tee -a "$log" >&2
}
# CRIU's configuration: checkpoint.bats writes /etc/criu/default.conf and
# leaves it when its checkpoint fails (always, where CRIU cannot dump).
# Put back as it was after each file.
criu_conf_before=
[ -e /etc/criu ] && criu_conf_before=$(mktemp -d) && cp -a /etc/criu "$criu_conf_before/"
restore_criu_conf() {
	rm -rf /etc/criu
	[ -z "$criu_conf_before" ] || cp -a "$criu_conf_before/criu" /etc/criu
}
mounts_before=$(wc -l </proc/self/mountinfo)

work=
cleanup() {
	local w=$1 log=$2 st ct pid p i d
	[[ -n $w && -d $w ]] || return 0
	# Containers left in any state dir of the run.
	for st in "$w"/*/runc.*/state; do
		[[ -d $st ]] || continue
		for ct in $(timeout 20 "$rt" --root "$st" list -q 2>/dev/null); do
			echo "run.sh: deleting leftover container $ct" >>"$log"
			timeout 20 "$rt" --root "$st" delete -f "$ct" >>"$log" 2>&1
		done
	done
	# Processes whose root, cwd or binary is under the work dir or the
	# suite (recvtty, seccompagent, a container's init): only ours.
	find /proc/[0-9]*/ -maxdepth 1 \( -name root -o -name cwd -o -name exe \) -printf '%p %l\n' 2>/dev/null |
		awk -v w="$w/" -v s="$SUITE/" '{ l = substr($0, index($0, " ") + 1)
			if (substr(l, 1, length(w)) == w) print $1, "w"
			else if ($1 ~ /\/exe$/ && substr(l, 1, length(s)) == s) print $1, "s" }' |
		sed 's|/[a-z]* | |' | { cat; procs_in "$w" | sed 's/$/ w/'; } | sort -u | while read -r p where; do
			pid=${p#/proc/}
			pid=${pid%/}
			[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
			# The suite's helpers (recvtty, seccompagent) of this run
			# only: their sockets and pid files are under the work dir.
			[[ $where == s ]] && ! tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$w/" && continue
			echo "run.sh: killing leftover process $pid ($(tr '\0' ' ' <"$p/cmdline" 2>/dev/null))" >>"$log"
			kill -9 "$pid" 2>/dev/null
		done
	for i in 1 2 3 4 5; do
		mapfile -t mnts < <(awk -v p="$w/" 'substr($5, 1, length(p)) == p { print $5 }' /proc/self/mountinfo |
			awk '{ print length($0), $0 }' | sort -rn | cut -d' ' -f2-)
		[[ ${#mnts[@]} -eq 0 ]] && break
		echo "run.sh: unmounting ${#mnts[@]} leftover mounts under $w" >>"$log"
		for m in "${mnts[@]}"; do umount -l "$m" 2>>"$log" || true; done
	done
	comm -13 <(echo "$cgroups_before") <(suite_cgroups) | while read -r d; do
		[[ -d $d ]] || continue
		echo "run.sh: removing leftover cgroup $d" >>"$log"
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		# In use: another run's (two runs of the suite at once share the
		# container names) or a leak; the end of the run reports it.
		[[ -d $d ]] && echo "run.sh: cannot remove cgroup $d (still in use?)" >>"$log"
	done
	if awk -v p="$w/" 'substr($5, 1, length(p)) == p { f = 1 } END { exit !f }' /proc/self/mountinfo; then
		echo "run.sh: mounts remain under $w; not removing it" >&2
		return 0
	fi
	rm -rf --one-file-system "$w"
}
# procs_in DIR: /proc/PID of every process running from DIR: its cwd or
# root there, or (a container after pivot_root, whose root reads "/") its
# mount namespace's / mounted from there, or a suite helper serving DIR.
procs_in() {
	local w=$1
	{
		find /proc/[0-9]*/ -maxdepth 1 \( -name root -o -name cwd \) -printf '%p %l\n' 2>/dev/null |
			awk -v w="$w/" '{ l = substr($0, index($0, " ") + 1); if (substr(l, 1, length(w)) == w) print $1 }' |
			sed 's|/[a-z]*$||'
		gawk -v w="$w/" '$5 == "/" { if (substr($4, 1, length(w)) == w) { split(FILENAME, a, "/"); print "/proc/" a[3] }; nextfile }' \
			/proc/[0-9]*/mountinfo 2>/dev/null
		# The suite's helpers (recvtty, seccompagent) of this run: their
		# binary in the suite, their socket and pid file under DIR.
		find /proc/[0-9]*/ -maxdepth 1 -name exe -lname "$SUITE/*" -printf '%h\n' 2>/dev/null |
			while read -r p; do
				tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$w/" && echo "${p%/}"
			done
	} | sort -u
}

# reap DIR LOG: while a file runs, kill (by PID) processes running from DIR
# that have outlived a test's timeout, thawing their cgroup first. bats'
# timeout kills the test's shell, but then waits for the end of the output
# pipe that a container still holds (a `sleep 1000s` in tty.bats), or for a
# runtime stuck in a frozen cgroup (cgroups.bats): the rest of the file
# would wait with it.
reap() {
	local w=$1 log=$2 limit=$((timeout_s + 30)) p pid age cg
	while sleep 10; do
		procs_in "$w" | while read -r p; do
				pid=${p#/proc/}
				age=$(ps -o etimes= -p "$pid" 2>/dev/null) || continue
				[[ ${age// /} -gt $limit ]] || continue
				# Not bats itself: it reports the timeout once the rest is gone.
				tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q 'bats-core/' && continue
				while IFS=: read -r _ ctl cg; do
					if [[ $ctl == freezer && -f /sys/fs/cgroup/freezer$cg/freezer.state ]]; then
						echo THAWED >"/sys/fs/cgroup/freezer$cg/freezer.state" 2>/dev/null
					elif [[ -z $ctl && -f /sys/fs/cgroup$cg/cgroup.freeze ]]; then
						echo 0 >"/sys/fs/cgroup$cg/cgroup.freeze" 2>/dev/null
					fi
				done <"$p/cgroup"
				echo "run.sh: killing process $pid, running for ${age// /} s ($(tr '\0' ' ' <"$p/cmdline" 2>/dev/null))" >>"$log"
				kill -9 "$pid" 2>/dev/null
			done
	done
}

trap 'cleanup "$work" /dev/stderr; exit 130' INT TERM

printf '%-28s %4s %5s %5s %7s\n' file ok fail skip seconds
total_ok=0 total_fail=0 total_skip=0
start=$(date +%s)
for f in "${files[@]}"; do
	[[ -f $ITEST/$f ]] || die "no such file in the suite: $f"
	tap=$out/${f%.bats}.tap
	if [[ $f == hooks.bats && ! -f $ITEST/testdata/debian-$(go env GOARCH).tar.xz ]]; then
		printf 'hooks.bats\truns with the debian image\tskip\tno debian image (debootstrap failed)\n' >>"$tsv"
		continue
	fi
	work=$(mktemp -d "${TMPDIR:-/tmp}/runc-bats.XXXXXX")
	chmod 0755 "$work"
	t0=$(date +%s)
	args=(--tap)
	[[ -n $filter ]] && args+=(--filter "$filter")
	# Under a new terminal (script): the suite's `runc run` of a spec with
	# terminal:true and no console socket uses the caller's terminal, as
	# runc's CI has one.
	cmd=$(printf '%q ' bats "${args[@]}" "$f")
	reap "$work" "$work.reaped" &
	reaper=$!
	# bats' per-test timeout is a background sleep: a test that waits for
	# all its jobs (a bare `wait`, events.bats) would wait for it too.
	tt=$timeout_s
	grep -qE '^[[:space:]]*wait[[:space:]]*(#.*)?$' "$ITEST/$f" && tt=
	(cd "$ITEST" && RUNC=$rt TMPDIR=$work BATS_TEST_TIMEOUT=$tt \
		exec timeout -k 10 $((timeout_s * 40)) script -qec "$cmd" /dev/null) </dev/null 9>&- 2>&1 |
		tr -d '\r' >"$tap"
	t1=$(date +%s)
	kill "$reaper" 2>/dev/null
	wait "$reaper" 2>/dev/null
	cat "$work.reaped" >>"$tap" 2>/dev/null
	rm -f "$work.reaped"
	cleanup "$work" "$tap"
	restore_devs "$tap"
	restore_criu_conf
	work=
	tap2tsv "$f" "$tap" >"$out/.part"
	# A file whose tests were never reported (setup_file failed, the
	# run was cut short) counts as failed as a whole.
	if [[ ! -s $out/.part ]]; then
		printf '%s\t(the whole file)\tfail\tno test reported; see %s\n' "$f" "$tap" >"$out/.part"
	fi
	cat "$out/.part" >>"$tsv"
	ok=$(awk -F'\t' '$3 == "ok"' "$out/.part" | wc -l)
	nok=$(awk -F'\t' '$3 == "fail"' "$out/.part" | wc -l)
	skip=$(awk -F'\t' '$3 == "skip"' "$out/.part" | wc -l)
	rm -f "$out/.part"
	total_ok=$((total_ok + ok)) total_fail=$((total_fail + nok)) total_skip=$((total_skip + skip))
	printf '%-28s %4d %5d %5d %7d\n' "$f" "$ok" "$nok" "$skip" $((t1 - t0))
done
wall=$(($(date +%s) - start))
[ -z "$criu_conf_before" ] || rm -rf "$criu_conf_before"
mounts_after=$(wc -l </proc/self/mountinfo)
left=$(comm -13 <(echo "$cgroups_before") <(suite_cgroups))

echo
printf 'runtime %s, runc %s suite: %d tests: ok %d, fail %d, skip %d, in %d s\n' \
	"$rt" "$RUNC_VERSION" $((total_ok + total_fail + total_skip)) "$total_ok" "$total_fail" "$total_skip" "$wall"
echo "results: $tsv; TAP per file: $out/"
[[ $mounts_after -gt $mounts_before ]] &&
	echo "run.sh: warning: the host has $((mounts_after - mounts_before)) more mounts than before (another suite's, or leaked)" >&2
[[ -n $left ]] && echo "run.sh: warning: cgroups left: $left" >&2
exit 0
}
