// Package volume keeps berth's named volumes: directories that outlive the
// containers they are mounted in. It knows nothing of mounts or
// containers: callers bind-mount Mountpoint and name their users.
//
// Layout under the store directory (<root>/volumes, 0700):
//
//	.lock                  flock'ed exclusively for every change: create,
//	                       use, remove, prune, collection
//	<name>/volume.json     name, creation time, labels, anonymous or not
//	<name>/_data/          the volume's content, what containers see
//	<name>/users/<owner>   one per container using the volume, flock'ed by
//	                       the berth that runs it for the container's life;
//	                       a file whose lock can be taken was left by a
//	                       berth that is gone
//	.new-<random>/         a volume being made (and filled with the image's
//	                       files) before it appears under its name; its
//	                       creator holds a lock in its users/
//	.rm-<random>/          a volume being deleted
//
// A volume with a live user is never removed; callers say which other
// volumes to keep (those that stopped containers name). Anonymous volumes
// (-v /path) belong to one container, named after it and their path so
// that each run of the container finds its own again.
package volume

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/berth-runtime/berth/internal/events"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/flock"
	"github.com/berth-runtime/berth/internal/spec"
	"golang.org/x/sys/unix"
)

// ErrNotFound is returned for a volume that does not exist.
var ErrNotFound = errdefs.Wrap(errdefs.ErrNotFound, errors.New("no such volume"))

// ErrInUse is returned when removing a volume a running container uses
// (an *InUseError).
var ErrInUse = errdefs.Wrap(errdefs.ErrInUse, errors.New("volume is in use"))

// InUseError names the containers that keep a volume.
type InUseError struct {
	Name  string
	Users []string
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("volume %s is in use by container %s: stop it first", e.Name, shortIDs(e.Users))
}

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(target error) bool { return target == ErrInUse || target == errdefs.ErrInUse }

// Volume is one volume's record.
type Volume struct {
	Name string `json:"Name"`
	// Mountpoint is the directory to bind-mount: the volume's data.
	Mountpoint string            `json:"Mountpoint"`
	CreatedAt  time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels,omitempty"`
	// Anonymous volumes were made for one container (-v /path) and go
	// with it.
	Anonymous bool `json:"Anonymous,omitempty"`
	// Owner is the container an anonymous volume was made for.
	Owner string `json:"Owner,omitempty"`
}

// Store is the volumes under one directory. Its methods are safe for
// concurrent use by goroutines and processes sharing the directory.
type Store struct{ Dir string }

const (
	metaFile  = "volume.json"
	dataDir   = "_data"
	usersDir  = "users"
	newPrefix = ".new-"
	rmPrefix  = ".rm-"
)

// Options are how a volume is made when it does not exist yet.
type Options struct {
	Labels map[string]string
	// Anonymous marks a volume made for its owner alone.
	Anonymous bool
	// Fill, if set, fills a new volume's data directory before anyone
	// else can see the volume (the image's files, docker's copy-up).
	Fill func(dir string) error
}

// Use is a volume held in use by one owner until Release.
type Use struct {
	Volume
	// Created says the volume was made for this use.
	Created bool
	store   Store
	lock    *os.File
	owner   string // the container, for the unmount event
}

// NewName returns a random volume name: 64 hex digits, as docker's.
func NewName() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate volume name: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// AnonymousName is the name of container owner's anonymous volume at
// target: the same on every run of the container.
func AnonymousName(owner, target string) string {
	sum := sha256.Sum256([]byte("berth anonymous volume\x00" + owner + "\x00" + target))
	return hex.EncodeToString(sum[:])
}

func checkName(name string) error {
	if !spec.ValidName(name) {
		return errdefs.New(errdefs.ErrInvalidArgument, "invalid volume name %q: use 1 to 64 letters, digits, _ . or -, starting with a letter or digit", name)
	}
	return nil
}

func notFound(name string) error {
	return fmt.Errorf("%w: %s (see berth volume ls)", ErrNotFound, name)
}

// Create makes volume name unless it exists, as docker volume create
// does; created says which.
func (s Store) Create(name string, o Options) (v *Volume, created bool, err error) {
	u, err := s.acquire(name, "", o)
	if err != nil {
		return nil, false, err
	}
	if u.Created {
		s.event("create", name, nil)
	}
	return &u.Volume, u.Created, nil
}

// Acquire marks volume name in use by owner (a container ID) until the
// Use is released, making the volume first if it does not exist.
func (s Store) Acquire(name, owner string, o Options) (*Use, error) {
	if err := checkName(owner); err != nil {
		return nil, fmt.Errorf("volume owner: %w", err)
	}
	u, err := s.acquire(name, owner, o)
	if err != nil {
		return nil, err
	}
	if u.Created {
		s.event("create", u.Name, nil)
	}
	u.owner = owner
	s.event("mount", u.Name, map[string]string{"container": owner})
	return u, nil
}

