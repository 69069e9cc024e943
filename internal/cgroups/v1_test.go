package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHierarchyDir: a directory is its own path, a co-mounted
// controller's symlink is followed, a missing name is an error, and a
// root whose path has symlinks resolves as EvalSymlinks does.
func TestHierarchyDir(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "cgroup")
	for _, d := range []string{"pids", "cpu,cpuacct", "systemd"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("cpu,cpuacct", filepath.Join(root, "cpu")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("cgroup", filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		root, name, want string
		rootReal         bool
	}{
		{real, "pids", filepath.Join(real, "pids"), true},
		{real, "name=systemd", filepath.Join(real, "systemd"), true},
		{real, "cpu", filepath.Join(real, "cpu,cpuacct"), true},
		{real, "../cgroup/pids", filepath.Join(real, "pids"), true},
		{filepath.Join(base, "link"), "pids", filepath.Join(real, "pids"), false},
		{filepath.Join(base, "link"), "cpu", filepath.Join(real, "cpu,cpuacct"), false},
	} {
		got, err := hierarchyDir(c.root, c.name, c.rootReal)
		if err != nil || got != c.want {
			t.Errorf("hierarchyDir(%q, %q, %v) = %q, %v; want %q", c.root, c.name, c.rootReal, got, err, c.want)
		}
		if want, _ := filepath.EvalSymlinks(filepath.Join(c.root, c.name)); got != want && !strings.HasPrefix(c.name, "name=") {
			t.Errorf("hierarchyDir(%q, %q) = %q, EvalSymlinks %q", c.root, c.name, got, want)
		}
	}
	if _, err := hierarchyDir(real, "memory", true); err == nil {
		t.Error("hierarchyDir of a missing hierarchy: no error")
	}
}
