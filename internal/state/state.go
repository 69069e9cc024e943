// Package state records, on disk, what each container owns, so that every
// resource has an owner even after berth is killed. A container's record
// lives in <root>/<id>/state.json next to a lock file that its owning
// process holds (flock) for as long as it lives: a record whose lock can be
// taken has no live owner, and Collect hands it to the caller's cleanup.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/atomicdir"
	"github.com/berth-runtime/berth/internal/flock"
	"github.com/berth-runtime/berth/internal/pidfd"
	"golang.org/x/sys/unix"
)

// DefaultRoot is where container state lives: a tmpfs, so a reboot, which
// ends every container, also clears their records.
const DefaultRoot = "/run/berth"

// Status is a container's lifecycle state, as the OCI runtime spec names it.
type Status string

const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// Record is what berth knows about one container.
type Record struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Status Status `json:"status"`
	// Pid is the container's init process; PidStart its start time, so a
	// recycled PID is never taken for it.
	Pid           int               `json:"pid,omitempty"`
	PidStart      uint64            `json:"pidStart,omitempty"`
	Bundle        string            `json:"bundle,omitempty"`
	Rootfs        string            `json:"rootfs"`
	Annotations   map[string]string `json:"annotations,omitempty"`
	Created       time.Time         `json:"created"`
	CgroupVersion int               `json:"cgroupVersion"`
	CgroupPath    string            `json:"cgroupPath"`
	CgroupDirs    []string          `json:"cgroupDirs"`
	// CgroupForeign are the directories of CgroupDirs that existed before
	// the container: berth never freezes them, kills their processes or
	// removes them.
	CgroupForeign []string `json:"cgroupForeign,omitempty"`
	// SystemdUnit is the transient unit systemd made for the cgroup
	// (berth-oci --systemd-cgroup where systemd is PID 1); it is stopped
	// when the container is removed.
	SystemdUnit string `json:"systemdUnit,omitempty"`
	// Ephemeral records (berth run) belong to the process holding their
	// lock and are collected when it is gone. Other records (berth-oci)
	// live until an explicit delete; only a creation that never finished
	// is collected.
	Ephemeral bool `json:"ephemeral,omitempty"`
	// SharedMounts: the container has no mount namespace, so its mounts
	// are in the host's, under Rootfs, and removal must unmount them.
	SharedMounts bool `json:"sharedMounts,omitempty"`
}

// Store is a directory of container records.
type Store struct{ Root string }

// Handle is a record held by its owner. The lock is released when the
// owner exits, however it exits.
type Handle struct {
	dir  string
	lock *os.File
}

// ErrExists means a container with that ID or name already exists.
var ErrExists = errors.New("already exists")

// Create writes a new record and takes ownership of it. The record is made
// under a temporary name and renamed into place once locked, so a
// concurrent Collect never sees an unowned record of a live container.
func (s Store) Create(rec Record) (*Handle, error) {
	if !validID(rec.ID) {
		return nil, fmt.Errorf("invalid container ID %q: use letters, digits, _ + - and . (not first)", rec.ID)
	}
	if err := os.MkdirAll(s.Root, 0o700); err != nil {
		return nil, fmt.Errorf("create state root: %w", err)
	}
	// Named after its creator, so that a collection can tell at once a
	// creation in progress from one whose creator was killed.
	tmp, err := os.MkdirTemp(s.Root, filepath.Base(atomicdir.Creating(s.Root, "")))
	if err != nil {
		return nil, fmt.Errorf("create state: %w", err)
	}
	lock, err := lockFile(filepath.Join(tmp, "lock"), true)
	if err == nil {
		err = writeRecord(tmp, rec)
	}
	if err == nil {
		err = s.claimName(rec)
	}
	dir := filepath.Join(s.Root, rec.ID)
	if err == nil {
		if err = os.Rename(tmp, dir); err != nil {
			s.releaseName(rec)
			err = fmt.Errorf("container %s: %w", rec.ID, ErrExists)
		}
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(tmp)
		return nil, err
	}
	return &Handle{dir: dir, lock: lock}, nil
}

