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
