package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/berth-runtime/berth/internal/progress"
)

// ImportOptions tune an import.
type ImportOptions struct {
	// Name tags the imported image. A rootfs tarball without one stays
	// untagged, as with docker import; for an archive it replaces the
	// names the archive gives, and the archive must then hold one image.
	Name string
	// Platform picks from multi-platform OCI indexes; empty means the host's.
	Platform string
	// Progress receives per-layer events; nil discards them.
	Progress progress.Reporter
	// ArchiveOnly refuses what is not an image archive, where Import
	// would take it as a root filesystem tarball (docker load).
	ArchiveOnly bool
}

// Annotations of OCI layouts that name an image.
const (
	annotationName    = "io.containerd.image.name"
	annotationRefName = "org.opencontainers.image.ref.name"
)

// Import adds the images of path: an OCI image layout (directory or tar),
// a docker save archive, or else a root filesystem tarball (plain, gzip
// or zstd) that becomes a single-layer image.
func (s *Store) importImages(ctx context.Context, path string, o ImportOptions) ([]*Image, error) {
	imgs, err := s.importPath(ctx, path, o)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	return imgs, nil
}

func (s *Store) importPath(ctx context.Context, path string, o ImportOptions) ([]*Image, error) {
	var names []string
	if o.Name != "" {
		r, err := ParseName(o.Name)
		if err != nil {
			return nil, err
		}
		names = []string{r.Name()}
	}
	ad, err := s.startAdding()
	if err != nil {
		return nil, err
	}
	defer ad.done()
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		a := dirArchive{root: path}
		if !a.has("oci-layout") {
			return nil, fmt.Errorf("%w: a directory must be an OCI image layout (no oci-layout file)", errNotArchive)
		}
		return s.importLayout(ctx, ad, a, names, o)
	}
	f, cleanup, err := s.openTar(path)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	a, err := indexTar(f)
	if err != nil {
		return nil, err
	}
	switch {
	case a.has("manifest.json"):
		return s.importDockerSave(ctx, ad, a, names, o)
	case a.has("oci-layout") && a.has("index.json"):
		return s.importLayout(ctx, ad, a, names, o)
	}
	if o.ArchiveOnly {
		return nil, fmt.Errorf("%w: no manifest.json (docker save) or oci-layout and index.json (OCI layout) in it; a root filesystem tarball is imported with berth image import", errNotArchive)
	}
	img, err := s.importRootfs(ctx, ad, f, path, names, o)
	if err != nil {
		return nil, err
	}
	return []*Image{img}, nil
}

// openTar opens path as an uncompressed tar, decompressing a gzip or zstd
// file into tmp/ first so members can be read in place. The copy is cut
// at Limits.ImageBytes: a compressed file is in practice a root
// filesystem, one layer, and a bomb must not fill the disk.
func (s *Store) openTar(path string) (*os.File, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, err
	}
	if !bytes.HasPrefix(magic[:n], []byte{0x1f, 0x8b}) && !bytes.Equal(magic[:n], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return f, func() { f.Close() }, nil
	}
	defer f.Close()
	tmp, err := os.CreateTemp(s.path("tmp"), "import-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	r, err := decompress(f)
	if err == nil {
		_, err = io.Copy(tmp, &capReader{r: r, b: newBudget(s.Limits.ImageBytes)})
		r.Close()
	}
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("decompress: %w", err)
	}
	return tmp, cleanup, nil
}

// archiveSource reads blobs of an OCI layout from blobs/<alg>/<hex>.
type archiveSource struct{ a archive }

func (a archiveSource) OpenBlob(_ context.Context, d v1.Descriptor, offset int64) (io.ReadCloser, int64, error) {
	rc, _, err := a.a.open("blobs/" + d.Digest.Algorithm + "/" + d.Digest.Hex)
	return rc, 0, err
}

