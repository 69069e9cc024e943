# shellcheck shell=bash disable=SC2034
# Helpers shared by the scripts in test/vm/ (sourced, not run).

vm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vm_cache=${BERTH_VM_CACHE:-$vm_dir/.cache}

die() {
	printf 'berth-vm: %s\n' "$*" >&2
	exit 2
}

# apt_get ARGS...: apt-get that waits for another apt/dpkg process's lock
# instead of failing at once.
apt_get() {
	local i out
	for i in $(seq 1 90); do
		if out=$(apt-get -o DPkg::Lock::Timeout=600 -o APT::Sandbox::User=root "$@" 2>&1); then
			printf '%s\n' "$out" | grep -v '^\(Get\|Hit\|Ign\|Reading\|Building\)' || true
			return 0
		fi
		case $out in
		*"Could not get lock"* | *"Unable to lock"* | *"is another process using it"*)
			[ "$i" = 1 ] && echo "berth-vm: waiting for another apt-get to finish..." >&2
			sleep 10
			;;
		*)
			printf '%s\n' "$out" >&2
			return 1
			;;
		esac
	done
	printf '%s\n' "$out" >&2
	return 1
}
