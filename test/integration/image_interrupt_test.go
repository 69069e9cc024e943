package integration

import (
	"bytes"
	"crypto/rand"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"
)

// stallingRegistry serves blob GETs up to stallAt bytes, then holds them
// until release is closed; it records the Range headers of blob GETs.
type stallingRegistry struct {
	inner   http.Handler
	stallAt int64
	release chan struct{}
	mu      sync.Mutex
	ranges  []string
}

func (s *stallingRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
		s.inner.ServeHTTP(w, r)
		return
	}
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	s.mu.Unlock()
	select {
	case <-s.release:
		s.inner.ServeHTTP(w, r)
		return
	default:
	}
	s.inner.ServeHTTP(&stallWriter{ResponseWriter: w, left: s.stallAt, release: s.release, done: r.Context().Done()}, r)
}

type stallWriter struct {
	http.ResponseWriter
	left    int64
	release chan struct{}
	done    <-chan struct{}
}

func (w *stallWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= w.left {
		w.left -= int64(len(p))
		return w.ResponseWriter.Write(p)
	}
	n, _ := w.ResponseWriter.Write(p[:w.left])
	w.left = 0
	w.ResponseWriter.(http.Flusher).Flush()
	select {
	case <-w.release:
	case <-w.done:
	}
	return n, io.ErrUnexpectedEOF
}

// TestPullInterruptedResumes: SIGINT to berth pull reaches berth-registry,
// which stops cleanly: berth exits 125 in one line, no helper is left,
// the partial download is kept, and the next pull resumes it (a Range
// request).
func TestPullInterruptedResumes(t *testing.T) {
	needRoot(t)
	big := make([]byte, 4<<20)
	rand.Read(big)
	reg := &stallingRegistry{inner: registry.New(registry.Logger(log.New(io.Discard, "", 0))), stallAt: 1 << 20, release: make(chan struct{})}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	img, err := mutate.AppendLayers(appImage(t), tarLayer(t, tarEntry{name: "big", body: string(big)}))
	if err != nil {
		t.Fatal(err)
	}
	ref := (&testRegistry{host: u.Host}).push(t, "test/stall:1", img)
	reg.mu.Lock()
	reg.ranges = nil
	reg.mu.Unlock()

	cmd := exec.Command(berthBin, "--root", storeRoot, "--runroot", stateRoot, "pull", "-q", "--tls-verify=false", ref)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(storeRoot, "images", "tmp")
	deadline := time.Now().Add(20 * time.Second)
	for !partialOver(tmp, 1<<20) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the download never reached the stall: %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(unix.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("berth pull did not stop on SIGINT")
	}
	r := result{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
	if r.code != 125 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("interrupted pull: %+v, want 125 and one line", r)
	}
	t.Logf("interrupted: %q", r.stderr)
	helper := filepath.Join(filepath.Dir(berthBin), "berth-registry") + " pull"
	if out, _ := exec.Command("pgrep", "-f", helper).Output(); len(out) != 0 {
		t.Errorf("berth-registry left running: %s", out)
	}
	if !partialOver(tmp, 1<<20) {
		t.Error("the partial download was not kept")
	}
	close(reg.release)
	if r := pull(t, "--tls-verify=false", ref); r.code != 0 {
		t.Fatalf("pull again: %+v", r)
	}
	reg.mu.Lock()
	resumed := false
	for _, rg := range reg.ranges {
		resumed = resumed || strings.HasPrefix(rg, "bytes=")
	}
	reg.mu.Unlock()
	if !resumed {
		t.Errorf("not resumed: ranges %q", reg.ranges)
	}
	if r := berth(t, "", "rmi", ref); r.code != 0 {
		t.Errorf("rmi: %+v", r)
	}
}

// partialOver says whether a partial download in dir has over n bytes.
func partialOver(dir string, n int64) bool {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), "partial-") && fi.Size() >= n {
			return true
		}
	}
	return false
}
