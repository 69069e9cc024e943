package integration

import (
	"archive/tar"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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

// gitServer makes a git repository (two commits, tag v1 on the first),
// serves it with git's dumb HTTP protocol (update-server-info and a file
// server) on loopback, and returns the repository's URL.
func gitServer(t *testing.T, files1, files2 map[string]string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git (Debian: git)")
	}
	work, srv := t.TempDir(), t.TempDir()
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"}, args...)...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	git(work, "init", "-q")
	for i, files := range []map[string]string{files1, files2} {
		for name, body := range files {
			writeHostFile(t, filepath.Join(work, name), body, 0)
		}
		git(work, "add", "-A")
		git(work, "commit", "-q", "-m", "c")
		if i == 0 {
			git(work, "tag", "v1")
		}
	}
	git(srv, "clone", "-q", "--bare", work, "repo.git")
	git(filepath.Join(srv, "repo.git"), "update-server-info")
	s := httptest.NewServer(http.FileServer(http.Dir(srv)))
	t.Cleanup(s.Close)
	return s.URL + "/repo.git"
}

// TestBuildGit: a git context (URL#ref:subdir, .dockerignore applied, no
// .git) and ADD of a git repository (the tree at the ref, .git only with
// --keep-git-dir=true), served on loopback by git's dumb HTTP protocol;
// a missing ref is one line, and no checkout is left. berth runs in the
// host's network namespace to reach the server: the builds run no RUN.
func TestBuildGit(t *testing.T) {
	needRoot(t)
	base := cpImage(t)
	url := gitServer(t, map[string]string{
		"app/Dockerfile":    "FROM " + base + "\nCOPY . /src/\n",
		"app/version":       "one\n",
		"app/.dockerignore": "secret\n",
		"app/secret":        "not shipped\n",
		"top":               "top\n",
	}, map[string]string{"app/version": "two\n", "top": "top2\n"})
	r := hostBerth(t, t.TempDir(), "", "build", "-q", "--network", "none", "-t", "built:git", url+"#v1:app")
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:git", "built:addgit") })
	if r.code != 0 {
		t.Fatalf("build %s#v1:app: %+v", url, r)
	}
	got := mustBerth(t, "run", "--rm", "--network", "none", "built:git", "sh", "-c", "cat /src/version; ls -A /src")
	if got != "one\n.dockerignore\nDockerfile\nversion\n" {
		t.Errorf("the git context, ref v1, subdir app (no .git, no secret): %q", got)
	}
	df := "FROM " + base + "\nADD " + url + "#v1 /v1\nADD --keep-git-dir=true " + url + " /head/\n"
	r = hostBerth(t, t.TempDir(), df, "build", "-q", "--network", "none", "-t", "built:addgit", "-")
	if r.code != 0 {
		t.Fatalf("build with ADD of git: %+v", r)
	}
	got = mustBerth(t, "run", "--rm", "--network", "none", "built:addgit", "sh", "-c", "cat /v1/top /v1/app/version /head/top; ls -d /v1/.git /head/.git 2>&1; true")
	if !strings.HasPrefix(got, "top\none\ntop2\n") || !strings.Contains(got, "/v1/.git: No such file") || !strings.Contains(got, "/head/.git\n") {
		t.Errorf("ADD of git: %q", got)
	}
	r = hostBerth(t, t.TempDir(), "", "build", "-q", "--network", "none", url+"#nosuch")
	if r.code != 125 || !strings.Contains(r.stderr, "nosuch") || !singleLine(r) {
		t.Errorf("a git context's missing ref: %+v", r)
	}
	r = hostBerth(t, t.TempDir(), "FROM "+base+"\nADD "+url+"#nosuch /x\n", "build", "-q", "--network", "none", "-")
	if r.code != 125 || !strings.Contains(r.stderr, "nosuch") || !singleLine(r) {
		t.Errorf("ADD's missing ref: %+v", r)
	}
	if left, _ := filepath.Glob(filepath.Join(storeRoot, "build", "git-*")); len(left) != 0 {
		t.Errorf("checkouts left: %v", left)
	}
}
