package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestShiftedOverlayManyLayers: an overlay of eight layers whose paths
// are as long as those of berth's store mounts through fsconfig's
// lowerdir (the kernels before 6.8 take no other way); the paths joined
// are longer than one fsconfig value may be, which failed every build
// step of three layers or more on Linux 6.1.
func TestShiftedOverlayManyLayers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	base := filepath.Join(t.TempDir(), "storage", "images", "layers")
	var lower []string
	for i := range 8 {
		name := fmt.Sprintf("%064x", i+1) + "/diff"
		dir := filepath.Join(base, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		lower = append(lower, name)
	}
	if joined := len(base)*8 + len(strings.Join(lower, ":")); joined <= fsconfigValueMax {
		t.Fatalf("the layers' paths joined are %d bytes, not more than one fsconfig value", joined)
	}
	upper, work := filepath.Join(t.TempDir(), "upper"), filepath.Join(t.TempDir(), "work")
	os.MkdirAll(upper, 0o755)
	os.MkdirAll(work, 0o755)
	f, err := ShiftedOverlayTree(&Overlay{LayersDir: base, Lower: lower, Upper: upper, Work: work})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 8 {
		var st unix.Stat_t
		if err := unix.Fstatat(int(f.Fd()), fmt.Sprintf("f%d", i), &st, 0); err != nil {
			t.Errorf("layer %d's file in the overlay: %v", i, err)
		}
	}
}
