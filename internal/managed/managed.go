// Package managed keeps berth's own containers: the named, listed objects
// of `berth ps`, which outlive a run (as Docker's containers do) until
// `berth rm`. Each lives in <dir>/<id>/ beside its snapshot and log:
//
//	container.json   the record: its configuration (Config), its state and
//	                 last exit
//	spec.json        the OCI config of its last run, for inspect (apart:
//	                 ps reads every record, and a config holds the whole
//	                 seccomp profile)
//	lock             held for as long as the container runs, by the berth
//	                 process running it (foreground berth run, or the
//	                 container's monitor); free means nothing runs it
//	oplock           taken by commands (stop, rm, start), one at a time
//	container.log    its output (internal/logs), for -d containers
//
// Names are symlinks in <dir>/.names/, so claiming one is atomic, and
// the containers collection looks at are hinted in <dir>/.collect/ (see
// Collect), so that neither costs more with each container kept. The
// runtime's own record of a running container (internal/state, under
// --runroot) is separate and short-lived: one per run.
package managed

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/atomicdir"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/flock"
	"github.com/berth-runtime/berth/internal/network/usermode"
	"github.com/berth-runtime/berth/internal/pidfd"
	"golang.org/x/sys/unix"
)

// Status is what `berth ps` shows.
type Status string

const (
	Created Status = "created"
	Running Status = "running"
	Exited  Status = "exited"
	// Dead: the record says running, but no process holds its lock: the
	// berth running it was killed, and the container died with it.
	Dead Status = "dead"
	// Paused is shown, never stored: a running container whose cgroup is
	// frozen (berth pause), which the runtime's record tells.
	Paused Status = "paused"
)

// Record is one container.
type Record struct {
	ID      string    `json:"Id"`
	Name    string    `json:"Name"`
	Created time.Time `json:"Created"`
	// Image is the reference given, ImageID what it resolved to; both
	// empty for a container run from --rootfs.
	Image   string `json:"Image,omitempty"`
	ImageID string `json:"ImageID,omitempty"`
	// Config is the container as resolved when it was created, which
	// every run starts from. The OCI config its last run was given is
	// beside the record (Store.Spec).
	Config *Config `json:"Config,omitempty"`
	// Args is only in records of a berth before Config: the command line
	// that berth start replayed. Such a container cannot start again.
	Args       []string `json:"Args,omitempty"`
	AutoRemove bool     `json:"AutoRemove,omitempty"`
	// BuildLock, for a build's step, is the lock its builder holds for
	// its life: the step goes when the lock is free, as a --rm container
	// goes when its run ends (a step's layer is read after its run).
	BuildLock string   `json:"BuildLock,omitempty"`
	Detached  bool     `json:"Detached,omitempty"`
	Restart   Policy   `json:"RestartPolicy"`
	State     State    `json:"State"`
	Network   *Network `json:"NetworkSettings,omitempty"`
	// UserNS is the container's user namespace; nil: none (host).
	UserNS *UserNS `json:"UserNS,omitempty"`
}

// UserNS is how a container's IDs map to the host's.
type UserNS struct {
	Mode   string      `json:"Mode"` // auto, keep-id, nomap, explicit
	UIDMap []IDMapping `json:"UIDMap"`
	GIDMap []IDMapping `json:"GIDMap"`
	// Rootfs says how the image's files get their owners inside:
	// "idmapped" (an idmapped mount, no copy), "chown-cache" (an overlay
	// on a copy of the image chowned into the range once, shared by the
	// image's containers with the same mappings), "chown" (the
	// container's own copy, chowned: the vfs driver), or "none"
	// (--rootfs: as they are on the host).
	Rootfs string `json:"Rootfs"`
	// ChownCache is the shared chowned copy the overlay sits on, and
	// ChownCacheKey its key (package chowncache); with "chown-cache".
	ChownCache    string `json:"ChownCache,omitempty"`
	ChownCacheKey string `json:"ChownCacheKey,omitempty"`
}

