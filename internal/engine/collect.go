package engine

import (
	"os"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/container"
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
// collect: a few directory reads, and a lock try per running container
// (never per stopped one: see managed.Store.Collect).
// runtimeState also collects the runtime's records (berth run's
// container.Create does so itself).
func (e *Engine) Collect(runtimeState bool) {
	if os.Geteuid() != 0 {
		return // nothing berth owns is this user's to remove
	}
	e.Containers().Collect(e.collectUserMode)
	// Ranges of --userns=auto containers whose record is gone.
	_ = e.IDRanges().Collect(e.RangeHeld)
	network.CollectAll(e.Root)
	// Chowned copies of images gone, and builds a kill cut short.
	_ = e.collectChowned(false)
	e.collectBuildRoots()
	sweepScratch(e.Root)
	if runtimeState {
		state.Store{Root: e.Runroot}.Collect(container.Cleanup)
	}
}

// collectUserMode ends the user-mode stack (pasta, slirp4netns) that a
// killed berth left running for container id, which is not running
// (collection holds its lifetime lock): pasta has no pipe telling it its
// berth is gone, and keeps the container's network namespace and
// published ports. Only a container marked as having one is read
// (userModeMarker), and collection visits only hinted containers
// (managed.Store.Watch): every berth command collects, and reading every
// record made each start cost more with every stopped container kept.
func (e *Engine) collectUserMode(id string) {
	store := e.Containers()
	marker := filepath.Join(store.Dir, id, userModeMarker)
	if !exists(marker) {
		return
	}
	if rec, err := store.Get(id); err == nil && rec.Network != nil && rec.Network.UserMode != nil {
		usermode.Collect(rec.Network.UserMode)
	}
	_ = os.Remove(marker)
}

// userModeMarker, in a container's directory, says that a user-mode
// network stack runs for it: made when the stack starts, removed when it
// stops or is collected.
const userModeMarker = "usermode-network"