// Save replaces the record. A record that is now kept until an explicit
// delete (berth-oci's, once created) also gets a marker, so that every
// later garbage collection passes it with one stat instead of a lock and a
// read: engines create containers by the hundred.
func (h *Handle) Save(rec Record) error {
	if err := writeRecord(h.dir, rec); err != nil {
		return err
	}
	if rec.Ephemeral || rec.Status == Creating {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(h.dir, keptMarker), os.O_CREATE|os.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("mark state kept: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("mark state kept: %w", err)
	}
	// Only after the marker: the index may miss a kept record, never
	// list one that is not (see keptIndex). Without it collection only
	// looks closer.
	addKept(filepath.Dir(h.dir), filepath.Base(h.dir))
	return nil
}

// keptMarker marks a record that garbage collection never removes.
const keptMarker = "kept"

// Remove deletes the record and releases it. The directory is first
// renamed out of the way, in one step: a removal killed half-way leaves
// a removing directory that the next collection deletes, never a record
// directory that lost its lock or its state (os.RemoveAll deletes the
// files in directory order, the lock often first), which no collection
// could tell from a live one.
func (h *Handle) Remove(s Store, rec Record) error {
	s.releaseName(rec)
	// Out of the index before the record goes: a record made later under
	// the same ID must not pass for kept.
	dropKept(s.Root, filepath.Base(h.dir))
	err := atomicdir.Remove(h.dir)
	h.lock.Close()
	return err
}

// Release gives up ownership and keeps the record, for the garbage
// collection to finish.
func (h *Handle) Release() { h.lock.Close() }

// abandoned reports whether a temporary entry is older than any creation
// still in progress could be.
func abandoned(e os.DirEntry) bool {
	info, err := e.Info()
	return err == nil && time.Since(info.ModTime()) > time.Minute
}

// collectNames releases names whose container record never came to be.
func (s Store) collectNames() {
	dir := filepath.Join(s.Root, "names")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		link := filepath.Join(dir, e.Name())
		id, err := os.Readlink(link)
		if err != nil || !abandoned(e) {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.Root, id)); errors.Is(err, os.ErrNotExist) {
			os.Remove(link)
		}
	}
}

func (s Store) collectOne(dir string, cleanup func(Record) error) {
	if _, err := os.Lstat(filepath.Join(dir, keptMarker)); err == nil {
		return
	}
	lock, err := lockFile(filepath.Join(dir, "lock"), false)
	if errors.Is(err, os.ErrNotExist) {
		// No lock: not a record anybody can own. A removal by an older
		// berth that was killed half-way leaves such a directory.
		dropKept(s.Root, filepath.Base(dir))
		atomicdir.Remove(dir)
		return
	}
	if err != nil {
		return // owned by a live process
	}
	defer lock.Close()
	rec, err := readRecord(dir)
	if err == nil {
		if !rec.Ephemeral && rec.Status != Creating {
			return // kept until deleted
		}
		if cleanup(rec) != nil {
			return
		}
		s.releaseName(rec)
	}
	atomicdir.Remove(dir)
}

// ErrNotExist means there is no container with that ID.
var ErrNotExist = errors.New("does not exist")

// Open takes the lock of an existing record, waiting for any other command
// on the same container to finish, and returns it.
func (s Store) Open(id string) (*Handle, Record, error) {
	if !validID(id) {
		return nil, Record{}, fmt.Errorf("container %q: %w", id, ErrNotExist)
	}
	dir := filepath.Join(s.Root, id)
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, Record{}, fmt.Errorf("container %q: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, Record{}, err
	}
	if err := flock.Lock(f, unix.LOCK_EX); err != nil {
		f.Close()
		return nil, Record{}, fmt.Errorf("lock container %s: %w", id, err)
	}
	rec, err := readRecord(dir)
	if err != nil {
		f.Close()
		if errors.Is(err, os.ErrNotExist) {
			return nil, Record{}, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
		return nil, Record{}, fmt.Errorf("read state of %s: %w", id, err)
	}
	return &Handle{dir: dir, lock: f}, rec, nil
}

// List returns every record, without locking them.
func (s Store) List() []Record {
	entries, _ := os.ReadDir(s.Root)
	var out []Record
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "names" || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if rec, err := readRecord(filepath.Join(s.Root, e.Name())); err == nil {
			out = append(out, rec)
		}
	}
	return out
}

