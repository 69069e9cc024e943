package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-runtime/berth/internal/image/imagetest"
)

// testRegistry stands for a registry in the tests of what the store does
// with a pulled image: it holds the images pushed to it, and pull adds
// them as internal/registry's Pull does, through AddFetched. (The pull
// itself, over a registry on loopback, is tested in internal/registry,
// which this package's tests cannot import.)
type testRegistry struct {
	host   string
	images map[string]v1.Image // by repo:tag
}

// registries are the test registries by host, for pull.
var (
	registries  sync.Map
	registrySeq atomic.Int64
)

func newRegistry(t testing.TB, _ bool) *testRegistry {
	r := &testRegistry{host: fmt.Sprintf("127.0.0.1:%d", 10000+registrySeq.Add(1)), images: map[string]v1.Image{}}
	registries.Store(r.host, r)
	t.Cleanup(func() { registries.Delete(r.host) })
	return r
}

func (r *testRegistry) push(t testing.TB, repo string, img v1.Image) { r.images[repo] = img }

func pull(t *testing.T, s *Store, ref string) *Image {
	t.Helper()
	if _, err := ParseName(ref); err != nil {
		t.Fatal(err)
	}
	n, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := registries.Load(n.Context().RegistryStr())
	if !ok {
		t.Fatalf("no test registry %s", n.Context().RegistryStr())
	}
	img := v.(*testRegistry).images[strings.TrimPrefix(n.Name(), n.Context().RegistryStr()+"/")]
	if img == nil {
		t.Fatalf("%s was not pushed", ref)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	d := descriptorOf(raw, string(mt))
	f := Fetched{Ref: ref, Manifest: raw, MediaType: string(mt), Names: []string{CanonicalName(n.Name())},
		Digests: []string{CanonicalName(n.Context().Digest(d.Digest.String()).Name())}}
	added, err := s.AddFetched(context.Background(), imageSource{img}, f)
	if err != nil {
		t.Fatal(err)
	}
	return added
}

// imageSource reads blobs from a go-containerregistry image, from 0.
type imageSource struct{ img v1.Image }

func (i imageSource) OpenBlob(_ context.Context, d v1.Descriptor, _ int64) (io.ReadCloser, int64, error) {
	if cd, err := i.img.ConfigName(); err == nil && cd == d.Digest {
		b, err := i.img.RawConfigFile()
		return io.NopCloser(bytes.NewReader(b)), 0, err
	}
	l, err := i.img.LayerByDigest(d.Digest)
	if err != nil {
		return nil, 0, err
	}
	rc, err := l.Compressed()
	return rc, 0, err
}

// The image builders and the progress recorder of imagetest.
var (
	mkImage      = imagetest.MkImage
	configDigest = imagetest.ConfigDigest
	layerDigests = imagetest.LayerDigests
	randomBytes  = imagetest.RandomBytes
)

type events = imagetest.Events

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}
