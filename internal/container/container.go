// Package container runs a container's lifecycle on the host side: it
// records what the container owns, creates its cgroup, starts the init
// stage in new namespaces, hands it its configuration, relays signals and
// the terminal, waits for the exit and removes everything again. berth and
// berth-oci both come through here with a validated OCI config; this
// package never parses command lines.
package container

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RunOptions describe a container to run in the foreground.
type RunOptions struct {
	StateRoot string
	ID        string
	Name      string
	Spec      *specs.Spec
	Stdin     *os.File // nil: the container's stdin is its own /dev/null
	Stdout    *os.File
	Stderr    *os.File
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

// Run creates the container, runs it to completion and removes it.
func Run(o RunOptions) (Exit, error) {
	// The init stage's parent-death signal is tied to the forking thread:
	// keep this goroutine on one thread until the container is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	store := state.Store{Root: o.StateRoot}
	store.Collect(Cleanup)
	s := o.Spec
	if err := spec.Validate(s); err != nil {
		return Exit{}, err
	}
	cg, err := cgroups.New(cgroupPath(s, o.ID), s.Linux.Resources)
	if err != nil {
		return Exit{}, err
	}
	cfg, err := initConfig(s, cg)
	if err != nil {
		return Exit{}, err
	}
	rec := state.Record{
		ID: o.ID, Name: o.Name, Status: state.Creating, Rootfs: s.Root.Path, Created: time.Now().UTC(),
		CgroupVersion: int(cg.Version), CgroupPath: cg.Path, CgroupDirs: cg.Dirs,
	}
	h, err := store.Create(rec)
	if err != nil {
		return Exit{}, err
	}
	defer release(store, h, rec, cg)

	p, err := start(cfg, cg, s.Linux.Resources, o)
	if err != nil {
		return Exit{}, err
	}
	rec.Status, rec.Pid = state.Running, p.pid
	_ = h.Save(rec)
	exit := p.wait()
	if exit.Signal != nil && cg.OOMKilled() {
		exit.OOMKilled = true
	}
	return exit, nil
}

// release removes the cgroup, then the record. A cgroup that cannot be
// removed keeps its record, so the next garbage collection tries again.
func release(store state.Store, h *state.Handle, rec state.Record, cg *cgroups.Cgroup) {
	if err := cg.Destroy(); err != nil {
		h.Release()
		return
	}
	_ = h.Remove(store, rec)
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
	if len(rec.CgroupDirs) == 0 {
		return nil
	}
	cg := cgroups.Load(cgroups.Version(rec.CgroupVersion), rec.CgroupPath, rec.CgroupDirs)
	if err := cg.Destroy(); err != nil {
		return fmt.Errorf("container %s: %w", rec.ID, err)
	}
	return nil
}

// IsInvalid reports whether err is a rejected configuration.
func IsInvalid(err error) bool { return errors.Is(err, spec.ErrInvalid) }