// Find returns the record of the container named ref, or whose ID is ref
// or starts with it, as Docker accepts; a prefix that fits more than one
// container is an error.
func (s Store) Find(ref string) (Record, error) {
	if ref == "" || strings.ContainsAny(ref, "/\x00") {
		return Record{}, fmt.Errorf("container %q: %w", ref, ErrNotExist)
	}
	if id, err := os.Readlink(filepath.Join(s.Root, "names", ref)); err == nil {
		return s.Load(id)
	}
	var found []Record
	for _, rec := range s.List() {
		if strings.HasPrefix(rec.ID, ref) {
			found = append(found, rec)
		}
	}
	switch len(found) {
	case 0:
		return Record{}, fmt.Errorf("container %q: %w", ref, ErrNotExist)
	case 1:
		return found[0], nil
	}
	return Record{}, fmt.Errorf("container ID prefix %q fits %d containers: give more of the ID", ref, len(found))
}

// Dir is the record's directory, for files that live beside it.
func (h *Handle) Dir() string { return h.dir }

// validID accepts the IDs runc does: no path separators, no dot names.
func validID(id string) bool {
	if id == "" || id == "." || id == ".." || strings.HasPrefix(id, ".") || len(id) > 1024 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_+-.", c)) {
			return false
		}
	}
	return true
}

// ProcessStartTime returns the start time of a process (in clock ticks
// since boot), which tells a live process from a later one that reused its
// PID.
func ProcessStartTime(pid int) (uint64, error) {
	start, _, err := pidfd.Stat(pid)
	return start, err
}

// Alive reports whether the process pid that started at start still runs
// (a zombie counts as gone).
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, state, err := pidfd.Stat(pid)
	if err != nil || state == "Z" || state == "X" {
		return false
	}
	return start == 0 || st == start
}

// Adopt takes over a record whose lock this process already holds on
// lock, inherited across exec (berth's monitor handing a container from
// berth-monitor back to berth): lock must be the record's lock file.
func (s Store) Adopt(id string, lock *os.File) (*Handle, Record, error) {
	if !validID(id) {
		return nil, Record{}, fmt.Errorf("container %q: %w", id, ErrNotExist)
	}
	dir := filepath.Join(s.Root, id)
	if !flock.Is(lock, filepath.Join(dir, "lock")) {
		return nil, Record{}, fmt.Errorf("adopt container %s: the descriptor given is not its lock", id)
	}
	rec, err := readRecord(dir)
	if err != nil {
		return nil, Record{}, fmt.Errorf("read state of %s: %w", id, err)
	}
	return &Handle{dir: dir, lock: lock}, rec, nil
}

// LockFile is the open file of the handle's lock, for a process that
// hands the record on across exec (see Adopt).
func (h *Handle) LockFile() *os.File { return h.lock }

// Load reads the record of container id.
func (s Store) Load(id string) (Record, error) { return readRecord(filepath.Join(s.Root, id)) }

func (s Store) claimName(rec Record) error {
	if rec.Name == "" {
		return nil
	}
	names := filepath.Join(s.Root, "names")
	if err := os.MkdirAll(names, 0o700); err != nil {
		return err
	}
	if err := os.Symlink(rec.ID, filepath.Join(names, rec.Name)); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("the container name %q is already in use: choose another --name, or remove that container", rec.Name)
		}
		return fmt.Errorf("claim name %q: %w", rec.Name, err)
	}
	return nil
}

func (s Store) releaseName(rec Record) {
	if rec.Name == "" {
		return
	}
	link := filepath.Join(s.Root, "names", rec.Name)
	if target, err := os.Readlink(link); err == nil && target == rec.ID {
		os.Remove(link)
	}
}

// lockFile takes a record's lock without waiting; create makes the file,
// which must not exist yet.
func lockFile(path string, create bool) (*os.File, error) {
	flags := 0
	if create {
		flags = os.O_CREATE | os.O_EXCL
	}
	return flock.Open(path, flags, unix.LOCK_EX|unix.LOCK_NB)
}

func writeRecord(dir string, rec Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".state.json")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, "state.json"))
}

func readRecord(dir string) (Record, error) {
	var rec Record
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return rec, err
	}
	return rec, json.Unmarshal(b, &rec)
}
