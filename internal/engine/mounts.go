package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/volume"
)

// containerMounts holds what a container's mounts need on the host for its
// life: the volumes it uses, and the host directories -v created.
type containerMounts struct {
	uses       []*volume.Use
	made       []string // directories created for -v, deepest last
	kept       bool
	autoRemove bool // --rm: the container's anonymous volumes go with it
	id         string
}

// resolveMounts gives container rec the mounts of its configuration:
// it checks that bind sources exist, and only then creates what they
// need: missing -v host directories and volumes on first use (filled
// with the image's files at their path, as docker does), each held in
// use by rec. It sets o.Mounts; o's root filesystem (Rootfs, UserRoots)
// must be known. The caller releases the result when the container has
// exited; what it created is removed again unless keep was called (the
// container ran), so a run refused later leaves nothing.
func (e *Engine) resolveMounts(cfg *managed.Config, rec *managed.Record, o *spec.RunOptions) (*containerMounts, error) {
	reqs := append([]spec.MountRequest(nil), cfg.Mounts...)
	for _, r := range reqs {
		if r.Type == spec.MountBind && !r.CreateSource {
			if _, err := os.Stat(r.Source); err != nil {
				return nil, fmt.Errorf("invalid %s: host path %s does not exist: create it, or use -v, which creates it", r.Flag, r.Source)
			}
		}
	}
	c := &containerMounts{autoRemove: rec.AutoRemove, id: rec.ID}
	if err := c.create(e, rec.ID, o, reqs); err != nil {
		c.release()
		return nil, err
	}
	o.Mounts = reqs
	return c, nil
}

func (c *containerMounts) create(e *Engine, id string, o *spec.RunOptions, reqs []spec.MountRequest) error {
	layers := o.UserRoots
	if len(layers) == 0 && o.Rootfs != "" {
		// A missing rootfs is FromRunOptions' to report.
		if abs, err := filepath.Abs(o.Rootfs); err == nil && isDir(abs) {
			layers = []string{abs}
		}
	}
	store := e.Volumes()
	collected := false
	named := map[string]*volume.Use{}
	for i := range reqs {
		r := &reqs[i]
		switch r.Type {
		case spec.MountBind:
			if r.CreateSource {
				if err := c.mkdirAll(r.Source); err != nil {
					return fmt.Errorf("%s: create host directory: %w", r.Flag, err)
				}
			}
			continue
		case spec.MountVolume:
		default:
			continue
		}
		if !collected {
			// Anonymous volumes of containers that are gone.
			_ = store.Collect(e.VolumeKept())
			collected = true
		}
		anonymous := r.Source == ""
		if anonymous {
			r.Source = volume.AnonymousName(id, r.Destination)
		}
		u := named[r.Source]
		if u == nil {
			opts := volume.Options{Labels: r.Labels, Anonymous: anonymous}
			if !r.NoCopy && len(layers) > 0 {
				target := r.Destination
				opts.Fill = func(dir string) error { return volume.CopyUp(layers, target, dir) }
			}
			var err error
			if u, err = store.Acquire(r.Source, id, opts); err != nil {
				return fmt.Errorf("%s: %w", r.Flag, err)
			}
			c.uses = append(c.uses, u)
			named[r.Source] = u
		}
		r.Type, r.Source = spec.MountBind, u.Mountpoint
		if len(o.UIDMap) > 0 {
			if err := usernsVolume(r, u, o); err != nil {
				return fmt.Errorf("%s: %w", r.Flag, err)
			}
		}
	}
	return nil
}

// mkdirAll creates dir and its missing parents, remembering them.
func (c *containerMounts) mkdirAll(dir string) error {
	var missing []string
	for p := dir; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || p == filepath.Dir(p) {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		missing = append(missing, p)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		err := os.Mkdir(missing[i], 0o755)
		if errors.Is(err, os.ErrExist) {
			continue // made meanwhile by someone else
		}
		if err != nil {
			return err
		}
		c.made = append(c.made, missing[i])
	}
	return nil
}

// keep says the container ran: volumes and directories made for it stay.
func (c *containerMounts) keep() { c.kept = true }

// release lets the volumes go. Anonymous volumes of a --rm container go
// with it, and what a run that never got its container going created is
// removed. Volumes that could not be removed are warnings.
func (c *containerMounts) release() Warnings {
	var w Warnings
	for _, u := range c.uses {
		// Another container's anonymous volume (--volumes-from) stays
		// with that container.
		own := u.Anonymous && (u.Owner == "" || u.Owner == c.id)
		if (own && c.autoRemove) || (u.Created && !c.kept) {
			w.add(u.ReleaseAndRemove())
			continue
		}
		u.Release()
	}
	if !c.kept {
		for i := len(c.made) - 1; i >= 0; i-- {
			os.Remove(c.made[i]) // only if still empty
		}
	}
	return w
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// VolumeKept says whether an anonymous volume is still referred to: by
// its owner, which is looked up alone (every start that mounts a volume
// collects, and reading every container made it cost more with each
// container kept), or, once the owner is gone, by any container
// (--volumes-from names it): every record is read then, once per call
// of VolumeKept.
func (e *Engine) VolumeKept() func(v *volume.Volume) bool {
	var refs map[string][]managed.Record
	return func(v *volume.Volume) bool {
		if v.Owner != "" && exists(e.ContainerDir(v.Owner)) {
			return true
		}
		if refs == nil {
			refs = e.VolumeRefs()
		}
		return len(refs[v.Name]) > 0
	}
}

// VolumeRefs maps each volume that containers mount, running or not, to
// those containers (docker keeps a volume that any container refers to).
func (e *Engine) VolumeRefs() map[string][]managed.Record {
	refs := map[string][]managed.Record{}
	for _, rec := range e.Containers().List() {
		names := rec.Config.Volumes(rec.ID, volume.AnonymousName)
		if rec.Config == nil {
			names = legacyVolumes(rec)
		}
		for _, name := range names {
			refs[name] = append(refs[name], rec)
		}
	}
	return refs
}

// legacyVolumes are the volumes that a record of a berth before
// managed.Config names in its command line: they stay in use, as they
// did, until that container is removed.
func legacyVolumes(rec managed.Record) []string {
	var out []string
	for _, arg := range rec.Args {
		var r spec.MountRequest
		var err error
		if v, ok := strings.CutPrefix(arg, "--volume="); ok {
			r, err = spec.ParseVolumeFlag(v)
		} else if v, ok := strings.CutPrefix(arg, "--mount="); ok {
			r, err = spec.ParseMountFlag(v)
		} else {
			continue
		}
		if err != nil || r.Type != spec.MountVolume {
			continue
		}
		name := r.Source
		if name == "" {
			name = volume.AnonymousName(rec.ID, r.Destination)
		}
		out = append(out, name)
	}
	return out
}
