package build

import (
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-runtime/berth/internal/archive"
	"github.com/berth-runtime/berth/internal/image"
)

// squash is --squash, as docker build --squash and podman build --squash:
// the layers the build added on the target stage's base image merged
// into one (archive.Squash: whiteouts applied, the base's files they
// delete whited out), the base's layers kept; the config as built; the
// history of the added steps kept, each marked empty_layer, and one entry
// more for the merged layer (Docker's "merge ID to BASE"). Cached by the
// image squashed, so a rebuild with nothing changed gives the same ID.
func (b *builder) squash(target int, id string) (string, error) {
	base, err := b.stageBase(target)
	if err != nil {
		return "", err
	}
	key := cacheKey("squash", base, id)
	if sid, ok, err := b.cached(key); err != nil || ok {
		return sid, err
	}
	img, err := b.store.Get(id)
	if err != nil {
		return "", err
	}
	cf, err := b.store.ConfigFile(id)
	if err != nil {
		return "", err
	}
	baseLayers, baseHistory := 0, 0
	if base != "" {
		bcf, err := b.store.ConfigFile(base)
		if err != nil {
			return "", err
		}
		baseLayers, baseHistory = len(bcf.RootFS.DiffIDs), len(bcf.History)
	}
	if len(img.Layers) < baseLayers || len(cf.History) < baseHistory {
		return id, nil // not built on its base's layers (cannot happen): left as is
	}
	added := img.Layers[baseLayers:]
	if len(added) == 0 {
		return id, nil
	}
	var hist []v1.History
	for _, h := range cf.History[baseHistory:] {
		h.EmptyLayer = true
		hist = append(hist, h)
	}
	to := base
	if to == "" {
		to = "scratch"
	}
	t := now()
	hist = append(hist, v1.History{Created: v1.Time{Time: t}, Comment: "merge " + id + " to " + to})
	return b.storeSquashed(key, base, added, image.NewImage{Base: base, Config: cf.Config, Created: t, History: hist, Intermediate: true})
}

// storeSquashed stores the merged layer of added (one layer is itself)
// and the image n with it, the cache's for key.
func (b *builder) storeSquashed(key, base string, added []image.Layer, n image.NewImage) (string, error) {
	release, err := b.hold()
	if err != nil {
		return "", err
	}
	layer := added[0]
	made := len(added) > 1
	if made {
		layer, err = b.store.StoreLayer(func(w io.Writer) error {
			return archive.Squash(w, len(added), func(i int) (io.ReadCloser, error) { return b.store.OpenLayer(added[i]) }, base != "")
		})
	}
	var img *image.Image
	if err == nil {
		n.Layers = []image.Layer{layer}
		img, err = b.store.Create(b.ctx, n)
	}
	if err != nil {
		release()
		if made && layer.Digest != "" {
			b.store.DiscardLayers([]image.Layer{layer})
		}
		return "", err
	}
	err = b.cache.Done(key, img.ID)
	release()
	if err != nil {
		return "", err
	}
	return img.ID, nil
}

// stageBase is the image a stage was built FROM: an earlier stage's
// result, an image (found as FROM found it, pulled then if need be), or
// "" for scratch.
func (b *builder) stageBase(i int) (string, error) {
	name := b.expandMeta(b.stages[i].BaseName)
	if name == "scratch" {
		return "", nil
	}
	if j := b.stageIndex(name); j >= 0 && j < i {
		return b.result(j), nil
	}
	img, err := b.store.Get(name)
	if err != nil {
		return "", err
	}
	return img.ID, nil
}
