package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
	stringArrayVarP(fl, &m.volumes, "volume", "v", "mount a host directory (/HOST:/CTR[:ro]), a named volume (NAME:/CTR[:ro], created on first use) or a new anonymous volume (/CTR)")
	stringArrayVarP(fl, &m.mounts, "mount", "", "mount: type=bind|volume|tmpfs,source=...,target=/CTR[,readonly][,tmpfs-size=64m][,tmpfs-mode=1777]")
	stringArrayVarP(fl, &m.tmpfs, "tmpfs", "", "mount a tmpfs: /CTR[:size=64m,mode=1777,...] (noexec, nosuid, nodev unless told)")
	fl.BoolVar(&m.readOnly, "read-only", false, "mount the container's root filesystem read-only")
}

func addUsernsFlags(fl *pflag.FlagSet, f *runFlags) {
	fl.StringVar(&f.userns, "userns", "", "user namespace: host (none, the default), auto[:size=N] (a range of host IDs of its own), keep-id, nomap")
	stringArrayVarP(fl, &f.uidmaps, "uidmap", "", "map container UIDs to host UIDs: CONTAINER:HOST:SIZE (repeatable; a private user namespace)")
	stringArrayVarP(fl, &f.gidmaps, "gidmap", "", "map container GIDs to host GIDs: CONTAINER:HOST:SIZE (repeatable; --uidmap's if not given)")
}

// volumes is the store of named volumes, under --root.
func (g *globalOptions) volumes() volume.Store { return g.engine().Volumes() }

// parse reads the mount flags and checks them together (the engine
// creates what they need on each run).
func (m *mountFlags) parse() ([]spec.MountRequest, error) {
	var reqs []spec.MountRequest
	volumes := m.volumes
	if len(volumes) > 0 {
		cwd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("-v: the current directory: %w", err)
		}
		volumes = absVolumes(volumes, cwd)
	}
	for _, list := range []struct {
		values []string
		parse  func(string) (spec.MountRequest, error)
	}{{volumes, spec.ParseVolumeFlag}, {m.mounts, spec.ParseMountFlag}, {m.tmpfs, spec.ParseTmpfsFlag}} {
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
	return reqs, nil
}

// absVolumes resolves -v's relative host paths against cwd, as docker
// does: a source of ".", "..", or one that starts with "./" or "../", is a
// host directory; a bare name stays a volume name. The stored config then
// names the directory whatever the directory of a later start.
func absVolumes(values []string, cwd string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		src, rest, ok := strings.Cut(v, ":")
		if ok && (src == "." || src == ".." || strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../")) {
			v = filepath.Join(cwd, src) + ":" + rest
		}
		out[i] = v
	}
	return out
}
