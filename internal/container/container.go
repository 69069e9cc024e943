// Package container runs a container's lifecycle on the host side: it
// records what the container owns, creates its cgroup, starts the init
// stage in new namespaces, hands it its configuration, runs the runtime's
// hooks, relays signals and the terminal, and removes everything again.
// berth and berth-oci both come through here with a validated OCI config;
// this package never parses command lines.
package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/cgroups/systemd"
	"github.com/berth-runtime/berth/internal/hooks"
	"github.com/berth-runtime/berth/internal/pidfd"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/specjson"
	"github.com/berth-runtime/berth/internal/state"
	"github.com/berth-runtime/berth/internal/terminal"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Options describe a container to create.
type Options struct {
	StateRoot string
	ID        string
	Name      string
	Bundle    string
	Spec      *specs.Spec
	Stdin     *os.File // nil: the container's stdin is its own /dev/null
	Stdout    *os.File
	Stderr    *os.File
	// RelayStdio gives the container pipes instead of Stdin, Stdout and
	// Stderr, and copies between them (berth): whatever the caller's
	// files are (a terminal), the container never holds them. Without it
	// the files are passed through, as runc does for engines, which pass
	// pipes or a console socket of their own.
	RelayStdio bool
	// ConsoleSocket is the unix socket that receives the pty master when
	// the process has a terminal (berth-oci); without it, berth relays
	// the terminal itself.
	ConsoleSocket string
	PidFile       string
	PreserveFDs   int
	NoPivot       bool
	NoNewKeyring  bool
	// Foreground containers die with the process that created them, and
	// their record is removed when it exits (berth run).
	Foreground bool
	// Keep leaves a foreground container's record, cgroup and config in
	// place when it exits, stopped, for an explicit delete (berth-oci run
	// --keep); its poststop hooks run then.
	Keep bool
	// Prepare runs in this process once the init stage's namespaces
	// exist, and returns before the container's program runs (berth's
	// networking). It runs alongside the init stage's setup when the
	// namespaces are born with the init stage, else while it waits at
	// its hook pause; it must not need the container's mounts. pid is
	// the init stage's host PID.
	Prepare func(pid int) error
	// NetNS, when set, gives the container's network namespace, new,
	// its loopback up, made by the caller before the fork (berth run
	// plugs its bridge in meanwhile): the init stage enters it instead of
	// clone making one.
	// It is called in the fork; the descriptor stays the caller's. Only
	// for a spec with a new network namespace and no user namespace.
	NetNS func() (*os.File, error)
	// ConfigReady, when set, is waited for just before the init stage
	// gets its config, whose mounts need what it makes in the background
	// (berth run's network files); its error fails the start.
	ConfigReady func() error
	// Started, when set, is called once the container's program runs,
	// with its PID 1 (berth's monitor reports readiness then).
	Started func(pid int)
	// Handoff, when set, is called once the container runs (after
	// Started and the poststart hooks) with its PID 1 and the file that
	// marks it as alive (its runtime record's lock): berth's monitor execs
	// berth-monitor there, which keeps them open, reaps the container and
	// hands it back to berth (Reclaim). It is called on the thread that
	// forked the init stage, whose death the init stage's parent-death
	// signal watches; it does not return unless the exec failed, and Run
	// then goes on waiting. Never called with poststop hooks, which need
	// this process after the exit.
	Handoff func(pid int, stateLock *os.File) error
	// Exited, when set, is called as soon as the container's PID 1 has
	// been reaped, with how it ended, before its cgroup and record are
	// removed: what berth run starts there (the release of its network,
	// its own record's end) runs alongside that removal. Run calls it;
	// Create's callers have their own wait.
	Exited func(Exit)
	// TakeTerminal, when set, receives the pty master of a process with
	// a terminal, instead of berth relaying it (berth's monitor keeps it
	// for berth attach).
	TakeTerminal func(master *os.File)
	// ConsoleSize is the window size a terminal given to TakeTerminal
	// starts with (berth's monitor serving a foreground run's client),
	// set before the program runs; zero leaves the kernel's default.
	ConsoleSize terminal.Size
	// Tee, with RelayStdio, gets a copy of the container's stdout and
	// stderr (berth's log of a foreground run); each is closed when its
	// stream ends. A nil Stdout or Stderr then goes to the tee only.
	Tee [2]io.WriteCloser
	// Warn receives what went wrong without failing the operation (a
	// failing poststart or poststop hook, which the runtime spec makes a
	// warning): the library never prints. berth prints it, berth-oci
	// writes it to its --log file, as runc does for engines. Nil: slog's
	// default logger, at warning level.
	Warn func(msg string)
	// KeepSpec saves the config beside the record even for a foreground
	// container, so that exec can read it; it is written while the init
	// stage sets the container up.
	KeepSpec bool
	// SavedBeforeStarted calls Started only once that config is saved:
	// whoever learns then that the container runs (berth run -d, a health
	// check) may exec into it at once. Off, Started is not delayed.
	SavedBeforeStarted bool
	// RootOverlay, when set, is an image's copy-on-write root filesystem,
	// which the init stage mounts at the config's root path.
	RootOverlay *rootfs.Overlay
	// SystemdCgroup reads cgroupsPath as slice:prefix:name. Where
	// systemd is PID 1 on cgroup v2 the cgroup is a transient systemd
	// unit (see SystemdDriver); elsewhere it is made through cgroupfs at
	// the path systemd would use.
	SystemdCgroup bool
	// unit is the systemd unit of the cgroup, when systemd manages it.
	unit *systemd.Unit
	// Rootless is set when the runtime is root only of a user namespace
	// an ordinary user made (rootless berth): the container gets no
	// cgroup, and limits are refused with what the host lacks
	// (cgroups.CheckNoLimits), never silently dropped.
	Rootless bool
	// background: a foreground exec that is forwarded no signals (a
	// health probe).
	background bool
	// cgroupExists is set for exec: the process joins the container's
	// cgroup instead of making one.
	cgroupExists bool
	// target is the running container an exec joins: the init stage
	// inherits this pidfd of its init process.
	target *pidfd.Process
	// noStdio gives the process the container's /dev/null as stdin,
	// stdout and stderr (a detached exec whose output berth does not
	// relay).
	noStdio bool
	// execFifo is handed to the init stage of a created container.
	execFifo *os.File
	// seccomp compiles the spec's seccomp profile meanwhile (create).
	seccomp *seccompJob
	// pidsMax is the cgroup's pids.max, handed to an init stage that
	// sets the limit itself (initproc.Config.PidsLimit).
	pidsMax *os.File
	// nsenter, when set, is forked first to join a user namespace (see
	// nsenterPlan).
	nsenter *nsenterPlan
	// thread, for a process that dies with its creator, is where it is
	// forked and where Handoff runs (see parentThread).
	thread *parentThread
}

