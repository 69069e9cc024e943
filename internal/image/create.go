package image

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"
)

// NewImage is an image made on this host (commit, build): a base image's
// layers (none for scratch), then new layers already stored (StoreLayer),
// with a config of its own.
type NewImage struct {
	// Base is the image built on: a reference or ID; empty for scratch.
	Base string
	// Layers are added on top of Base's, bottom first.
	Layers []Layer
	// Config is the new image's runtime config as a whole (Cmd, Env...).
	Config v1.Config
	// History entries are appended to Base's, one per step; a step that
	// made no layer has EmptyLayer set.
	History []v1.History
	Author  string
	Created time.Time
	// Names tag the new image (Docker's REPO[:TAG] forms).
	Names []string
	// Intermediate is a build step's image, kept for the build cache and
	// listed by no images command.
	Intermediate bool
}

// StoreLayer stores the layer tar write writes: gzip-compressed as a
// blob named by its digest, and unpacked under layers/ (so a container or
// the next build step can sit on it), named by the uncompressed stream's
// digest (its diff ID). Nothing is left of a layer whose write fails: the
// blob is renamed into place only once complete; one that fails to unpack
// is returned with the error, for DiscardLayers. Call it while holding
// the store (Hold), so a prune does not collect the layer before an image
// names it.
func (s *Store) StoreLayer(write func(io.Writer) error) (Layer, error) {
	pr, pw := io.Pipe()
	diff := sha256.New()
	go func() {
		zw := gzip.NewWriter(pw)
		err := write(io.MultiWriter(zw, diff))
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
	}()
	d, err := s.storeStream(pr, nil)
	pr.CloseWithError(err)
	if err != nil {
		return Layer{}, fmt.Errorf("store layer: %w", err)
	}
	l := Layer{Digest: d.Digest.String(), DiffID: hashOf(diff).String(), MediaType: string(types.OCILayer), Size: d.Size}
	if _, err := s.ensureLayer(l, newBudget(s.Limits.ImageBytes), newReporter(nil, l.Digest)); err != nil {
		return l, err // the blob is stored: the caller discards it
	}
	return l, nil
}

// Create adds n to the store: its config and manifest blobs, then its
// record, so the image is listed only once complete. On an error the
// caller, once it no longer holds the store, discards n.Layers
// (DiscardLayers).
func (s *Store) Create(ctx context.Context, n NewImage) (*Image, error) {
	var names []string
	for _, nm := range n.Names {
		r, err := ParseName(nm)
		if err != nil {
			return nil, err
		}
		names = append(names, r.Name())
	}
	cf, base, err := s.baseConfig(n.Base)
	if err != nil {
		return nil, err
	}
	cf.Config = n.Config
	cf.Created = v1.Time{Time: n.Created.UTC()}
	cf.Author = n.Author
	cf.History = append(cf.History, n.History...)
	layers := append(append([]Layer{}, base...), n.Layers...)
	for _, l := range n.Layers {
		h, err := v1.NewHash(l.DiffID)
		if err != nil {
			return nil, err
		}
		cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, h)
	}
	raw, err := json.Marshal(cf)
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: descriptorOf(raw, string(types.OCIConfigJSON))}
	for _, l := range layers {
		h, err := v1.NewHash(l.Digest)
		if err != nil {
			return nil, err
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.MediaType(l.MediaType), Size: l.Size, Digest: h})
	}
	if err := s.putBlob(m.Config, raw); err != nil {
		return nil, err
	}
	manifest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	ad, err := s.startAdding()
	if err != nil {
		return nil, err
	}
	defer ad.done()
	a := addition{src: noSource{}, manifest: manifest, mediaType: string(m.MediaType), names: names, intermediate: n.Intermediate}
	img, err := ad.add(ctx, a)
	if err != nil {
		ad.refused = append(ad.refused[:0], a) // discard its config and manifest
	}
	return img, err
}

// baseConfig is the config a new image starts from: base's, or a
// scratch one for this host's platform.
func (s *Store) baseConfig(base string) (*v1.ConfigFile, []Layer, error) {
	if base == "" {
		return &v1.ConfigFile{Architecture: runtime.GOARCH, OS: "linux", RootFS: v1.RootFS{Type: "layers"}}, nil, nil
	}
	img, err := s.Get(base)
	if err != nil {
		return nil, nil, err
	}
	cf, err := s.configFile(img.ID)
	if err != nil {
		return nil, nil, err
	}
	return cf, img.Layers, nil
}

// BaseConfig is the runtime config of the image ref resolves to, as
// stored (scratch's, empty, for ""): what commit and build start from.
func (s *Store) BaseConfig(ref string) (v1.Config, error) {
	cf, _, err := s.baseConfig(ref)
	if err != nil {
		return v1.Config{}, err
	}
	return cf.Config, nil
}

// DiscardLayers deletes the blobs and unpacked layers of layers that no
// image uses: what a failed commit or build stored. It needs gc.lock
// exclusively (so no Hold of the caller's) and does nothing if another
// holds it: the next prune collects them then.
func (s *Store) DiscardLayers(layers []Layer) {
	var blobs []v1.Hash
	gl, err := lockPath(s.path("gc.lock"), unix.LOCK_EX, false)
	if err != nil {
		return
	}
	defer gl.unlock()
	mt, err := s.readMeta()
	if err != nil {
		return
	}
	usedBlobs, usedLayers := mt.referenced()
	for _, l := range layers {
		if b, err := v1.NewHash(l.Digest); err == nil {
			blobs = append(blobs, b)
		}
		if h, err := v1.NewHash(l.DiffID); err == nil && checkDigest(h) == nil && !usedLayers[h.Hex] && s.hasLayer(h) {
			s.removeDir(s.layerPath(h.Hex))
		}
	}
	for _, h := range blobs {
		if checkDigest(h) == nil && !usedBlobs[h.Hex] {
			os.Remove(s.blobPath(h.Hex))
		}
	}
	s.collectLocks()
}

// Promote makes image id (a build's last step) an image of its own,
// listed from now on, and gives it names.
func (s *Store) Promote(id string, names []string) error {
	var tags []string
	for _, nm := range names {
		r, err := ParseName(nm)
		if err != nil {
			return err
		}
		tags = append(tags, r.Name())
	}
	return s.updateMeta(func(m *meta) error {
		r := m.Images[id]
		if r == nil {
			return fmt.Errorf("image %s: %w", id, ErrNotFound)
		}
		r.Intermediate = false
		for _, t := range tags {
			m.Tags[t] = id
		}
		return nil
	})
}

// PruneIntermediate removes the build steps' images (the build cache's)
// that no container uses, and the content only they used: berth builder
// prune.
func (s *Store) PruneIntermediate(inUse func(id string) bool) (Removed, error) {
	var out Removed
	gl, err := lockPath(s.path("gc.lock"), unix.LOCK_EX, true)
	if err != nil {
		return out, err
	}
	defer gl.unlock()
	err = s.updateMeta(func(m *meta) error {
		for id, r := range m.Images {
			if !r.Intermediate || len(m.names(id)) > 0 || (inUse != nil && inUse(id)) {
				continue
			}
			delete(m.Images, id)
			out.Deleted = append(out.Deleted, id)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	return out, s.collectContent(&out, false)
}
