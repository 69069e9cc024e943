package engine

import (
	"path/filepath"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
)

// LogPath is container id's log (internal/logs), for -d containers.
func (e *Engine) LogPath(id string) string {
	return filepath.Join(e.ContainerDir(id), "container.log")
}

// WithPause shows a running container whose cgroup is frozen (berth
// pause) as paused, as docker ps does: the runtime's record knows, not
// berth's.
func (e *Engine) WithPause(rec managed.Record) managed.Record {
	if rec.State.Status == managed.Running && container.Paused(e.Runroot, rec.ID) {
		rec.State.Status = managed.Paused
	}
	return rec
}

// Admits is managed.Check on the container as the runtime sees it
// (paused or not): nil if its state admits op, else Docker's refusal, of
// an errdefs class.
func (e *Engine) Admits(op managed.Op, rec managed.Record) error {
	return managed.Check(op, e.WithPause(rec))
}

// Pause freezes every process of the container; Unpause thaws them.
func (e *Engine) Pause(rec managed.Record) error { return e.freeze(rec, managed.OpPause) }

// Unpause thaws a paused container.
func (e *Engine) Unpause(rec managed.Record) error { return e.freeze(rec, managed.OpUnpause) }

func (e *Engine) freeze(rec managed.Record, op managed.Op) error {
	if err := e.Admits(op, rec); err != nil {
		return err
	}
	c, err := container.Attach(e.Runroot, rec.ID)
	if err != nil {
		return errNotRunning(rec)
	}
	action, freeze := "unpause", c.Resume
	if op == managed.OpPause {
		action, freeze = "pause", c.Pause
	}
	if err := freeze(); err != nil {
		return err
	}
	e.Containers().Event(rec, action)
	return nil
}

// errNotRunning: the record said running, but the runtime has no such
// container (it ended meanwhile).
func errNotRunning(rec managed.Record) error {
	return errdefs.New(errdefs.ErrNotRunning, "container %s is not running", rec.Name)
}

// Rename gives the container a new name, which no other may have.
func (e *Engine) Rename(rec managed.Record, name string) error {
	if err := e.Admits(managed.OpRename, rec); err != nil {
		return err
	}
	if err := e.Containers().Rename(rec, name); err != nil {
		return err
	}
	// The members of its networks resolve it by its new name.
	rec.Name = name
	return e.renameOnNetworks(rec)
}

// Wait blocks until the container is not running and returns its record
// then, with its last exit.
func (e *Engine) Wait(rec managed.Record) (managed.Record, error) {
	store := e.Containers()
	store.WaitReleased(rec.ID, 0)
	return store.Get(rec.ID)
}

// Prune removes every container that is not running; it returns the IDs
// removed and, as warnings, those it could not remove.
func (e *Engine) Prune() ([]string, Warnings) {
	store := e.Containers()
	var removed []string
	var w Warnings
	for _, rec := range store.List() {
		if rec.State.Up() {
			continue
		}
		if err := store.Remove(rec); err != nil {
			w.add(err)
			continue
		}
		removed = append(removed, rec.ID)
		w.add(e.collectChownedAfterRemoval(rec))
	}
	return removed, w
}
