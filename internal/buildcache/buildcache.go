// Package buildcache is berth build's cache on disk, shared by builds
// that run at once and by builder prune, with flock files that the kernel
// frees when their holder dies, however it dies:
//
//	<root>/build/cache.json    step key -> image ID, replaced by rename
//	<root>/build/cache.lock    EX: a read-modify-write of cache.json
//	<root>/build/gc.lock       SH: a build finding or making a step image
//	                           and noting it as used; EX: a prune deciding
//	                           what to remove
//	<root>/build/users/<id>    one per running build, its flock held for
//	                           the build's life: the image IDs it uses
//	<root>/build/steps/<key>   EX while a build makes that step: a build
//	                           that wants the same step waits, then finds it
//	<root>/build/mounts/<d>    RUN --mount=type=cache's directories, and
//	                           <d>.lock, SH (EX with sharing=locked) while
//	                           a RUN uses it
//
// A step's image is in cache.json only once it is complete, so no build
// sees a half-made step; a prune removes nothing a live build noted.
package buildcache

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/flock"
)

// Dir is the build cache's directory under berth's root.
func Dir(root string) string { return filepath.Join(root, "build") }

// Cache is one build's handle on the cache: its user file is held until
// Close.
type Cache struct {
	dir  string
	mu   sync.Mutex
	user *os.File
	used map[string]bool
}

// Open registers a build as a user of the cache under root.
func Open(root string) (*Cache, error) {
	c := &Cache{dir: Dir(root), used: map[string]bool{}}
	for _, d := range []string{c.dir, filepath.Join(c.dir, "users"), filepath.Join(c.dir, "steps")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("build cache: %w", err)
		}
	}
	// Made under gc.lock: a prune never finds it made but not locked yet.
	unlock, err := c.gc(unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var b [8]byte
	_, _ = rand.Read(b[:])
	f, err := flock.Open(filepath.Join(c.dir, "users", hex.EncodeToString(b[:])), os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	c.user = f
	return c, nil
}

// Close lets go of what the build used: a prune may now remove it.
func (c *Cache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.user != nil {
		os.Remove(c.user.Name())
		c.user.Close()
		c.user = nil
	}
}

// Use notes id as used by the build, while the caller holds gc.lock.
func (c *Cache) use(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id == "" || c.used[id] {
		return nil
	}
	if _, err := fmt.Fprintln(c.user, id); err != nil {
		return fmt.Errorf("build cache: note %s as used: %w", id, err)
	}
	c.used[id] = true
	return nil
}

// Use notes an image the build uses (a stage's base, a step's parent)
// so that no prune removes it; ok false if it is gone already.
func (c *Cache) Use(id string, exists func(id string) bool) (bool, error) {
	unlock, err := c.gc(unix.LOCK_SH)
	if err != nil {
		return false, err
	}
	defer unlock()
	if !exists(id) {
		return false, nil
	}
	return true, c.use(id)
}

// Lookup is the image a step's key names, if it is there still, noted as
// used.
func (c *Cache) Lookup(key string, exists func(id string) bool) (string, bool, error) {
	unlock, err := c.gc(unix.LOCK_SH)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	entries, err := c.read()
	if err != nil {
		return "", false, err
	}
	id, ok := entries[key]
	if !ok || !exists(id) {
		return "", false, nil
	}
	return id, true, c.use(id)
}

// Hold takes gc.lock shared, for a build making a step's image: no
// prune comes between its making and Done. Take it before the image
// store's Hold, as a prune takes them in that order.
func (c *Cache) Hold() (release func(), err error) { return c.gc(unix.LOCK_SH) }

// Done notes the step image id made under Hold as used, and as key's
// (key "": none) for later builds.
func (c *Cache) Done(key, id string) error {
	if err := c.use(id); err != nil {
		return err
	}
	if key == "" {
		return nil
	}
	return c.put(key, id)
}

// StepLock is held while a build makes the step key, so that another
// build after the same step waits for it and then finds it in the cache
// instead of making it again.
func (c *Cache) StepLock(key string) (unlock func(), err error) {
	f, err := lockFile(filepath.Join(c.dir, "steps", key), unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	// Removed while held: one waiting on it finds it gone (lockFile) and
	// takes a new one, then the step in the cache; none piles up.
	return func() {
		os.Remove(f.Name())
		f.Close()
	}, nil
}

// MountLock is held while a RUN uses the cache mount dir (exclusive:
// sharing=locked), so that a prune leaves it.
func MountLock(dir string, exclusive bool) (unlock func(), err error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	f, err := lockFile(dir+".lock", how)
	if err != nil {
		return nil, fmt.Errorf("build cache mount: %w", err)
	}
	return func() { f.Close() }, nil
}

// gc takes gc.lock how.
func (c *Cache) gc(how int) (func(), error) {
	f, err := flock.Open(filepath.Join(c.dir, "gc.lock"), os.O_CREATE, how)
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	return func() { f.Close() }, nil
}

func (c *Cache) read() (map[string]string, error) { return readEntries(c.dir) }

// put adds key -> id to cache.json, read again under cache.lock so that
// what other builds added meanwhile stays.
func (c *Cache) put(key, id string) error {
	return updateEntries(c.dir, func(m map[string]string) { m[key] = id })
}

type file struct {
	Entries map[string]string `json:"entries"`
}

// readEntries reads cache.json; a missing or damaged one is empty (its
// steps are made again).
func readEntries(dir string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cache.json"))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	var f file
	if json.Unmarshal(b, &f) != nil || f.Entries == nil {
		return map[string]string{}, nil
	}
	return f.Entries, nil
}

// updateEntries changes cache.json under cache.lock, written whole to a
// file of the writer's own and renamed over it.
func updateEntries(dir string, change func(map[string]string)) error {
	l, err := flock.Open(filepath.Join(dir, "cache.lock"), os.O_CREATE, unix.LOCK_EX)
	if err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	defer l.Close()
	m, err := readEntries(dir)
	if err != nil {
		return err
	}
	change(m)
	b, err := json.Marshal(file{Entries: m})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".cache-")
	if err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, "cache.json"))
	}
	if err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	return nil
}

// lockFile takes flock how on path, made if missing; a prune deletes
// lock files it holds, so the descriptor must still be the file at path
// once locked, else it is taken again.
func lockFile(path string, how int) (*os.File, error) {
	for {
		f, err := flock.Open(path, os.O_CREATE|unix.O_NOFOLLOW, how)
		if err != nil {
			return nil, err
		}
		a, err1 := f.Stat()
		b, err2 := os.Lstat(path)
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			return f, nil
		}
		f.Close()
	}
}

// readUsers is what the live builds use: the IDs in each user file whose
// flock is held; a dead build's file is removed when collect (the caller
// holds gc.lock exclusively).
func readUsers(dir string, collect bool) map[string]bool {
	used := map[string]bool{}
	ents, _ := os.ReadDir(filepath.Join(dir, "users"))
	for _, e := range ents {
		p := filepath.Join(dir, "users", e.Name())
		if !flock.Held(p) {
			if collect {
				os.Remove(p)
			}
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if id := strings.TrimSpace(sc.Text()); id != "" {
				used[id] = true
			}
		}
		f.Close()
	}
	return used
}
