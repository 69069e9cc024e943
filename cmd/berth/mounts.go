package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/volume"
	"github.com/spf13/pflag"
)

// mountFlags are berth run's -v, --mount, --tmpfs and --read-only, as
// typed.
type mountFlags struct {
	volumes  []string
	mounts   []string
	tmpfs    []string
	readOnly bool
}

func addMountFlags(fl *pflag.FlagSet, m *mountFlags) {
	fl.StringArrayVarP(&m.volumes, "volume", "v", nil, "mount a host directory (/HOST:/CTR[:ro]), a named volume (NAME:/CTR[:ro], created on first use) or a new anonymous volume (/CTR)")
	fl.StringArrayVar(&m.mounts, "mount", nil, "mount: type=bind|volume|tmpfs,source=...,target=/CTR[,readonly][,tmpfs-size=64m][,tmpfs-mode=1777]")
	fl.StringArrayVar(&m.tmpfs, "tmpfs", nil, "mount a tmpfs: /CTR[:size=64m,mode=1777,...] (noexec, nosuid, nodev unless told)")
	fl.BoolVar(&m.readOnly, "read-only", false, "mount the container's root filesystem read-only")
}

func addUsernsFlags(fl *pflag.FlagSet, f *runFlags) {
	fl.StringVar(&f.userns, "userns", "", "user namespace: host (none, the default), auto[:size=N] (a range of host IDs of its own), keep-id, nomap")
	fl.StringArrayVar(&f.uidmaps, "uidmap", nil, "map container UIDs to host UIDs: CONTAINER:HOST:SIZE (repeatable; a private user namespace)")
	fl.StringArrayVar(&f.gidmaps, "gidmap", nil, "map container GIDs to host GIDs: CONTAINER:HOST:SIZE (repeatable; --uidmap's if not given)")
}

// volumes is the store of named volumes, under --root.
func (g *globalOptions) volumes() volume.Store {
	return volume.Store{Dir: filepath.Join(g.root, "volumes")}
}

// containerMounts holds what a container's mounts need on the host for its
// life: the volumes it uses, and the host directories -v created.
type containerMounts struct {
	uses       []*volume.Use
	made       []string // directories created for -v, deepest last
	kept       bool
	autoRemove bool // --rm: the container's anonymous volumes go with it
}

// resolve parses the mount flags of container rec, checks them all, and
// only then creates what they need: missing -v host directories and
// volumes on first use (filled with the image's files at their path, as
// docker does), each held in use by rec. It sets o.Mounts and o.ReadOnly;
// o's root filesystem (Rootfs, UserRoots) must be known. The caller
// releases the result when the container has exited; what it created is
// removed again unless keep was called (the container ran), so a run
// refused later leaves nothing.
func (m *mountFlags) resolve(g *globalOptions, rec *managed.Record, o *spec.RunOptions) (*containerMounts, error) {
	var reqs []spec.MountRequest
	for _, list := range []struct {
		values []string
		parse  func(string) (spec.MountRequest, error)
	}{{m.volumes, spec.ParseVolumeFlag}, {m.mounts, spec.ParseMountFlag}, {m.tmpfs, spec.ParseTmpfsFlag}} {
		for _, v := range list.values {
			r, err := list.parse(v)
			if err != nil {
				return nil, err
			}
			reqs = append(reqs, r)
		}
	}
	if err := spec.CheckMounts(reqs); err != nil {
		return nil, err
	}
	for _, r := range reqs {
		if r.Type == spec.MountBind && !r.CreateSource {
			if _, err := os.Stat(r.Source); err != nil {
				return nil, fmt.Errorf("invalid %s: host path %s does not exist: create it, or use -v, which creates it", r.Flag, r.Source)
			}
		}
	}
	o.ReadOnly = m.readOnly
	c := &containerMounts{autoRemove: rec.AutoRemove}
	if err := c.create(g, rec.ID, o, reqs); err != nil {
		c.release()
		return nil, err
	}
	o.Mounts = reqs
	return c, nil
}

func (c *containerMounts) create(g *globalOptions, id string, o *spec.RunOptions, reqs []spec.MountRequest) error {
	layers := o.UserRoots
	if len(layers) == 0 && o.Rootfs != "" {
		// A missing rootfs is FromRunOptions' to report.
		if abs, err := filepath.Abs(o.Rootfs); err == nil && isDir(abs) {
			layers = []string{abs}
		}
	}
	store := g.volumes()
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
			refs := volumeRefs(g)
			_ = store.Collect(func(name string) bool { return len(refs[name]) > 0 })
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
// removed.
func (c *containerMounts) release() {
	for _, u := range c.uses {
		if (u.Anonymous && c.autoRemove) || (u.Created && !c.kept) {
			if err := u.ReleaseAndRemove(); err != nil {
				fmt.Fprintf(os.Stderr, "berth: warning: %v\n", err)
			}
			continue
		}
		u.Release()
	}
	if !c.kept {
		for i := len(c.made) - 1; i >= 0; i-- {
			os.Remove(c.made[i]) // only if still empty
		}
	}
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// volumeRefs maps each volume that containers name in their run flags,
// running or not, to those containers (docker keeps a volume that any
// container refers to).
func volumeRefs(g *globalOptions) map[string][]managed.Record {
	refs := map[string][]managed.Record{}
	for _, rec := range g.containers().List() {
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
			refs[name] = append(refs[name], rec)
		}
	}
	return refs
}
