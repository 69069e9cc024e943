package engine

import (
	"os"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/network/usermode"
	"github.com/berth-runtime/berth/internal/state"
)

// Collect releases what owners that are gone left: berth has no daemon,
// and a killed berth run or monitor leaves its container's runtime state
// and cgroups, its published ports' rules, its address and network
// files, and a --rm container's record. Whatever the user runs next (rm,
// ps, run...) cleans up, so that a dead container's port is refused at
// once rather than timing out. It is cheap when there is nothing to
// collect: a few directory reads and one lock try per container.
// runtimeState also collects the runtime's records (berth run's
// container.Create does so itself).
func (e *Engine) Collect(runtimeState bool) {
	if os.Geteuid() != 0 {
		return // nothing berth owns is this user's to remove
	}
	e.collectUserMode()
	e.Containers().Collect(func(string) {})
	// Ranges of --userns=auto containers whose record is gone.
	_ = e.IDRanges().Collect(e.RangeHeld)
	network.CollectAll(e.Root)
	// Chowned copies of images gone, and builds a kill cut short.
	_ = e.collectChowned(false)
	if runtimeState {
		state.Store{Root: e.Runroot}.Collect(container.Cleanup)
	}
}

// collectUserMode ends the user-mode stack (pasta, slirp4netns) that a
// killed berth left running for a rootless container that is no longer
// running: pasta has no pipe telling it its berth is gone, and keeps the
// container's network namespace and published ports.
func (e *Engine) collectUserMode() {
	store := e.Containers()
	for _, rec := range store.List() {
		// A running container's monitor holds its lock.
		if n := rec.Network; n != nil && n.UserMode != nil && !managed.Held(filepath.Join(store.Dir, rec.ID)) {
			usermode.Collect(n.UserMode)
		}
	}
}
