package container

import (
	"github.com/berth-runtime/berth/internal/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// UpdateCgroup writes r into the cgroup of a container opened with
// Attach, whose running process holds its lock (berth update of a
// monitored container): the limits only, not the runtime's saved config,
// which the engine keeps in its own record instead.
func (c *Container) UpdateCgroup(r *specs.LinuxResources) error {
	if err := state.Check(state.OpUpdate, c.Status()); err != nil {
		return err
	}
	return c.cg.Update(r)
}
