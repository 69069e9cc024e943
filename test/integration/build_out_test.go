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
	"time"
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
	hostSuiteOnly(t)
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
	hostSuiteOnly(t)
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
	df := "FROM " + base + "\nADD " + url + "#v1 /v1\nADD --keep-git-dir=true " + url + " /head/\nADD " + url + "#main:app /app\n"
	r = hostBerth(t, t.TempDir(), df, "build", "-q", "--network", "none", "-t", "built:addgit", "-")
	if r.code != 0 {
		t.Fatalf("build with ADD of git: %+v", r)
	}
	got = mustBerth(t, "run", "--rm", "--network", "none", "built:addgit", "sh", "-c", "cat /v1/top /v1/app/version /head/top /app/version; ls -d /v1/.git /head/.git 2>&1; true")
	if !strings.HasPrefix(got, "top\none\ntop2\ntwo\n") || !strings.Contains(got, "/v1/.git: No such file") || !strings.Contains(got, "/head/.git\n") {
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
	testBuildGitInterrupted(t, false)
	testBuildGitInterrupted(t, true)
	// The killed build's checkout is the next build's to remove, once it
	// is older than a moment.
	left, _ := filepath.Glob(filepath.Join(storeRoot, "build", "git-*"))
	if len(left) != 1 {
		t.Errorf("a killed build's checkout: %v", left)
	}
	old := time.Now().Add(-2 * time.Minute)
	for _, d := range left {
		os.Chtimes(d, old, old)
	}
	if r := berth(t, "FROM "+base+"\nLABEL swept=yes\n", "build", "-q", "--network", "none", "-"); r.code != 0 {
		t.Errorf("the next build: %+v", r)
	}
	if left, _ := filepath.Glob(filepath.Join(storeRoot, "build", "git-*")); len(left) != 0 {
		t.Errorf("checkouts left: %v", left)
	}
}

// testBuildGitInterrupted: SIGINT while git waits on a server that never
// answers stops the build with status 130 (git killed, its checkout
// removed: the caller checks); with kill, berth and berth-build are
// killed instead (SIGKILL, by PID), leaving the checkout behind.
func testBuildGitInterrupted(t *testing.T, kill bool) {
	asked := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	defer close(release)
	cmd := exec.Command(berthBin, "--root", storeRoot, "--runroot", stateRoot, "build", "-q", "--network", "none", srv.URL+"/hang.git")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-asked:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("git never asked the server: %s", stderr.String())
	}
	if kill {
		for _, pid := range childrenOf(cmd.Process.Pid) {
			syscall.Kill(pid, syscall.SIGKILL) // berth-build, started by this berth (by any of its threads)
		}
		cmd.Process.Kill()
		cmd.Wait()
		return
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Errorf("interrupted while fetching: status %d (%v), %s", code, err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Errorf("berth build did not stop in 30 s after SIGINT while fetching: %s", stderr.String())
	}
}

// sshAgentForTest starts an ssh-agent on a socket in a temporary
// directory holding a new key (comment berth-test), killed by its PID at
// the end; it returns the socket and the key file.
func sshAgentForTest(t *testing.T) (string, string) {
	t.Helper()
	for _, tool := range []string{"ssh-agent", "ssh-add", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian: openssh-client)", tool)
		}
	}
	dir := t.TempDir()
	key, sock := filepath.Join(dir, "key"), filepath.Join(dir, "agent.sock")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "berth-test", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		agent.Process.Kill()
		agent.Wait()
	})
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	add := exec.Command("ssh-add", key)
	add.Env = []string{"SSH_AUTH_SOCK=" + sock}
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v %s", err, out)
	}
	return sock, key
}

