package build

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-runtime/berth/internal/archive"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/managed"
)

// COPY --link and ADD --link, as BuildKit: the files are a layer of their
// own, made in an empty directory rather than on the stage's tree, and
// stacked on the stage's layers as they are (a directory the layer
// names merges with the one below: the base's other files stay). The
// layer is cached by a key without the parent image (the sources'
// digest, destination, owner and mode), as a one-layer intermediate image
// on scratch, so a changed base image keeps it: only the step's image,
// which names the new parent, is made again.

// linkOwner resolves a --chown by name before the layer is made, since
// the empty directory has no /etc/passwd: in the stage's root, the one
// look at the layers below that --link makes.
func (b *builder) linkOwner(st *stageState, cs *copySpec) error {
	if cs.chownName == "" || st.image == "" {
		return nil
	}
	step, err := b.e.NewStep(st.image, managed.Config{NetworkMode: "none"})
	if err != nil {
		return err
	}
	defer func() { _ = step.Remove() }()
	if err := step.WithRoot(func(root archive.Root) error { return cs.resolveOwner(root) }); err != nil {
		return err
	}
	cs.chownName = ""
	return nil
}

// linkKey is a --link step's layer key: its inputs without the parent.
func linkKey(srcID string, cs *copySpec, chmod string, add bool, digest string) string {
	owner := "-"
	if cs.owner != nil {
		owner = fmt.Sprintf("%d:%d", cs.owner[0], cs.owner[1])
	}
	return cacheKey("copy-link", srcID, cs.dest, fmt.Sprint(cs.destIsDir), owner, chmod, fmt.Sprint(add), digest)
}

// linkCopy runs a --link step: the step's image from the cache, else the
// layer from the cache or made in an empty directory, stacked on the
// stage's image. cached says no files were copied.
func (b *builder) linkCopy(st *stageState, cs *copySpec, lkey, text string) (bool, error) {
	key := cacheKey(st.image, "copy-link", lkey)
	if id, ok, err := b.cached(key); err != nil || ok {
		if ok {
			st.image = id
		}
		return ok, err
	}
	release, err := b.hold()
	if err != nil {
		return false, err
	}
	layer, cached, err := b.linkLayer(cs, lkey)
	if err != nil {
		release()
		if layer.Digest != "" {
			b.store.DiscardLayers([]image.Layer{layer})
		}
		return false, err
	}
	_, err = b.commitHeld(st, key, st.cfg, layer, text, release)
	return cached, err
}

// linkLayer is the --link layer for lkey: the cached one while its image
// is in the store, else made from the sources in an empty directory and
// kept as an image of its own on scratch. Called with the store held
// (hold).
func (b *builder) linkLayer(cs *copySpec, lkey string) (image.Layer, bool, error) {
	if id, ok, err := b.cached(lkey); err != nil {
		return image.Layer{}, false, err
	} else if ok {
		if img, err := b.store.Get(id); err == nil && len(img.Layers) == 1 {
			return img.Layers[0], true, nil
		}
	}
	layer, err := b.scratchLayer(cs)
	if err != nil {
		return layer, false, err
	}
	t := now()
	img, err := b.store.Create(b.ctx, image.NewImage{Layers: []image.Layer{layer}, Created: t, Intermediate: true,
		History: []v1.History{{Created: v1.Time{Time: t}, CreatedBy: "berth build: a --link layer", Comment: "berth build"}}})
	if err != nil {
		return layer, false, err
	}
	return layer, false, b.cache.Done(lkey, img.ID)
}
