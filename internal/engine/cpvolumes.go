package engine

import (
	"os"
	"path"
	"strings"

	"github.com/berth-runtime/berth/internal/archive"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/volume"
	"golang.org/x/sys/unix"
)

// stoppedEndpoint is where cp finds path p of a stopped container: in the
// volume mounted at p or above it (the deepest such destination), as the
// container sees p when it runs (Docker mounts a stopped container's
// volumes for cp), else in the container's root. A volume is its own
// root: paths, and the container's symlinks in it (to /etc, to ../..),
// resolve inside the volume's directory and never leave it. Its closer
// closes what was opened; a running container's mounts are in root
// already (running: p stays there).
func (e *Engine) stoppedEndpoint(rec managed.Record, root archive.Root, running bool, p string) (archive.Endpoint, func(), error) {
	ep := archive.Endpoint{Root: root, Path: p, Maps: mapsOf(rec), Name: "container " + rec.Name}
	none := func() {}
	if running || rec.Config == nil {
		return ep, none, nil
	}
	m, rest := volumeAt(rec, p)
	if m == nil {
		return ep, none, nil
	}
	name := m.Source
	if name == "" {
		name = volume.AnonymousName(rec.ID, m.Destination)
	}
	v, err := e.Volumes().Get(name)
	if err != nil {
		// Not made yet (a container that never ran): its first run fills
		// it from the image, as the container's layer has it.
		return ep, none, nil
	}
	f, err := os.OpenFile(v.Mountpoint, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return archive.Endpoint{}, none, err
	}
	ep.Root, ep.Path, ep.Named = archive.Root{F: f, Contained: true}, rest, p
	if rec.UserNS != nil && rootfs.IDMapSupported(v.Mountpoint) {
		// The volume keeps the container's own IDs on disk, shown
		// through an idmapped mount: no mapping between.
		ep.Maps = archive.IDMaps{}
	}
	return ep, func() { f.Close() }, nil
}

// volumeAt is the volume mount of rec whose destination holds container
// path p, the deepest, and p's path from the volume's root; nil if none.
// The match is lexical, on p cleaned: what a symlink of the container's
// own layer would lead to is not followed into a volume.
func volumeAt(rec managed.Record, p string) (*spec.MountRequest, string) {
	clean := path.Clean("/" + p)
	var best *spec.MountRequest
	for i := range rec.Config.Mounts {
		m := &rec.Config.Mounts[i]
		if m.Type != spec.MountVolume {
			continue
		}
		if clean != m.Destination && !strings.HasPrefix(clean, m.Destination+"/") {
			continue
		}
		if best == nil || len(m.Destination) > len(best.Destination) {
			best = m
		}
	}
	if best == nil {
		return nil, ""
	}
	rest := "/" + strings.TrimPrefix(strings.TrimPrefix(clean, best.Destination), "/")
	// docker cp's meanings of a trailing "/." (the contents) and "/" (a
	// directory) are kept.
	switch {
	case strings.HasSuffix(p, "/.") && rest != "/":
		rest += "/."
	case strings.HasSuffix(p, "/.") && rest == "/":
		rest = "/."
	case strings.HasSuffix(p, "/") && rest != "/":
		rest += "/"
	}
	return best, rest
}
