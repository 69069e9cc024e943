package volume

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

func newStore(t *testing.T) Store {
	return Store{Dir: filepath.Join(t.TempDir(), "volumes")}
}

const owner1 = "1111111111111111111111111111111111111111111111111111111111111111"
const owner2 = "2222222222222222222222222222222222222222222222222222222222222222"

// leftovers lists what is in the store besides volumes and the lock.
func leftovers(t *testing.T, s Store) []string {
	t.Helper()
	entries, _ := os.ReadDir(s.Dir)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && e.Name() != ".lock" {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestCreateGetList(t *testing.T) {
	s := newStore(t)
	v, created, err := s.Create("data", Options{Labels: map[string]string{"a": "b"}})
	if err != nil || !created {
		t.Fatalf("Create: %v %v", created, err)
	}
	if v.Name != "data" || v.Mountpoint != filepath.Join(s.Dir, "data", "_data") || v.CreatedAt.IsZero() || v.Labels["a"] != "b" || v.Anonymous {
		t.Errorf("volume %+v", v)
	}
	if st, err := os.Stat(v.Mountpoint); err != nil || !st.IsDir() || st.Mode().Perm() != 0o755 {
		t.Errorf("mountpoint: %v %v", st, err)
	}
	if st, _ := os.Stat(s.Dir); st.Mode().Perm() != 0o700 {
		t.Errorf("store mode %v, want 0700", st.Mode())
	}
	again, created, err := s.Create("data", Options{})
	if err != nil || created || !reflect.DeepEqual(again, v) {
		t.Errorf("Create of an existing volume: %+v %v %v, want the same volume", again, created, err)
	}
	if users, _ := s.Users("data"); len(users) != 0 {
		t.Errorf("a created volume has users %q", users)
	}
	s.Create("other", Options{})
	list, err := s.List()
	if err != nil || len(list) != 2 || list[0].Name != "data" || list[1].Name != "other" {
		t.Errorf("List = %+v, %v", list, err)
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nope) = %v", err)
	}
	for _, bad := range []string{"", ".x", "-x", "a/b", "..", strings.Repeat("a", 65)} {
		if _, _, err := s.Create(bad, Options{}); err == nil || !strings.Contains(err.Error(), "invalid volume name") {
			t.Errorf("Create(%q) = %v", bad, err)
		}
	}
	if l := leftovers(t, s); len(l) > 0 {
		t.Errorf("left %q", l)
	}
}

func TestInUseNotRemoved(t *testing.T) {
	s := newStore(t)
	u, err := s.Acquire("data", owner1, Options{})
	if err != nil || !u.Created {
		t.Fatalf("Acquire: %+v %v", u, err)
	}
	u2, err := s.Acquire("data", owner2, Options{})
	if err != nil || u2.Created || u2.Mountpoint != u.Mountpoint {
		t.Fatalf("second Acquire: %+v %v", u2, err)
	}
	if _, err := s.Acquire("data", owner1, Options{}); err == nil {
		t.Error("one owner acquired a volume twice")
	}
	if users, _ := s.Users("data"); !reflect.DeepEqual(users, []string{owner1, owner2}) {
		t.Errorf("users %q", users)
	}
	err = s.Remove("data", true)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), owner1[:12]) || strings.Contains(err.Error(), owner1[:13]) {
		t.Errorf("Remove of a used volume: %v", err)
	}
	if removed, err := s.Prune(nil); err != nil || len(removed) != 0 {
		t.Errorf("Prune removed %q, %v", removed, err)
	}
	u.Release()
	u.Release()
	if !errors.Is(s.Remove("data", false), ErrInUse) {
		t.Error("removed while the second user holds it")
	}
	// A berth killed: its lock is gone, its file stays.
	u2.lock.Close()
	if err := s.Remove("data", false); err != nil {
		t.Fatalf("Remove after the users are gone: %v", err)
	}
	if _, err := s.Get("data"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove: %v", err)
	}
	if err := s.Remove("data", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove of a missing volume: %v", err)
	}
	if err := s.Remove("data", true); err != nil {
		t.Errorf("Remove -f of a missing volume: %v", err)
	}
	if l := leftovers(t, s); len(l) > 0 {
		t.Errorf("left %q", l)
	}
}

func TestAnonymousName(t *testing.T) {
	a, b := AnonymousName(owner1, "/a"), AnonymousName(owner1, "/b")
	if a == b || a != AnonymousName(owner1, "/a") || a == AnonymousName(owner2, "/a") || checkName(a) != nil {
		t.Errorf("anonymous names %s %s", a, b)
	}
}

