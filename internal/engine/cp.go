package engine

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/archive"
	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/snapshot"
	"golang.org/x/sys/unix"
)

// CopyOptions are docker cp's flags.
type CopyOptions struct {
	// Archive keeps the owners the source has (-a); otherwise files
	// copied in belong to the container's root.
	Archive bool
	// Follow follows a symlink as the source's last component (-L).
	Follow bool
}

// CopyFromContainer copies src in the container to dst on the host, or
// as a tar stream to out when dst is "-".
func (e *Engine) CopyFromContainer(rec managed.Record, src, dst string, o CopyOptions, out io.Writer) error {
	return e.withRoot(rec, managed.OpCopy, func(root archive.Root, running bool) error {
		from, done, err := e.stoppedEndpoint(rec, root, running, src)
		if err != nil {
			return err
		}
		defer done()
		if dst == "-" {
			s, err := archive.StatSource(from, o.Follow)
			if err != nil {
				return err
			}
			return archive.Write(out, from.Root, from.Path, archive.StreamName(src, s), archive.WriteOptions{Follow: s.Follow, Maps: from.Maps})
		}
		host, err := archive.HostRoot()
		if err != nil {
			return err
		}
		defer host.F.Close()
		return archive.Copy(from, archive.Endpoint{Root: host, Path: dst}, o.Follow, archive.ExtractOptions{})
	})
}

// CopyToContainer copies src on the host, or a tar stream from in when
// src is "-", to dst in the container.
func (e *Engine) CopyToContainer(rec managed.Record, src, dst string, o CopyOptions, in io.Reader) error {
	return e.withRoot(rec, managed.OpCopy, func(root archive.Root, running bool) error {
		to, done, err := e.stoppedEndpoint(rec, root, running, dst)
		if err != nil {
			return err
		}
		defer done()
		xo := archive.ExtractOptions{KeepOwners: o.Archive, Maps: to.Maps}
		if !o.Archive {
			uid, gid, err := to.Maps.HostOf(0, 0)
			if err != nil {
				return err
			}
			xo.Owner = &[2]int{uid, gid}
		}
		if src == "-" {
			info, err := to.Root.Stat(to.Path, true)
			if err != nil {
				return err
			}
			if !info.Dir {
				return errdefs.New(errdefs.ErrInvalidArgument, "destination %q must be a directory", dst)
			}
			return archive.Extract(in, to.Root, to.Path, xo)
		}
		host, err := archive.HostRoot()
		if err != nil {
			return err
		}
		defer host.F.Close()
		return archive.Copy(archive.Endpoint{Root: host, Path: src}, to, o.Follow, xo)
	})
}

// Export writes the container's whole file system as a tar stream: its
// root's mount alone, without /proc, /sys, volumes or bind mounts.
func (e *Engine) Export(rec managed.Record, out io.Writer) error {
	return e.withRoot(rec, managed.OpExport, func(root archive.Root, _ bool) error {
		return archive.Write(out, root, "/", "", archive.WriteOptions{Maps: mapsOf(rec), OneMount: true})
	})
}

// Diff lists what the container changed in its image's files.
func (e *Engine) Diff(rec managed.Record) ([]archive.Change, error) {
	if err := managed.Check(managed.OpDiff, rec); err != nil {
		return nil, err
	}
	changes, _, err := e.changesOf(rec)
	return changes, err
}

// changesOf lists the container's changes, as Diff, and names the upper
// layer they are in ("" before its first start: no changes).
func (e *Engine) changesOf(rec managed.Record) ([]archive.Change, string, error) {
	if rec.ImageID == "" {
		return nil, "", errdefs.New(errdefs.ErrInvalidArgument, "container %s runs from --rootfs: it has no image to compare with", rec.Name)
	}
	dir := e.ContainerDir(rec.ID)
	made, ok, err := snapshot.MadeWith(dir)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", nil // never started: no changes yet
	}
	if made.Driver != snapshot.Overlay {
		return nil, "", errdefs.New(errdefs.ErrInvalidArgument, "container %s has a copy of its image (storage driver vfs): berth diff needs the overlay driver", rec.Name)
	}
	lower, err := e.lowerOf(rec)
	if err != nil {
		return nil, "", err
	}
	upper := filepath.Join(dir, "upper")
	changes, err := archive.Diff(upper, lower)
	if err != nil {
		return nil, "", err
	}
	var lowerMaps archive.IDMaps
	if rec.UserNS != nil && rec.UserNS.ChownCache == "" {
		lowerMaps = mapsOf(rec) // the layers are shown idmapped
	}
	return archive.WithoutMountPoints(changes, e.mountPoints(rec), upper, lower, lowerMaps), upper, nil
}

