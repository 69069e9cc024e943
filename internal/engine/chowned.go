package engine

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/chowncache"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/snapshot"
)

// NoIDMapEnv, set to 1, makes new user-namespaced containers use the
// chowned copy of their image (as on kernels that cannot idmap its
// layers) rather than idmapped layers: for kernels whose idmapped mounts
// misbehave, and for tests of the fallback on kernels that have them.
const NoIDMapEnv = "BERTH_NO_IDMAP"

// ChownCache is the cache of images' chowned copies.
func (e *Engine) ChownCache() chowncache.Cache {
	return chowncache.Cache{Dir: filepath.Join(e.Root, "chowncache")}
}

// idmapLayers reports whether a user namespace's container can see the
// image layers in lower through idmapped mounts: the kernel gives
// overlay idmapped layers (6.13) and their file system takes idmapped
// mounts, unless NoIDMapEnv says otherwise.
func idmapLayers(lower []string) (bool, error) {
	off, err := noIDMap()
	if err != nil || off {
		return false, err
	}
	return rootfs.IDMappedOverlay() && rootfs.IDMapSupported(lower[0]), nil
}

// noIDMap reads NoIDMapEnv.
func noIDMap() (bool, error) {
	switch v := os.Getenv(NoIDMapEnv); v {
	case "1":
		return true, nil
	case "":
		return false, nil
	default:
		return false, fmt.Errorf("%s=%q: set it to 1 (chowned copies instead of idmapped layers) or leave it unset", NoIDMapEnv, v)
	}
}

// snapshotOf makes (or finds, for a container run before) rec's snapshot
// of its image, whose layers are lower, and returns it with the lower
// layers its overlay shows: the image's, or the chowned copy's.
func (e *Engine) snapshotOf(rec *managed.Record, ns *managed.UserNS, store *image.Store, lower []string) (*snapshot.Snapshot, []string, error) {
	driver, err := snapshot.ParseDriver(e.StorageDriver)
	if err != nil {
		return nil, nil, err
	}
	dir := e.ContainerDir(rec.ID)
	made, chowned, err := snapshotPlan(dir, driver, lower, ns != nil)
	if err != nil {
		return nil, nil, err
	}
	if chowned {
		// The layers cannot be shown through the namespace's mapping:
		// the overlay sits on a copy chowned into the range, shared.
		cached, err := e.chownedSnapshot(rec, ns, store, made.ChownCache)
		if err != nil {
			return nil, nil, err
		}
		lower, made.ChownCache = []string{cached}, ns.ChownCacheKey
	}
	snap, err := snapshot.Prepare(dir, lower, made.Driver, func(dst string) error { return store.Materialize(rec.ImageID, dst) })
	if err != nil {
		return nil, nil, err
	}
	if err := snapshot.Record(dir, made); err != nil {
		return nil, nil, err
	}
	if snap.Overlay != nil {
		snap.Overlay.Shifted = chowned
	}
	return snap, lower, nil
}

// snapshotPlan is how container dir's snapshot is made: as recorded when
// it was first made, else as driver and the kernel allow; chowned says
// its overlay sits on a chowned copy (m.ChownCache names the one it was
// made with, if any). A container given a copy because the kernel had no
// idmapped overlay (berth before the chown cache) keeps its copy.
func snapshotPlan(dir string, driver snapshot.Driver, lower []string, userns bool) (m snapshot.Made, chowned bool, err error) {
	m, ok, err := snapshot.MadeWith(dir)
	switch {
	case err != nil:
		return m, false, err
	case ok && m.Driver == snapshot.Copy && driver == snapshot.Overlay && userns:
		return m, false, nil
	case ok && m.Driver != driver:
		// Prepare refuses it, naming the driver to use.
		return snapshot.Made{Driver: driver}, false, nil
	case ok:
		return m, m.ChownCache != "", nil
	}
	m = snapshot.Made{Driver: driver}
	if !userns || driver != snapshot.Overlay {
		return m, false, nil
	}
	idmap, err := idmapLayers(lower)
	return m, !idmap, err
}

