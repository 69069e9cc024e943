package engine

import (
	"os"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/spec"
	"golang.org/x/sys/unix"
)

// checkUlimitsRaisable refuses, before anything is made, a --ulimit whose
// hard limit the kernel would refuse to set (EPERM, with any runtime):
// one above berth's own hard limit where berth lacks CAP_SYS_RESOURCE (a
// rootless berth, or a host that withholds it from root, as this
// project's test host does), and a nofile above fs.nr_open. Docker's
// nproc=-1 works where the capability is there: the runtime sets the
// limits (for a user-namespaced container, from outside it: see
// container.setRlimitsOf).
func checkUlimitsRaisable(ulimits []string, canRaise func() bool) error {
	for _, u := range ulimits {
		r, err := spec.ParseUlimit(u)
		if err != nil {
			return err
		}
		res, ok := container.RlimitResource(r.Type)
		if !ok {
			continue
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(res, &cur); err != nil || r.Hard <= cur.Max {
			continue
		}
		name, _, _ := strings.Cut(u, "=")
		if res == unix.RLIMIT_NOFILE {
			if max, ok := nrOpen(); ok && r.Hard > max {
				return errdefs.New(errdefs.ErrInvalidArgument, "invalid --ulimit %s: the kernel allows at most %d open files (fs.nr_open): use at most nofile=%d", u, max, max)
			}
		}
		if !canRaise() {
			return errdefs.New(errdefs.ErrInvalidArgument, "invalid --ulimit %s: the hard limit is above berth's own (%d), and raising it needs CAP_SYS_RESOURCE, which berth does not have here: use at most %s=%d", u, cur.Max, name, cur.Max)
		}
	}
	return nil
}

// canRaiseLimits is whether berth may raise hard limits: it holds
// CAP_SYS_RESOURCE in the host's user namespace (never when rootless).
func canRaiseLimits() bool {
	if rootless.Active() {
		return false
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[unix.CAP_SYS_RESOURCE/32].Effective&(1<<(unix.CAP_SYS_RESOURCE%32)) != 0
}

// nrOpen is fs.nr_open, the kernel's ceiling on RLIMIT_NOFILE.
func nrOpen() (uint64, bool) {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}