// IDMapping maps Size IDs from ContainerID inside to HostID outside.
type IDMapping struct {
	ContainerID uint32 `json:"ContainerID"`
	HostID      uint32 `json:"HostID"`
	Size        uint32 `json:"Size"`
}

// State is the container's current or last run.
type State struct {
	Status     Status `json:"Status"`
	Pid        int    `json:"Pid,omitempty"`        // the container's PID 1, while running
	MonitorPid int    `json:"MonitorPid,omitempty"` // the berth process running it
	// MonitorStart is the monitor's start time (clock ticks since boot),
	// without which its PID is never signalled: it may be another
	// process's by then.
	MonitorStart uint64    `json:"MonitorStart,omitempty"`
	StartedAt    time.Time `json:"StartedAt,omitempty"`
	FinishedAt   time.Time `json:"FinishedAt,omitempty"`
	ExitCode     int       `json:"ExitCode"`
	OOMKilled    bool      `json:"OOMKilled,omitempty"`
	Error        string    `json:"Error,omitempty"`
	RestartCount int       `json:"RestartCount,omitempty"`
	// StopRequested: berth stop ended it, so no restart policy applies.
	StopRequested bool `json:"StopRequested,omitempty"`
}

// Up reports whether the container runs, paused or not.
func (st State) Up() bool { return st.Status == Running || st.Status == Paused }

// ErrNoMonitor means the record names no monitor that can be signalled:
// none runs it, or its PID was recorded without the start time that tells
// it from a later process with the same PID, or names such a process now.
var ErrNoMonitor = errors.New("no monitor to signal")

// SignalMonitor sends sig to the monitor running the container, through a
// pidfd checked against the monitor's recorded start time.
func (st State) SignalMonitor(sig unix.Signal) error {
	if st.MonitorPid <= 0 || st.MonitorStart == 0 {
		return ErrNoMonitor
	}
	p, err := pidfd.Open(st.MonitorPid, st.MonitorStart)
	if errors.Is(err, pidfd.ErrGone) {
		return ErrNoMonitor
	}
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Signal(sig); errors.Is(err, pidfd.ErrGone) {
		return ErrNoMonitor
	} else if err != nil {
		return err
	}
	return nil
}

// Network is where the container is reachable.
type Network struct {
	Mode      string   `json:"Mode"`
	IPAddress string   `json:"IPAddress,omitempty"`
	Gateway   string   `json:"Gateway,omitempty"`
	Ports     []string `json:"Ports,omitempty"`
	// UserMode is the running user-mode stack of a rootless bridge,
	// ended by the next berth command if the one running it was killed.
	UserMode *usermode.Record `json:"UserMode,omitempty"`
	// Networks are the bridge networks the container is on, by name, as
	// Docker's NetworkSettings.Networks: its first and those berth
	// network connect added.
	Networks map[string]*Endpoint `json:"Networks,omitempty"`
}

// Endpoint is the container's place on one network.
type Endpoint struct {
	IPAddress   string   `json:"IPAddress"`
	IPPrefixLen int      `json:"IPPrefixLen"`
	Gateway     string   `json:"Gateway"`
	MacAddress  string   `json:"MacAddress"`
	Aliases     []string `json:"Aliases,omitempty"`
}

// Store is a directory of containers.
type Store struct{ Dir string }

// ErrNotExist means no container has that name or ID; it is of class
// errdefs.ErrNotFound.
var ErrNotExist = errdefs.Wrap(errdefs.ErrNotFound, errors.New("no such container"))

// Owner holds a container's lifetime lock: the container is running for
// as long as it is held. It is passed to a monitor by inheritance.
type Owner struct {
	Dir  string
	Lock *os.File
}

// Release gives up the lock (the kernel also does when the holder dies).
func (o *Owner) Release() {
	if o != nil && o.Lock != nil {
		o.Lock.Close()
		o.Lock = nil
	}
}