// mountPoints are where the container's last run mounted something: the
// spec's mounts, and the network files berth binds.
func (e *Engine) mountPoints(rec managed.Record) []string {
	points := []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}
	if s, err := e.Containers().Spec(rec.ID); err == nil && s != nil {
		for _, m := range s.Mounts {
			points = append(points, m.Destination)
		}
	}
	return points
}

// lowerOf is the layers the container's overlay sits on, top first.
func (e *Engine) lowerOf(rec managed.Record) ([]string, error) {
	if rec.UserNS != nil && rec.UserNS.ChownCache != "" {
		return []string{rec.UserNS.ChownCache}, nil
	}
	store, err := e.Images()
	if err != nil {
		return nil, err
	}
	return store.LowerDirs(rec.ImageID)
}

// withRoot runs fn on a descriptor of the container's root file system,
// under the container's operation lock: it neither starts nor stops
// meanwhile, as docker holds a container's lock while it copies. A
// running container's root is its PID 1's, opened through a pidfd that
// outlives the open, so a recycled PID cannot give another's. A stopped
// container's overlay is mounted detached, reachable by its descriptor
// alone and gone when closed (a second mount of a live overlay's upper
// layer would be undefined: the lock keeps the container from starting).
func (e *Engine) withRoot(rec managed.Record, op managed.Op, fn func(root archive.Root, running bool) error) error {
	if err := managed.Check(op, rec); err != nil {
		return err
	}
	return e.WithOpLock(rec.ID, func(rec managed.Record) error {
		if managed.Held(e.ContainerDir(rec.ID)) {
			f, err := e.runningRoot(rec)
			if err != nil {
				return err
			}
			defer f.Close()
			return fn(archive.Root{F: f, Contained: true}, true)
		}
		f, err := e.stoppedRoot(&rec)
		if err != nil {
			return err
		}
		defer f.Close()
		return fn(archive.Root{F: f, Contained: true}, false)
	})
}

func (e *Engine) runningRoot(rec managed.Record) (*os.File, error) {
	c, err := container.Attach(e.Runroot, rec.ID)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.OpenProcFile("root")
}

// stoppedRoot opens a stopped container's root file system: its
// --rootfs, its copy, or its overlay mounted detached (made first if the
// container never ran, as its first start would make it).
func (e *Engine) stoppedRoot(rec *managed.Record) (*os.File, error) {
	if rec.Config != nil && rec.Config.Rootfs != "" {
		return openDir(rec.Config.Rootfs)
	}
	if rec.ImageID == "" {
		return nil, errdefs.New(errdefs.ErrInvalidArgument, "container %s has no root file system berth can reach", rec.Name)
	}
	store, err := e.Images()
	if err != nil {
		return nil, err
	}
	lower, err := store.LowerDirs(rec.ImageID)
	if err != nil {
		return nil, err
	}
	ns := rec.UserNS
	snap, _, err := e.snapshotOf(rec, ns, store, lower)
	if err != nil {
		return nil, err
	}
	if snap.Overlay == nil {
		return openDir(snap.Rootfs)
	}
	ov := *snap.Overlay
	if ns != nil && !ov.Shifted && len(ns.UIDMap) > 0 {
		ov.IDMap = &rootfs.IDMap{UIDs: idRanges(ns.UIDMap), GIDs: idRanges(ns.GIDMap)}
		return rootfs.OverlayTree(&ov)
	}
	return rootfs.DetachedOverlay(&ov)
}

func openDir(p string) (*os.File, error) {
	f, err := os.OpenFile(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the container's root file system: %w", err)
	}
	return f, nil
}

func idRanges(m []managed.IDMapping) []rootfs.IDRange {
	out := make([]rootfs.IDRange, len(m))
	for i, r := range m {
		out[i] = rootfs.IDRange{ContainerID: r.ContainerID, HostID: r.HostID, Size: r.Size}
	}
	return out
}

// mapsOf is the container's user namespace mapping, for owners.
func mapsOf(rec managed.Record) archive.IDMaps {
	if rec.UserNS == nil {
		return archive.IDMaps{}
	}
	conv := func(m []managed.IDMapping) []archive.IDMapping {
		out := make([]archive.IDMapping, len(m))
		for i, r := range m {
			out[i] = archive.IDMapping{ContainerID: r.ContainerID, HostID: r.HostID, Size: r.Size}
		}
		return out
	}
	return archive.IDMaps{UIDs: conv(rec.UserNS.UIDMap), GIDs: conv(rec.UserNS.GIDMap)}
}

// rootOwner is the host uid and gid of the container's root, who owns
// what cp copies in without -a.
func rootOwner(rec managed.Record) (int, int, error) {
	m := mapsOf(rec)
	return m.HostOf(0, 0)
}
