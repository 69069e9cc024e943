package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrNoCgroup means an operation needs a cgroup that the container does
// not have: rootless berth makes none where the user was delegated none.
var ErrNoCgroup = errors.New("the container has no cgroup")

// ErrNoDelegation means resource limits were asked for where an ordinary
// user cannot have cgroups.
var ErrNoDelegation = errors.New("resource limits need a cgroup the user may write")

// None is no cgroup at all: a rootless container that asked for no limits
// on a host that gives the user no cgroup of its own. Its processes stay
// in the cgroup of the berth that started them; freezing, limits and
// statistics are refused (ErrNoCgroup), everything else is a no-op.
func None() *Cgroup { return &Cgroup{Version: Detect()} }

// ForUser is the cgroup of rootless container id: in the cgroup v2
// subtree delegated to the user (Delegated), as <subtree>/berth/<id>; or
// None where there is none, which refuses limits (CheckNoLimits).
func ForUser(id string, r *specs.LinuxResources) (*Cgroup, error) {
	if Detect() == V2 {
		if top := Delegated(); top != "" {
			dir := filepath.Join(top, "berth", id)
			return &Cgroup{Version: V2, Path: "/" + strings.TrimPrefix(dir, Root+"/"), Dirs: []string{dir}, Delegated: top}, nil
		}
	}
	if err := CheckNoLimits(r); err != nil {
		return nil, err
	}
	return None(), nil
}

// Delegated is the topmost cgroup v2 directory above (or at) this
// process's own cgroup that the process may manage: create cgroups in,
// move processes into and enable controllers for, as systemd's Delegate=
// gives user@UID.service to its user. "" when there is none.
func Delegated() string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	var own string
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			own = p
		}
	}
	if own == "" {
		return ""
	}
	top := ""
	for dir := filepath.Join(Root, own); dir != Root && strings.HasPrefix(dir, Root+"/"); dir = filepath.Dir(dir) {
		if !writable(dir) || !writable(filepath.Join(dir, "cgroup.procs")) || !writable(filepath.Join(dir, "cgroup.subtree_control")) {
			break
		}
		top = dir
	}
	return top
}

func writable(path string) bool {
	return unix.Faccessat(unix.AT_FDCWD, path, unix.W_OK, unix.AT_EACCESS) == nil
}

// IsNone reports whether c is None.
func (c *Cgroup) IsNone() bool { return len(c.Dirs) == 0 }

// HasLimits reports whether r limits anything a cgroup enforces; device
// rules are not counted (see CheckNoLimits).
func HasLimits(r *specs.LinuxResources) bool {
	return r != nil && (r.Memory != nil || r.CPU != nil || r.Pids != nil || r.BlockIO != nil ||
		len(r.HugepageLimits) > 0 || r.Network != nil || len(r.Rdma) > 0 || len(r.Unified) > 0)
}

// CheckNoLimits refuses resource limits for a container without a cgroup,
// naming what the host lacks: cgroup v1 gives ordinary users no cgroups
// at all, v2 does through delegation (systemd's user@UID.service
// delegates memory, pids, cpu and io). Device rules need no cgroup here:
// a user namespace keeps its processes from creating device nodes, and
// the devices it can open are bind mounts of the host's own.
func CheckNoLimits(r *specs.LinuxResources) error {
	if !HasLimits(r) {
		return nil
	}
	if Detect() == V1 {
		return fmt.Errorf("%w: this host runs cgroup v1, which ordinary users cannot be given; run as root for --memory, --pids-limit and --cpus, or boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1) and delegate memory pids cpu to user@UID.service", ErrNoDelegation)
	}
	return fmt.Errorf("%w: no delegated cgroup v2 subtree is writable by this user; enable systemd's delegation (Delegate=memory pids cpu io in user@.service) and log in again, or run as root", ErrNoDelegation)
}
