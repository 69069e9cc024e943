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

	"github.com/berth-runtime/berth/internal/flock"
	"golang.org/x/sys/unix"
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

// hintAs makes id's hint as process pid would have ("": one killed
// before it wrote its PID).
func hintAs(t *testing.T, s Store, id, pid string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(s.Dir, collectDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.hintPath(id), []byte(pid), 0o600); err != nil {
		t.Fatal(err)
	}
}

// exited is the PID of a process that has exited.
func exited(t *testing.T) string {
	t.Helper()
	p := exec.Command("true")
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p.Process.Pid)
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

// TestCollectLeavesContainerUnderOperation: while a command holds a
// container's operation lock (a restart between its stop and its start),
// collection does not take the container's lifetime lock, so the start's
// Own finds it free; the next collection does its work.
func TestCollectLeavesContainerUnderOperation(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	made(t, s, "c", 1)
	unlock, err := s.OpLock("c0000")
	if err != nil {
		t.Fatal(err)
	}
	visits := 0
	s.Collect(func(string) {
		visits++
		// What a restart's start does meanwhile.
		if o, err := s.Own("c0000"); err == nil {
			o.Release()
		} else {
			t.Errorf("Own during a collection: %v", err)
		}
	})
	if visits != 0 {
		t.Errorf("collection visited a container under an operation")
	}
	if h := s.Hinted(); len(h) != 1 {
		t.Errorf("hints %v, want the one of the container under an operation kept", h)
	}
	unlock()
	s.Collect(func(string) { visits++ })
	if visits != 1 || len(s.Hinted()) != 0 {
		t.Errorf("after the operation: %d visits, hints %v", visits, s.Hinted())
	}
}

// TestCollectKilledCreationByHint: a creation killed after claiming its
// name, in a store already scanned, is found by its hint (which names
// the creator) and removed, and its name freed.
func TestCollectKilledCreationByHint(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	made(t, s, "kept", 3)
	s.Collect(func(string) {})
	pid := exited(t)
	// What Create leaves when killed between claiming the name and the
	// rename into place.
	hintAs(t, s, "killed", pid)
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
	hintAs(t, s, "halfgone", exited(t))
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
// its directory, and writes its PID just after making the hint; with
// nothing behind it, a hint is kept while the process it names lives, or
// names nobody yet, until it is older than a creation could be, and
// dropped once that process is gone (or its PID is another process's).
func TestCollectKeepsHintOfCreatorAtWork(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if err := s.hint("soon"); err != nil { // names this process
		t.Fatal(err)
	}
	hintAs(t, s, "unnamed", "")
	hintAs(t, s, "never", exited(t))
	hintAs(t, s, "reused", strconv.Itoa(os.Getpid())+" 1") // this PID, an earlier start
	s.Collect(func(string) {})
	if h := s.Hinted(); len(h) != 2 || h[0] != "soon" || h[1] != "unnamed" {
		t.Fatalf("hinted: %v, want the live creator's and the one naming nobody", h)
	}
	old := time.Now().Add(-2 * youngHint)
	for _, id := range []string{"soon", "unnamed"} {
		os.Chtimes(s.hintPath(id), old, old)
	}
	s.Collect(func(string) {})
	if h := s.Hinted(); len(h) != 0 {
		t.Errorf("stale hints with nothing behind them are left: %v", h)
	}
}

// TestCollectDropsScanHintOfRemoved: a container the scan of an older
// store hints, removed meanwhile by another collection, leaves no hint
// once the scanning process is gone.
func TestCollectDropsScanHintOfRemoved(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	hintAs(t, s, "removed", exited(t)) // as the scan names its process
	s.Collect(func(string) {})
	if h := s.Hinted(); len(h) != 0 {
		t.Errorf("hinted: %v", h)
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

// TestCollectBuildStepOfDeadBuild: a build's step is kept, between its
// run and its removal, while its builder holds the build's lock, and is
// collected once that lock is free (the builder killed).
func TestCollectBuildStepOfDeadBuild(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	lockPath := filepath.Join(t.TempDir(), "build.lock")
	build, err := flock.Open(lockPath, os.O_CREATE, unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	step := rec("step", "step")
	step.BuildLock = lockPath
	o, err := s.Create(step)
	if err != nil {
		t.Fatal(err)
	}
	o.Release() // the step's run ended; the build reads its layer
	s.Collect(func(string) {})
	if _, err := s.Get("step"); err != nil {
		t.Fatalf("a live build's step was collected: %v", err)
	}
	build.Close() // the builder is killed
	s.Collect(func(string) {})
	if _, err := s.Get("step"); err == nil {
		t.Error("the step of a dead build was not collected")
	}
	if h := s.Hinted(); len(h) != 0 {
		t.Errorf("hinted after collection: %v", h)
	}
}
