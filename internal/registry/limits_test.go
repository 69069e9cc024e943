package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/berth-runtime/berth/internal/image/imagetest"
	"os"
	"slices"
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

// refusedWith pulls ref into a new store and checks that the pull fails
// with one line holding each of want.
func refusedWith(t *testing.T, s *Store, ref string, want ...string) error {
	t.Helper()
	_, err := s.Pull(context.Background(), ref, PullOptions{Insecure: true})
	if err == nil {
		t.Fatalf("pull of %s succeeded", ref)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error of several lines: %q", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
	t.Logf("refused: %s", msg)
	return err
}

// hostileManifest serves repo:1 as an image whose config is real and
// whose layers are described by layers (real or not).
func hostileManifest(t *testing.T, reg *testRegistry, repo string, layers []v1.Descriptor, diffIDs []v1.Hash) {
	t.Helper()
	cf := v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs}}
	cb, err := json.Marshal(cf)
	if err != nil {
		t.Fatal(err)
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: reg.putBlob(t, repo, cb, types.OCIConfigJSON), Layers: layers}
	reg.serveManifest(t, repo, "1", m)
}

// realLayer pushes a gzip layer of tar stream b and describes it.
func realLayer(t *testing.T, reg *testRegistry, repo string, b []byte) (v1.Descriptor, v1.Hash) {
	t.Helper()
	d := reg.putBlob(t, repo, gz(t, b), types.OCILayer)
	return d, descriptorOf(b, "").Digest
}

func TestPullTooManyLayers(t *testing.T) {
	reg := newRegistry(t, false)
	// One real layer, named 129 times (a registry would take it: layers
	// may repeat).
	layer, diffID := realLayer(t, reg, "deep", mkTar(t, file("f", "x")))
	var ls []v1.Descriptor
	var ids []v1.Hash
	for i := 0; i < MaxLayers+1; i++ {
		ls, ids = append(ls, layer), append(ids, diffID)
	}
	hostileManifest(t, reg, "deep", ls, ids)
	s := newStore(t)
	refusedWith(t, s, reg.host+"/deep:1", fmt.Sprintf("image has %d layers, more than berth's limit of %d (image.MaxLayers)", MaxLayers+1, MaxLayers))
	if n := reg.blobGets(); n != 0 {
		t.Errorf("%d blobs fetched before the layers were counted", n)
	}
	nothingLeft(t, s)
}

func TestPullDeclaredHugeBlob(t *testing.T) {
	reg := newRegistry(t, false)
	layer, diffID := realLayer(t, reg, "huge", mkTar(t, file("a", "a")))
	real := layer
	layer.Size = 50 << 30
	hostileManifest(t, reg, "huge", []v1.Descriptor{layer}, []v1.Hash{diffID})
	s := newStore(t)
	// A partial download left by an earlier pull is over the limit too.
	os.WriteFile(s.path("tmp", "partial-"+layer.Digest.Hex), []byte("left"), 0o600)
	refusedWith(t, s, reg.host+"/huge:1", "layer "+layer.Digest.String(), "50.0 GiB", "image.MaxLayerBlobBytes")
	if n := reg.count(real.Digest); n != 0 {
		t.Errorf("the oversized blob was requested %d times", n)
	}
	if n := reg.blobGets(); n != 0 {
		t.Errorf("%d blobs fetched before the sizes were checked", n)
	}
	nothingLeft(t, s)
}

func TestPullDeclaredHugeConfig(t *testing.T) {
	reg := newRegistry(t, false)
	cfg := reg.putBlob(t, "cfg", []byte(`{"rootfs":{"type":"layers","diff_ids":[]}}`), types.OCIConfigJSON)
	cfg.Size = 1 << 30
	reg.serveManifest(t, "cfg", "1", v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg})
	s := newStore(t)
	refusedWith(t, s, reg.host+"/cfg:1", "config "+cfg.Digest.String(), "1.0 GiB", "image.MaxManifestBytes")
	if n := reg.blobGets(); n != 0 {
		t.Errorf("%d blobs fetched before the sizes were checked", n)
	}
	nothingLeft(t, s)
}

