package managed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// made creates n stopped containers (their owners released), named
// prefix0...
func made(t *testing.T, s Store, prefix string, n int) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("%s%04d", prefix, i)
		o, err := s.Create(rec(id, id))
		if err != nil {
			t.Fatal(err)
		}
		o.Release()
	}
}

// TestCollectVisitsOnlyHinted: once a stopped container has been
// collected, collection never looks at it again; a new one is looked at
// once.
func TestCollectVisitsOnlyHinted(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	made(t, s, "old", 50)
	visits := map[string]int{}
	count := func(id string) { visits[id]++ }
	s.Collect(count)
	if len(visits) != 50 {
		t.Errorf("first collection visited %d containers, want the 50 new ones", len(visits))
	}
	if h := s.Hinted(); len(h) != 0 {
		t.Errorf("hinted after collection: %v", h)
	}
	made(t, s, "new", 1)
	clear(visits)
	s.Collect(count)
	s.Collect(count)
	if len(visits) != 1 || visits["new0000"] != 1 {
		t.Errorf("later collections visited %v, want new0000 once", visits)
	}
	if got := len(s.List()); got != 51 {
		t.Errorf("List has %d containers, want 51", got)
	}
}

// TestCollectKilledRunOfStoppedContainers: a --rm container whose owner
// dies is collected however many stopped containers there are, and they
// are all kept.
func TestCollectKilledRunOfStoppedContainers(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	made(t, s, "kept", 20)
	s.Collect(func(string) {})
	gone := rec("gone", "gone")
	gone.AutoRemove = true
	o, err := s.Create(gone)
	if err != nil {
		t.Fatal(err)
	}
	s.Collect(func(string) {}) // running: left
	if _, err := s.Get("gone"); err != nil {
		t.Fatalf("a running --rm container was collected: %v", err)
	}
	o.Release() // its berth is killed
	s.Collect(func(string) {})
	if _, err := s.Get("gone"); err == nil {
		t.Error("the --rm container whose berth died was not collected")
	}
	if got := len(s.List()); got != 20 {
		t.Errorf("%d containers left, want the 20 stopped ones", got)
	}
	if _, err := s.Create(rec("again", "gone")); err != nil {
		t.Errorf("the collected container's name was not released: %v", err)
	}
}

// TestCollectKilledCreationByHint: a creation killed after claiming its
// name, in a store already scanned, is found by its hint (which names
// the creator) and removed, and its name freed.
func TestCollectKilledCreationByHint(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	made(t, s, "kept", 3)
	s.Collect(func(string) {})
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(dead.Process.Pid)
	// What Create leaves when killed between claiming the name and the
	// rename into place.
	if err := s.hint("killed", pid); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(s.Dir, ".new-"+pid+"-killed")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(tmp, "lock"), nil, 0o600)
	if err := writeRecord(tmp, rec("killed", "web")); err != nil {
		t.Fatal(err)
	}
	if err := s.claimName(rec("killed", "web")); err != nil {
		t.Fatal(err)
	}
	s.Collect(func(string) {})
	if _, err := os.Stat(tmp); err == nil {
		t.Error("the killed creation's directory is left")
	}
	if h := s.Hinted(); len(h) != 0 {
		t.Errorf("hinted after collection: %v", h)
	}
	if _, err := s.Create(rec("other", "web")); err != nil {
		t.Errorf("the killed creation's name is still taken: %v", err)
	}
}

// TestCollectInterruptedRemovalByHint: a removal killed half-way leaves
// a .rm- directory and the hint made before it, and the next collection
// finishes it and drops the hint.
func TestCollectInterruptedRemovalByHint(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	made(t, s, "kept", 3)
	s.Collect(func(string) {})
	if err := s.hint("halfgone", ""); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, ".rm-halfgone", "rootfs"), 0o700); err != nil {
		t.Fatal(err)
	}
	s.Collect(func(string) {})
	if _, err := os.Stat(filepath.Join(s.Dir, ".rm-halfgone")); err == nil {
		t.Error("the interrupted removal is left")
	}
	if h := s.Hinted(); len(h) != 0 {
		t.Errorf("hinted after collection: %v", h)
	}
}

