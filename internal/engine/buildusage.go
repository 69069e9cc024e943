package engine

import (
	"github.com/berth-runtime/berth/internal/buildcache"
	"github.com/berth-runtime/berth/internal/managed"
)

// BuildCacheUsage is docker system df's Build Cache line: its records are
// the build steps' images and RUN --mount=type=cache's directories; the
// active ones are those a live build (or a container) uses now. Size
// counts the layers no listed image has (those are the Images line's),
// each once, and the cache mounts' files.
type BuildCacheUsage struct {
	Records, Active   int
	Size, Reclaimable int64
}

// buildCacheUsage measures the build cache.
func (e *Engine) buildCacheUsage(recs []managed.Record) (BuildCacheUsage, error) {
	var u BuildCacheUsage
	mounts, used := buildcache.Usage(e.Root)
	for _, rec := range recs {
		used[rec.ImageID] = true
	}
	for _, m := range mounts {
		size := dirSize(m.Path)
		u.Records++
		u.Size += size
		if m.Active {
			u.Active++
		} else {
			u.Reclaimable += size
		}
	}
	store, err := e.Images()
	if err != nil {
		return u, err
	}
	listed, err := store.List()
	if err != nil {
		return u, err
	}
	steps, err := store.ListIntermediate()
	if err != nil {
		return u, err
	}
	inImages := map[string]bool{}
	for _, img := range listed {
		for _, l := range img.Layers {
			inImages[l.DiffID] = true
		}
	}
	layers, active := map[string]bool{}, map[string]bool{}
	for _, img := range steps {
		u.Records++
		if used[img.ID] {
			u.Active++
		}
		for _, l := range img.Layers {
			if inImages[l.DiffID] {
				continue
			}
			layers[l.DiffID] = true
			if used[img.ID] {
				active[l.DiffID] = true
			}
		}
	}
	for id := range layers {
		size := store.LayerSize(id)
		u.Size += size
		if !active[id] {
			u.Reclaimable += size
		}
	}
	return u, nil
}