// TestBuildSSH: RUN --mount=type=ssh reaches the caller's agent through
// berth-build's own socket at /run/buildkit/ssh_agent.0 (SSH_AUTH_SOCK
// set), read-only (the agent keeps its key); --ssh ID=KEYFILE serves the
// key itself; uid= lets a user in; the image keeps no trace; a required
// one missing and an unset SSH_AUTH_SOCK are one line; nothing is left.
func TestBuildSSH(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	sock, key := sshAgentForTest(t)
	df := "FROM " + base + "\n" +
		"RUN --mount=type=ssh probe sshagent > /agent; echo \"sock=$SSH_AUTH_SOCK\" >> /agent; test -S /run/buildkit/ssh_agent.0 && echo socket >> /agent\n" +
		"RUN --mount=type=ssh,id=keys,target=/k.sock SSH_AUTH_SOCK=/k.sock probe sshagent > /keys\n" +
		"RUN mkdir /out && chown 1000 /out\nUSER 1000\n" +
		"RUN --mount=type=ssh,uid=1000 probe sshagent > /out/user\n" +
		"RUN --mount=type=ssh probe sshagent > /out/denied 2>&1 || true\n"
	build := func(df string, env []string, args ...string) result {
		t.Helper()
		cmd := berthCommand(append([]string{"build", "-q", "--network", "none"}, args...)...)
		cmd.Env = append(cmd.Env, env...)
		cmd.Stdin = strings.NewReader(df)
		return collect(t, cmd, "berth build")
	}
	r := build(df, []string{"SSH_AUTH_SOCK=" + sock}, "--ssh", "default", "--ssh", "keys="+key, "-t", "built:ssh", "-")
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:ssh") })
	if r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	got := mustBerth(t, "run", "--rm", "--network", "none", "built:ssh", "sh", "-c", "cat /agent /keys /out/user /out/denied; ls /run/buildkit 2>&1; true")
	for _, want := range []string{
		"keys=1\ncomment=berth-test\nremoveall=failure\nsock=/run/buildkit/ssh_agent.0\nsocket\n",
		"keys=1\ncomment=" + key + "\nremoveall=failure\nkeys=1\ncomment=berth-test\n", // then the user's, with uid=1000
		"permission denied", "/run/buildkit: No such file",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("in the image, want %q:\n%s", want, got)
		}
	}
	list := exec.Command("ssh-add", "-l")
	list.Env = []string{"SSH_AUTH_SOCK=" + sock}
	if out, err := list.CombinedOutput(); err != nil || !strings.Contains(string(out), "berth-test") {
		t.Errorf("the agent lost its key: %v %s", err, out)
	}
	if r := build("FROM "+base+"\nRUN --mount=type=ssh test -z \"$SSH_AUTH_SOCK\"\n", nil, "-"); r.code != 0 {
		t.Errorf("an optional ssh mount not given: %+v", r)
	}
	r = build("FROM "+base+"\nRUN --mount=type=ssh,id=other,required=true true\n", []string{"SSH_AUTH_SOCK=" + sock}, "--ssh", "default", "-")
	if r.code != 125 || !strings.Contains(r.stderr, `ssh "other" is required`) || !singleLine(r) {
		t.Errorf("a required ssh missing: %+v", r)
	}
	r = build("FROM "+base+"\n", nil, "--ssh", "default", "-")
	if r.code != 125 || !strings.Contains(r.stderr, "SSH_AUTH_SOCK is not set") || !singleLine(r) {
		t.Errorf("--ssh default without an agent: %+v", r)
	}
	if left, _ := filepath.Glob(filepath.Join(storeRoot, "build", "ssh-*")); len(left) != 0 {
		t.Errorf("agent sockets left: %v", left)
	}
}

// TestBuildOutputRootless: a rootless -o DIR writes the files as the
// user's own, a file the image gives to 1000 too (not a subordinate ID
// the user could not remove); a git context builds rootless; nothing of
// the builds is left.
func TestBuildOutputRootless(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	u := newRootlessUser(t)
	tgz := filepath.Join(u.home, "rootfs.tar.gz")
	if out, err := exec.Command("tar", "-C", rootfsDir, "--numeric-owner", "-czf", tgz, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	os.Chown(tgz, u.uid, u.gid)
	if r := u.berth(t, "image", "import", tgz, "ro-base:1"); r.code != 0 {
		t.Fatalf("image import: %+v", r)
	}
	ctx := filepath.Join(u.home, "ctx")
	os.MkdirAll(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM ro-base:1\nCOPY --chown=1000:1000 f.txt /app/f.txt\nRUN echo built > /app/built\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "f.txt"), []byte("file\n"), 0o644)
	exec.Command("chown", "-R", u.name+":", ctx).Run()
	out := filepath.Join(u.home, "out")
	if r := u.berth(t, "build", "-q", "--network", "none", "-o", out, ctx); r.code != 0 {
		t.Fatalf("rootless build -o DIR: %+v", r)
	}
	for _, name := range []string{"app/f.txt", "app/built", "bin/busybox"} {
		st, err := os.Lstat(filepath.Join(out, name))
		if err != nil || int(st.Sys().(*syscall.Stat_t).Uid) != u.uid {
			t.Errorf("%s: %v, not the user's", name, err)
		}
	}
	if got := hostRead(t, filepath.Join(out, "app/built")); got != "built\n" {
		t.Errorf("app/built: %q", got)
	}
	// A git context, rootless: git runs as the namespace's root.
	url := gitServer(t, map[string]string{"Dockerfile": "FROM ro-base:1\nCOPY v /v\n", "v": "git\n"}, map[string]string{"v": "git2\n"})
	if r := u.berth(t, "build", "-q", "--network", "none", "-o", filepath.Join(u.home, "fromgit"), url+"#v1"); r.code != 0 {
		t.Errorf("rootless build of a git context: %+v", r)
	} else if got := hostRead(t, filepath.Join(u.home, "fromgit/v")); got != "git\n" {
		t.Errorf("the git context's file: %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(u.home, ".local/share/berth/build/git-*")); len(left) != 0 {
		t.Errorf("checkouts left: %v", left)
	}
	if left := processesOf(u.uid); len(left) != 0 {
		t.Errorf("processes of the user left: %v", left)
	}
	checkNoLeaks(t, before)
}
