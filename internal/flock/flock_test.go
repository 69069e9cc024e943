package flock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpenExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	a, err := Open(path, os.O_CREATE|os.O_EXCL, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, os.O_CREATE|os.O_EXCL, unix.LOCK_EX); !errors.Is(err, os.ErrExist) {
		t.Errorf("second exclusive create: %v", err)
	}
	if _, err := Open(path, 0, unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Errorf("lock held elsewhere: %v, want EWOULDBLOCK", err)
	}
	a.Close() // what the kernel does when the holder dies
	b, err := Open(path, 0, unix.LOCK_SH|unix.LOCK_NB)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	b.Close()
	if _, err := Open(filepath.Join(filepath.Dir(path), "missing"), 0, unix.LOCK_EX); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	if Held(path) {
		t.Error("a missing lock file is held")
	}
	f, err := Open(path, os.O_CREATE, unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	if !Held(path) {
		t.Error("a lock this process holds on another open file is not seen as held")
	}
	f.Close()
	if Held(path) {
		t.Error("a released lock is held")
	}
}

// TestIs: an open lock file is the path's until the file there is
// removed or replaced; a symlink to it at the path is not followed.
func TestIs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lock")
	f, err := Open(path, os.O_CREATE, unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !Is(f, path) {
		t.Error("the file just opened is not the path's")
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if Is(f, link) {
		t.Error("a symlink to the lock counts as the lock")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if Is(f, path) {
		t.Error("a removed lock file is still the path's")
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if Is(f, path) {
		t.Error("the lock file is the one that replaced it")
	}
}
