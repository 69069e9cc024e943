package selfexe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// cannotWrite fails the test if f can be opened for writing through
// /proc/self/fd, or written once opened.
func cannotWrite(t *testing.T, f *os.File) error {
	t.Helper()
	w, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer w.Close()
	_, err = w.Write([]byte("x"))
	if err == nil {
		t.Fatal("the handle was written")
	}
	return err
}

func TestDetachedReadonly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("open_tree needs CAP_SYS_ADMIN")
	}
	// A file that is not running: only the read-only mount can stop the
	// write (a running binary would answer ETXTBSY first).
	path := filepath.Join(t.TempDir(), "binary")
	if err := os.WriteFile(path, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := detachedReadonly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := cannotWrite(t, f); !errors.Is(err, unix.EROFS) {
		t.Errorf("write through the detached mount: %v, want EROFS", err)
	}
	var a, b unix.Stat_t
	unix.Fstat(int(f.Fd()), &a)
	unix.Stat(path, &b)
	if a.Ino != b.Ino {
		t.Error("the handle is not the file itself")
	}
	// Nothing was mounted in this namespace.
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if contains(string(mi), path) {
		t.Error("the read-only bind mount is attached to the mount table")
	}
}

func TestSealedCopyIsReadonly(t *testing.T) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f, err := sealedCopy(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := cannotWrite(t, f); !errors.Is(err, unix.EPERM) {
		t.Errorf("write to the sealed copy: %v, want EPERM", err)
	}
	var a, b unix.Stat_t
	unix.Fstat(int(f.Fd()), &a)
	unix.Stat("/proc/self/exe", &b)
	if a.Size != b.Size {
		t.Errorf("copy has %d bytes, the binary %d", a.Size, b.Size)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
