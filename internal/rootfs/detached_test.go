package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDetachedOverlay: an overlay of more layers than a joined lowerdir
// string can name is mounted detached: its files are read and written
// through its descriptor, the write lands in the upper directory, and no
// mount appears on the host.
func TestDetachedOverlay(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount an overlay")
	}
	dir := t.TempDir()
	long := strings.Repeat("l", 60)
	o := &Overlay{LayersDir: filepath.Join(dir, "layers"), Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work")}
	for i := 0; i < 6; i++ {
		name := filepath.Join(long+string(rune('a'+i)), "diff")
		if err := os.MkdirAll(filepath.Join(o.LayersDir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		o.Lower = append(o.Lower, name)
	}
	for _, d := range []string{o.Upper, o.Work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bottom := filepath.Join(o.LayersDir, o.Lower[5], "bottom")
	if err := os.WriteFile(bottom, []byte("from the lowest layer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile("/proc/self/mountinfo")
	f, err := DetachedOverlay(o)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	after, _ := os.ReadFile("/proc/self/mountinfo")
	if len(after) != len(before) {
		t.Error("the detached overlay appears in the mount table")
	}
	fd, err := unix.Openat(int(f.Fd()), "bottom", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("read through the overlay: %v", err)
	}
	buf := make([]byte, 64)
	n, _ := unix.Read(fd, buf)
	unix.Close(fd)
	if string(buf[:n]) != "from the lowest layer\n" {
		t.Errorf("read %q", buf[:n])
	}
	fd, err = unix.Openat(int(f.Fd()), "new", unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatalf("write through the overlay: %v", err)
	}
	unix.Close(fd)
	if _, err := os.Stat(filepath.Join(o.Upper, "new")); err != nil {
		t.Errorf("the write is not in the upper directory: %v", err)
	}
}
