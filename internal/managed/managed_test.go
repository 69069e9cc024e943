package managed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func rec(id, name string) Record {
	return Record{ID: id, Name: name, Created: time.Now(), ImageID: "sha256:img", State: State{Status: Running}}
}

func TestCreateGetList(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	a, err := s.Create(rec("aaaa1111", "web"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(rec("bbbb2222", "web")); err == nil || !strings.Contains(err.Error(), `"web" is already in use`) {
		t.Errorf("second container named web: %v", err)
	}
	if ents, _ := os.ReadDir(s.Dir); len(ents) != 3 { // .collect, .names and aaaa1111
		t.Errorf("a failed create left something: %v", ents)
	}
	if h := s.Hinted(); len(h) != 1 || h[0] != "aaaa1111" {
		t.Errorf("hinted after a failed create: %v, want only aaaa1111", h)
	}
	if _, err := s.Create(rec("aaab3333", "")); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{"web": "aaaa1111", "aaaa1111": "aaaa1111", "aaab": "aaab3333"} {
		if got, err := s.Get(ref); err != nil || got.ID != want {
			t.Errorf("Get(%q) = %s, %v; want %s", ref, got.ID, err, want)
		}
	}
	if _, err := s.Get("aaa"); err == nil || !strings.Contains(err.Error(), "fits 2 containers") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if _, err := s.Get("nothing"); !errors.Is(err, ErrNotExist) {
		t.Errorf("unknown: %v", err)
	}
	if got := s.List(); len(got) != 2 || got[0].ID != "aaab3333" {
		t.Errorf("List: %+v", got)
	}
	if !s.Uses("sha256:img") || s.Uses("sha256:other") {
		t.Error("Uses")
	}
	if err := s.Remove(rec("aaaa1111", "web")); err == nil {
		t.Error("removed a running container")
	}
	a.Release()
	// Its owner gone while the record says running: dead.
	if got, _ := s.Get("web"); got.State.Status != Dead || got.State.Error == "" {
		t.Errorf("after the owner died: %+v", got.State)
	}
	if err := s.Remove(rec("aaaa1111", "web")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("web"); !errors.Is(err, ErrNotExist) {
		t.Errorf("removed container still found: %v", err)
	}
}

func TestCollect(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	keep := rec("keep", "kept")
	gone := rec("gone", "temp")
	gone.AutoRemove = true
	live := rec("live", "")
	live.AutoRemove = true
	k, _ := s.Create(keep)
	g, _ := s.Create(gone)
	l, _ := s.Create(live)
	defer l.Release()
	k.Release()
	g.Release()
	var visited []string
	s.Collect(func(id string) { visited = append(visited, id) })
	if strings.Join(visited, " ") != "gone keep" {
		t.Errorf("visited %v, want the containers whose owner is gone", visited)
	}
	if h := s.Hinted(); len(h) != 1 || h[0] != "live" {
		t.Errorf("hinted after collection: %v, want only the running container", h)
	}
	for id, want := range map[string]bool{"keep": true, "gone": false, "live": true} {
		if _, err := os.Stat(filepath.Join(s.Dir, id)); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", id, err == nil, want)
		}
	}
	if _, err := s.Create(rec("new", "temp")); err != nil {
		t.Errorf("the collected container's name was not released: %v", err)
	}
}

func TestWaitReleasedAndRename(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	o, _ := s.Create(rec("cccc", "old"))
	if s.WaitReleased("cccc", 50*time.Millisecond) {
		t.Error("released while held")
	}
	go func() { time.Sleep(20 * time.Millisecond); o.Release() }()
	if !s.WaitReleased("cccc", 5*time.Second) {
		t.Error("not released")
	}
	r, _ := s.Get("old")
	if err := s.Rename(r, "new"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("new"); err != nil || got.Name != "new" {
		t.Errorf("after rename: %+v %v", got, err)
	}
	if _, err := s.Get("old"); err == nil {
		t.Error("old name still resolves")
	}
}

// TestCollectSparesCreations: a directory whose record is not written
// yet belongs to a creation in progress, and collection leaves it.
func TestCollectSparesCreations(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	dir := filepath.Join(s.Dir, "young")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Collect(func(string) {})
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("a creation in progress was collected: %v", err)
	}
	old := time.Now().Add(-2 * time.Minute)
	os.Chtimes(dir, old, old)
	s.Collect(func(string) {})
	if _, err := os.Stat(dir); err == nil {
		t.Error("an abandoned creation was not collected")
	}
}

// TestCollectInterruptedCreationsAndRemovals: a creation whose creator
// was killed, and a removal that was interrupted, are collected at once
// (a live creator's is left), and the killed creation's name is freed.
func TestCollectInterruptedCreationsAndRemovals(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(rec("placeholder", "")); err != nil { // makes .names
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(s.Dir, "placeholder"))
	live := fmt.Sprintf(".new-%d-born", os.Getpid())
	for _, dir := range []string{fmt.Sprintf(".new-%d-killed", dead.Process.Pid), live, ".rm-halfgone"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, dir), 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(s.Dir, dir, "lock"), nil, 0o600)
	}
	if err := os.Symlink("killed", filepath.Join(s.Dir, ".names", "web")); err != nil {
		t.Fatal(err)
	}
	s.Collect(func(string) {})
	var left []string
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != ".collect .names "+live {
		t.Errorf("after collection: %v, want .names and the live creation", left)
	}
	if _, err := s.Create(rec("other", "web")); err != nil {
		t.Errorf("the killed creation's name is still taken: %v", err)
	}
}

// TestCollectSparesCreatedAutoRemove: a container of berth create --rm
// has no owner until berth start, and is kept until its run ends.
func TestCollectSparesCreatedAutoRemove(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	created := rec("made", "later")
	created.AutoRemove, created.Detached, created.State.Status = true, true, Created
	o, err := s.Create(created)
	if err != nil {
		t.Fatal(err)
	}
	o.Release()
	s.Collect(func(string) {})
	if _, err := s.Get("later"); err != nil {
		t.Errorf("the created container was collected: %v", err)
	}
	if h := s.Hinted(); len(h) != 1 {
		t.Errorf("the created --rm container is no longer hinted: %v", h)
	}
}

// TestReleasedLeavesNoWaiter: once a wait that first timed out returns
// released, the lock is free at once: a start right after a stop's
// SIGKILL must not find a left-behind waiter's shared lock on it.
func TestReleasedLeavesNoWaiter(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	for round := range 20 {
		id := fmt.Sprintf("r%03d", round)
		o, err := s.Create(rec(id, id))
		if err != nil {
			t.Fatal(err)
		}
		released := s.Released(id)
		for range 30 {
			if released.Wait(time.Millisecond) {
				t.Fatal("released while held")
			}
		}
		o.Release()
		released.Wait(0)
		again, err := s.Own(id)
		if err != nil {
			t.Fatalf("round %d: the lock is still held after the wait: %v", round, err)
		}
		again.Release()
	}
}
