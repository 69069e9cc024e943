// Package caps maps capability names to numbers and applies a process's
// five capability sets. It is used by the init stage just before exec and,
// for names only, by the spec validation.
package caps

import (
	"fmt"
	"strconv"
	"strings"
)

// names is indexed by capability number (linux/capability.h).
var names = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// Last is the highest capability number the running kernel knows.
func Last() int { return lastCap() }

// name is the name of capability c, also for one newer than this list.
func name(c int) string {
	if c < len(names) {
		return names[c]
	}
	return "capability " + strconv.Itoa(c)
}

// Parse returns the number of a capability name ("CAP_NET_ADMIN"; the
// "CAP_" prefix and case are optional).
func Parse(name string) (int, error) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, known := range names {
		if known == n {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown capability %q", name)
}

// Mask turns a list of names into a bit set.
func Mask(list []string) (uint64, error) {
	var m uint64
	for _, name := range list {
		n, err := Parse(name)
		if err != nil {
			return 0, err
		}
		m |= 1 << uint(n)
	}
	return m, nil
}

// All returns the names of every capability the running kernel knows.
func All() []string {
	last := Last()
	if last >= len(names) {
		last = len(names) - 1
	}
	return append([]string(nil), names[:last+1]...)
}
