package chowncache

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func entry(image string, host uint32) Entry {
	m := []Mapping{{ContainerID: 0, HostID: host, Size: 65536}}
	return Entry{ImageID: image, UIDMap: m, GIDMap: m}
}

func TestKey(t *testing.T) {
	a := entry("sha256:aa", 100000)
	if a.Key() != entry("sha256:aa", 100000).Key() {
		t.Error("the same image and mapping give two keys")
	}
	if !validKey(a.Key()) {
		t.Errorf("Key %q is not a valid key", a.Key())
	}
	others := []Entry{
		entry("sha256:bb", 100000),
		entry("sha256:aa", 200000),
		{ImageID: "sha256:aa", UIDMap: a.UIDMap, GIDMap: []Mapping{{0, 100000, 65535}}},
		// The same ranges for uids and gids swapped between maps, and
		// in another order, are other owners.
		{ImageID: "sha256:aa", UIDMap: []Mapping{{0, 1, 1}, {1, 2, 1}}, GIDMap: []Mapping{{0, 1, 1}}},
		{ImageID: "sha256:aa", UIDMap: []Mapping{{1, 2, 1}, {0, 1, 1}}, GIDMap: []Mapping{{0, 1, 1}}},
		{ImageID: "sha256:aa", UIDMap: []Mapping{{0, 1, 1}}, GIDMap: []Mapping{{0, 1, 1}, {1, 2, 1}}},
	}
	seen := map[string]int{a.Key(): -1}
	for i, e := range others {
		if j, dup := seen[e.Key()]; dup {
			t.Errorf("entries %d and %d share key %s", i, j, e.Key())
		}
		seen[e.Key()] = i
	}
	for _, bad := range []string{"", "..", "../" + a.Key()[3:], a.Key()[:63], a.Key() + "0", "A" + a.Key()[1:]} {
		if validKey(bad) {
			t.Errorf("validKey(%q)", bad)
		}
	}
}

// fakeBuild counts builds and leaves a file in the copy.
func fakeBuild(n *int) func(string) error {
	return func(dst string) error {
		*n++
		if err := os.Mkdir(dst, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, "f"), []byte("x"), 0o644)
	}
}

func TestAcquireSharesAndReleases(t *testing.T) {
	c := Cache{Dir: filepath.Join(t.TempDir(), "chowncache")}
	live := map[string]bool{"c1": true, "c2": true, "c3": true}
	images := map[string]bool{"sha256:aa": true}
	isLive := func(id string) bool { return live[id] }
	hasImage := func(id string) bool { return images[id] }
	builds := 0
	k1, l1, built1, err := c.Acquire(entry("sha256:aa", 100000), "c1", fakeBuild(&builds))
	if err != nil || !built1 {
		t.Fatalf("first Acquire: %v built %v", err, built1)
	}
	k2, l2, built2, err := c.Acquire(entry("sha256:aa", 100000), "c2", fakeBuild(&builds))
	if err != nil || built2 || k2 != k1 || l2 != l1 || builds != 1 {
		t.Fatalf("second Acquire: key %s lower %s built %v builds %d err %v", k2, l2, built2, builds, err)
	}
	if _, err := os.Stat(filepath.Join(l1, "f")); err != nil {
		t.Fatalf("the copy: %v", err)
	}
	k3, _, _, err := c.Acquire(entry("sha256:aa", 200000), "c3", fakeBuild(&builds))
	if err != nil || k3 == k1 || builds != 2 {
		t.Fatalf("another mapping: key %s builds %d err %v", k3, builds, err)
	}

	// Users go: the copies stay while the image is there.
	delete(live, "c1")
	if err := c.Release(k1, "c1", isLive, hasImage); err != nil {
		t.Fatal(err)
	}
	delete(live, "c2")
	if err := c.Release(k1, "c2", isLive, hasImage); err != nil {
		t.Fatal(err)
	}
	if ents, _ := c.Entries(); len(ents) != 2 {
		t.Fatalf("with the image there: %d copies, want 2", len(ents))
	}
	// The image goes: the copy no one uses goes, the one c3 uses stays.
	delete(images, "sha256:aa")
	removed, err := c.Collect(true, isLive, hasImage)
	if err != nil || len(removed) != 1 || removed[0] != k1 {
		t.Fatalf("Collect: %v %v, want %s removed", removed, err, k1)
	}
	// c3's container is gone without a Release (killed): collected.
	delete(live, "c3")
	if removed, err := c.Collect(false, isLive, hasImage); err != nil || len(removed) != 1 || removed[0] != k3 {
		t.Fatalf("Collect after c3 died: %v %v", removed, err)
	}
	if ents, _ := os.ReadDir(c.Dir); len(ents) != 1 || ents[0].Name() != "lock" {
		t.Errorf("left in the cache: %v", ents)
	}
	// A release of a copy already gone is no error; a bad key is.
	if err := c.Release(k1, "c1", isLive, hasImage); err != nil {
		t.Errorf("Release of a copy gone: %v", err)
	}
	if err := c.Release("../x", "c1", isLive, hasImage); err == nil {
		t.Error("Release of a bad key")
	}
}

func TestBuildFailsAndCrashLeftovers(t *testing.T) {
	c := Cache{Dir: filepath.Join(t.TempDir(), "chowncache")}
	boom := errors.New("boom")
	_, _, _, err := c.Acquire(entry("sha256:aa", 1), "c1", func(dst string) error {
		os.Mkdir(dst, 0o755)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failed build: %v", err)
	}
	if ents, _ := os.ReadDir(c.Dir); len(ents) != 1 {
		t.Errorf("a failed build left %v", ents)
	}
	// A build and a removal that a kill cut short.
	for _, d := range []string{".new-" + strconv.Itoa(1<<22) + "-" + entry("x", 1).Key(), ".rm-" + entry("y", 1).Key()} {
		if err := os.MkdirAll(filepath.Join(c.Dir, d, "rootfs"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	builds := 0
	if _, _, _, err := c.Acquire(entry("sha256:aa", 1), "c1", fakeBuild(&builds)); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(c.Dir)
	if len(ents) != 2 {
		t.Errorf("after a build the cache holds %v, want lock and the copy", ents)
	}
}

// TestAcquireConcurrent: containers of one image and mapping starting
// together build its copy once.
func TestAcquireConcurrent(t *testing.T) {
	c := Cache{Dir: filepath.Join(t.TempDir(), "chowncache")}
	var mu sync.Mutex
	builds := 0
	build := func(dst string) error {
		mu.Lock()
		builds++
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		return os.Mkdir(dst, 0o755)
	}
	var wg sync.WaitGroup
	keys := make([]string, 8)
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, _, err := c.Acquire(entry("sha256:aa", 1), "c"+strconv.Itoa(i), build)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	users, _ := os.ReadDir(filepath.Join(c.Path(keys[0]), "users"))
	if builds != 1 || len(users) != len(keys) {
		t.Errorf("%d builds, %d users, want 1 and %d", builds, len(users), len(keys))
	}
}
