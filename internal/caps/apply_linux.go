package caps

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// lastCap asks the kernel itself: PR_CAPBSET_READ fails with EINVAL past
// the last capability it knows. /proc/sys/kernel/cap_last_cap is not read:
// in the init stage /proc is the container's, and an image without a proc
// mount (or anything mounted over it) that says 0 there would keep every
// other capability in the bounding set, which a root exec without
// no_new_privs turns into a full capability set.
var lastCap = sync.OnceValue(func() int {
	valid := func(c int) bool {
		_, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		return err == nil
	}
	if !valid(0) {
		return len(names) - 1
	}
	lo, hi := 0, 63 // lo is known; the answer is in [lo, hi]
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if valid(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
})

// Sets holds the five capability sets as bit masks.
type Sets struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// DropBounding removes every capability not in keep from the bounding set.
// It needs CAP_SETPCAP, so it runs before the user changes.
func DropBounding(keep uint64) error {
	for c := 0; c <= Last(); c++ {
		if keep&(1<<uint(c)) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("drop %s from the bounding set: %w", name(c), err)
		}
	}
	return nil
}

// Apply sets the effective, permitted and inheritable sets of the calling
// thread, then raises the ambient ones. The caller must be the thread that
// execs: capabilities are per thread.
func Apply(s Sets) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := 0; i < 2; i++ {
		data[i].Effective = uint32(s.Effective >> (32 * i))
		data[i].Permitted = uint32(s.Permitted >> (32 * i))
		data[i].Inheritable = uint32(s.Inheritable >> (32 * i))
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	// The kernel keeps ambient within permitted and inheritable; a config
	// that lists more (runc's own default does) gets what the kernel
	// allows, as with runc.
	ambient := s.Ambient & s.Permitted & s.Inheritable
	for c := 0; c <= Last(); c++ {
		if ambient&(1<<uint(c)) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raise ambient %s: %w", name(c), err)
		}
	}
	return nil
}

// Bounding returns the names of the capabilities in the calling process's
// bounding set: the most any container started by it can have.
func Bounding() []string {
	var out []string
	for c := 0; c <= Last() && c < len(names); c++ {
		if r, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && r == 1 {
			out = append(out, names[c])
		}
	}
	return out
}
