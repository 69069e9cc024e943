package engine

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSweepScratch: a dead build's scratch directory goes, a held one and
// one made a moment ago stay, release removes its own.
func TestSweepScratch(t *testing.T) {
	root := t.TempDir()
	held, release, err := Scratch(root, "git-")
	if err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(root, "build", "ssh-dead")
	fresh := filepath.Join(root, "build", "git-fresh")
	other := filepath.Join(root, "build", "mounts")
	for _, d := range []string{dead, fresh, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * scratchGrace)
	for _, d := range []string{held, dead, other} {
		os.Chtimes(d, old, old)
	}
	sweepScratch(root)
	for d, want := range map[string]bool{held: true, dead: false, fresh: true, other: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(d), err == nil, want)
		}
	}
	release()
	if _, err := os.Stat(held); err == nil {
		t.Errorf("release left %s", held)
	}
}
