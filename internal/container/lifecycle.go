package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/cgroups/systemd"
	"github.com/berth-runtime/berth/internal/hooks"
	"github.com/berth-runtime/berth/internal/pidfd"
	"github.com/berth-runtime/berth/internal/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrNotRunning means the init process is gone. runc compat: containerd's
// shim matches the words "container not running" of a failed kill.
var ErrNotRunning = errors.New("container not running")

// Status is the container's state now: the record's, corrected by what
// the kernel says (a dead init process means stopped, a frozen cgroup
// means paused).
func (c *Container) Status() state.Status {
	switch c.rec.Status {
	case state.Created, state.Running:
		if !state.Alive(c.rec.Pid, c.rec.PidStart) {
			return state.Stopped
		}
		if c.rec.Status == state.Running && c.cg.Frozen() {
			return state.Paused
		}
	}
	return c.rec.Status
}

// Paused reports whether container id under stateRoot runs with its
// cgroup frozen (berth pause): the runtime's record knows it, berth's own
// (internal/managed) does not.
func Paused(stateRoot, id string) bool {
	c, err := Attach(stateRoot, id)
	return err == nil && c.Status() == state.Paused
}

// State is the container's state in the runtime spec's form.
func (c *Container) State() specs.State {
	st := c.ociState()
	st.Status = specs.ContainerState(c.Status())
	if st.Status == specs.StateStopped {
		st.Pid = 0
	}
	return st
}

func (c *Container) ociState() specs.State {
	return specs.State{
		Version:     specs.Version,
		ID:          c.rec.ID,
		Status:      specs.ContainerState(c.rec.Status),
		Pid:         c.rec.Pid,
		Bundle:      c.rec.Bundle,
		Annotations: c.rec.Annotations,
	}
}

// Start lets a created container's init stage exec the program, then runs
// the poststart hooks.
func (c *Container) Start() error {
	if err := state.Check(state.OpStart, c.Status()); err != nil {
		return err
	}
	if err := c.openExecFifo(); err != nil {
		return err
	}
	c.rec.Status = state.Running
	if err := c.handle.Save(c.rec); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	s, err := c.Spec()
	if err != nil {
		return err
	}
	// A failing poststart hook is a warning: the container has started.
	if err := hooks.RunAll("poststart", hooksOf(s).Poststart, c.ociState()); err != nil {
		c.warning(err)
	}
	return nil
}

// openExecFifo writes the byte the created init stage waits for. With
// O_NONBLOCK the open fails at once (ENXIO) if the init stage, which holds
// the reading end, is gone.
func (c *Container) openExecFifo() error {
	path := filepath.Join(c.handle.Dir(), "exec.fifo")
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("the container's init process exited before start: %w", ErrNotRunning)
	}
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer unix.Close(fd)
	defer os.Remove(path)
	if _, err := unix.Write(fd, []byte{0}); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return nil
}

// Kill sends sig to the init process, or with all to every process of the
// container. A paused container is thawed after a SIGKILL, as runc does:
// on cgroup v1 a frozen process does not even die. Other signals wait,
// frozen, until the container is resumed (Stop thaws it for them too).
func (c *Container) Kill(sig unix.Signal, all bool) error {
	return c.signal(state.OpKill, sig, all, sig == unix.SIGKILL)
}

// Stop sends sig, a signal meant to end the container (berth stop's, or
// SIGKILL), to its init process, and thaws the container if it is paused
// so that the program can act on it, as Docker does.
func (c *Container) Stop(sig unix.Signal) error {
	return c.signal(state.OpStop, sig, false, true)
}

func (c *Container) signal(op state.Operation, sig unix.Signal, all, thaw bool) error {
	st := c.Status()
	if err := state.Check(op, st); err != nil {
		return err
	}
	if st == state.Stopped {
		return c.signalStopped(sig, all)
	}
	var err error
	if all && c.cg.Owned() {
		err = c.cg.Signal(sig)
	} else {
		// In a cgroup berth did not create, the init process alone: it
		// takes the others with it when it has a PID namespace of its own.
		err = c.signalInit(sig)
	}
	if err != nil {
		return err
	}
	if thaw && st == state.Paused && c.cg.Owned() {
		return c.cg.Freeze(false)
	}
	return nil
}

// signalStopped is kill of a stopped container, as runc does it (runc
// compat: containerd's shim runs kill --all ID SIGKILL after every exit):
// with all, the processes left in the container's cgroup (orphans of an
// init without a PID namespace of its own) are signalled, and none left
// is success; without, it fails with ErrNotRunning.
func (c *Container) signalStopped(sig unix.Signal, all bool) error {
	if !all {
		return fmt.Errorf("container %s: %w", c.rec.ID, ErrNotRunning)
	}
	if !c.cg.Owned() || len(c.cg.Processes()) == 0 {
		return nil
	}
	return c.cg.Signal(sig)
}

