package image

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/berth-runtime/berth/internal/progress"
)

// parallel is how many layers are fetched and unpacked at once (Docker's
// default for downloads).
const parallel = 3

// addition is an image on its way into the store, from a registry or an
// archive.
type addition struct {
	src       BlobSource
	manifest  []byte // the image manifest, exactly as published
	mediaType string
	names     []string // canonical tags to give it
	digests   []string // repo@digest it was fetched by
	progress  progress.Reporter
	// intermediate marks a build step's image; one added again without
	// it (the build's result) is listed from then on.
	intermediate bool
}

// adding is a pull or an import under way. It holds gc.lock shared, so
// nothing it stores is collected before an image record names it, and
// once it is done it discards what images refused for their content
// brought into the store.
type adding struct {
	s       *Store
	lock    *fileLock
	refused []addition
}

func (s *Store) startAdding() (*adding, error) {
	l, err := s.lockShared()
	if err != nil {
		return nil, err
	}
	return &adding{s: s, lock: l}, nil
}

func (ad *adding) add(ctx context.Context, a addition) (*Image, error) {
	img, err := ad.s.add(ctx, a)
	if refused(err) {
		ad.refused = append(ad.refused, a)
	}
	return img, err
}

// done drops gc.lock, then discards what refused images brought.
func (ad *adding) done() {
	ad.lock.unlock()
	for _, a := range ad.refused {
		ad.s.discard(a)
	}
}

// add stores an image: config, layers (fetched and unpacked in parallel,
// each verified), manifest, and last its record, so an image is listed
// only once everything it needs is in place. Its manifest is checked
// against the store's limits before anything is fetched. The caller holds
// gc.lock shared (adding), so nothing it stores is collected before the
// record names it.
func (s *Store) add(ctx context.Context, a addition) (*Image, error) {
	md := descriptorOf(a.manifest, a.mediaType)
	m, err := parseImageManifest(a.manifest, a.mediaType)
	if err != nil {
		return nil, err
	}
	if err := checkManifest(m, s.Limits); err != nil {
		return nil, err
	}
	if _, err := s.ensureBlob(ctx, a.src, m.Config, nil); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cf, err := s.configFile(m.Config.Digest.String())
	if err != nil {
		return nil, err
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("image has %d layers but its config lists %d", len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	layers, err := s.addLayers(ctx, a, m.Layers, cf.RootFS.DiffIDs)
	if err != nil {
		return nil, err
	}
	if err := s.putBlob(md, a.manifest); err != nil {
		return nil, err
	}
	rec := &record{ID: m.Config.Digest.String(), Manifest: md.Digest.String(), MediaType: a.mediaType,
		Layers: layers, Digests: a.digests, Created: cf.Created.Time, Intermediate: a.intermediate}
	var img Image
	err = s.updateMeta(func(mt *meta) error {
		if old := mt.Images[rec.ID]; old != nil {
			rec.Intermediate = old.Intermediate && a.intermediate
			for _, d := range old.Digests {
				if !slices.Contains(rec.Digests, d) {
					rec.Digests = append(rec.Digests, d)
				}
			}
		}
		mt.Images[rec.ID] = rec
		for _, n := range a.names {
			mt.Tags[n] = rec.ID
		}
		img = s.image(mt, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &img, nil
}

// parseImageManifest parses an OCI or Docker schema 2 image manifest.
func parseImageManifest(b []byte, mt string) (*v1.Manifest, error) {
	if !types.MediaType(mt).IsImage() {
		return nil, fmt.Errorf("%w %q", errUnsupportedMT, mt)
	}
	if err := checkManifestSize("manifest", b); err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	return m, nil
}

// addLayers fetches and unpacks layers, parallel at a time, reporting
// each one's progress under its short digest. Together they unpack to at
// most Limits.ImageBytes.
func (s *Store) addLayers(ctx context.Context, a addition, ds []v1.Descriptor, diffIDs []v1.Hash) ([]Layer, error) {
	layers := make([]Layer, len(ds))
	reps := make([]*reporter, len(ds))
	for i, d := range ds {
		if !d.MediaType.IsDistributable() {
			return nil, fmt.Errorf("layer %s: foreign layers are not supported", d.Digest)
		}
		layers[i] = Layer{Digest: d.Digest.String(), DiffID: diffIDs[i].String(), MediaType: string(d.MediaType), Size: d.Size}
		reps[i] = newReporter(a.progress, d.Digest.String())
		reps[i].Set(progress.Waiting, d.Size, 0)
	}
	// No shared cancellation: one layer failing lets the others finish,
	// so the next pull has less to fetch. (An image over its budget stops
	// them all: they share it.)
	b := newBudget(s.Limits.ImageBytes)
	var g errgroup.Group
	g.SetLimit(parallel)
	for i := range ds {
		g.Go(func() error { return s.addLayer(ctx, a.src, ds[i], layers[i], b, reps[i]) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return layers, nil
}

func (s *Store) addLayer(ctx context.Context, src BlobSource, d v1.Descriptor, l Layer, b *budget, rep *reporter) error {
	hadBlob, err := s.ensureBlob(ctx, src, d, rep)
	if err != nil {
		return err
	}
	hadLayer, err := s.ensureLayer(l, b, rep)
	if err != nil {
		return err
	}
	if hadBlob && hadLayer {
		rep.Set(progress.Exists, d.Size, d.Size)
	} else {
		rep.Set(progress.Done, d.Size, d.Size)
	}
	return nil
}
