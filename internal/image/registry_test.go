package image

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
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
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-runtime/berth/internal/progress"
)

// testRegistry is go-containerregistry's in-process registry on loopback,
// wrapped to count blob fetches and to break or corrupt chosen blobs.
type testRegistry struct {
	host string
	reg  http.Handler

	mu     sync.Mutex
	gets   map[string]int      // blob digest → GETs
	ranges map[string][]string // blob digest → Range headers seen
	cut    map[string]int64    // blob digest → abort the response after n bytes
	stall  map[string]int64    // blob digest → hang after n bytes until the test ends
	done   chan struct{}
	tamper map[string]bool // blob digest → flip a byte
}

var blobPath = regexp.MustCompile(`/blobs/(sha256:[0-9a-f]{64})$`)

func newRegistry(t *testing.T, tls bool) *testRegistry {
	r := &testRegistry{
		reg:  registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		gets: map[string]int{}, ranges: map[string][]string{}, cut: map[string]int64{}, tamper: map[string]bool{},
		stall: map[string]int64{}, done: make(chan struct{}),
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
	return r
}

func (r *testRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
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
	cut, tamper, stall := r.cut[d], r.tamper[d], r.stall[d]
	r.mu.Unlock()
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

func (r *testRegistry) ref(t *testing.T, repo string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (r *testRegistry) push(t *testing.T, repo string, img v1.Image) {
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

// layerOf makes a gzip layer of a tar stream.
func layerOf(t testing.TB, b []byte) v1.Layer {
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// mkImage builds an image for linux/arch from tar streams, bottom first.
func mkImage(t testing.TB, arch string, layers ...[]byte) v1.Image {
	t.Helper()
	var ls []v1.Layer
	for _, b := range layers {
		ls = append(ls, layerOf(t, b))
	}
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config = v1.Config{
		Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{"echo " + arch}, Env: []string{"PATH=/bin", "A=b"},
		WorkingDir: "/srv", User: "1000:1000", StopSignal: "SIGQUIT", Labels: map[string]string{"k": "v"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func configDigest(t testing.TB, img v1.Image) string {
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func layerDigests(t testing.TB, img v1.Image) []v1.Hash {
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var hs []v1.Hash
	for _, l := range ls {
		h, _ := l.Digest()
		hs = append(hs, h)
	}
	return hs
}

func randomBytes(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return string(b)
}

// events records progress.
type events struct {
	mu sync.Mutex
	es []progress.Event
}

func (e *events) Report(ev progress.Event) {
	e.mu.Lock()
	e.es = append(e.es, ev)
	e.mu.Unlock()
}

func (e *events) last(id string) progress.Phase {
	e.mu.Lock()
	defer e.mu.Unlock()
	var p progress.Phase
	for _, ev := range e.es {
		if ev.ID == id {
			p = ev.Phase
		}
	}
	return p
}

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