// importLayout adds the images an OCI layout's index.json lists, taking
// the host's platform from multi-platform indexes.
func (s *Store) importLayout(ctx context.Context, ad *adding, a archive, names []string, o ImportOptions) ([]*Image, error) {
	b, err := readJSONFile(a, "index.json")
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parse index.json: %w", err)
	}
	if len(idx.Manifests) == 0 {
		return nil, fmt.Errorf("%w: the layout's index.json lists no image", errNotArchive)
	}
	if names != nil && len(idx.Manifests) != 1 {
		return nil, fmt.Errorf("the layout holds %d images: a name can be given to one only", len(idx.Manifests))
	}
	plat, err := Platform(o.Platform)
	if err != nil {
		return nil, err
	}
	var imgs []*Image
	for _, d := range idx.Manifests {
		raw, mt, err := layoutManifest(a, d, plat)
		if err != nil {
			return nil, err
		}
		item := addition{src: archiveSource{a}, manifest: raw, mediaType: mt, names: names, progress: o.Progress}
		if names == nil {
			item.names = layoutNames(d.Annotations)
		}
		img, err := ad.add(ctx, item)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// layoutManifest reads the image manifest d describes, choosing plat's
// entry when d is an index.
func layoutManifest(a archive, d v1.Descriptor, plat v1.Platform) ([]byte, string, error) {
	for depth := 0; depth < 4; depth++ {
		if err := checkDigest(d.Digest); err != nil {
			return nil, "", err
		}
		raw, err := readJSONFile(a, "blobs/sha256/"+d.Digest.Hex)
		if err != nil {
			return nil, "", err
		}
		if got := descriptorOf(raw, "").Digest; got != d.Digest {
			return nil, "", fmt.Errorf("manifest %s: digest mismatch: got %s", d.Digest, got)
		}
		if !d.MediaType.IsIndex() {
			return raw, string(d.MediaType), nil
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, "", fmt.Errorf("parse index %s: %w", d.Digest, err)
		}
		if d, err = MatchPlatform(idx.Manifests, plat); err != nil {
			return nil, "", err
		}
	}
	return nil, "", fmt.Errorf("indexes nested too deep")
}

// layoutNames takes an image's name from the annotations docker save and
// containerd write; a bare tag in ref.name is no name.
func layoutNames(ann map[string]string) []string {
	for _, k := range []string{annotationName, annotationRefName} {
		if r, err := ParseFullName(ann[k]); err == nil && r.Digest == "" {
			return []string{r.Name()}
		}
	}
	return nil
}

// dockerManifest is one image of a docker save archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// importDockerSave adds the images of a docker save archive. Its layer
// files are stored as they are (plain tar or compressed) under an OCI
// manifest berth writes; the config is kept byte for byte, so the image
// ID is Docker's.
func (s *Store) importDockerSave(ctx context.Context, ad *adding, a archive, names []string, o ImportOptions) ([]*Image, error) {
	b, err := readJSONFile(a, "manifest.json")
	if err != nil {
		return nil, err
	}
	var dms []dockerManifest
	if err := json.Unmarshal(b, &dms); err != nil {
		return nil, fmt.Errorf("parse manifest.json: %w", err)
	}
	if len(dms) == 0 {
		return nil, fmt.Errorf("%w: the archive's manifest.json lists no image", errNotArchive)
	}
	if names != nil && len(dms) != 1 {
		return nil, fmt.Errorf("the archive holds %d images: a name can be given to one only", len(dms))
	}
	var imgs []*Image
	for _, dm := range dms {
		raw, err := s.dockerSaveManifest(a, dm)
		if err != nil {
			return nil, err
		}
		item := addition{src: noSource{}, manifest: raw, mediaType: string(types.OCIManifestSchema1), names: names, progress: o.Progress}
		if names == nil {
			for _, t := range dm.RepoTags {
				r, err := ParseName(t)
				if err != nil {
					return nil, err
				}
				item.names = append(item.names, r.Name())
			}
		}
		img, err := ad.add(ctx, item)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// dockerSaveManifest stores a docker save image's config and layer files
// as blobs and returns an OCI manifest for them.
func (s *Store) dockerSaveManifest(a archive, dm dockerManifest) ([]byte, error) {
	// The limits are checked before anything is stored.
	layers := make([]sizedBlob, len(dm.Layers))
	for i, l := range dm.Layers {
		rc, size, err := a.open(l)
		if err != nil {
			return nil, err
		}
		rc.Close()
		layers[i] = sizedBlob{fmt.Sprintf("layer %q is", l), size}
	}
	if err := checkLayers(layers, s.Limits); err != nil {
		return nil, err
	}
	cfg, err := readJSONFile(a, dm.Config)
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: descriptorOf(cfg, string(types.OCIConfigJSON))}
	if err := s.putBlob(m.Config, cfg); err != nil {
		return nil, err
	}
	for _, l := range dm.Layers {
		rc, _, err := a.open(l)
		if err != nil {
			return nil, err
		}
		d, err := s.storeStream(rc, nil)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", l, err)
		}
		m.Layers = append(m.Layers, d)
	}
	return json.Marshal(m)
}

// noSource is the source of an image whose blobs are all stored already.
type noSource struct{}

func (noSource) OpenBlob(_ context.Context, d v1.Descriptor, _ int64) (io.ReadCloser, int64, error) {
	return nil, 0, fmt.Errorf("blob %s is not in the archive", d.Digest)
}

// storeStream stores r as a blob and describes it, its media type told
// by its magic number. When also is given, it sees every byte too.
func (s *Store) storeStream(r io.Reader, also io.Writer) (v1.Descriptor, error) {
	f, err := os.CreateTemp(s.path("tmp"), "blob-")
	if err != nil {
		return v1.Descriptor{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	mt := types.OCIUncompressedLayer
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		mt = types.OCILayer
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		mt = types.OCILayerZStd
	}
	h := sha256.New()
	ws := []io.Writer{f, h}
	if also != nil {
		ws = append(ws, also)
	}
	n, err := io.Copy(io.MultiWriter(ws...), br)
	if err != nil {
		return v1.Descriptor{}, err
	}
	d := v1.Descriptor{MediaType: mt, Size: n, Digest: hashOf(h)}
	if err := os.Rename(f.Name(), s.blobPath(d.Digest.Hex)); err != nil {
		return v1.Descriptor{}, err
	}
	return d, nil
}

func hashOf(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}
}

// importRootfs makes a single-layer image of the tar f: the layer is
// stored gzip-compressed, with a config for this host's architecture
// and no command (as docker import).
func (s *Store) importRootfs(ctx context.Context, ad *adding, f *os.File, path string, names []string, o ImportOptions) (*Image, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	diff := sha256.New()
	go func() {
		zw := gzip.NewWriter(pw)
		_, err := io.Copy(io.MultiWriter(zw, diff), f)
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
	}()
	ld, err := s.storeStream(pr, nil)
	pr.CloseWithError(err)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	cf := v1.ConfigFile{
		Architecture: runtime.GOARCH, OS: "linux", Created: v1.Time{Time: now},
		RootFS:  v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{hashOf(diff)}},
		History: []v1.History{{Created: v1.Time{Time: now}, CreatedBy: "berth image import", Comment: "imported from " + filepath.Base(path)}},
	}
	cfg, err := json.Marshal(cf)
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: descriptorOf(cfg, string(types.OCIConfigJSON)), Layers: []v1.Descriptor{ld}}
	if err := s.putBlob(m.Config, cfg); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return ad.add(ctx, addition{src: noSource{}, manifest: raw, mediaType: string(m.MediaType), names: names, progress: o.Progress})
}
