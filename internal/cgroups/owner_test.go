package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInCgroup(t *testing.T) {
	v1 := "9:name=systemd:/\n6:freezer:/berth/abc\n1:cpu,cpuacct:/berth/abc/sub\n0::/\n"
	v2 := "0::/berth/abc\n"
	for _, c := range []struct {
		text, hierarchy, path string
		want                  bool
	}{
		{v1, "freezer", "/berth/abc", true},
		{v1, "cpu,cpuacct", "/berth/abc", true}, // below it
		{v1, "cpu", "/berth/abc", false},        // not that hierarchy's name
		{v1, "freezer", "/berth/ab", false},     // a prefix, not a parent
		{v1, "", "/berth/abc", false},           // the hybrid unified line is /
		{v2, "", "/berth/abc", true},
		{v2, "", "/berth", true},
		{v2, "", "/other", false},
		{"", "", "/berth/abc", false},
	} {
		if got := inCgroup(c.text, c.hierarchy, c.path); got != c.want {
			t.Errorf("inCgroup(%q, %q, %q) = %v, want %v", c.text, c.hierarchy, c.path, got, c.want)
		}
	}
}

// fakeCgroup lays out directories with cgroup.procs files, as cgroupfs
// shows them, under a temporary directory.
func fakeCgroup(t *testing.T, procs map[string]string) *Cgroup {
	t.Helper()
	root := t.TempDir()
	c := &Cgroup{Version: V1, Path: "/ctr"}
	for _, h := range []string{"pids", "freezer"} {
		c.Dirs = append(c.Dirs, filepath.Join(root, h, "ctr"))
	}
	for rel, content := range procs {
		dir := filepath.Join(root, rel)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestClaim(t *testing.T) {
	c := fakeCgroup(t, map[string]string{"pids/ctr": ""})
	if err := c.Claim(); err != nil {
		t.Fatal(err)
	}
	if len(c.Foreign) != 1 || c.Foreign[0] != c.Dirs[0] || c.Owned() {
		t.Errorf("an existing empty directory is not recorded as foreign: %v", c.Foreign)
	}
	c = fakeCgroup(t, map[string]string{"freezer/ctr": "", "freezer/ctr/inner": "42\n"})
	if err := c.Claim(); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("a process below an existing cgroup: %v, want ErrNotEmpty", err)
	}
	c = fakeCgroup(t, map[string]string{"freezer/ctr": ""})
	if err := os.WriteFile(filepath.Join(c.Dirs[len(c.Dirs)-1], "freezer.state"), []byte("FROZEN\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Claim(); !errors.Is(err, ErrFrozen) || !strings.Contains(err.Error(), "container's cgroup unexpectedly frozen") {
		t.Errorf("an existing frozen cgroup: %v, want ErrFrozen in runc's words", err)
	}
	c = fakeCgroup(t, nil)
	if err := c.Claim(); err != nil || !c.Owned() {
		t.Errorf("no directory exists: %v, foreign %v", err, c.Foreign)
	}
}

func TestForeignNeverFrozenOrRemoved(t *testing.T) {
	c := fakeCgroup(t, map[string]string{"pids/ctr": ""})
	if err := c.Claim(); err != nil {
		t.Fatal(err)
	}
	if err := c.Freeze(true); !errors.Is(err, ErrForeign) {
		t.Errorf("Freeze of a foreign cgroup: %v", err)
	}
	if err := c.Signal(9); !errors.Is(err, ErrForeign) {
		t.Errorf("Signal of a foreign cgroup: %v", err)
	}
	os.MkdirAll(c.Dirs[1], 0o755) // made by Create
	os.Remove(filepath.Join(c.Dirs[0], "cgroup.procs"))
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dirs[0]); err != nil {
		t.Errorf("Destroy removed the foreign directory: %v", err)
	}
	if _, err := os.Stat(c.Dirs[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Destroy left the directory it made: %v", err)
	}
}
