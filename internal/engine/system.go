package engine

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/berth-runtime/berth/internal/buildcache"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/volume"
)

// ImageUsage is one image in docker system df -v: its size, the part of
// it in layers other images share, and how many containers use it.
type ImageUsage struct {
	Image      image.Image
	SharedSize int64
	Containers int
	// layers are the image's layers by diff ID, with their sizes.
	layers map[string]int64
}

// UniqueSize is what removing the image alone frees.
func (u ImageUsage) UniqueSize() int64 { return u.Image.Size - u.SharedSize }

// ContainerUsage is one container's writable layer (its vfs copy, with
// that driver), as docker's SizeRw.
type ContainerUsage struct {
	Record managed.Record
	Size   int64
	// Volumes is how many volumes it mounts (docker's LOCAL VOLUMES).
	Volumes int
}

// VolumeUsage is one volume: its data's size and how many containers
// mount it (docker's LINKS).
type VolumeUsage struct {
	Name  string
	Links int
	Size  int64
}

// DiskUsage is what berth keeps on disk, as docker system df sees it.
type DiskUsage struct {
	Images     []ImageUsage
	Containers []ContainerUsage
	Volumes    []VolumeUsage
	BuildCache BuildCacheUsage
}

// UsageSummary is one line of docker system df.
type UsageSummary struct {
	Type        string
	Total       int
	Active      int
	Size        int64
	Reclaimable int64
}

// DiskUsage measures images, containers and volumes. A part that cannot
// be read is a warning; the rest is measured.
func (e *Engine) DiskUsage() (DiskUsage, Warnings) {
	var du DiskUsage
	var w Warnings
	recs := e.Containers().List()
	for _, rec := range recs {
		u := ContainerUsage{Record: e.WithPause(rec), Size: e.containerSize(rec.ID)}
		if rec.Config != nil {
			u.Volumes = len(rec.Config.Volumes(rec.ID, volume.AnonymousName))
		}
		du.Containers = append(du.Containers, u)
	}
	imgs, err := e.imageUsage(recs)
	w.add(err)
	du.Images = imgs
	vols, err := e.volumeUsage()
	w.add(err)
	du.Volumes = vols
	bc, err := e.buildCacheUsage(recs)
	w.add(err)
	du.BuildCache = bc
	return du, w
}

// imageUsage is every image with its shared size and containers.
func (e *Engine) imageUsage(recs []managed.Record) ([]ImageUsage, error) {
	store, err := e.Images()
	if err != nil {
		return nil, err
	}
	imgs, err := store.List()
	if err != nil {
		return nil, err
	}
	users := map[string]int{}
	for _, rec := range recs {
		users[rec.ImageID]++
	}
	holders := map[string]int{} // diff ID: images that have it
	out := make([]ImageUsage, 0, len(imgs))
	for _, img := range imgs {
		u := ImageUsage{Image: img, Containers: users[img.ID], layers: map[string]int64{}}
		for _, l := range img.Layers {
			if _, dup := u.layers[l.DiffID]; !dup {
				u.layers[l.DiffID] = store.LayerSize(l.DiffID)
				holders[l.DiffID]++
			}
		}
		out = append(out, u)
	}
	for i := range out {
		for id, size := range out[i].layers {
			if holders[id] > 1 {
				out[i].SharedSize += size
			}
		}
	}
	return out, nil
}

// volumeUsage is every volume with its size and the containers that
// mount it.
func (e *Engine) volumeUsage() ([]VolumeUsage, error) {
	vols, err := e.Volumes().List()
	if err != nil {
		return nil, err
	}
	refs := e.VolumeRefs()
	out := make([]VolumeUsage, 0, len(vols))
	for _, v := range vols {
		out = append(out, VolumeUsage{Name: v.Name, Links: len(refs[v.Name]), Size: dirSize(v.Mountpoint)})
	}
	return out, nil
}

// containerSize is the container's writable layer: the overlay's upper
// directory, or with the vfs driver its copy of the image.
func (e *Engine) containerSize(id string) int64 {
	dir := e.ContainerDir(id)
	return dirSize(filepath.Join(dir, "upper")) + dirSize(filepath.Join(dir, "rootfs"))
}

// dirSize is the apparent size of the files under dir, each inode once,
// without crossing into other file systems (a container's root mounted
// there is not its writable layer). Unreadable parts count as nothing.
func dirSize(dir string) int64 {
	root, err := os.Lstat(dir)
	if err != nil {
		return 0
	}
	dev := root.Sys().(*syscall.Stat_t).Dev
	seen := map[uint64]bool{}
	var total int64
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st := info.Sys().(*syscall.Stat_t)
		if st.Dev != dev {
			return filepath.SkipDir
		}
		if d.IsDir() || seen[st.Ino] {
			return nil
		}
		seen[st.Ino] = true
		total += info.Size()
		return nil
	})
	return total
}

