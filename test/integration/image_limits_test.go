package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// hostileRegistry is a registry on the host's loopback that serves chosen
// manifests as they are, however hostile, and counts blob fetches.
type hostileRegistry struct {
	host string
	reg  http.Handler

	mu        sync.Mutex
	manifests map[string][]byte // "repo/manifests/tag" → body
	blobGets  int
}

var blobURL = regexp.MustCompile(`/blobs/sha256:[0-9a-f]{64}$`)

func newHostileRegistry(t *testing.T) *hostileRegistry {
	t.Helper()
	r := &hostileRegistry{reg: registry.New(registry.Logger(log.New(io.Discard, "", 0))), manifests: map[string][]byte{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	r.host = u.Host
	return r
}

func (r *hostileRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	body, ok := r.manifests[strings.TrimPrefix(req.URL.Path, "/v2/")]
	if req.Method == http.MethodGet && blobURL.MatchString(req.URL.Path) {
		r.blobGets++
	}
	r.mu.Unlock()
	if ok {
		w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
		w.Write(body)
		return
	}
	r.reg.ServeHTTP(w, req)
}

func (r *hostileRegistry) gets() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.blobGets
}

// putBlob uploads b as a blob of repo.
func (r *hostileRegistry) putBlob(t *testing.T, repo string, b []byte, mt types.MediaType) v1.Descriptor {
	t.Helper()
	l := static.NewLayer(b, mt)
	ref, err := name.NewRepository(r.host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(ref, l); err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	return v1.Descriptor{MediaType: mt, Size: int64(len(b)), Digest: d}
}

// TestImagePullOverLimits: berth pull of an image that declares a 50 GiB
// layer, and of one with more layers than berth allows, fails with exit
// 125 and one line naming the limit, before a blob is fetched, and
// leaves nothing in the store.
func TestImagePullOverLimits(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	reg := newHostileRegistry(t)

	// A real config and layer; the manifest says the layer is 50 GiB.
	layer := tarLayer(t, tarEntry{name: "a", body: "a"})
	lb, _ := layer.Compressed()
	raw, _ := io.ReadAll(lb)
	diffID, _ := layer.DiffID()
	cf, _ := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}}})
	ld := reg.putBlob(t, "test/huge", raw, types.OCILayer)
	ld.Size = 50 << 30
	m, _ := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: reg.putBlob(t, "test/huge", cf, types.OCIConfigJSON), Layers: []v1.Descriptor{ld}})
	reg.mu.Lock()
	reg.manifests["test/huge/manifests/1"] = m
	reg.mu.Unlock()

	// 129 real layers.
	deep := empty.Image
	for i := 0; i < 129; i++ {
		var err error
		if deep, err = mutate.AppendLayers(deep, tarLayer(t, tarEntry{name: fmt.Sprint(i), body: "x"})); err != nil {
			t.Fatal(err)
		}
	}
	deepRef := reg.host + "/test/deep:1"
	tag, _ := name.ParseReference(deepRef, name.Insecure)
	if err := remote.Write(tag, deep); err != nil {
		t.Fatal(err)
	}
	deepCfg, _ := deep.ConfigName()
	deepLayers, _ := deep.Layers()

	images := filepath.Join(storeRoot, "images")
	tmpBefore := dirNames(filepath.Join(images, "tmp"))
	for _, c := range []struct {
		ref, want string
		blobs     []v1.Hash
		diffIDs   []v1.Hash
	}{
		{reg.host + "/test/huge:1", "layer " + ld.Digest.String() + " declares 50.0 GiB, more than berth's limit of 32.0 GiB (image.MaxLayerBlobBytes)",
			[]v1.Hash{ld.Digest}, []v1.Hash{diffID}},
		{deepRef, "image has 129 layers, more than berth's limit of 128 (image.MaxLayers)", append(layerDigests(deepLayers), deepCfg), nil},
	} {
		r := pull(t, "--tls-verify=false", c.ref)
		if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("pull %s: %+v, want exit 125 and one line saying %q", c.ref, r, c.want)
		}
		for _, h := range c.blobs {
			for _, p := range []string{"blobs/sha256/" + h.Hex, "tmp/partial-" + h.Hex, "locks/blob-" + h.Hex} {
				if _, err := os.Lstat(filepath.Join(images, p)); err == nil {
					t.Errorf("pull %s left %s", c.ref, p)
				}
			}
		}
		for _, h := range c.diffIDs {
			if _, err := os.Lstat(filepath.Join(images, "layers", h.Hex)); err == nil {
				t.Errorf("pull %s left layer %s", c.ref, h)
			}
		}
	}
	if n := reg.gets(); n != 0 {
		t.Errorf("%d blobs fetched from images refused by their manifest", n)
	}
	if r := berth(t, "", "images"); strings.Contains(r.stdout, reg.host) {
		t.Errorf("a refused image is listed:\n%s", r.stdout)
	}
	if after := dirNames(filepath.Join(images, "tmp")); !bytes.Equal([]byte(strings.Join(after, ",")), []byte(strings.Join(tmpBefore, ","))) {
		t.Errorf("tmp/ was %v, now %v", tmpBefore, after)
	}
}

func layerDigests(ls []v1.Layer) []v1.Hash {
	var hs []v1.Hash
	for _, l := range ls {
		h, _ := l.Digest()
		hs = append(hs, h)
	}
	return hs
}

func dirNames(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var ns []string
	for _, e := range ents {
		ns = append(ns, e.Name())
	}
	return ns
}
