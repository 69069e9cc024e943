package engine

import (
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-runtime/berth/internal/archive"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
)

// CommitOptions are docker commit's.
type CommitOptions struct {
	Author  string // -a
	Comment string // -m
	// Changes are -c/--change instructions, applied by ApplyChanges
	// (berth-build's, which holds the Dockerfile parser) to the
	// container's config; ApplyChanges may be nil when there are none.
	Changes      []string
	ApplyChanges func(v1.Config, []string) (v1.Config, error)
	// Pause freezes a running container while its layer is read, so the
	// layer is one moment's files.
	Pause bool
	// Name is REPOSITORY[:TAG]; empty leaves the image untagged.
	Name string
}

// Commit makes an image of the container: its image's layers, then its
// changes (its writable layer, less what berth mounted on: Diff's list)
// as one new layer, and the container's config with the changes applied.
// Bad input (a name, a change) is refused before anything is stored; a
// failure later leaves no blob, layer or image behind.
func (e *Engine) Commit(ctx context.Context, rec managed.Record, o CommitOptions) (*image.Image, error) {
	if err := managed.Check(managed.OpDiff, rec); err != nil {
		return nil, err
	}
	if rec.ImageID == "" {
		return nil, errdefs.New(errdefs.ErrInvalidArgument, "container %s runs from --rootfs: it has no image to commit on", rec.Name)
	}
	if o.Name != "" {
		if _, err := image.ParseName(o.Name); err != nil {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid reference format %q: %v", o.Name, err)
		}
	}
	store, err := e.Images()
	if err != nil {
		return nil, err
	}
	base, err := store.BaseConfig(rec.ImageID)
	if err != nil {
		return nil, err
	}
	cfg := committedConfig(base, rec.Config)
	if len(o.Changes) > 0 {
		if cfg, err = o.ApplyChanges(cfg, o.Changes); err != nil {
			return nil, err
		}
	}
	var img *image.Image
	err = e.WithOpLock(rec.ID, func(rec managed.Record) error {
		rec = e.WithPause(rec)
		if o.Pause && rec.State.Status == managed.Running && managed.Held(e.ContainerDir(rec.ID)) {
			if err := e.Pause(rec); err != nil {
				return err
			}
			defer func() { _ = e.Unpause(e.WithPause(rec)) }()
		}
		img, err = e.commitLayer(ctx, store, rec, cfg, o)
		return err
	})
	return img, err
}

// commitLayer writes the container's changes as a layer and adds the
// image; what it stored is discarded if the image is not added.
func (e *Engine) commitLayer(ctx context.Context, store *image.Store, rec managed.Record, cfg v1.Config, o CommitOptions) (*image.Image, error) {
	changes, upper, err := e.changesOf(rec)
	if err != nil {
		return nil, err
	}
	release, err := store.Hold()
	if err != nil {
		return nil, err
	}
	l, err := store.StoreLayer(func(w io.Writer) error {
		return archive.WriteLayer(w, upper, changes, archive.LayerOptions{Maps: mapsOf(rec)})
	})
	var img *image.Image
	if err == nil {
		now := time.Now().UTC()
		n := image.NewImage{Base: rec.ImageID, Layers: []image.Layer{l}, Config: cfg, Author: o.Author, Created: now,
			History: []v1.History{{Created: v1.Time{Time: now}, Author: o.Author, Comment: o.Comment,
				CreatedBy: strings.Join(slices.Concat(cfg.Entrypoint, cfg.Cmd), " ")}}}
		if o.Name != "" {
			n.Names = []string{o.Name}
		}
		img, err = store.Create(ctx, n)
	}
	release()
	if err != nil {
		if l.Digest != "" {
			store.DiscardLayers([]image.Layer{l})
		}
		return nil, err
	}
	return img, nil
}

// committedConfig is the container's config as docker commit takes it:
// its image's, with what the container was created with over it.
func committedConfig(img v1.Config, c *managed.Config) v1.Config {
	out := img
	out.Env = slices.Clone(img.Env)
	out.Labels = maps.Clone(img.Labels)
	if c == nil {
		return out
	}
	if c.Entrypoint != nil {
		out.Entrypoint = nil
		if *c.Entrypoint != "" {
			out.Entrypoint = []string{*c.Entrypoint}
		}
		out.Cmd = nil // docker run --entrypoint clears the image's CMD
	}
	if len(c.Cmd) > 0 {
		out.Cmd = slices.Clone(c.Cmd)
	}
	out.Env = spec.MergeEnv(out.Env, c.Env...)
	if c.WorkingDir != "" {
		out.WorkingDir = c.WorkingDir
	}
	if c.User != "" {
		out.User = c.User
	}
	if c.StopSignal != "" {
		out.StopSignal = c.StopSignal
	}
	if len(c.Labels) > 0 {
		if out.Labels == nil {
			out.Labels = map[string]string{}
		}
		maps.Copy(out.Labels, c.Labels)
	}
	return out
}