// Exit is how a container ended.
type Exit struct {
	Code      int
	Signal    os.Signal // the signal that killed PID 1, if any
	OOMKilled bool
}

// StartError is a failure to start the container, with the exit status it
// maps to (125 for berth's own errors, 126 and 127 for the program).
type StartError struct {
	Code int
	Err  error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// ExitStatus is the status a command line exits with (errdefs.Codes).
func (e *StartError) ExitStatus() int { return e.Code }

// ErrNotExist means there is no such container.
var ErrNotExist = state.ErrNotExist

// Container is a container whose record this process holds locked.
type Container struct {
	store  state.Store
	handle *state.Handle
	rec    state.Record
	cg     *cgroups.Cgroup
	init   *initProcess // set in the process that created it
	dir    string       // the record's directory
	// specSaved is closed once a config saved in the background
	// (Options.KeepSpec) is written; nil when none is.
	specSaved chan struct{}
	warn      func(string) // Options.Warn, or SetWarn's
}

// SetWarn sends the warnings of a container opened by Load or Attach to
// warn (see Options.Warn).
func (c *Container) SetWarn(warn func(msg string)) { c.warn = warn }

// warning hands a problem that did not fail the operation to the caller.
func (c *Container) warning(err error) {
	if c.warn != nil {
		c.warn(err.Error())
		return
	}
	slog.Warn(err.Error())
}

// Run creates the container, starts it, waits for it and removes it: the
// whole of berth run, and of berth-oci run without --detach.
func Run(o Options) (Exit, error) {
	// The init stage's parent-death signal is tied to the forking thread:
	// that thread is kept until the container is gone.
	o.thread = &parentThread{}
	defer o.thread.release()
	o.Foreground = true
	c, err := create(o, true)
	if err != nil {
		return Exit{}, err
	}
	defer func() {
		if o.Keep {
			c.rec.Status = state.Stopped
			_ = c.handle.Save(c.rec)
			c.Close()
			return
		}
		c.release()
	}()
	if o.Started != nil {
		if o.SavedBeforeStarted {
			c.waitSpecSaved()
		}
		o.Started(c.init.pid)
	}
	if err := hooks.RunAll("poststart", hooksOf(o.Spec).Poststart, c.ociState()); err != nil {
		c.warning(err)
	}
	if o.Handoff != nil && len(hooksOf(o.Spec).Poststop) == 0 {
		var err error
		o.thread.do(func() { err = o.Handoff(c.init.pid, c.handle.LockFile()) })
		if err != nil {
			c.warning(fmt.Errorf("hand the container to berth-monitor: %w", err))
		}
	}
	exit := c.ended(c.init.wait())
	if o.Exited != nil {
		o.Exited(exit)
	}
	if !o.Keep {
		c.runPoststop(o.Spec)
	}
	return exit, nil
}

// Reclaim finishes a container that Handoff handed over, once it has
// exited with status ws, in the process that exec'd back (its runtime
// record's lock, inherited, is lock): what Run does after its wait.
func Reclaim(stateRoot, id string, lock *os.File, ws unix.WaitStatus) (Exit, error) {
	store := state.Store{Root: stateRoot}
	h, rec, err := store.Adopt(id, lock)
	if err != nil {
		lock.Close() // the next garbage collection releases it
		return exitOf(ws), err
	}
	return reclaim(store, h, rec, ws), nil
}

// ReclaimLeft is Reclaim in a process that did not inherit the runtime
// record's lock: the one holding it (berth-monitor, handing the exit to
// berth stop) exited, and the lock is taken here, waiting for the
// kernel to drop it. A record already gone was collected meanwhile.
func ReclaimLeft(stateRoot, id string, ws unix.WaitStatus) (Exit, error) {
	store := state.Store{Root: stateRoot}
	h, rec, err := store.Open(id)
	if errors.Is(err, state.ErrNotExist) {
		return exitOf(ws), nil
	}
	if err != nil {
		return exitOf(ws), err
	}
	return reclaim(store, h, rec, ws), nil
}

// reclaim is what Run does after its wait, on the record h holds.
func reclaim(store state.Store, h *state.Handle, rec state.Record, ws unix.WaitStatus) Exit {
	c := &Container{store: store, handle: h, rec: rec, cg: cgroupOf(rec), dir: h.Dir()}
	exit := c.ended(exitOf(ws))
	c.release()
	return exit
}

// ended marks the container stopped once its PID 1 ended with exit, and
// says whether the kernel's OOM killer ended it (Run, and Reclaim for a
// container berth-monitor reaped).
func (c *Container) ended(exit Exit) Exit {
	if exit.Signal != nil && c.cg.OOMKilled() {
		exit.OOMKilled = true
	}
	c.rec.Status = state.Stopped
	return exit
}

// Create creates the container and leaves its init stage waiting for
// Start (berth-oci create).
func Create(o Options) (*Container, error) {
	return create(o, false)
}

// SystemdDriver reports whether --systemd-cgroup gets systemd's own
// driver here: systemd is PID 1 and runs the unified (v2) hierarchy. On
// a v1 or hybrid host, or without systemd, the cgroup is made through
// cgroupfs at the path systemd would give it.
func SystemdDriver() bool {
	return systemd.Booted() && cgroups.Detect() == cgroups.V2
}

// claimCgroup resolves the container's cgroup path (cgroupsPath, or the
// systemd form) and claims it: an existing cgroup must be empty and thawed.
// Nothing is created yet. With systemd's driver it also names the unit
// (o.unit). Shared by create and restore.
func claimCgroup(o *Options) (*cgroups.Cgroup, error) {
	s := o.Spec
	if o.Rootless {
		return cgroups.ForUser(o.ID, s.Linux.Resources)
	}
	path := cgroupPath(s, o.ID)
	switch {
	case o.SystemdCgroup && SystemdDriver():
		u, err := systemd.ParsePath(s.Linux.CgroupsPath, o.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", spec.ErrInvalid, err)
		}
		o.unit, path = &u, u.Path
	case o.SystemdCgroup:
		var err error
		if path, err = cgroups.SystemdPath(path); err != nil {
			return nil, fmt.Errorf("%w: %v", spec.ErrInvalid, err)
		}
	}
	cg, err := cgroups.New(path, s.Linux.Resources)
	if errors.Is(err, cgroups.ErrV1Unified) {
		return nil, invalidConfig{err}
	}
	if err != nil {
		return nil, err
	}
	if err := cg.Claim(); err != nil {
		return nil, err
	}
	return cg, nil
}

// newRecord is the record of a container being created (or restored) in
// cg: ephemeral when it lives only as long as a foreground run.
func newRecord(o Options, cg *cgroups.Cgroup) state.Record {
	s := o.Spec
	return state.Record{
		ID: o.ID, Name: o.Name, Status: state.Creating, Bundle: o.Bundle, Rootfs: s.Root.Path,
		Annotations: s.Annotations, Created: time.Now().UTC(), Ephemeral: o.Foreground && !o.Keep,
		CgroupVersion: int(cg.Version), CgroupPath: cg.Path, CgroupDirs: cg.Dirs, CgroupForeign: cg.Foreign,
		SharedMounts: !spec.HasNamespace(s, specs.MountNamespace), SystemdUnit: unitName(o.unit),
	}
}

func unitName(u *systemd.Unit) string {
	if u == nil {
		return ""
	}
	return u.Name
}

func create(o Options, startNow bool) (_ *Container, err error) {
	o.seccomp = startSeccomp(o.Spec)
	defer o.seccomp.wait()
	store := state.Store{Root: o.StateRoot}
	store.Collect(Cleanup)
	s := o.Spec
	if err := spec.Validate(s); err != nil {
		return nil, err
	}
	cg, err := claimCgroup(&o)
	if err != nil {
		return nil, err
	}
	cfg, err := initConfig(s, cg, o)
	if err != nil {
		return nil, err
	}
	rec := newRecord(o, cg)
	h, err := store.Create(rec)
	if err != nil {
		return nil, err
	}
	c := &Container{store: store, handle: h, rec: rec, cg: cg, dir: h.Dir(), warn: o.Warn}
	defer func() {
		if err != nil {
			c.release()
		}
	}()
	if !o.Foreground || o.Keep {
		if err := c.saveSpec(s); err != nil {
			return nil, err
		}
	} else if o.KeepSpec {
		c.saveSpecMeanwhile(s)
	}
	if !startNow {
		fifo, err := makeExecFifo(h.Dir(), s)
		if err != nil {
			return nil, err
		}
		defer fifo.Close()
		o.execFifo = fifo
	}
	p, err := start(cfg, cg, s, o, c.ociState)
	if err != nil {
		return nil, err
	}
	c.init = p
	if err := tellSystemdPidsLimit(o.unit, s.Linux.Resources); err != nil {
		return nil, err
	}
	c.rec.Pid = p.pid
	c.rec.PidStart, _ = state.ProcessStartTime(p.pid)
	c.rec.Status = state.Created
	if startNow {
		c.rec.Status = state.Running
	}
	if err := c.handle.Save(c.rec); err != nil {
		return nil, fmt.Errorf("save state: %w", err)
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, p.pid); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Load opens an existing container, waiting for any other command on it.
// The caller must Close it.
func Load(stateRoot, id string) (*Container, error) {
	store := state.Store{Root: stateRoot}
	h, rec, err := store.Open(id)
	if err != nil {
		return nil, err
	}
	return &Container{store: store, handle: h, rec: rec, cg: cgroupOf(rec), dir: h.Dir()}, nil
}

// Attach opens a container without taking its lock, which the process
// running it may hold for its whole life (berth run): for operations that
// do not change its record, such as signals, exec, stats and pause.
func Attach(stateRoot, id string) (*Container, error) {
	store := state.Store{Root: stateRoot}
	rec, err := store.Load(id)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	return &Container{store: store, rec: rec, cg: cgroupOf(rec), dir: filepath.Join(stateRoot, id)}, nil
}

// Record is the container's record as it was read.
func (c *Container) Record() state.Record { return c.rec }

// Dir is the directory of the container's record.
func (c *Container) Dir() string { return c.dir }

// cgroupOf is the cgroup a record lists, with the directories berth did
// not create.
func cgroupOf(rec state.Record) *cgroups.Cgroup {
	return cgroups.Load(cgroups.Version(rec.CgroupVersion), rec.CgroupPath, rec.CgroupDirs, rec.CgroupForeign)
}

// Close releases the container's lock.
func (c *Container) Close() {
	if c.handle != nil {
		c.handle.Release()
	}
}

// makeExecFifo creates the FIFO a created container waits on, owned by
// the container's root (who may not be the host's root), and opens it
// O_PATH for the init stage to inherit.
func makeExecFifo(dir string, s *specs.Spec) (*os.File, error) {
	path := filepath.Join(dir, "exec.fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("create exec fifo: %w", err)
	}
	uid, gid := hostID(s.Linux.UIDMappings, 0), hostID(s.Linux.GIDMappings, 0)
	if err := os.Chown(path, uid, gid); err != nil {
		return nil, fmt.Errorf("create exec fifo: %w", err)
	}
	f, err := os.OpenFile(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open exec fifo: %w", err)
	}
	return f, nil
}

// hostID maps an ID inside a user namespace to the host; without mappings
// they are the same.
func hostID(m []specs.LinuxIDMapping, id uint32) int {
	for _, e := range m {
		if id >= e.ContainerID && id < e.ContainerID+e.Size {
			return int(e.HostID + id - e.ContainerID)
		}
	}
	return int(id)
}

// writePidFile writes pid to path through a new file of a unique name in
// path's directory, renamed over path: creating it with O_EXCL and
// O_NOFOLLOW, a link planted at that name (or any name) is never written
// through, and the rename replaces a link at path itself, not its target.
func writePidFile(path string, pid int) error {
	// A new file of a random name (O_EXCL: a link planted there is not
	// followed), renamed into place.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	_, err = tmp.WriteString(strconv.Itoa(pid))
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

func (c *Container) saveSpec(s *specs.Spec) error {
	b, err := specjson.Marshal(s)
	if err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	// Replaced whole: exec may read it while it is written.
	tmp := filepath.Join(c.handle.Dir(), ".config.json")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(c.handle.Dir(), "config.json")); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}

// saveSpecMeanwhile saves s for exec on a goroutine, beside the start,
// while this process mostly waits for the init stage: done after the
// program's exec, the JSON of a config with its seccomp profile took the
// CPU that noticing a short program's exit needed. A failure is not
// reported: exec says the config is missing.
func (c *Container) saveSpecMeanwhile(s *specs.Spec) {
	c.specSaved = make(chan struct{})
	go func() {
		defer close(c.specSaved)
		_ = c.saveSpec(s)
	}()
}

// waitSpecSaved returns once saveSpecMeanwhile's config is written.
func (c *Container) waitSpecSaved() {
	if c.specSaved != nil {
		<-c.specSaved
	}
}

// Spec reads the config the container was created with.
func (c *Container) Spec() (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read saved config: %w", err)
	}
	var s specs.Spec
	if specjson.Unmarshal(b, &s) {
		return &s, nil
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read saved config: %w", err)
	}
	return &s, nil
}

// release removes the cgroup, then the record. A cgroup that cannot be
// removed keeps its record, so the next garbage collection tries again.
func (c *Container) release() {
	// Before the directory it is written to goes.
	c.waitSpecSaved()
	if err := releaseMounts(c.rec); err != nil {
		c.handle.Release()
		return
	}
	if err := destroyCgroup(c.rec, c.cg); err != nil {
		// The collection that retries must know every directory that is
		// not the container's, including one found taken since the
		// record was written (cgroups.Cgroup.Create marks it foreign).
		c.rec.CgroupForeign = c.cg.Foreign
		_ = c.handle.Save(c.rec)
		c.handle.Release()
		return
	}
	_ = c.handle.Remove(c.store, c.rec)
}

// destroyCgroup removes the container's cgroup: first its systemd unit,
// if it has one (systemd kills what is left and removes the cgroup it
// made), then through cgroupfs whatever remains, such as cgroups the
// container made below a delegated scope.
func destroyCgroup(rec state.Record, cg *cgroups.Cgroup) error {
	var stop error
	if rec.SystemdUnit != "" {
		stop = systemd.Stop(rec.SystemdUnit)
	}
	return errors.Join(stop, cg.Destroy())
}

func cgroupPath(s *specs.Spec, id string) string {
	if s.Linux.CgroupsPath != "" {
		return s.Linux.CgroupsPath
	}
	return "/berth/" + id
}

// Cleanup releases what a dead container's record lists. It is what the
// garbage collection runs for records whose owner is gone.
func Cleanup(rec state.Record) error {
	if err := releaseMounts(rec); err != nil {
		return err
	}
	if len(rec.CgroupDirs) == 0 {
		return nil
	}
	if err := destroyCgroup(rec, cgroupOf(rec)); err != nil {
		return fmt.Errorf("container %s: %w", rec.ID, err)
	}
	return nil
}

// releaseMounts removes what a container without its own mount namespace
// mounted in the host's.
func releaseMounts(rec state.Record) error {
	if !rec.SharedMounts || rec.Rootfs == "" {
		return nil
	}
	if err := rootfs.UnmountUnder(rec.Rootfs); err != nil {
		return fmt.Errorf("container %s: %w", rec.ID, err)
	}
	return nil
}

// IsInvalid reports whether err is a rejected configuration.
func IsInvalid(err error) bool { return errors.Is(err, spec.ErrInvalid) }

// invalidConfig marks an error of another package as an invalid config
// (spec.ErrInvalid), keeping its text.
type invalidConfig struct{ error }

func (e invalidConfig) Unwrap() error        { return e.error }
func (e invalidConfig) Is(target error) bool { return target == spec.ErrInvalid }

// WarmEncoders builds encoding/json's encoders for what starting a
// container still writes with it: its state record. (Its OCI config goes
// through specjson, which has no such cost; the init stage's config is
// JSON only for berth-init, when berth-stage does not take it.) Built on
// first use encoders cost by reflection over their types; a caller that
// will start a container runs this on a goroutine of its own at once, so
// that the work overlaps the parsing of its command line instead of
// following it.
func WarmEncoders() {
	_, _ = json.Marshal(state.Record{})
}
