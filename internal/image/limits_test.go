package image

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Hostile images served by a registry on loopback: each is refused with
// one line naming the limit it breaks, and leaves nothing in the store.

// nothingLeft fails unless the store holds no image, blob, partial
// download, unpacked layer, lock of either, or anything in tmp/.
func nothingLeft(t *testing.T, s *Store) {
	t.Helper()
	for _, d := range []string{"blobs/sha256", "layers", "tmp", "locks"} {
		for _, n := range readDirNames(t, s.path(d)) {
			if d == "locks" && !strings.HasPrefix(n, "blob-") && !strings.HasPrefix(n, "layer-") {
				continue
			}
			t.Errorf("left in %s: %s", d, n)
		}
	}
	if imgs, err := s.List(); err != nil || len(imgs) != 0 {
		t.Errorf("images recorded: %v %v", imgs, err)
	}
}

// TestImportDockerSaveTooManyLayers: a docker save archive naming one
// layer file 129 times is refused before any of it is stored.
func TestImportDockerSaveTooManyLayers(t *testing.T) {
	l := mkTar(t, file("one", "1"))
	diff := descriptorOf(l, "").Digest.String()
	var layers, diffs []string
	for i := 0; i < MaxLayers+1; i++ {
		layers, diffs = append(layers, "aa/layer.tar"), append(diffs, diff)
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": diffs}})
	man, _ := json.Marshal([]dockerManifest{{Config: "cfg.json", RepoTags: []string{"deep:1"}, Layers: layers}})
	b := mkTar(t, file("cfg.json", string(cfg)), dir("aa"), file("aa/layer.tar", string(l)), file("manifest.json", string(man)))
	s := newStore(t)
	_, err := s.Import(context.Background(), writeFile(t, b), ImportOptions{})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "image has 129 layers, more than berth's limit of 128 (image.MaxLayers)") {
		t.Fatalf("got %v", err)
	}
	nothingLeft(t, s)
}

// TestImportLayoutDeclaredHugeBlob: an OCI layout whose manifest declares
// a 50 GiB layer is refused before the layer is read.
func TestImportLayoutDeclaredHugeBlob(t *testing.T) {
	dir := t.TempDir()
	put := func(b []byte) v1.Descriptor {
		d := descriptorOf(b, "")
		os.MkdirAll(filepath.Join(dir, "blobs/sha256"), 0o755)
		if err := os.WriteFile(filepath.Join(dir, "blobs/sha256", d.Digest.Hex), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	l := mkTar(t, file("a", "a"))
	ld := put(l)
	ld.MediaType, ld.Size = types.OCIUncompressedLayer, 50<<30
	cfg, _ := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{ld.Digest}}})
	cd := put(cfg)
	cd.MediaType = types.OCIConfigJSON
	man, _ := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cd, Layers: []v1.Descriptor{ld}})
	md := put(man)
	md.MediaType = types.OCIManifestSchema1
	idx, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{md}})
	os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	s := newStore(t)
	_, err := s.Import(context.Background(), dir, ImportOptions{})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "layer "+ld.Digest.String()+" declares 50.0 GiB, more than berth's limit of 32.0 GiB (image.MaxLayerBlobBytes)") {
		t.Fatalf("got %v", err)
	}
	nothingLeft(t, s)
}

// TestOpenRemovesOversizedPartial: a partial download larger than any
// blob berth fetches (left by an older berth) is removed; a real one is
// kept for resumption.
func TestOpenRemovesOversizedPartial(t *testing.T) {
	s := newStore(t)
	big, small := s.path("tmp", "partial-"+strings.Repeat("a", 64)), s.path("tmp", "partial-"+strings.Repeat("b", 64))
	for p, size := range map[string]int64{big: MaxLayerBlobBytes + 1, small: 100} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, size); err != nil { // sparse: no disk
			t.Fatal(err)
		}
	}
	if _, err := Open(s.Root()); err != nil {
		t.Fatal(err)
	}
	if exists(big) || !exists(small) {
		t.Errorf("oversized partial kept: %v, real partial kept: %v", exists(big), exists(small))
	}
}
