package managed

import (
	"path/filepath"

	"github.com/berth-runtime/berth/internal/events"
)

// Event reports what happened to container rec (Docker's actions:
// create, start, die, stop, kill, destroy, pause, unpause, rename,
// restart, attach, exec_create, exec_start, oom, health_status: ...) in
// the journal of the berth root the store is in, with Docker's
// attributes: name, image, the labels, and kv's pairs (exitCode, signal).
// It is the one place container events are written from.
func (s Store) Event(rec Record, action string, kv ...string) {
	image := rec.Image
	attrs := map[string]string{"name": rec.Name}
	if rec.Config != nil {
		for k, v := range rec.Config.Labels {
			attrs[k] = v
		}
		if image == "" {
			image = rec.Config.Rootfs
		}
	}
	attrs["image"] = image
	for i := 0; i+1 < len(kv); i += 2 {
		attrs[kv[i]] = kv[i+1]
	}
	events.At(filepath.Dir(s.Dir)).Emit(events.Container, action, rec.ID, attrs)
}
