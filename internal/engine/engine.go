// Package engine is berth's container engine: what `berth` does to its
// containers, below its command line. It creates a container's record
// from a resolved configuration (managed.Config), runs it in the
// foreground or under a monitor (a re-exec of berth that restarts it as
// its policy says and serves its terminal to attach), stops, starts,
// restarts, kills and removes it under its operation lock, and collects
// what killed owners left. cmd/berth parses flags, makes one call here
// and prints the result, as crun's commands are over libcrun.
//
// It never parses flags and never prints: problems that do not fail an
// operation come back as warnings. It owns the container store
// (internal/managed) and uses the runtime (internal/container), images,
// snapshots, volumes, networks and user namespace ranges.
package engine

import (
	"encoding/json"

	"path/filepath"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/snapshot"
	"github.com/berth-runtime/berth/internal/userns"
	"github.com/berth-runtime/berth/internal/volume"
)

// ExitRuntimeError is the exit status of berth's own failures, as docker
// run's 125: a container that could not start records it.
const ExitRuntimeError = 125

// Options are the engine's directories, as podman's --root and
// --runroot, and how root filesystems are made.
type Options struct {
	// Root holds what outlives a reboot: containers' records, images,
	// volumes, networks, user namespace ranges.
	Root string
	// Runroot holds the runtime state of running containers.
	Runroot string
	// StorageDriver makes containers' root filesystems from images:
	// overlay, or vfs (a copy); empty: overlay where the kernel has it.
	StorageDriver string
	// Warn receives what went wrong while a container runs without
	// failing it (a failing hook, a host resolv.conf with nothing a
	// container can use): the engine never prints. Nil: dropped.
	Warn func(msg string)
	// BuildLock is the lock a builder holds for its life (HoldBuild):
	// the step containers it makes name it, and are collected once it
	// is free.
	BuildLock string
}

// Engine runs berth's containers.
type Engine struct{ Options }

// New is an engine over o's directories.
func New(o Options) *Engine { return &Engine{Options: o} }

// Check refuses options that no container could run with (an unknown
// storage driver, a bad BERTH_NO_IDMAP), before a caller pulls or
// creates anything.
func (e *Engine) Check() error {
	if _, err := noIDMap(); err != nil {
		return err
	}
	if e.StorageDriver == "" {
		// The default driver is always right; finding out which it is
		// reads /proc/filesystems, which a run from --rootfs never needs.
		return nil
	}
	_, err := snapshot.ParseDriver(e.StorageDriver)
	return err
}

// Containers is the store of berth's containers.
func (e *Engine) Containers() managed.Store {
	return managed.Store{Dir: filepath.Join(e.Root, "containers")}
}

// ContainerDir is container id's directory: record, snapshot, log.
func (e *Engine) ContainerDir(id string) string {
	return filepath.Join(e.Root, "containers", id)
}

// Images is the image store.
func (e *Engine) Images() (*image.Store, error) {
	return image.Open(filepath.Join(e.Root, "images"))
}

// Volumes is the store of named volumes.
func (e *Engine) Volumes() volume.Store {
	return volume.Store{Dir: filepath.Join(e.Root, "volumes")}
}

// IDRanges is the allocator of --userns=auto ranges.
func (e *Engine) IDRanges() userns.Pool {
	return userns.Pool{Dir: filepath.Join(e.Root, "userns"), SubUID: "/etc/subuid", SubGID: "/etc/subgid"}
}

// RangeHeld reports whether container id still holds its range: as long
// as its directory (its record) exists.
func (e *Engine) RangeHeld(id string) bool {
	return exists(e.ContainerDir(id))
}

// warn hands a problem that did not fail the operation to Options.Warn.
func (e *Engine) warn(msg string) {
	if e.Warn != nil {
		e.Warn(msg)
	}
}

// Warnings are problems that did not fail an operation, for the caller
// to show.
type Warnings []string

func (w *Warnings) add(err error) {
	if err != nil {
		*w = append(*w, err.Error())
	}
}

// WarmEncoders is container.WarmEncoders, plus the engine's own record.
func WarmEncoders() {
	_, _ = json.Marshal(managed.Record{Config: &managed.Config{}})
	container.WarmEncoders()
}
