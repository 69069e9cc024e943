package engine

import (
	"fmt"
	"strings"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/volume"
)

// ResolveVolumesFrom adds to cfg the volumes and bind mounts of the
// containers that --volumes-from CONTAINER[:ro|:rw] names, at their
// destinations, as Docker does: read-only with :ro, else as each mount
// was (a read-only mount stays read-only). An anonymous volume is named
// by its owner's name for it, so this container finds the same one
// after its owner is removed, and keeps it in use (volume rm refuses it,
// rm -v and prune keep it). cfg's own mounts win a destination over the
// copied ones, and a later --volumes-from over an earlier one.
func (e *Engine) ResolveVolumesFrom(cfg *managed.Config, from []string) error {
	if len(from) == 0 {
		return nil
	}
	own := map[string]bool{}
	for _, m := range cfg.Mounts {
		own[m.Destination] = true
	}
	var copied []spec.MountRequest
	at := map[string]int{}
	for _, v := range from {
		ms, err := e.volumesFrom(v)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if own[m.Destination] {
				continue
			}
			if i, ok := at[m.Destination]; ok {
				copied[i] = m
				continue
			}
			at[m.Destination] = len(copied)
			copied = append(copied, m)
		}
	}
	cfg.Mounts = append(cfg.Mounts, copied...)
	return nil
}

// volumesFrom is one --volumes-from value's mounts, resolved.
func (e *Engine) volumesFrom(v string) ([]spec.MountRequest, error) {
	ref, mode, _ := strings.Cut(v, ":")
	readOnly := false
	switch mode {
	case "", "rw":
	case "ro":
		readOnly = true
	default:
		return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid --volumes-from %q: use CONTAINER, CONTAINER:ro or CONTAINER:rw", v)
	}
	if ref == "" {
		return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid --volumes-from %q: name a container: CONTAINER[:ro|:rw]", v)
	}
	rec, err := e.Containers().Get(ref)
	if err != nil {
		return nil, fmt.Errorf("--volumes-from %s: %w", ref, err)
	}
	if rec.Config == nil {
		return nil, errdefs.New(errdefs.ErrInvalidArgument, "--volumes-from %s: the container was made by an older berth that did not store its mounts: recreate it", ref)
	}
	var out []spec.MountRequest
	for _, m := range rec.Config.Mounts {
		if m.Type != spec.MountBind && m.Type != spec.MountVolume {
			continue // a tmpfs is the container's own, as in Docker
		}
		if m.Type == spec.MountVolume && m.Source == "" {
			m.Source = volume.AnonymousName(rec.ID, m.Destination)
		}
		// The source exists: a bind's host path is not made again, and a
		// volume is not filled from this container's image.
		m.CreateSource, m.NoCopy = false, true
		m.ReadOnly = m.ReadOnly || readOnly
		m.Flag = "--volumes-from " + v
		out = append(out, m)
	}
	return out, nil
}