// chownedSnapshot gives container rec the chowned copy of its image
// through ns's mappings, built now if no container made it before, and
// returns the directory to use as the overlay's lower layer; ns records
// it and its key. old is the key the snapshot was made with, if any.
func (e *Engine) chownedSnapshot(rec *managed.Record, ns *managed.UserNS, store *image.Store, old string) (string, error) {
	entry := chowncache.Entry{ImageID: rec.ImageID, UIDMap: cacheMap(ns.UIDMap), GIDMap: cacheMap(ns.GIDMap)}
	build := func(dst string) error {
		return store.MaterializeShifted(rec.ImageID, dst, func(uid, gid uint32) (uint32, uint32) {
			return shiftID(ns.UIDMap, uid), shiftID(ns.GIDMap, gid)
		})
	}
	c := e.ChownCache()
	key, lower, _, err := c.Acquire(entry, rec.ID, build)
	if err != nil {
		return "", err
	}
	if old != "" && old != key {
		// The mappings changed since the snapshot was made: the old
		// copy is this container's no more.
		_ = c.Release(old, rec.ID, e.RangeHeld, e.imageExists())
	}
	ns.ChownCache, ns.ChownCacheKey = lower, key
	return lower, nil
}

// shiftID is id's owner on the host through m; unmapped IDs stay.
func shiftID(m []managed.IDMapping, id uint32) uint32 {
	if h, ok := hostIDOf(m, id); ok {
		return h
	}
	return id
}

func cacheMap(m []managed.IDMapping) []chowncache.Mapping {
	out := make([]chowncache.Mapping, len(m))
	for i, e := range m {
		out[i] = chowncache.Mapping{ContainerID: e.ContainerID, HostID: e.HostID, Size: e.Size}
	}
	return out
}

// imageExists tells the cache whether an image is still in the store,
// reading the store once, and only if asked; when it cannot tell, every
// image is kept.
func (e *Engine) imageExists() func(id string) bool {
	var ids map[string]bool
	return func(id string) bool {
		if ids == nil {
			store, err := e.Images()
			var list []image.Image
			if err == nil {
				list, err = store.List()
			}
			if err != nil {
				return true // and asks again for the next copy
			}
			ids = map[string]bool{}
			for _, img := range list {
				ids[img.ID] = true
			}
		}
		return ids[id]
	}
}

// collectChowned removes the chowned copies no one keeps: no existing
// container uses them and their image is gone. wait false skips it when
// another berth holds the cache (it may be building for minutes).
func (e *Engine) collectChowned(wait bool) error {
	c := e.ChownCache()
	if ents, err := os.ReadDir(c.Dir); err != nil || len(ents) == 0 || len(ents) == 1 && ents[0].Name() == "lock" {
		return nil
	}
	_, err := c.Collect(wait, e.RangeHeld, e.imageExists())
	return err
}

// CollectChowned is collectChowned after an image's removal (rmi, image
// prune): its copies go with it, unless a container still uses them.
func (e *Engine) CollectChowned() Warnings {
	var w Warnings
	w.add(e.collectChowned(true))
	return w
}

// collectChownedAfterRemoval gives back removed container rec's chowned
// copy (fromRecord), which goes if its image did; a record that never
// named one (a crash before it was saved) leaves it to the collection.
func (e *Engine) collectChownedAfterRemoval(rec managed.Record) error {
	if rec.UserNS == nil {
		return nil
	}
	key := fromRecord(rec)
	if key == "" {
		return e.collectChowned(true)
	}
	return e.ChownCache().Release(key, rec.ID, e.RangeHeld, e.imageExists())
}

// fromRecord is the key of the chowned copy container rec used, if any.
func fromRecord(rec managed.Record) string {
	if rec.UserNS == nil {
		return ""
	}
	return rec.UserNS.ChownCacheKey
}
