package integration

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tarNames lists a tar stream's entries, with the contents of the
// regular files among them.
func tarNames(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read the tar: %v", err)
		}
		b, _ := io.ReadAll(tr)
		out[strings.TrimPrefix(hdr.Name, "./")] = string(b)
	}
}

// TestBuildOutputLocalTar: --output type=local (and -o DIR) writes the
// final stage's files, owners kept; type=tar to a file and to standard
// output (and -o -); none stores an image; bad destinations are one
// line, with nothing built or left.
func TestBuildOutputLocalTar(t *testing.T) {
	needRoot(t)
	base := cpImage(t)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + base + " AS build\nRUN echo built > /built\n" +
			"FROM " + base + "\nCOPY --chown=1000:1000 f.txt /app/f.txt\nCOPY --from=build /built /app/built\n",
		"f.txt": "file\n",
	})
	before := mustBerth(t, "images", "-q")
	out := t.TempDir()
	// -o DIR: a new directory, and -t ignored with a warning.
	r := berth(t, "", "build", "--network", "none", "-t", "built:local", "-o", filepath.Join(out, "new"), ctx)
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:local") })
	if r.code != 0 || !strings.Contains(r.stderr, "-t is ignored") {
		t.Fatalf("build -o DIR: %+v", r)
	}
	if got := hostRead(t, filepath.Join(out, "new/app/built")) + hostRead(t, filepath.Join(out, "new/app/f.txt")); got != "built\nfile\n" {
		t.Errorf("the exported files: %q", got)
	}
	if st, err := os.Lstat(filepath.Join(out, "new/app/f.txt")); err != nil || st.Sys().(*syscall.Stat_t).Uid != 1000 {
		t.Errorf("owner of app/f.txt not kept: %v", err)
	}
	if st, err := os.Lstat(filepath.Join(out, "new/bin/busybox")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("the base image's files are not exported: %v", err)
	}
	// type=local into an existing directory: what it holds is kept.
	writeHostFile(t, filepath.Join(out, "old/mine"), "mine\n", 0)
	mustBerth(t, "build", "-q", "--network", "none", "--output", "type=local,dest="+filepath.Join(out, "old"), ctx)
	if got := hostRead(t, filepath.Join(out, "old/mine")) + hostRead(t, filepath.Join(out, "old/app/built")); got != "mine\nbuilt\n" {
		t.Errorf("into an existing directory: %q", got)
	}
	// type=tar to a file, then to standard output both ways.
	mustBerth(t, "build", "-q", "--network", "none", "--output", "type=tar,dest="+filepath.Join(out, "fs.tar"), ctx)
	f, err := os.Open(filepath.Join(out, "fs.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if names := tarNames(t, f); names["app/built"] != "built\n" || names["app/f.txt"] != "file\n" {
		t.Errorf("type=tar,dest=FILE: app/built %q, app/f.txt %q", names["app/built"], names["app/f.txt"])
	}
	for _, o := range []string{"type=tar,dest=-", "-"} {
		r := berth(t, "", "build", "--progress", "plain", "--network", "none", "-o", o, ctx)
		if r.code != 0 {
			t.Fatalf("build -o %s: %+v", o, r)
		}
		if names := tarNames(t, strings.NewReader(r.stdout)); names["app/built"] != "built\n" || names["bin/busybox"] == "" {
			t.Errorf("-o %s: app/built %q, %d entries", o, names["app/built"], len(names))
		}
	}
	if after := mustBerth(t, "images", "-q"); after != before {
		t.Errorf("an exported build stored an image:\n%s", after)
	}
	writeHostFile(t, filepath.Join(out, "file"), "x", 0)
	for _, tc := range []struct{ output, want string }{
		{"type=local,dest=" + filepath.Join(out, "missing/dir"), "does not exist"},
		{"type=local,dest=" + filepath.Join(out, "file"), "is not a directory"},
		{"type=tar,dest=" + out, "is a directory"},
		{"type=tar,dest=" + filepath.Join(out, "missing/fs.tar"), "does not exist"},
		{"type=local", "no dest"},
		{"type=tar,dest=-", "-q prints the image ID"},
	} {
		r := berth(t, "", "build", "-q", "--network", "none", "-o", tc.output, ctx)
		if r.code != 125 || !strings.Contains(r.stderr, tc.want) || !singleLine(r) {
			t.Errorf("-o %s: want one line with %q: %+v", tc.output, tc.want, r)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".berth-output-*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if _, err := os.Stat(filepath.Join(out, "missing")); err == nil {
		t.Errorf("a bad dest made a directory")
	}
}