func (s Store) acquire(name, owner string, o Options) (_ *Use, err error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	l, err := s.lock()
	if err != nil {
		return nil, err
	}
	if u, err := s.useExisting(name, owner); !errors.Is(err, ErrNotFound) {
		l.Close()
		return u, err
	}
	// A new volume is made aside, filled, and renamed into place: no one
	// sees it half-made.
	creator := owner
	if creator == "" {
		creator = fmt.Sprintf("create-%d", os.Getpid())
	}
	tmp, userLock, err := s.makeNew(name, creator, owner, o)
	l.Close()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
			userLock.Close()
		}
	}()
	if o.Fill != nil {
		if err := o.Fill(filepath.Join(tmp, dataDir)); err != nil {
			return nil, fmt.Errorf("volume %s: fill with the image's files: %w", name, err)
		}
	}
	if l, err = s.lock(); err != nil {
		return nil, err
	}
	defer l.Close()
	if u, err := s.useExisting(name, owner); !errors.Is(err, ErrNotFound) {
		// Made meanwhile by someone else: theirs wins.
		os.RemoveAll(tmp)
		userLock.Close()
		return u, err
	}
	if err := os.Rename(tmp, filepath.Join(s.Dir, name)); err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	v, err := s.Get(name)
	if err != nil {
		return nil, err
	}
	u := &Use{Volume: *v, Created: true, store: s, lock: userLock}
	if owner == "" {
		u.Release()
	}
	return u, nil
}

// makeNew creates a volume in a temporary directory, its creator's lock
// taken, under the store's lock (so a collection never takes it for a
// leftover).
func (s Store) makeNew(name, creator, owner string, o Options) (string, *os.File, error) {
	suffix, err := NewName()
	if err != nil {
		return "", nil, err
	}
	tmp := filepath.Join(s.Dir, newPrefix+suffix[:16])
	if err := os.MkdirAll(filepath.Join(tmp, usersDir), 0o700); err != nil {
		return "", nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	fail := func(err error) (string, *os.File, error) {
		os.RemoveAll(tmp)
		return "", nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return fail(err)
	}
	if err := os.Mkdir(filepath.Join(tmp, dataDir), 0o755); err != nil {
		return fail(err)
	}
	v := Volume{Name: name, CreatedAt: time.Now().UTC().Truncate(time.Second), Labels: o.Labels, Anonymous: o.Anonymous}
	if o.Anonymous {
		v.Owner = owner
	}
	meta, err := json.Marshal(v)
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, metaFile), meta, 0o600); err != nil {
		return fail(err)
	}
	lock, err := lockUser(filepath.Join(tmp, usersDir, creator))
	if err != nil {
		return fail(err)
	}
	return tmp, lock, nil
}

// useExisting takes owner's lock on an existing volume (none for an
// empty owner). The caller holds the store's lock.
func (s Store) useExisting(name, owner string) (*Use, error) {
	v, err := s.Get(name)
	if err != nil {
		return nil, err
	}
	u := &Use{Volume: *v, store: s}
	if owner == "" {
		return u, nil
	}
	if u.lock, err = lockUser(filepath.Join(s.Dir, name, usersDir, owner)); err != nil {
		return nil, fmt.Errorf("volume %s: %w", name, err)
	}
	return u, nil
}

// lockUser creates and locks a user's file; held until closed.
func lockUser(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := flock.Open(path, os.O_CREATE|unix.O_NOFOLLOW, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s already uses it", filepath.Base(path))
		}
		return nil, err
	}
	return f, nil
}

// lock takes the store's lock; Close releases it.
func (s Store) lock() (*os.File, error) {
	f, err := flock.Open(filepath.Join(s.Dir, ".lock"), os.O_CREATE|unix.O_NOFOLLOW, unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("lock volumes: %w", err)
	}
	return f, nil
}

// Release ends this use: the volume may be removed once no one else
// uses it. Release is idempotent.
func (u *Use) Release() {
	if u.lock != nil {
		os.Remove(u.lock.Name())
		u.lock.Close()
		u.lock = nil
		if u.owner != "" {
			u.store.event("unmount", u.Name, map[string]string{"container": u.owner})
		}
	}
}

// ReleaseAndRemove ends this use and removes the volume unless someone
// else uses it by now: for anonymous volumes when their container exits,
// and for volumes a failed run made.
func (u *Use) ReleaseAndRemove() error {
	u.Release()
	err := u.store.Remove(u.Name, true)
	if errors.Is(err, ErrInUse) {
		return nil
	}
	return err
}

// Get returns volume name's record.
func (s Store) Get(name string) (*Volume, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.Dir, name, metaFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, notFound(name)
	}
	if err != nil {
		return nil, fmt.Errorf("volume %s: %w", name, err)
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("volume %s: %s: %w", name, metaFile, err)
	}
	v.Name = name
	v.Mountpoint = filepath.Join(s.Dir, name, dataDir)
	return &v, nil
}

