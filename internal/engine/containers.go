package engine

import (
	"fmt"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/container"
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

// Pause freezes every process of the container; Unpause thaws them.
func (e *Engine) Pause(rec managed.Record) error { return e.freeze(rec, true) }

// Unpause thaws a paused container.
func (e *Engine) Unpause(rec managed.Record) error { return e.freeze(rec, false) }

func (e *Engine) freeze(rec managed.Record, pause bool) error {
	c, err := container.Attach(e.Runroot, rec.ID)
	if err != nil {
		return fmt.Errorf("container %s is not running", rec.Name)
	}
	if pause {
		return c.Pause()
	}
	return c.Resume()
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
		if rec.State.Status == managed.Running {
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
