package rootfs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCopyTree: tmpcopyup's copy keeps files, directories, symlinks (as
// links, never followed) and fifos, with their modes, and does not leave
// the source directory through a symlink.
func TestCopyTree(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(src, "d", "e"), 0o750)
	os.WriteFile(filepath.Join(src, "d", "e", "f"), []byte("data"), 0o640)
	unix.Chmod(filepath.Join(src, "d", "e", "f"), 0o4750)
	os.Symlink("/etc/passwd", filepath.Join(src, "abs"))
	os.Symlink("../../outside", filepath.Join(src, "d", "rel"))
	unix.Mkfifo(filepath.Join(src, "fifo"), 0o600)
	from, err := unix.Open(src, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(from)
	to, err := unix.Open(dst, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(to)
	if err := copyTree(from, to); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "d", "e", "f")); err != nil || string(b) != "data" {
		t.Errorf("file: %q %v", b, err)
	}
	for p, want := range map[string]os.FileMode{
		"d":     os.ModeDir | 0o750,
		"d/e/f": os.ModeSetuid | 0o750,
		"fifo":  os.ModeNamedPipe | 0o600,
		"abs":   os.ModeSymlink | 0o777,
		"d/rel": os.ModeSymlink | 0o777,
		"d/e":   os.ModeDir | 0o750,
	} {
		st, err := os.Lstat(filepath.Join(dst, p))
		if err != nil || st.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, st.Mode(), err, want)
		}
	}
	if l, _ := os.Readlink(filepath.Join(dst, "abs")); l != "/etc/passwd" {
		t.Errorf("symlink copied as %q", l)
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(dst), "outside")); err == nil {
		t.Error("the copy followed a symlink out of the destination")
	}
}