// List returns every volume, sorted by name.
func (s Store) List() ([]*Volume, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	var out []*Volume
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			continue
		}
		if v, err := s.Get(e.Name()); err == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// Users returns the owners that use volume name now.
func (s Store) Users(name string) ([]string, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return liveUsers(filepath.Join(s.Dir, name, usersDir), false), nil
}

// liveUsers lists the owners in a users directory whose lock is held;
// with clean, it deletes the files of those gone.
func liveUsers(dir string, clean bool) []string {
	entries, _ := os.ReadDir(dir)
	var live []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(p, os.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		if err := flock.Lock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			live = append(live, e.Name())
		} else if clean {
			os.Remove(p)
		}
		f.Close()
	}
	slices.Sort(live)
	return live
}

// Remove deletes volume name and its data, unless a container uses it
// (ErrInUse). With force, a missing volume is not an error.
func (s Store) Remove(name string, force bool) error {
	if err := checkName(name); err != nil {
		return err
	}
	l, err := s.lock()
	if errors.Is(err, os.ErrNotExist) {
		if force {
			return nil
		}
		return notFound(name)
	}
	if err != nil {
		return err
	}
	dir := filepath.Join(s.Dir, name)
	if _, err := os.Lstat(filepath.Join(dir, metaFile)); errors.Is(err, os.ErrNotExist) {
		l.Close()
		if force {
			return nil
		}
		return notFound(name)
	}
	if users := liveUsers(filepath.Join(dir, usersDir), true); len(users) > 0 {
		l.Close()
		return &InUseError{Name: name, Users: users}
	}
	gone, err := s.hide(dir)
	l.Close()
	if err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	s.event("destroy", name, nil)
	return removeAll(gone)
}

func shortIDs(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id[:min(len(id), 12)]
	}
	return strings.Join(out, ", ")
}

// hide renames a volume's directory out of sight, under the store's lock,
// so that deleting its files can take its time without the lock.
func (s Store) hide(dir string) (string, error) {
	suffix, err := NewName()
	if err != nil {
		return "", err
	}
	gone := filepath.Join(s.Dir, rmPrefix+suffix[:16])
	return gone, os.Rename(dir, gone)
}

func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w (a later prune retries)", dir, err)
	}
	return nil
}

// Prune removes every volume without a live user that keep (nil: none)
// does not claim, and what dead berths left, returning the names removed.
func (s Store) Prune(keep func(name string) bool) ([]string, error) {
	return s.sweep(func(v *Volume) bool { return keep == nil || !keep(v.Name) })
}

// PruneAnonymous removes the anonymous volumes without a live user that
// keep (nil: none) does not claim, returning their names: docker volume
// prune without --all, and system prune --volumes, since Docker 23.
func (s Store) PruneAnonymous(keep func(name string) bool) ([]string, error) {
	return s.sweep(func(v *Volume) bool { return v.Anonymous && (keep == nil || !keep(v.Name)) })
}

// Collect removes anonymous volumes without a live user that keep (nil:
// none) does not claim (their container is gone), volumes left half-made
// and deletions left unfinished. keep is given the whole record, so that
// it can look at the volume's Owner first.
func (s Store) Collect(keep func(v *Volume) bool) error {
	_, err := s.sweep(func(v *Volume) bool { return v.Anonymous && (keep == nil || !keep(v)) })
	return err
}

func (s Store) sweep(remove func(*Volume) bool) ([]string, error) {
	l, err := s.lock()
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("volumes: %w", err)
	}
	var removed, trash []string
	for _, e := range entries {
		name, dir := e.Name(), filepath.Join(s.Dir, e.Name())
		switch {
		case !e.IsDir():
		case strings.HasPrefix(name, rmPrefix):
			trash = append(trash, dir)
		case strings.HasPrefix(name, newPrefix):
			if len(liveUsers(filepath.Join(dir, usersDir), false)) == 0 {
				trash = append(trash, dir)
			}
		case !strings.HasPrefix(name, "."):
			v, err := s.Get(name)
			if err != nil || !remove(v) || len(liveUsers(filepath.Join(dir, usersDir), true)) > 0 {
				continue
			}
			if gone, err := s.hide(dir); err == nil {
				removed = append(removed, name)
				trash = append(trash, gone)
			}
		}
	}
	l.Close()
	for _, name := range removed {
		s.event("destroy", name, nil)
	}
	var errs []error
	for _, dir := range trash {
		if err := removeAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// event reports a change of volume name in the journal of the berth root
// the store is in, with Docker's volume attributes.
func (s Store) event(action, name string, attrs map[string]string) {
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["driver"] = "local"
	events.At(filepath.Dir(s.Dir)).Emit(events.Volume, action, name, attrs)
}
