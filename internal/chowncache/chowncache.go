// Package chowncache keeps, per image and ID mapping, one copy of the
// image's root filesystem chowned into the mapping: where the kernel
// cannot show an image's layers through an idmapped mount, a container
// with a user namespace gets an overlay whose lower layer is this copy,
// so that its own cost is a writable layer, and the copy is made once
// for every container of that image and mapping (podman's storage keeps
// a chowned copy of an image's layers per mapping the same way).
//
// Layout, under Dir (<root>/chowncache, 0700):
//
//	lock                 flock: held for every change (and a whole build)
//	<key>/entry.json     the image ID and the mappings the key stands for
//	<key>/rootfs/        the chowned copy: overlay's lower layer, never written
//	<key>/users/<id>     one empty file per container that uses the copy
//	.new-<pid>-<key>/    a copy being built; renamed to <key> once complete
//	.rm-<key>/           a copy being removed
//
// A copy lives while a container that still exists uses it, or while its
// image is in the store (the next container of that mapping reuses it:
// ranges are allocated first fit, so a range given back comes again).
// Builds happen under the lock, so whoever holds it sees every .new- and
// .rm- directory as left by a process that died: they are removed.
package chowncache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/atomicdir"
	"github.com/berth-runtime/berth/internal/flock"
	"golang.org/x/sys/unix"
)

// Mapping maps Size IDs from ContainerID inside to HostID outside.
type Mapping struct {
	ContainerID uint32 `json:"ContainerID"`
	HostID      uint32 `json:"HostID"`
	Size        uint32 `json:"Size"`
}

// Entry is what a copy is of: an image through a mapping.
type Entry struct {
	ImageID string    `json:"ImageID"`
	UIDMap  []Mapping `json:"UIDMap"`
	GIDMap  []Mapping `json:"GIDMap"`
}

// Key names e's copy: a digest of the image ID and both mappings, in
// order (the same IDs mapped in another order make other owners).
func (e Entry) Key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "image %s\n", e.ImageID)
	for _, m := range e.UIDMap {
		fmt.Fprintf(&b, "uid %d %d %d\n", m.ContainerID, m.HostID, m.Size)
	}
	for _, m := range e.GIDMap {
		fmt.Fprintf(&b, "gid %d %d %d\n", m.ContainerID, m.HostID, m.Size)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// Cache is the cache under Dir.
type Cache struct{ Dir string }

// Path is the directory of the copy named key; Lower its root filesystem.
func (c Cache) Path(key string) string  { return filepath.Join(c.Dir, key) }
func (c Cache) Lower(key string) string { return filepath.Join(c.Dir, key, "rootfs") }

// validKey refuses anything but a key as Key makes it: keys come from
// container records, and are joined to paths.
func validKey(key string) bool {
	if len(key) != sha256.Size*2 {
		return false
	}
	_, err := hex.DecodeString(key)
	return err == nil && strings.ToLower(key) == key
}

// lock takes the cache's lock, exclusively; wait false gives up (nil,
// nil) when someone holds it.
func (c Cache) lock(wait bool) (*os.File, error) {
	// The copies hold setuid files: no host user may reach them, even
	// under a directory someone else created.
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("chown cache: %w", err)
	}
	if err := os.Chmod(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("chown cache: %w", err)
	}
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	f, err := flock.Open(filepath.Join(c.Dir, "lock"), os.O_CREATE|unix.O_NOFOLLOW, how)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chown cache: lock: %w", err)
	}
	return f, nil
}

// Acquire gives container user the copy of e, building it with build
// (which fills an empty directory with the image's files chowned into
// e's mappings) if there is none, and returns its key and lower layer.
// built says whether this call made it.
func (c Cache) Acquire(e Entry, user string, build func(dst string) error) (key, lower string, built bool, err error) {
	key = e.Key()
	l, err := c.lock(true)
	if err != nil {
		return "", "", false, err
	}
	defer l.Close()
	c.collectTemp()
	if !exists(c.Path(key)) {
		if err := c.build(e, key, build); err != nil {
			return "", "", false, err
		}
		built = true
	}
	if err := c.addUser(key, user); err != nil {
		return "", "", false, err
	}
	return key, c.Lower(key), built, nil
}

// build makes key's copy under a temporary name and renames it into
// place complete: a crash leaves a .new- directory, never a half copy
// under the key.
func (c Cache) build(e Entry, key string, build func(dst string) error) error {
	tmp := atomicdir.Creating(c.Dir, key)
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("chown cache: %w", err)
	}
	err := c.fill(tmp, e, build)
	if err == nil {
		err = os.Rename(tmp, c.Path(key))
	}
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("chown cache: make the image's chowned copy: %w", err)
	}
	return nil
}