// TestPullDeclaredImageTooLarge: layers each under the per-layer limit
// that together declare more than an image may unpack to.
func TestPullDeclaredImageTooLarge(t *testing.T) {
	reg := newRegistry(t, false)
	var ls []v1.Descriptor
	var ids []v1.Hash
	for i := 0; i < 3; i++ {
		l, id := realLayer(t, reg, "wide", mkTar(t, file(fmt.Sprint(i), "x")))
		l.Size = MaxLayerBlobBytes
		ls, ids = append(ls, l), append(ids, id)
	}
	hostileManifest(t, reg, "wide", ls, ids)
	s := newStore(t)
	refusedWith(t, s, reg.host+"/wide:1", "96.0 GiB", "image.MaxImageBytes")
	if n := reg.blobGets(); n != 0 {
		t.Errorf("%d blobs fetched before the sizes were checked", n)
	}
	nothingLeft(t, s)
}

// TestPullBlobLongerThanDeclared: a blob whose stream goes on past the
// size its manifest declares is cut there and refused, whether the
// registry says its length (Content-Length) or not.
func TestPullBlobLongerThanDeclared(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			reg := newRegistry(t, false)
			layer, diffID := realLayer(t, reg, "long", mkTar(t, file("big", randomBytes(256<<10))))
			reg.chunked[layer.Digest.String()] = chunked
			declared := layer
			declared.Size = 4096
			hostileManifest(t, reg, "long", []v1.Descriptor{declared}, []v1.Hash{diffID})
			s := newStore(t)
			refusedWith(t, s, reg.host+"/long:1", "blob "+layer.Digest.String(), "longer than the 4096 bytes its manifest declares")
			nothingLeft(t, s)
		})
	}
}

// TestPullSparseBomb: a layer whose tar holds a sparse file claiming a
// terabyte, in a few bytes.
func TestPullSparseBomb(t *testing.T) {
	for _, format := range sparseFormats {
		t.Run(format, func(t *testing.T) {
			reg := newRegistry(t, false)
			b := sparseTar(t, format, "bomb", 1<<40, segment{Off: 0, Data: "x"}, segment{Off: 1<<40 - 1, Data: "y"})
			reg.push(t, "sparse:1", mkImage(t, "amd64", mkTar(t, file("ok", "ok")), b))
			s := newStore(t)
			refusedWith(t, s, reg.host+"/sparse:1", `"bomb"`, "1.0 TiB", "image.MaxImageBytes")
			nothingLeft(t, s)
		})
	}
}

// TestPullImageOverLimit: layers each small enough that together unpack
// to more than an image may: refused on their declared sizes when they
// do not compress, and as they unpack when they do.
func TestPullImageOverLimit(t *testing.T) {
	for name, body := range map[string]func() string{
		"declared": func() string { return randomBytes(400 << 10) },
		"unpacked": func() string { return strings.Repeat("compressible ", 400<<10/13) },
	} {
		t.Run(name, func(t *testing.T) {
			reg := newRegistry(t, false)
			var tars [][]byte
			for i := 0; i < 3; i++ {
				tars = append(tars, mkTar(t, file(fmt.Sprint(i), body())))
			}
			reg.push(t, "fat:1", mkImage(t, "amd64", tars...))
			s := newStore(t)
			s.Limits.ImageBytes = 1 << 20
			want := "image unpacks to more than berth's limit of 1.0 MiB (image.MaxImageBytes)"
			if name == "declared" {
				want = "image's layers declare 1.2 MiB, more than berth's limit of 1.0 MiB"
			}
			refusedWith(t, s, reg.host+"/fat:1", want, "image.MaxImageBytes")
			nothingLeft(t, s)
		})
	}
}

