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

// stage writes an executable named name in dir and opens it as a rootless
// berth hands it over: an inherited descriptor, not close-on-exec.
func stage(t *testing.T, dir, name string) int {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func resetVouched(t *testing.T) {
	t.Cleanup(func() { vouched = map[string]*os.File{} })
}

// A mark is taken only for the file of that name beside berth: one that
// names another file's descriptor, a descriptor below 3, a name that is no
// stage, or garbage is ignored.
func TestAdoptTakesOnlyTheStageBesideBerth(t *testing.T) {
	resetVouched(t)
	dir, other := t.TempDir(), t.TempDir()
	initFD := stage(t, dir, InitName)
	forged := stage(t, other, NsenterName) // the right name, another file
	adopt(fmt.Sprintf("%s=%d,%s=%d,berth=%d,%s=0,%s=x", InitName, initFD, NsenterName, forged, initFD, InitName, NsenterName), dir)
	if f, ok := vouched[InitName]; !ok || f.Fd() != uintptr(initFD) {
		t.Fatalf("berth-init beside berth was not adopted: %v", vouched)
	}
	if _, ok := vouched[NsenterName]; ok {
		t.Error("a descriptor of another file was adopted as berth-nsenter")
	}
	if len(vouched) != 1 {
		t.Errorf("adopted %v, want berth-init alone", vouched)
	}
	if fl, _ := unix.FcntlInt(uintptr(initFD), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
		t.Error("the adopted descriptor would be inherited by what berth starts")
	}
}

// A group- or world-writable stage is never adopted, whoever vouched.
func TestAdoptRefusesAWritableStage(t *testing.T) {
	resetVouched(t)
	dir := t.TempDir()
	fd := stage(t, dir, InitName)
	os.Chmod(filepath.Join(dir, InitName), 0o777)
	adopt(fmt.Sprintf("%s=%d", InitName, fd), dir)
	if len(vouched) != 0 {
		t.Errorf("a writable stage was adopted: %v", vouched)
	}
}

// Outside berth's user namespace the mark is dropped unread, and it never
// stays in the environment for what berth starts.
func TestAdoptOutsideIgnoresTheMark(t *testing.T) {
	resetVouched(t)
	fd := stage(t, t.TempDir(), InitName)
	t.Setenv(EnvVouched, fmt.Sprintf("%s=%d", InitName, fd))
	Adopt(false)
	if len(vouched) != 0 {
		t.Errorf("adopted outside the user namespace: %v", vouched)
	}
	if _, ok := os.LookupEnv(EnvVouched); ok {
		t.Error("the mark stayed in the environment")
	}
}

// The handle of an adopted stage is the same file, and cannot be written.
func TestOpenVouchedIsReadonly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("open_tree needs CAP_SYS_ADMIN")
	}
	resetVouched(t)
	dir := t.TempDir()
	adopt(fmt.Sprintf("%s=%d", InitName, stage(t, dir, InitName)), dir)
	h, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var a, b unix.Stat_t
	unix.Fstat(int(h.Fd()), &a)
	unix.Stat(filepath.Join(dir, InitName), &b)
	if a.Ino != b.Ino {
		t.Error("the handle is not the adopted stage")
	}
	if err := cannotWrite(t, h); !errors.Is(err, unix.EROFS) {
		t.Errorf("write through the adopted stage's handle: %v, want EROFS", err)
	}
}

// Vouch always sets the mark, empty when it hands nothing (root vouches
// for nothing: a user namespace of root's maps it), so that a mark in the
// caller's environment never reaches the process it starts.
func TestVouchReplacesTheCallersMark(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("as root, nothing is vouched for")
	}
	resetVouched(t)
	t.Setenv(EnvVouched, InitName+"=3")
	files, env := Vouch(4)
	if len(files) != 0 || env != EnvVouched+"=" {
		t.Errorf("Vouch as root: %d files, %q; want none and an empty mark", len(files), env)
	}
}

// An adopted stage is passed on as a new descriptor, numbered from the
// one given.
func TestVouchPassesAdoptedStages(t *testing.T) {
	resetVouched(t)
	dir := t.TempDir()
	adopt(fmt.Sprintf("%s=%d,%s=%d", InitName, stage(t, dir, InitName), NsenterName, stage(t, dir, NsenterName)), dir)
	files, env := Vouch(5)
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if len(files) != 2 || env != EnvVouched+"="+InitName+"=5,"+NsenterName+"=6" {
		t.Fatalf("Vouch: %d files, %q", len(files), env)
	}
	for i, f := range files {
		if f.Fd() == vouched[InitName].Fd() || f.Fd() == vouched[NsenterName].Fd() {
			t.Errorf("file %d is the adopted descriptor itself, which the caller closes", i)
		}
	}
	if !strings.HasSuffix(files[0].Name(), InitName) {
		t.Errorf("first file %s, want berth-init", files[0].Name())
	}
}

// Only a regular, executable file of uid 0 that no one else may write is
// safe to run from a plain handle.
func TestRootOnly(t *testing.T) {
	for _, c := range []struct {
		mode uint32
		uid  uint32
		want bool
	}{
		{unix.S_IFREG | 0o755, 0, true},
		{unix.S_IFREG | 0o500, 0, true},
		{unix.S_IFREG | 0o775, 0, false},
		{unix.S_IFREG | 0o757, 0, false},
		{unix.S_IFREG | 0o644, 0, false},
		{unix.S_IFREG | 0o755, 1000, false},
		{unix.S_IFREG | 0o755, 65534, false},
		{unix.S_IFLNK | 0o755, 0, false},
	} {
		if got := rootOnly(unix.Stat_t{Mode: c.mode, Uid: c.uid}); got != c.want {
			t.Errorf("rootOnly(mode %o, uid %d) = %v, want %v", c.mode, c.uid, got, c.want)
		}
	}
}

// An adopted berth-build is what Helper runs: the vouched descriptor,
// not a path looked up again inside the user namespace.
func TestHelperRunsTheAdoptedBuilder(t *testing.T) {
	resetVouched(t)
	dir := t.TempDir()
	fd := stage(t, dir, BuildName)
	adopt(fmt.Sprintf("%s=%d", BuildName, fd), dir)
	path, err := Helper(BuildName)
	if err != nil || path != fmt.Sprintf("/proc/self/fd/%d", fd) {
		t.Errorf("Helper(%s) = %q, %v; want the adopted descriptor %d", BuildName, path, err, fd)
	}
}

// TestHelperForClearsTheChildsDescriptors: a child handed extra
// descriptors 3 on gets the adopted helper's path above them, the same
// file; release closes that duplicate.
func TestHelperForClearsTheChildsDescriptors(t *testing.T) {
	resetVouched(t)
	dir := t.TempDir()
	fd := stage(t, dir, BuildName)
	adopt(fmt.Sprintf("%s=%d", BuildName, fd), dir)
	extra := fd + 2 // the child's descriptors 3 to fd+4 would cover fd
	path, release, err := HelperFor(BuildName, extra)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscanf(path, "/proc/self/fd/%d", &n); err != nil || n < 3+extra {
		t.Fatalf("HelperFor = %q, want a descriptor from %d on", path, 3+extra)
	}
	var a, b unix.Stat_t
	if unix.Fstat(fd, &a) != nil || unix.Fstat(n, &b) != nil || a.Ino != b.Ino || a.Dev != b.Dev {
		t.Errorf("descriptor %d is not the adopted helper", n)
	}
	release()
	if unix.Fstat(n, &b) == nil {
		t.Errorf("descriptor %d left open", n)
	}
}