func (c Cache) fill(dir string, e Entry, build func(dst string) error) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, "users"), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "entry.json"), b, 0o600); err != nil {
		return err
	}
	return build(filepath.Join(dir, "rootfs"))
}

func (c Cache) addUser(key, user string) error {
	if user == "" || strings.ContainsAny(user, "/") || strings.HasPrefix(user, ".") {
		return fmt.Errorf("chown cache: bad container ID %q", user)
	}
	if err := os.WriteFile(filepath.Join(c.Path(key), "users", user), nil, 0o600); err != nil {
		return fmt.Errorf("chown cache: %w", err)
	}
	return nil
}

// Release drops container user from key's copy, and removes the copy if
// nothing else keeps it (Collect's rule). A copy already gone is no error.
func (c Cache) Release(key, user string, live func(id string) bool, imageExists func(id string) bool) error {
	if !validKey(key) {
		return fmt.Errorf("chown cache: bad key %q", key)
	}
	l, err := c.lock(true)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := os.Remove(filepath.Join(c.Path(key), "users", user)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("chown cache: %w", err)
	}
	_, err = c.collectEntry(key, live, imageExists)
	return err
}

// Collect removes what is no one's: copies that no existing container
// uses and whose image is gone, users whose container is gone, and
// builds and removals that a killed process left. wait false returns at
// once if the cache is busy. It returns the keys of the copies removed.
func (c Cache) Collect(wait bool, live func(id string) bool, imageExists func(id string) bool) ([]string, error) {
	if !exists(c.Dir) {
		return nil, nil
	}
	l, err := c.lock(wait)
	if err != nil || l == nil {
		return nil, err
	}
	defer l.Close()
	c.collectTemp()
	ents, err := os.ReadDir(c.Dir)
	if err != nil {
		return nil, fmt.Errorf("chown cache: %w", err)
	}
	var removed []string
	var errs []error
	for _, ent := range ents {
		if !ent.IsDir() || !validKey(ent.Name()) {
			continue
		}
		gone, err := c.collectEntry(ent.Name(), live, imageExists)
		if gone {
			removed = append(removed, ent.Name())
		}
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}

// collectEntry drops key's users whose container is gone, then removes
// the copy if it has none left and its image is gone. The caller holds
// the lock.
func (c Cache) collectEntry(key string, live func(id string) bool, imageExists func(id string) bool) (bool, error) {
	users, err := os.ReadDir(filepath.Join(c.Path(key), "users"))
	if errors.Is(err, os.ErrNotExist) && !exists(c.Path(key)) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("chown cache %s: %w", key, err)
	}
	inUse := false
	for _, u := range users {
		if live(u.Name()) {
			inUse = true
			continue
		}
		os.Remove(filepath.Join(c.Path(key), "users", u.Name()))
	}
	if inUse {
		return false, nil
	}
	e, err := c.entry(key)
	if err == nil && imageExists(e.ImageID) {
		return false, nil
	}
	// An unreadable entry.json is a copy no one can match again.
	if err := atomicdir.Remove(c.Path(key)); err != nil {
		return false, fmt.Errorf("chown cache: remove %s: %w", key, err)
	}
	return true, nil
}

// entry reads what key's copy is of.
func (c Cache) entry(key string) (Entry, error) {
	var e Entry
	b, err := os.ReadFile(filepath.Join(c.Path(key), "entry.json"))
	if err == nil {
		err = json.Unmarshal(b, &e)
	}
	return e, err
}

// Entries lists the copies there are, by key (for tests and inspection).
func (c Cache) Entries() (map[string]Entry, error) {
	ents, err := os.ReadDir(c.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chown cache: %w", err)
	}
	out := map[string]Entry{}
	for _, ent := range ents {
		if ent.IsDir() && validKey(ent.Name()) {
			e, err := c.entry(ent.Name())
			if err != nil {
				return nil, fmt.Errorf("chown cache %s: %w", ent.Name(), err)
			}
			out[ent.Name()] = e
		}
	}
	return out, nil
}

// collectTemp removes builds and removals that died: the caller holds
// the lock, which every build and removal holds throughout.
func (c Cache) collectTemp() {
	ents, _ := os.ReadDir(c.Dir)
	for _, ent := range ents {
		if atomicdir.IsCreating(ent.Name()) || atomicdir.IsRemoving(ent.Name()) {
			os.RemoveAll(filepath.Join(c.Dir, ent.Name()))
		}
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
