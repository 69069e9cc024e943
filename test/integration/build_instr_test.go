package integration

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBuildAddChecksum: ADD --checksum takes a URL whose contents have
// that digest; a mismatch is one line naming both digests, with nothing
// stored and no download left; a local source is refused, as BuildKit.
func TestBuildAddChecksum(t *testing.T) {
	needRoot(t)
	base := cpImage(t)
	const body = "#!/bin/sh\necho verified\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	t.Cleanup(srv.Close)
	good := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(body)))
	wrong := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("other")))
	r := hostBerth(t, t.TempDir(), "FROM "+base+"\nADD --checksum="+good+" "+srv.URL+"/tool.sh /opt/\n", "build", "-q", "--network", "none", "-t", "built:sum", "-")
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:sum") })
	if r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	if got := mustBerth(t, "run", "--rm", "--network", "none", "built:sum", "sh", "/opt/tool.sh"); got != "verified\n" {
		t.Errorf("in the image: %q", got)
	}
	before := imageBlobs(t)
	r = hostBerth(t, t.TempDir(), "FROM "+base+"\nADD --checksum="+wrong+" "+srv.URL+"/tool.sh /opt/\n", "build", "-q", "--network", "none", "-")
	want := "checksum mismatch: expected " + wrong + ", got " + good
	if r.code != 125 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("a mismatch: %+v, want one line with %q", r, want)
	}
	if after := imageBlobs(t); !slices.Equal(before, after) {
		t.Errorf("a mismatch stored:\nbefore %v\nafter  %v", before, after)
	}
	if left, _ := filepath.Glob(filepath.Join(storeRoot, "build", "download-*")); len(left) != 0 {
		t.Errorf("downloads left: %v", left)
	}
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM " + base + "\nADD --checksum=" + good + " f /f\n", "f": body})
	if r := berth(t, "", "build", "-q", "--network", "none", ctx); r.code != 125 || !strings.Contains(r.stderr, "HTTP(S) sources only") {
		t.Errorf("--checksum of a local file: %+v", r)
	}
}
