package container

import (
	"fmt"

	"github.com/berth-runtime/berth/internal/initproc"
	"golang.org/x/sys/unix"
)

// setRlimitsOf sets the init stage's resource limits from the parent, as
// runc does, before the stage reads its config: in a user namespace the
// stage cannot raise a hard limit itself (the kernel asks for
// CAP_SYS_RESOURCE in the host's namespace), so --ulimit nproc=-1 would
// fail there. The stage sets the same values again, which needs nothing.
func setRlimitsOf(pid int, limits []initproc.Rlimit) error {
	for _, l := range limits {
		lim := unix.Rlimit{Cur: l.Soft, Max: l.Hard}
		if err := unix.Prlimit(pid, l.Resource, &lim, nil); err != nil {
			return fmt.Errorf("set rlimit %d to %d:%d for the container: %w", l.Resource, l.Soft, l.Hard, err)
		}
	}
	return nil
}
