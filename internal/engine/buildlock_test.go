package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/flock"
)

// A build's lock is held under its final name, nothing is left under the
// name it was made with, and collection removes it only once it is free.
func TestBuildLockCollectedOnceFree(t *testing.T) {
	base := t.TempDir()
	lock, path, err := newBuildLock(base, "root-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(path), "root-") || !strings.HasSuffix(path, ".lock") || !flock.Held(path) {
		t.Fatalf("lock %s: held %v", path, flock.Held(path))
	}
	collectBuildLocks(base, nil)
	ents, _ := os.ReadDir(base)
	if len(ents) != 1 || ents[0].Name() != filepath.Base(path) {
		t.Errorf("with the lock held, %s holds %v", base, ents)
	}
	lock.Close() // the build is killed
	undone := ""
	collectBuildLocks(base, func(l string) { undone = l })
	if ents, _ := os.ReadDir(base); len(ents) != 0 || undone != path {
		t.Errorf("after the build: %v left, undo given %q", ents, undone)
	}
}
