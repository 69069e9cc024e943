package registry

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"github.com/berth-runtime/berth/internal/image/imagetest"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testRegistry is go-containerregistry's in-process registry on loopback,
// wrapped to count blob fetches and to break or corrupt chosen blobs.
type testRegistry struct {
	host string
	srv  *httptest.Server
	reg  http.Handler

	mu     sync.Mutex
	gets   map[string]int      // blob digest → GETs
	ranges map[string][]string // blob digest → Range headers seen
	cut    map[string]int64    // blob digest → abort the response after n bytes
	stall  map[string]int64    // blob digest → hang after n bytes until the test ends
	done   chan struct{}
	tamper map[string]bool // blob digest → flip a byte
	// chunked: blob digest → send without Content-Length, so only the
	// stream itself shows how long it is.
	chunked map[string]bool
	// manifests: "repo/manifests/ref" → a manifest served as it is,
	// however hostile (the registry would check what is pushed).
	manifests map[string]servedManifest
}

type servedManifest struct {
	body      []byte
	mediaType string
}

var blobPath = regexp.MustCompile(`/blobs/(sha256:[0-9a-f]{64})$`)

func newRegistry(t testing.TB, tls bool) *testRegistry {
	r := &testRegistry{
		reg:  registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		gets: map[string]int{}, ranges: map[string][]string{}, cut: map[string]int64{}, tamper: map[string]bool{},
		stall: map[string]int64{}, done: make(chan struct{}),
		chunked: map[string]bool{}, manifests: map[string]servedManifest{},
	}
	srv := httptest.NewUnstartedServer(r)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point of some tests
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(r.done) })
	r.host = strings.TrimPrefix(strings.TrimPrefix(srv.URL, "http://"), "https://")
	r.srv = srv
	return r
}

func (r *testRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	sm, served := r.manifests[strings.TrimPrefix(req.URL.Path, "/v2/")]
	r.mu.Unlock()
	if served && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
		w.Header().Set("Content-Type", sm.mediaType)
		w.Header().Set("Content-Length", strconv.Itoa(len(sm.body)))
		if req.Method == http.MethodGet {
			w.Write(sm.body)
		}
		return
	}
	m := blobPath.FindStringSubmatch(req.URL.Path)
	if m == nil || req.Method != http.MethodGet {
		r.reg.ServeHTTP(w, req)
		return
	}
	d := m[1]
	r.mu.Lock()
	r.gets[d]++
	if rg := req.Header.Get("Range"); rg != "" {
		r.ranges[d] = append(r.ranges[d], rg)
	}
	cut, tamper, stall, chunked := r.cut[d], r.tamper[d], r.stall[d], r.chunked[d]
	r.mu.Unlock()
	if chunked {
		w = &chunkedWriter{ResponseWriter: w}
	}
	if cut > 0 {
		w = &cutWriter{ResponseWriter: w, left: cut}
	}
	if stall > 0 {
		w = &cutWriter{ResponseWriter: w, left: stall, stall: r.done}
	}
	if tamper {
		w = &tamperWriter{ResponseWriter: w}
	}
	r.reg.ServeHTTP(w, req)
}

func (r *testRegistry) count(d v1.Hash) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gets[d.String()]
}

// blobGets is how many blob GETs the registry answered, of any blob.
func (r *testRegistry) blobGets() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.gets {
		n += c
	}
	return n
}

// chunkedWriter drops the Content-Length the registry sets.
type chunkedWriter struct{ http.ResponseWriter }

func (c *chunkedWriter) WriteHeader(code int) {
	c.Header().Del("Content-Length")
	c.ResponseWriter.WriteHeader(code)
}

func (c *chunkedWriter) Write(p []byte) (int, error) {
	c.Header().Del("Content-Length")
	n, err := c.ResponseWriter.Write(p)
	c.ResponseWriter.(http.Flusher).Flush()
	return n, err
}

// putBlob uploads b as a blob of repo and returns its descriptor.
func (r *testRegistry) putBlob(t testing.TB, repo string, b []byte, mt types.MediaType) v1.Descriptor {
	t.Helper()
	l := static.NewLayer(b, mt)
	ref, err := name.NewRepository(r.host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(ref, l, remote.WithTransport(insecureTransport())); err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	return v1.Descriptor{MediaType: mt, Size: int64(len(b)), Digest: d}
}

// serveManifest makes the registry answer repo:tag with m as it is.
func (r *testRegistry) serveManifest(t testing.TB, repo, tag string, m any) {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.manifests[repo+"/manifests/"+tag] = servedManifest{b, string(types.OCIManifestSchema1)}
	r.mu.Unlock()
}

// cutWriter drops the connection after left bytes of body, or hangs
// there until stall is closed.
type cutWriter struct {
	http.ResponseWriter
	left  int64
	stall chan struct{}
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		c.ResponseWriter.Write(p[:c.left])
		c.ResponseWriter.(http.Flusher).Flush()
		if c.stall != nil {
			<-c.stall
		}
		panic(http.ErrAbortHandler)
	}
	c.left -= int64(len(p))
	return c.ResponseWriter.Write(p)
}

// tamperWriter flips the first byte of the body.
type tamperWriter struct {
	http.ResponseWriter
	done bool
}

func (tw *tamperWriter) Write(p []byte) (int, error) {
	if !tw.done && len(p) > 0 {
		tw.done = true
		q := append([]byte(nil), p...)
		q[0] ^= 0xff
		return tw.ResponseWriter.Write(q)
	}
	return tw.ResponseWriter.Write(p)
}

func (r *testRegistry) ref(t testing.TB, repo string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (r *testRegistry) push(t testing.TB, repo string, img v1.Image) {
	t.Helper()
	if err := remote.Write(r.ref(t, repo), img, remote.WithTransport(insecureTransport())); err != nil {
		t.Fatal(err)
	}
}

func (r *testRegistry) pushIndex(t *testing.T, repo string, idx v1.ImageIndex) {
	t.Helper()
	if err := remote.WriteIndex(r.ref(t, repo), idx, remote.WithTransport(insecureTransport())); err != nil {
		t.Fatal(err)
	}
}

func insecureTransport() http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	return tr
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

func pull(t *testing.T, s *Store, ref string) *Image {
	t.Helper()
	img, err := s.Pull(context.Background(), ref, PullOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	return img
}