// openInit holds the container's init process by a pidfd, checked
// against the start time in the record: ErrNotRunning once it is gone.
func (c *Container) openInit() (*pidfd.Process, error) {
	p, err := pidfd.Open(c.rec.Pid, c.rec.PidStart)
	if errors.Is(err, pidfd.ErrGone) {
		return nil, fmt.Errorf("container %s: %w", c.rec.ID, ErrNotRunning)
	}
	return p, err
}

// signalInit signals the init process through a pidfd checked against its
// recorded start time, so that a recycled PID never receives it.
func (c *Container) signalInit(sig unix.Signal) error {
	p, err := c.openInit()
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Signal(sig); errors.Is(err, pidfd.ErrGone) {
		return fmt.Errorf("container %s: %w", c.rec.ID, ErrNotRunning)
	} else if err != nil {
		return err
	}
	return nil
}

// Delete removes a stopped container: its cgroup, its record, and then the
// poststop hooks run. With force a running container is killed first.
func (c *Container) Delete(force bool) error {
	st := c.Status()
	if err := state.Check(state.OpDelete, st); err != nil {
		if !force {
			return fmt.Errorf("%w (use --force to kill it first)", err)
		}
		if err := state.Check(state.OpForceDelete, st); err != nil {
			return err
		}
		c.killAndWait()
	}
	if err := releaseMounts(c.rec); err != nil {
		return err
	}
	if err := c.destroyCgroup(); err != nil {
		return err
	}
	s, _ := c.Spec()
	c.rec.Status = state.Stopped
	if s != nil {
		c.runPoststop(s)
	}
	return c.handle.Remove(c.store, c.rec)
}

// killAndWait kills every process of the container (a paused one is
// thawed to die) and waits for its init process to be gone.
func (c *Container) killAndWait() {
	init, _ := c.openInit()
	defer init.Close()
	if c.cg.Owned() {
		_ = c.cg.Signal(unix.SIGKILL)
	}
	if init != nil {
		_ = init.Signal(unix.SIGKILL)
		init.Wait(10000)
	}
}

// destroyCgroup removes the cgroup once its last process is gone. Killed
// processes leave it within moments; this is not on any start path.
func (c *Container) destroyCgroup() error {
	if c.rec.SystemdUnit != "" {
		if err := systemd.Stop(c.rec.SystemdUnit); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.cg.Destroy()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Pause freezes every process of the container; a cgroup berth did not
// create is not frozen (cgroups.ErrForeign).
func (c *Container) Pause() error {
	if err := state.Check(state.OpPause, c.Status()); err != nil {
		return err
	}
	return c.cg.Freeze(true)
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if err := state.Check(state.OpResume, c.Status()); err != nil {
		return err
	}
	return c.cg.Freeze(false)
}

// Processes lists the host PIDs of the container's processes.
func (c *Container) Processes() []int { return c.cg.Processes() }

func (c *Container) runPoststop(s *specs.Spec) {
	// The runtime spec asks for a warning, not a failure, when a poststop
	// hook fails: the container is gone either way.
	if err := hooks.RunAll("poststop", hooksOf(s).Poststop, c.ociState()); err != nil {
		c.warning(err)
	}
}

// hooksOf returns the config's hooks, never nil.
func hooksOf(s *specs.Spec) *specs.Hooks {
	if s == nil || s.Hooks == nil {
		return &specs.Hooks{}
	}
	return s.Hooks
}

// List returns every container in the store.
func List(stateRoot string) []state.Record {
	return state.Store{Root: stateRoot}.List()
}

// Update changes the resource limits of a running or created container
// and records them in its saved config.
func (c *Container) Update(r *specs.LinuxResources) error {
	if err := state.Check(state.OpUpdate, c.Status()); err != nil {
		return err
	}
	if err := c.updateUnit(r); err != nil {
		return err
	}
	if err := c.cg.Update(r); err != nil {
		return err
	}
	s, err := c.Spec()
	if err != nil {
		return err
	}
	s.Linux.Resources = mergeResources(s.Linux.Resources, r)
	return c.saveSpec(s)
}

// mergeResources overlays the sections update sets onto the old ones.
func mergeResources(old, r *specs.LinuxResources) *specs.LinuxResources {
	if old == nil {
		return r
	}
	out := *old
	if r.Memory != nil {
		out.Memory = r.Memory
	}
	if r.CPU != nil {
		out.CPU = r.CPU
	}
	if r.Pids != nil {
		out.Pids = r.Pids
	}
	if r.BlockIO != nil {
		out.BlockIO = r.BlockIO
	}
	return &out
}

// Stats reads the container's resource counters.
func (c *Container) Stats() cgroups.Stats { return c.cg.Stats() }

// WatchOOM reports the container's OOM events as the kernel signals them.
func (c *Container) WatchOOM() (*cgroups.OOMWatch, error) { return c.cg.WatchOOM() }