// TestRefusedImageKeepsSharedContent: an image over the limit shares its
// bottom layer with a stored image; the refusal discards only its own
// layer, and counts the shared one's size.
func TestRefusedImageKeepsSharedContent(t *testing.T) {
	reg := newRegistry(t, false)
	base := mkTar(t, file("base", strings.Repeat("base ", 600<<10/5)))
	top := mkTar(t, file("top", strings.Repeat("top ", 600<<10/4)))
	reg.push(t, "a:1", mkImage(t, "amd64", base))
	b := mkImage(t, "amd64", base, top)
	reg.push(t, "b:1", b)
	s := newStore(t)
	s.Limits.ImageBytes = 1 << 20
	pull(t, s, reg.host+"/a:1")
	before := snapshot(t, s.Root(), "")
	refusedWith(t, s, reg.host+"/b:1", "image unpacks to more than berth's limit of 1.0 MiB (image.MaxImageBytes)")
	if after := snapshot(t, s.Root(), ""); !slices.Equal(before, after) {
		t.Errorf("the store changed:\nbefore %v\nafter  %v", before, after)
	}
	if dirs, err := s.LowerDirs(reg.host + "/a:1"); err != nil || len(dirs) != 1 {
		t.Errorf("the stored image lost its layer: %v", err)
	}
}

// TestStoredLayerChargedAsUnpacked: a layer already in the store is
// charged what it was charged when it was unpacked (its whole stream),
// not only the bytes of its files, so that an image refused on an empty
// store is refused on one that holds its layers too.
func TestStoredLayerChargedAsUnpacked(t *testing.T) {
	reg := newRegistry(t, false)
	// 2,000 one-byte files: 2,000 bytes of files in about 2 MiB of tar.
	var many []imagetest.Ent
	for i := 0; i < 2000; i++ {
		many = append(many, file(fmt.Sprintf("f%04d", i), "x"))
	}
	layer := mkTar(t, many...)
	reg.push(t, "a:1", mkImage(t, "amd64", layer))
	reg.push(t, "b:1", mkImage(t, "amd64", layer, mkTar(t, file("top", "y"))))
	fresh := newStore(t)
	fresh.Limits.ImageBytes = 1 << 20
	refusedWith(t, fresh, reg.host+"/b:1", "image.MaxImageBytes")
	s := newStore(t)
	pull(t, s, reg.host+"/a:1")
	s.Limits.ImageBytes = 1 << 20
	refusedWith(t, s, reg.host+"/b:1", "image.MaxImageBytes")
}

// TestPullIndexDeclaresHugeManifest: an index entry whose manifest is
// declared larger than berth reads whole is refused on that size, before
// the manifest is fetched.
func TestPullIndexDeclaresHugeManifest(t *testing.T) {
	reg := newRegistry(t, false)
	child := "idx/manifests/sha256:" + strings.Repeat("ab", 32)
	reg.mu.Lock()
	reg.manifests[child] = servedManifest{[]byte("{}"), string(types.OCIManifestSchema1)}
	reg.mu.Unlock()
	idx := map[string]any{"schemaVersion": 2, "mediaType": string(types.OCIImageIndex), "manifests": []map[string]any{{
		"mediaType": string(types.OCIManifestSchema1), "digest": "sha256:" + strings.Repeat("ab", 32), "size": 50 << 20,
		"platform": map[string]string{"os": "linux", "architecture": "amd64"},
	}}}
	b, _ := json.Marshal(idx)
	reg.mu.Lock()
	reg.manifests["idx/manifests/1"] = servedManifest{b, string(types.OCIImageIndex)}
	reg.mu.Unlock()
	s := newStore(t)
	refusedWith(t, s, reg.host+"/idx:1", "50.0 MiB", "image.MaxManifestBytes")
	nothingLeft(t, s)
}