// TestCollectKeepsHintOfCreatorAtWork: a creator hints before it makes
// its directory; the hint is kept while that creator lives (until it is
// older than a creation could be), and dropped once it is gone.
func TestCollectKeepsHintOfCreatorAtWork(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if err := s.hint("soon", strconv.Itoa(os.Getpid())); err != nil {
		t.Fatal(err)
	}
	s.Collect(func(string) {})
	if h := s.Hinted(); len(h) != 1 {
		t.Fatalf("the hint of a creator at work was dropped: %v", h)
	}
	old := time.Now().Add(-2 * youngHint)
	os.Chtimes(s.hintPath("soon"), old, old)
	s.Collect(func(string) {})
	if h := s.Hinted(); len(h) != 0 {
		t.Errorf("a stale hint with nothing behind it is left: %v", h)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if err := s.hint("never", strconv.Itoa(dead.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	s.Collect(func(string) {})
	if h := s.Hinted(); len(h) != 0 {
		t.Errorf("the hint of a creator that is gone is left: %v", h)
	}
}

// TestCollectScansOlderStore: a store made before the hints (no
// .collect) is read whole once: its ownerless --rm container is
// collected, its running one stays hinted.
func TestCollectScansOlderStore(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	gone := rec("gone", "gone")
	gone.AutoRemove = true
	live := rec("live", "live")
	live.AutoRemove = true
	g, _ := s.Create(gone)
	l, err := s.Create(live)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	g.Release()
	made(t, s, "kept", 3)
	if err := os.RemoveAll(filepath.Join(s.Dir, collectDir)); err != nil {
		t.Fatal(err)
	}
	s.Collect(func(string) {})
	if _, err := s.Get("gone"); err == nil {
		t.Error("an older store's ownerless --rm container was not collected")
	}
	if h := s.Hinted(); len(h) != 1 || h[0] != "live" {
		t.Errorf("hinted after the scan: %v, want live", h)
	}
	if !exists(filepath.Join(s.Dir, collectDir, scannedMark)) {
		t.Error("the store is not marked scanned")
	}
}

// TestWatchKeepsRunningContainer: a container hinted by Watch while
// running is visited once its lock is free, then no more.
func TestWatchKeepsRunningContainer(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	made(t, s, "c", 1)
	s.Collect(func(string) {})
	o, err := s.Own("c0000")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Watch("c0000"); err != nil {
		t.Fatal(err)
	}
	visits := 0
	s.Collect(func(string) { visits++ })
	if visits != 0 || len(s.Hinted()) != 1 {
		t.Errorf("while running: %d visits, hints %v; want none and its hint", visits, s.Hinted())
	}
	o.Release()
	s.Collect(func(string) { visits++ })
	s.Collect(func(string) { visits++ })
	if visits != 1 || len(s.Hinted()) != 0 {
		t.Errorf("after: %d visits, hints %v; want one visit and no hint", visits, s.Hinted())
	}
}

// TestRemoveRefusesRunningAndLeavesNoHint: Remove holds the lock; a
// running container is refused, a stopped one leaves nothing.
func TestRemoveRefusesRunningAndLeavesNoHint(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	o, err := s.Create(rec("r", "r"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(rec("r", "r")); err == nil {
		t.Error("removed a running container")
	}
	o.Release()
	if err := s.Remove(rec("r", "r")); err != nil {
		t.Fatal(err)
	}
	if h := s.Hinted(); len(h) != 0 {
		t.Errorf("hinted after removal: %v", h)
	}
	if ents, _ := os.ReadDir(s.Dir); len(ents) != 2 { // .collect and .names
		t.Errorf("left after removal: %v", ents)
	}
}

// TestCreateSameNameConcurrently: of creations racing for one name,
// exactly one wins, however many containers exist.
func TestCreateSameNameConcurrently(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	made(t, s, "kept", 20)
	const racers = 16
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := s.Create(rec(fmt.Sprintf("race%02d", i), "x"))
			errs[i] = err
			if err == nil {
				o.Release()
			}
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d creations named x won, want 1: %v", won, errs)
	}
	if got := len(s.List()); got != 21 {
		t.Errorf("%d containers, want 21: the losers left something", got)
	}
}
