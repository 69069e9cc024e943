package rootfs

import (
	"maps"
	"slices"
)

// MountOptions lists, sorted, every mount option ParseMount understands
// as a flag or a propagation: what berth-oci features reports. Options
// that are file-system data (mode=, size=) are passed to the file system
// and not listed, as runc lists none.
func MountOptions() []string {
	out := slices.Collect(maps.Keys(flagOptions))
	out = append(out, slices.Collect(maps.Keys(PropagationFlags))...)
	slices.Sort(out)
	return out
}