// Create makes a new container's directory and record, claims its name
// and takes its lifetime lock. On error nothing is left.
func (s Store) Create(rec Record) (*Owner, error) {
	if err := os.MkdirAll(filepath.Join(s.Dir, ".names"), 0o700); err != nil {
		return nil, fmt.Errorf("container store: %w", err)
	}
	// Hinted to collection before anything is made, naming this process:
	// what a kill leaves of the creation, or of the run that follows, is
	// found without reading the other containers (see Collect).
	if err := s.hint(rec.ID); err != nil {
		return nil, err
	}
	// Made complete under a temporary name, named after its creator, and
	// renamed into place: a creator killed half-way leaves a directory
	// that the next collection recognizes, removes at once and whose name
	// it frees (so the name is claimed only once that directory exists).
	tmp := atomicdir.Creating(s.Dir, rec.ID)
	o, err := s.create(tmp, rec)
	if err == nil {
		if err = s.claimName(rec); err == nil {
			o.Dir = filepath.Join(s.Dir, rec.ID)
			if err = os.Rename(tmp, o.Dir); err != nil {
				s.releaseName(rec)
				err = fmt.Errorf("container %s: %w", rec.ID, err)
			}
		}
		if err != nil {
			o.Release()
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		os.Remove(s.hintPath(rec.ID))
		return nil, err
	}
	s.Event(rec, "create")
	return o, nil
}

func (s Store) claimName(rec Record) error {
	if rec.Name == "" {
		return nil
	}
	if err := os.Symlink(rec.ID, s.namePath(rec.Name)); err != nil {
		if errors.Is(err, os.ErrExist) {
			return errdefs.New(errdefs.ErrAlreadyExists, "the container name %q is already in use: choose another --name, or remove that container (berth rm %s)", rec.Name, rec.Name)
		}
		return fmt.Errorf("claim name %q: %w", rec.Name, err)
	}
	return nil
}

func (s Store) create(dir string, rec Record) (*Owner, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("container %s: %w", rec.ID, err)
	}
	lock, err := lockFile(filepath.Join(dir, "lock"), true)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", rec.ID, err)
	}
	if err := writeRecord(dir, rec); err != nil {
		lock.Close()
		return nil, err
	}
	return &Owner{Dir: dir, Lock: lock}, nil
}

// Own takes the lifetime lock of an existing container that is not
// running, to run it again.
func (s Store) Own(id string) (*Owner, error) {
	dir := filepath.Join(s.Dir, id)
	lock, err := lockFile(filepath.Join(dir, "lock"), false)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, errdefs.New(errdefs.ErrRunning, "container %s is already running", shortID(id))
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", shortID(id), err)
	}
	return &Owner{Dir: dir, Lock: lock}, nil
}

// Reown takes the lifetime lock of container id once its holder has
// exited, waiting for the kernel to drop it, or a collection that has
// it for a moment. Only for the process that saw the holder end and
// serializes with starts by the operation lock (berth stop recording
// the exit berth-monitor handed it).
func (s Store) Reown(id string) (*Owner, error) {
	dir := filepath.Join(s.Dir, id)
	lock, err := flock.Open(filepath.Join(dir, "lock"), 0, unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", shortID(id), err)
	}
	return &Owner{Dir: dir, Lock: lock}, nil
}

// Save writes the record.
func (s Store) Save(rec Record) error { return writeRecord(filepath.Join(s.Dir, rec.ID), rec) }

