package rootfs

import (
	"slices"
	"testing"
)

// TestMountOptionsParse: every reported option is one ParseMount turns
// into a flag or a propagation, not file-system data.
func TestMountOptionsParse(t *testing.T) {
	opts := MountOptions()
	if !slices.IsSorted(opts) || len(opts) < 30 {
		t.Errorf("MountOptions() = %v", opts)
	}
	for _, o := range opts {
		m, err := ParseMount("tmpfs", "tmpfs", "/x", []string{o})
		if err != nil || m.Data != "" {
			t.Errorf("option %q: %v, data %q", o, err, m.Data)
		}
	}
}
