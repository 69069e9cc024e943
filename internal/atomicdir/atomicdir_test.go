package atomicdir

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestCreatingNames(t *testing.T) {
	root := t.TempDir()
	name := filepath.Base(Creating(root, "abc"))
	if !IsCreating(name) || IsRemoving(name) || CreatingSuffix(name) != "abc" {
		t.Errorf("%q: creating %v, removing %v, suffix %q", name, IsCreating(name), IsRemoving(name), CreatingSuffix(name))
	}
	if Abandoned(Creating(root, "abc")) {
		t.Error("a creation by this live process is abandoned")
	}
}

// A creation whose creator exited is abandoned at once; one named
// otherwise only after a minute.
func TestAbandoned(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	dead := filepath.Join(root, creatingPrefix+strconv.Itoa(cmd.Process.Pid)+"-x")
	unnamed := filepath.Join(root, creatingPrefix+"x")
	for _, d := range []string{dead, unnamed} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if !Abandoned(dead) {
		t.Error("the creation of an exited process is not abandoned")
	}
	if Abandoned(unnamed) {
		t.Error("a new creation without a PID is abandoned")
	}
	old := time.Now().Add(-2 * time.Minute)
	os.Chtimes(unnamed, old, old)
	if !Abandoned(unnamed) {
		t.Error("a creation older than a minute is not abandoned")
	}
}

// Remove leaves nothing, and finishes a removal of the same name that was
// interrupted.
func TestRemove(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "id")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o700)
	os.MkdirAll(filepath.Join(root, removingPrefix+"id", "leftover"), 0o700)
	if err := Remove(dir); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
	if err := Remove(dir); err != nil {
		t.Errorf("removing a missing directory: %v", err)
	}
}