// Update reads the record, changes it and writes it back, under the
// record's own update lock so that the monitor and a command do not lose
// each other's changes.
func (s Store) Update(id string, change func(*Record)) (Record, error) {
	dir := filepath.Join(s.Dir, id)
	l, err := os.OpenFile(filepath.Join(dir, "update.lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return Record{}, fmt.Errorf("container %s: %w", shortID(id), err)
	}
	defer l.Close()
	if err := flock.Lock(l, unix.LOCK_EX); err != nil {
		return Record{}, err
	}
	rec, err := readRecord(dir)
	if err != nil {
		return Record{}, err
	}
	change(&rec)
	return rec, writeRecord(dir, rec)
}

// Get finds a container by name, full ID or unique ID prefix, with its
// status corrected by its lock.
func (s Store) Get(ref string) (Record, error) {
	if ref != "" && !strings.ContainsAny(ref, "/") && ref != "." && ref != ".." {
		if id, err := os.Readlink(s.namePath(ref)); err == nil {
			if rec, err := s.load(id); err == nil {
				return rec, nil
			}
		}
		if rec, err := s.load(ref); err == nil {
			return rec, nil
		}
	}
	var found []Record
	for _, rec := range s.List() {
		if len(ref) >= 1 && strings.HasPrefix(rec.ID, ref) {
			found = append(found, rec)
		}
	}
	switch len(found) {
	case 0:
		return Record{}, fmt.Errorf("%w: %s", ErrNotExist, ref)
	case 1:
		return found[0], nil
	}
	return Record{}, errdefs.New(errdefs.ErrInvalidArgument, "container ID prefix %q fits %d containers: give more of the ID", ref, len(found))
}

// List returns every container, newest first.
func (s Store) List() []Record {
	entries, _ := os.ReadDir(s.Dir)
	var out []Record
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if rec, err := s.load(e.Name()); err == nil {
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

func (s Store) load(id string) (Record, error) {
	dir := filepath.Join(s.Dir, id)
	rec, err := readRecord(dir)
	if err != nil {
		return Record{}, err
	}
	if rec.State.Status == Running && !Held(dir) {
		rec.State.Status = Dead
		rec.State.Pid, rec.State.MonitorPid, rec.State.MonitorStart = 0, 0, 0
		if rec.State.Error == "" {
			rec.State.Error = "the berth process running it was killed; the container died with it"
		}
	}
	return rec, nil
}

// Held reports whether a process holds the container's lifetime lock.
func Held(dir string) bool { return flock.Held(filepath.Join(dir, "lock")) }

// WaitReleased blocks until nothing holds the container's lifetime lock
// or the timeout passes (zero: no limit); it reports whether it was
// released.
func (s Store) WaitReleased(id string, timeout time.Duration) bool {
	return s.Released(id).Wait(timeout)
}

// A Release is one wait for a container's lifetime lock to be released,
// which can be waited on several times (a stop's timeout, then its
// SIGKILL). Its one shared lock is taken and dropped once: a second
// WaitReleased after a timed-out one would leave the first waiter behind,
// to take its shared lock at the moment the container ends, and a start
// right then would find the lock held ("already running").
type Release struct{ done chan struct{} }

// Released starts waiting for the container's lifetime lock.
func (s Store) Released(id string) Release {
	done := make(chan struct{})
	f, err := os.OpenFile(filepath.Join(s.Dir, id, "lock"), os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		close(done)
		return Release{done}
	}
	go func() {
		// The shared lock is dropped at once: holding it would keep the
		// container from being run again.
		_ = flock.Lock(f, unix.LOCK_SH)
		f.Close()
		close(done)
	}()
	return Release{done}
}

// Wait waits until the lock is released, or the timeout passes (zero: no
// limit); it reports whether it was released.
func (r Release) Wait(timeout time.Duration) bool {
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-r.done:
		return true
	case <-expired:
		return false
	}
}

// OpLock serializes commands on one container.
func (s Store) OpLock(id string) (func(), error) {
	f, err := s.opLock(id, unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", shortID(id), err)
	}
	return func() { f.Close() }, nil
}

// opLock takes container id's operation lock (how: flock's flags).
func (s Store) opLock(id string, how int) (*os.File, error) {
	return flock.Open(filepath.Join(s.Dir, id, "oplock"), os.O_CREATE, how)
}

// Remove deletes a container that is not running: its directory (record,
// snapshot, log) and its name.
func (s Store) Remove(rec Record) error {
	dir := filepath.Join(s.Dir, rec.ID)
	// Its lifetime lock is held throughout: nothing starts it meanwhile,
	// and a collection, which drops hints holding that lock, does not
	// drop the one made here.
	lock, err := lockFile(filepath.Join(dir, "lock"), false)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return errdefs.New(errdefs.ErrRunning, "container %s is running: stop it first, or use rm -f", nameOf(rec))
	}
	if lock != nil {
		defer lock.Close()
	}
	return s.remove(rec)
}

// RemoveOwned is Remove by the holder of the container's lifetime lock
// (lock): the monitor of a --rm container whose run ended. The lock is
// held until the directory is gone, then closed: dropped before, it would
// let a berth rm -f waiting for it return while the container's directory
// is still there, half removed by the monitor.
func (s Store) RemoveOwned(rec Record, lock *os.File) error {
	defer lock.Close()
	return s.remove(rec)
}

// remove removes container rec, whose lifetime lock the caller holds.
func (s Store) remove(rec Record) error {
	dir := filepath.Join(s.Dir, rec.ID)
	// Renamed out of the way first, in one step: a removal killed
	// half-way leaves a .rm- directory that the next collection deletes
	// (hinted first, so that it is looked for), never a container that
	// lost its lock or its marks but not its record.
	if err := s.hint(rec.ID); err != nil {
		return err
	}
	// The name first: killed in between, the container is left without
	// its name rather than the name claimed for good by nothing.
	s.releaseName(rec)
	if err := atomicdir.Remove(dir); err != nil {
		return fmt.Errorf("remove container %s: %w", shortID(rec.ID), err)
	}
	os.Remove(s.hintPath(rec.ID))
	s.Event(rec, "destroy")
	return nil
}

// Rename gives a container a new name.
func (s Store) Rename(rec Record, name string) error {
	if err := os.Symlink(rec.ID, s.namePath(name)); err != nil {
		if errors.Is(err, os.ErrExist) {
			return errdefs.New(errdefs.ErrAlreadyExists, "the container name %q is already in use", name)
		}
		return fmt.Errorf("claim name %q: %w", name, err)
	}
	if _, err := s.Update(rec.ID, func(r *Record) { r.Name = name }); err != nil {
		os.Remove(s.namePath(name))
		return err
	}
	s.releaseName(rec)
	old := rec.Name
	rec.Name = name
	s.Event(rec, "rename", "oldName", "/"+old)
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// Uses reports whether any container, running or not, is made from
// image id (Docker refuses to remove such an image).
func (s Store) Uses(imageID string) bool {
	for _, rec := range s.List() {
		if rec.ImageID == imageID {
			return true
		}
	}
	return false
}

func (s Store) namePath(name string) string { return filepath.Join(s.Dir, ".names", name) }

func (s Store) releaseName(rec Record) {
	if rec.Name == "" {
		return
	}
	if target, err := os.Readlink(s.namePath(rec.Name)); err == nil && target == rec.ID {
		os.Remove(s.namePath(rec.Name))
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func writeRecord(dir string, rec Record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".container.json")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write container record: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "container.json")); err != nil {
		return fmt.Errorf("write container record: %w", err)
	}
	return nil
}

func readRecord(dir string) (Record, error) {
	var rec Record
	b, err := os.ReadFile(filepath.Join(dir, "container.json"))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("container record %s: %w", dir, err)
	}
	return rec, nil
}

// lockFile takes a lock without waiting, or, when create makes the file
// (which must not exist yet), waiting: a collector may hold a new lock
// for a moment, finding no record yet.
func lockFile(path string, create bool) (*os.File, error) {
	if create {
		return flock.Open(path, os.O_CREATE|os.O_EXCL, unix.LOCK_EX)
	}
	return flock.Open(path, 0, unix.LOCK_EX|unix.LOCK_NB)
}

// ShortID is the 12 hex digits docker ps shows.
func ShortID(id string) string { return shortID(id) }