// Summary is docker system df's table: images (a layer shared by
// several counted once; reclaimable: what images no container uses
// hold alone), containers (active: running), local volumes (active:
// mounted by a container) and build cache (active: used by a live build
// or a container; see BuildCacheUsage).
func (du DiskUsage) Summary() []UsageSummary {
	img := UsageSummary{Type: "Images", Total: len(du.Images)}
	all, used := map[string]int64{}, map[string]bool{}
	for _, u := range du.Images {
		for id, size := range u.layers {
			all[id] = size
			if u.Containers > 0 {
				used[id] = true
			}
		}
		if u.Containers > 0 {
			img.Active++
		}
	}
	for id, size := range all {
		img.Size += size
		if !used[id] {
			img.Reclaimable += size
		}
	}
	ctr := UsageSummary{Type: "Containers", Total: len(du.Containers)}
	for _, c := range du.Containers {
		ctr.Size += c.Size
		if c.Record.State.Up() {
			ctr.Active++
		} else {
			ctr.Reclaimable += c.Size
		}
	}
	vol := UsageSummary{Type: "Local Volumes", Total: len(du.Volumes)}
	for _, v := range du.Volumes {
		vol.Size += v.Size
		if v.Links > 0 {
			vol.Active++
		} else {
			vol.Reclaimable += v.Size
		}
	}
	bc := du.BuildCache
	return []UsageSummary{img, ctr, vol, {Type: "Build Cache", Total: bc.Records, Active: bc.Active, Size: bc.Size, Reclaimable: bc.Reclaimable}}
}

// PruneOptions are docker system prune's -a and --volumes.
type PruneOptions struct {
	// AllImages removes every image no container uses, not only those
	// without a name.
	AllImages bool
	// Volumes removes the anonymous volumes no container mounts (Docker
	// 23's system prune --volumes: named ones stay).
	Volumes bool
}

// PruneReport is what SystemPrune removed, and the bytes it freed.
type PruneReport struct {
	Containers []string
	Networks   []string
	Volumes    []string
	Images     image.Removed
	Reclaimed  int64
}

// SystemPrune is docker system prune: the stopped containers first, so
// that what only they used goes too; then networks without running
// containers; with Volumes the volumes no container mounts; then the
// images without a name (AllImages: every image no container uses) and
// the layers no image references.
func (e *Engine) SystemPrune(o PruneOptions) (PruneReport, Warnings, error) {
	var r PruneReport
	sizes := map[string]int64{}
	for _, rec := range e.Containers().List() {
		if !rec.State.Up() {
			sizes[rec.ID] = e.containerSize(rec.ID)
		}
	}
	removed, w := e.Prune()
	for _, id := range removed {
		r.Reclaimed += sizes[id]
	}
	r.Containers = removed
	r.Networks = e.PruneNetworks()
	if o.Volumes {
		vols, err := e.PruneVolumes(false, &r.Reclaimed)
		if err != nil {
			return r, w, err
		}
		r.Volumes = vols
	}
	store, err := e.Images()
	if err != nil {
		return r, w, err
	}
	// The build cache with the images, as docker's: its step images are
	// dangling ones, but those a live build uses stay.
	_, err = buildcache.Prune(e.Root, func(used map[string]bool) error {
		var err error
		r.Images, err = store.Prune(o.AllImages, func(id string) bool { return used[id] || e.Containers().Uses(id) })
		return err
	}, func(id string) bool {
		_, err := store.Get(id)
		return err == nil
	}, func(path string) { r.Reclaimed += dirSize(path) })
	r.Reclaimed += r.Images.Bytes
	if err != nil {
		return r, w, err
	}
	w = append(w, e.CollectChowned()...)
	return r, w, nil
}

// PruneVolumes removes the anonymous volumes no container mounts, and
// with all the named ones too (docker volume prune [-a]), adding their
// sizes to reclaimed (nil: not measured).
func (e *Engine) PruneVolumes(all bool, reclaimed *int64) ([]string, error) {
	refs := e.VolumeRefs()
	keep := func(name string) bool { return len(refs[name]) > 0 }
	sizes := map[string]int64{}
	if vols, err := e.Volumes().List(); err == nil && reclaimed != nil {
		for _, v := range vols {
			if !keep(v.Name) && (all || v.Anonymous) {
				sizes[v.Name] = dirSize(v.Mountpoint)
			}
		}
	}
	prune := e.Volumes().PruneAnonymous
	if all {
		prune = e.Volumes().Prune
	}
	names, err := prune(keep)
	for _, n := range names {
		if reclaimed != nil {
			*reclaimed += sizes[n]
		}
	}
	return names, err
}

// PruneNetworks removes the user-defined networks no running container
// is attached to, after collecting what dead containers left in each;
// it returns their names, sorted.
func (e *Engine) PruneNetworks() []string {
	var removed []string
	for _, n := range network.List(e.Root) {
		n.Collect()
		if n.Name == network.DefaultName || len(n.Members()) > 0 {
			continue
		}
		if err := n.Remove(); err == nil {
			removed = append(removed, n.Name)
		}
	}
	sort.Strings(removed)
	return removed
}
