package container

import (
	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/cgroups/systemd"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// startUnit makes the container's systemd unit around pid, which is in
// cg already, with the limits systemd manages as unit properties; then
// the cgroupfs writes follow for all of r, as runc's driver does them:
// systemd has just written its own values (and its defaults for what was
// not set), and it manages only some of the files. With deferPids the
// pids limit is left out: the init stage writes it when its own threads
// are done (createForWholeProcess), and systemd is told after (see
// tellSystemdPidsLimit).
func startUnit(u *systemd.Unit, id string, pid int, cg *cgroups.Cgroup, r *specs.LinuxResources, deferPids bool) error {
	props, err := systemd.Properties(r)
	if err != nil {
		return invalidConfig{err}
	}
	if deferPids && r != nil {
		props = systemd.Without(props, "TasksMax")
		rest := *r
		rest.Pids = nil
		r = &rest
	}
	if err := systemd.Start(*u, pid, id, props); err != nil {
		return err
	}
	return cg.Update(r)
}

// tellSystemdPidsLimit gives systemd the pids limit the init stage has
// written itself, so that systemd keeps it, rather than resetting it,
// whenever it applies the unit's properties again.
func tellSystemdPidsLimit(u *systemd.Unit, r *specs.LinuxResources) error {
	if u == nil || r == nil || r.Pids == nil {
		return nil
	}
	props, err := systemd.Properties(&specs.LinuxResources{Pids: r.Pids})
	if err != nil {
		return err
	}
	return systemd.Set(u.Name, props)
}

// updateUnit sets the unit properties for an update's resources before
// the cgroupfs writes (runc's order): systemd must not put back the old
// values later.
func (c *Container) updateUnit(r *specs.LinuxResources) error {
	if c.rec.SystemdUnit == "" {
		return nil
	}
	props, err := systemd.Properties(r)
	if err != nil {
		return invalidConfig{err}
	}
	return systemd.Set(c.rec.SystemdUnit, props)
}
