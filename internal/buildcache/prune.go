package buildcache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/flock"
)

// Pruned is what Prune removed besides step images: the cache mounts'
// directories.
type Pruned struct {
	Mounts []string // paths, gone
}

// Prune removes the build cache under root that no live build uses:
// pruneImages removes the step images but those in used (it gets what
// the live builds noted), then cache.json forgets the steps whose image
// is gone (exists), and the cache mounts no RUN holds go; measure
// sizes each before it goes. All under gc.lock, exclusively: no build
// finds or makes a step meanwhile.
func Prune(root string, pruneImages func(used map[string]bool) error, exists func(id string) bool, measure func(path string)) (Pruned, error) {
	var out Pruned
	dir := Dir(root)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return out, pruneImages(map[string]bool{})
	}
	gl, err := flock.Open(filepath.Join(dir, "gc.lock"), os.O_CREATE, unix.LOCK_EX)
	if err != nil {
		return out, err
	}
	defer gl.Close()
	if err := pruneImages(readUsers(dir, true)); err != nil {
		return out, err
	}
	if err := updateEntries(dir, func(m map[string]string) {
		for k, id := range m {
			if !exists(id) {
				delete(m, k)
			}
		}
	}); err != nil {
		return out, err
	}
	collectLocks(filepath.Join(dir, "steps"))
	out.Mounts, err = pruneMounts(filepath.Join(dir, "mounts"), measure)
	return out, err
}

// pruneMounts removes each cache mount whose lock it can take at once,
// holding it while the directory and then the lock file go.
func pruneMounts(dir string, measure func(string)) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var removed []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		l, err := flock.Open(p+".lock", os.O_CREATE|unix.O_NOFOLLOW, unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			continue // in use
		}
		if measure != nil {
			measure(p)
		}
		err = os.RemoveAll(p)
		os.Remove(l.Name())
		l.Close()
		if err != nil {
			return removed, err
		}
		removed = append(removed, p)
	}
	return removed, nil
}

// collectLocks removes the step lock files no build holds.
func collectLocks(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		l, err := flock.Open(p, unix.O_NOFOLLOW, unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			continue
		}
		os.Remove(p)
		l.Close()
	}
}

// Mount is a cache mount's directory, and whether a RUN uses it now.
type Mount struct {
	Path   string
	Active bool
}

// Usage is the build cache as system df sees it: the cache mounts, and
// the step images live builds use.
func Usage(root string) ([]Mount, map[string]bool) {
	dir := Dir(root)
	var mounts []Mount
	ents, _ := os.ReadDir(filepath.Join(dir, "mounts"))
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			p := filepath.Join(dir, "mounts", e.Name())
			mounts = append(mounts, Mount{Path: p, Active: flock.Held(p + ".lock")})
		}
	}
	return mounts, readUsers(dir, false)
}

// MountDir is the directory of the cache mount id.
func MountDir(root, digest string) string { return filepath.Join(Dir(root), "mounts", digest) }
