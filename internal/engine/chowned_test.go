package engine

import (
	"testing"

	"github.com/berth-runtime/berth/internal/snapshot"
)

// TestSnapshotPlan: a new user-namespaced overlay takes the chown cache
// when told not to idmap; a snapshot made before keeps what it was made
// with; a bad BERTH_NO_IDMAP is refused.
func TestSnapshotPlan(t *testing.T) {
	lower := []string{t.TempDir()}
	dir := t.TempDir()
	t.Setenv(NoIDMapEnv, "1")
	if _, chowned, err := snapshotPlan(dir, snapshot.Overlay, lower, true); err != nil || !chowned {
		t.Errorf("new, no idmap: chowned %v %v, want the chown cache", chowned, err)
	}
	if m, chowned, err := snapshotPlan(dir, snapshot.Overlay, lower, false); err != nil || chowned {
		t.Errorf("no user namespace: %+v %v", m, err)
	}
	if m, chowned, err := snapshotPlan(dir, snapshot.Copy, lower, true); err != nil || chowned || m.Driver != snapshot.Copy {
		t.Errorf("vfs: %+v %v", m, err)
	}
	t.Setenv(NoIDMapEnv, "yes")
	if _, _, err := snapshotPlan(dir, snapshot.Overlay, lower, true); err == nil {
		t.Error("BERTH_NO_IDMAP=yes accepted")
	}
	// Recorded: kept, whatever the environment says now.
	made := snapshot.Made{Driver: snapshot.Overlay, ChownCache: "k"}
	if err := snapshot.Record(dir, made); err != nil {
		t.Fatal(err)
	}
	t.Setenv(NoIDMapEnv, "")
	if m, chowned, err := snapshotPlan(dir, snapshot.Overlay, lower, true); err != nil || m != made || !chowned {
		t.Errorf("recorded %+v, planned %+v %v", made, m, err)
	}
	// The other driver asked for: Prepare refuses it.
	if m, _, _ := snapshotPlan(dir, snapshot.Copy, lower, true); m.Driver != snapshot.Copy {
		t.Errorf("vfs asked over an overlay: %+v", m)
	}
	// A copy made by a berth before the cache, for lack of idmapped
	// layers, stays a copy.
	old := t.TempDir()
	if err := snapshot.Record(old, snapshot.Made{Driver: snapshot.Copy}); err != nil {
		t.Fatal(err)
	}
	if m, _, _ := snapshotPlan(old, snapshot.Overlay, lower, true); m.Driver != snapshot.Copy {
		t.Errorf("an old fallback copy: %+v", m)
	}
}
