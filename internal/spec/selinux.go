package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// selinuxEnabled reports whether the host runs SELinux. A variable so
// that tests can take both branches of validateSELinux.
var selinuxEnabled = selinuxfsMounted

// selinuxfsMounted looks for selinuxfs where the kernel mounts it: the
// kernel registers it only when SELinux is enabled, and without it no
// label can be set.
func selinuxfsMounted() bool {
	for _, dir := range []string{"/sys/fs/selinux", "/selinux"} {
		var fs unix.Statfs_t
		if unix.Statfs(dir, &fs) == nil && fs.Type == unix.SELINUX_MAGIC {
			return true
		}
	}
	return false
}

// validateSELinux refuses SELinux labels on a host that enforces SELinux,
// where running without them would give the container less confinement
// than its config asks for: berth cannot apply them. Where SELinux is
// disabled there is nothing to label, and the labels are ignored, as crun
// does (engines set them only where SELinux is enabled).
func validateSELinux(s *specs.Spec) error {
	if s.Linux.MountLabel != "" && selinuxEnabled() {
		return invalid("linux.mountLabel %q is set and SELinux is enabled on this host, but berth cannot apply SELinux labels: remove the label or use a runtime that applies it", s.Linux.MountLabel)
	}
	return nil
}

// checkProcessLabel is validateSELinux for a process: the container's, or
// one to exec (ValidateProcess runs it).
func checkProcessLabel(p *specs.Process) error {
	if p != nil && p.SelinuxLabel != "" && selinuxEnabled() {
		return invalid("process.selinuxLabel %q is set and SELinux is enabled on this host, but berth cannot apply SELinux labels: remove the label or use a runtime that applies it", p.SelinuxLabel)
	}
	return nil
}