func TestRemoveMissingStore(t *testing.T) {
	s := newStore(t)
	if err := s.Remove("x", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove in a missing store: %v", err)
	}
	if err := s.Remove("x", true); err != nil {
		t.Errorf("Remove -f in a missing store: %v", err)
	}
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Errorf("List of a missing store: %v %v", list, err)
	}
	if removed, err := s.Prune(nil); err != nil || len(removed) != 0 {
		t.Errorf("Prune of a missing store: %v %v", removed, err)
	}
}

func TestPruneAndCollect(t *testing.T) {
	s := newStore(t)
	s.Create("unused", Options{})
	used, _ := s.Acquire("used", owner1, Options{})
	anon, err := s.Acquire(AnonymousName(owner2, "/a"), owner2, Options{Anonymous: true})
	if err != nil || !anon.Anonymous || anon.Owner != owner2 || len(anon.Name) != 64 {
		t.Fatalf("anonymous: %+v %v", anon, err)
	}
	deadAnon, _ := s.Acquire(AnonymousName(owner1, "/a"), owner1, Options{Anonymous: true})
	deadAnon.lock.Close() // its berth was killed
	stopped, _ := s.Acquire(AnonymousName(owner1, "/b"), owner1, Options{Anonymous: true})
	stopped.Release() // its container exited, and still exists
	// Leftovers of a killed create and an interrupted remove.
	os.MkdirAll(filepath.Join(s.Dir, ".new-0123", "users"), 0o700)
	os.MkdirAll(filepath.Join(s.Dir, ".rm-0123", "_data"), 0o700)

	if err := s.Collect(func(v *Volume) bool { return v.Name == stopped.Name }); err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		list, _ := s.List()
		var out []string
		for _, v := range list {
			out = append(out, v.Name)
		}
		return out
	}
	want := []string{anon.Name, stopped.Name, "unused", "used"}
	slices.Sort(want)
	if got := names(); !reflect.DeepEqual(got, want) {
		t.Errorf("after Collect: %q, want %q", got, want)
	}
	if l := leftovers(t, s); len(l) > 0 {
		t.Errorf("Collect left %q", l)
	}
	removed, err := s.Prune(func(name string) bool { return name == stopped.Name })
	if err != nil || !reflect.DeepEqual(removed, []string{"unused"}) {
		t.Errorf("Prune = %q, %v", removed, err)
	}
	used.Release()
	if err := anon.ReleaseAndRemove(); err != nil {
		t.Fatal(err)
	}
	if got := names(); !reflect.DeepEqual(got, []string{stopped.Name, "used"}) && !reflect.DeepEqual(got, []string{"used", stopped.Name}) {
		t.Errorf("after ReleaseAndRemove: %q", got)
	}
	removed, _ = s.Prune(nil)
	if len(removed) != 2 || len(names()) != 0 {
		t.Errorf("second Prune = %q, left %q", removed, names())
	}
}

func TestReleaseAndRemoveKeepsAVolumeOthersUse(t *testing.T) {
	s := newStore(t)
	mine, _ := s.Acquire("v", owner1, Options{})
	theirs, _ := s.Acquire("v", owner2, Options{})
	if err := mine.ReleaseAndRemove(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("v"); err != nil {
		t.Errorf("volume used by another container removed: %v", err)
	}
	theirs.Release()
}

func TestFill(t *testing.T) {
	s := newStore(t)
	u, err := s.Acquire("v", owner1, Options{Fill: func(dir string) error {
		return os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(u.Mountpoint, "f")); string(b) != "x" {
		t.Errorf("filled volume has %q", b)
	}
	u.Release()
	called := false
	if _, err := s.Acquire("v", owner2, Options{Fill: func(string) error { called = true; return nil }}); err != nil || called {
		t.Errorf("an existing volume filled again (%v, %v)", called, err)
	}
	_, err = s.Acquire("w", owner1, Options{Fill: func(string) error { return errors.New("boom") }})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failed fill: %v", err)
	}
	if _, err := s.Get("w"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a volume whose fill failed exists: %v", err)
	}
	if l := leftovers(t, s); len(l) > 0 {
		t.Errorf("left %q", l)
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	s := newStore(t)
	const n = 16
	var wg sync.WaitGroup
	uses := make([]*Use, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := strings.Repeat(string(rune('a'+i)), 64)
			uses[i], errs[i] = s.Acquire("shared", owner, Options{Fill: func(dir string) error {
				return os.WriteFile(filepath.Join(dir, "by"), []byte(owner), 0o644)
			}})
		}()
	}
	wg.Wait()
	created := 0
	for i, u := range uses {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if u.Created {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d uses created the volume, want 1", created)
	}
	if users, _ := s.Users("shared"); len(users) != n {
		t.Errorf("%d users, want %d", len(users), n)
	}
	if l := leftovers(t, s); len(l) > 0 {
		t.Errorf("left %q", l)
	}
}
