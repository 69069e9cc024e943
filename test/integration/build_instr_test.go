package integration

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBuildAddChecksum: ADD --checksum takes a URL whose contents have
// that digest; a mismatch is one line naming both digests, with nothing
// stored and no download left; a local source is refused, as BuildKit.
func TestBuildAddChecksum(t *testing.T) {
	hostSuiteOnly(t)
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

// buildWithEnv runs berth build with extra environment variables (the
// caller's, for --secret env=).
func buildWithEnv(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := berthCommand(append([]string{"build"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	return collect(t, cmd, "berth build")
}

// TestBuildSecretEnv: --secret id=X,env=VAR reads the caller's VAR; RUN
// --mount=type=secret,env=NAME gives a secret (from the environment or a
// file) as NAME to that RUN alone, with no file; an env= secret mounted as
// a file reads the same. No trace of it in the image, its config or
// history, nor on the host after; a changed value keeps the cache.
func TestBuildSecretEnv(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	file := filepath.Join(t.TempDir(), "ft")
	writeHostFile(t, file, "filesecret", 0)
	df := "FROM " + base + "\n" +
		"RUN --mount=type=secret,id=tok,env=TOKEN sh -c 'echo ${#TOKEN} > /len; ls /run/secrets 2>/dev/null | wc -l > /files'\n" +
		"RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /len2\n" +
		"RUN --mount=type=secret,id=ft,env=FT sh -c 'echo $FT | wc -c > /len3'\n" +
		"RUN sh -c 'echo \"after:${TOKEN:-unset}\" > /after'\n"
	build := func(value string) result {
		t.Helper()
		return buildWithEnv(t, []string{"I14A_TOK=" + value}, df, "--progress", "plain", "--network", "none",
			"--secret", "id=tok,env=I14A_TOK", "--secret", "id=ft,src="+file, "-t", "built:secretenv", "-")
	}
	r := build("s3cr3t-value")
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:secretenv") })
	if r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	got := mustBerth(t, "run", "--rm", "--network", "none", "built:secretenv", "sh", "-c",
		"cat /len /files /len2 /len3 /after; find / -xdev -type f ! -path '/proc/*' | xargs grep -l -e s3cr3t -e filesecret | wc -l")
	if got != "12\n0\n12\n11\nafter:unset\n0\n" {
		t.Errorf("in the image: %q (want the lengths, no /run/secrets, no RUN after seeing it, no file holding it)", got)
	}
	for _, out := range []string{mustBerth(t, "image", "inspect", "built:secretenv"), mustBerth(t, "history", "--no-trunc", "built:secretenv")} {
		if strings.Contains(out, "s3cr3t") || strings.Contains(out, "filesecret") {
			t.Errorf("the secret is in the image's config or history:\n%s", out)
		}
	}
	if strings.Contains(r.stderr, "s3cr3t") {
		t.Errorf("the secret is in the progress:\n%s", r.stderr)
	}
	if r := build("changed-value"); r.code != 0 || strings.Count(r.stderr, "CACHED") != 4 {
		t.Errorf("a changed secret value missed the cache: %+v", r)
	}
	if left, _ := filepath.Glob(filepath.Join(stateRoot, ".build-secret-*")); len(left) != 0 {
		t.Errorf("secret files left: %v", left)
	}
	r = buildWithEnv(t, nil, df, "-q", "--network", "none", "--secret", "id=tok,env=I14A_UNSET", "-")
	if r.code != 125 || !strings.Contains(r.stderr, "the environment has no I14A_UNSET") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("an unset variable: %+v", r)
	}
	r = buildWithEnv(t, nil, "FROM "+base+"\nRUN --mount=type=secret,id=none,env=X,required true\n", "-q", "--network", "none", "-")
	if r.code != 125 || !strings.Contains(r.stderr, `secret "none" is required`) {
		t.Errorf("a required env secret missing: %+v", r)
	}
}

// TestBuildCopyLink: COPY --link's files are a layer of their own: over a
// directory the base has, the base's other files stay; after the base
// image changes, the step is CACHED and its layer is the same one (its key
// has no parent), while a plain COPY is made again; ADD --link and
// --chown by name work too.
func TestBuildCopyLink(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "linkbase:1", "built:link") })
	makeBase := func(marker string) {
		t.Helper()
		df := "FROM " + base + "\nRUN mkdir -p /opt/data && echo kept > /opt/data/keep && echo " + marker + " > /marker\n"
		if r := berth(t, df, "build", "-q", "--network", "none", "-t", "linkbase:1", "-"); r.code != 0 {
			t.Fatalf("base: %+v", r)
		}
	}
	ctx := buildContext(t, map[string]string{
		"Dockerfile":  "FROM linkbase:1\nCOPY --link files/ /opt/data/\nADD --link --chown=app:wheel one.txt /home/app/\nCOPY plain.txt /plain\n",
		"files/a.txt": "a\n",
		"files/b.txt": "b\n",
		"one.txt":     "one\n",
		"plain.txt":   "plain\n",
	})
	build := func() result {
		t.Helper()
		r := berth(t, "", "build", "--progress", "plain", "--network", "none", "-t", "built:link", ctx)
		if r.code != 0 {
			t.Fatalf("build: %+v", r)
		}
		return r
	}
	check := func(marker string) {
		t.Helper()
		got := mustBerth(t, "run", "--rm", "--network", "none", "built:link", "sh", "-c",
			"cat /opt/data/keep /opt/data/a.txt /opt/data/b.txt /marker /plain; stat -c '%u:%g' /home/app/one.txt; stat -c %a /")
		if want := "kept\na\nb\n" + marker + "\nplain\n1000:10\n755\n"; got != want {
			t.Errorf("in the image: %q, want %q", got, want)
		}
	}
	makeBase("v1")
	build()
	check("v1")
	// The first base and image are left unnamed by the second build.
	for _, ref := range []string{"linkbase:1", "built:link"} {
		id := imageID(t, ref)
		t.Cleanup(func() { berth(t, "", "rmi", "-f", id) })
	}
	var v []struct{ RootFS struct{ Layers []string } }
	json.Unmarshal([]byte(mustBerth(t, "image", "inspect", "built:link")), &v)
	linkLayers := v[0].RootFS.Layers[len(v[0].RootFS.Layers)-3 : len(v[0].RootFS.Layers)-1]

	makeBase("v2")
	r := build()
	check("v2")
	// The two --link steps cached; the plain COPY made again.
	if strings.Count(r.stderr, "CACHED") != 2 || !strings.Contains(r.stderr, "COPY plain.txt /plain\n#4 DONE") {
		t.Errorf("after the base changed, want the --link steps CACHED and the plain COPY made:\n%s", r.stderr)
	}
	v = nil
	json.Unmarshal([]byte(mustBerth(t, "image", "inspect", "built:link")), &v)
	if got := v[0].RootFS.Layers[len(v[0].RootFS.Layers)-3 : len(v[0].RootFS.Layers)-1]; !slices.Equal(got, linkLayers) {
		t.Errorf("the --link layers changed with the base: %v, were %v", got, linkLayers)
	}
}

// TestBuildBindFrom: RUN --mount=type=bind,from= a stage (needed by the
// target only through the bind) or an image, at a source path or whole;
// read-only by default, rw writes thrown away; the source's identity is in
// the key (a changed stage re-runs the RUN); nothing mounted or left after,
// and a missing source path is one line.
func TestBuildBindFrom(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	df := "FROM " + base + " AS tools\nARG V=1\nRUN mkdir -p /tools && echo 'echo tool-ran' > /tools/t.sh && echo data$V > /tools/d\n\n" +
		"FROM " + base + "\n" +
		"RUN --mount=type=bind,from=tools,source=/tools,target=/mnt/tools sh -c 'sh /mnt/tools/t.sh > /out && cat /mnt/tools/d >> /out'\n" +
		"RUN --mount=type=bind,from=tools,target=/mnt/root,rw sh -c 'echo scribble > /mnt/root/tools/d && cat /mnt/root/tools/d > /rw'\n" +
		"RUN --mount=type=bind,from=tools,source=tools,target=/mnt/ro sh -c 'touch /mnt/ro/x 2>/dev/null && echo writable > /ro || echo readonly > /ro'\n" +
		"RUN --mount=type=bind,from=tools,source=/tools/d,target=/after cat /after > /after-rw\n" +
		"RUN --mount=type=bind,from=" + base + ",source=/bin,target=/bb /bb/busybox echo image-bound > /img\n"
	ctx := buildContext(t, map[string]string{"Dockerfile": df})
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:bindfrom") })
	build := func(v string) string {
		t.Helper()
		r := berth(t, "", "build", "-q", "--network", "none", "--build-arg", "V="+v, "-t", "built:bindfrom", ctx)
		if r.code != 0 {
			t.Fatalf("build: %+v", r)
		}
		return strings.TrimSpace(r.stdout)
	}
	check := func(v string) {
		t.Helper()
		got := mustBerth(t, "run", "--rm", "--network", "none", "built:bindfrom", "sh", "-c", "cat /out /rw /ro /after-rw /img; ls /mnt /after /bb 2>&1 | grep -c 'No such'")
		if want := "tool-ran\ndata" + v + "\nscribble\nreadonly\ndata" + v + "\nimage-bound\n3\n"; got != want {
			t.Errorf("in the image: %q, want %q", got, want)
		}
	}
	first := build("1")
	check("1")
	t.Cleanup(func() { berth(t, "", "rmi", "-f", first) })
	if again := build("1"); again != first {
		t.Errorf("a rebuild with nothing changed: %s, was %s", again, first)
	}
	if changed := build("2"); changed == first {
		t.Error("a changed source stage kept the image")
	}
	check("2")
	if ps := mustBerth(t, "ps", "-aq"); ps != "" {
		t.Errorf("containers left: %q", ps)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), storeRoot) {
		t.Error("a mount of the build is left")
	}
	if left, _ := filepath.Glob(filepath.Join(storeRoot, "build", "bind-*")); len(left) != 0 {
		t.Errorf("bind directories left: %v", left)
	}
	r := berth(t, "FROM "+base+" AS s\nFROM "+base+"\nRUN --mount=type=bind,from=s,source=/nope,target=/x true\n", "build", "-q", "--network", "none", "-")
	if r.code == 0 || !strings.Contains(r.stderr, `"nope" not found in s`) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("a missing source: %+v", r)
	}
	if ps := mustBerth(t, "ps", "-aq"); ps != "" {
		t.Errorf("containers left after a missing source: %q", ps)
	}
}

// imageFile is an image's stored config: its history and layers.
func imageFile(t *testing.T, id string) (history []struct {
	EmptyLayer bool   `json:"empty_layer"`
	CreatedBy  string `json:"created_by"`
	Comment    string `json:"comment"`
}, diffIDs []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(storeRoot, "images", "blobs", "sha256", strings.TrimPrefix(id, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	var cf struct {
		History []struct {
			EmptyLayer bool   `json:"empty_layer"`
			CreatedBy  string `json:"created_by"`
			Comment    string `json:"comment"`
		}
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(raw, &cf); err != nil {
		t.Fatal(err)
	}
	return cf.History, cf.RootFS.DiffIDs
}

// TestBuildSquash: --squash keeps the base image's layers and merges the
// build's into one, deletions applied (a base file removed stays removed,
// a directory made, removed and made again holds only its last files);
// every step's history entry is kept as empty_layer, with one entry for
// the merged layer; the config is the build's; a rebuild gives the same
// image, and a build without --squash keeps its layers.
func TestBuildSquash(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	df := "FROM " + base + "\n" +
		"RUN echo one > /one && rm /bin/ls && mkdir /d && echo x > /d/x && ln /d/x /keep\n" +
		"RUN echo two > /two && rm -r /d && rm /one && echo changed > /keep2\n" +
		"RUN mkdir /d && echo y > /d/y\n" +
		"ENV A=1\n"
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:squash", "built:nosquash") })
	r := berth(t, df, "build", "-q", "--network", "none", "--squash", "-t", "built:squash", "-")
	if r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	id := strings.TrimSpace(r.stdout)
	baseHist, baseLayers := imageFile(t, imageID(t, base))
	hist, layers := imageFile(t, id)
	if len(layers) != len(baseLayers)+1 || !slices.Equal(layers[:len(baseLayers)], baseLayers) {
		t.Errorf("layers %v, base's %v: want the base's and one more", layers, baseLayers)
	}
	nonEmpty := 0
	for _, h := range hist {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	if len(hist) != len(baseHist)+5 || nonEmpty != len(layers) || !hist[len(hist)-2].EmptyLayer || !strings.HasPrefix(hist[len(hist)-1].Comment, "merge sha256:") ||
		!strings.Contains(hist[len(baseHist)].CreatedBy, "echo one") {
		t.Errorf("history %+v", hist)
	}
	got := mustBerth(t, "run", "--rm", "--network", "none", "built:squash", "sh", "-c",
		"cat /two /d/y /keep /keep2; echo A=$A; ls /one /bin/ls /d/x 2>&1 | grep -c 'No such'")
	if got != "two\ny\nx\nchanged\nA=1\n3\n" {
		t.Errorf("in the squashed image: %q", got)
	}
	if again := strings.TrimSpace(berth(t, df, "build", "-q", "--network", "none", "--squash", "-").stdout); again != id {
		t.Errorf("a rebuild: %s, was %s", again, id)
	}
	r = berth(t, df, "build", "-q", "--network", "none", "-t", "built:nosquash", "-")
	if _, l := imageFile(t, strings.TrimSpace(r.stdout)); len(l) != len(baseLayers)+3 {
		t.Errorf("without --squash: %d layers, want %d", len(l), len(baseLayers)+3)
	}
	// FROM an earlier stage: that stage's layers are the base's.
	r = berth(t, "FROM "+base+" AS b\nRUN echo b > /b\nFROM b\nRUN echo c > /c\nRUN rm /b\n", "build", "-q", "--network", "none", "--squash", "-t", "built:squash2", "-")
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:squash2") })
	if _, l := imageFile(t, strings.TrimSpace(r.stdout)); r.code != 0 || len(l) != len(baseLayers)+2 {
		t.Errorf("FROM a stage: %+v, %d layers, want %d", r, len(l), len(baseLayers)+2)
	}
	if got := mustBerth(t, "run", "--rm", "--network", "none", "built:squash2", "sh", "-c", "cat /c; ls /b 2>&1 | grep -c 'No such'"); got != "c\n1\n" {
		t.Errorf("FROM a stage, squashed: %q", got)
	}
	// FROM scratch: one layer, --link steps too.
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY --link a /a\nCOPY b /b\n", "a": "a\n", "b": "b\n"})
	r = berth(t, "", "build", "-q", "--network", "none", "--squash", "--output", "type=oci,dest="+filepath.Join(t.TempDir(), "o.tar"), ctx)
	if _, l := imageFile(t, strings.TrimSpace(r.stdout)); r.code != 0 || len(l) != 1 {
		t.Errorf("FROM scratch: %+v, %d layers, want 1", r, len(l))
	}
}

// TestBuildBindFromKilled: a build killed with SIGKILL during a RUN that
// binds another stage's root leaves that root attached on the host, and
// its step containers; the next berth command detaches the root, removes
// its directory and lock, and removes the steps and the builder's lock.
func TestBuildBindFromKilled(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	cmd := berthCommand("build", "--no-cache", "--network", "none", "-")
	// The RUN's output, not the step's line: it has read the bound root.
	cmd.Stdin = strings.NewReader("FROM " + base + " AS tools\nRUN echo bound-$((6*7)) > /t\n\nFROM " + base +
		"\nRUN --mount=type=bind,from=tools,target=/mnt/tools sh -c 'cat /mnt/tools/t && sleep 60'\n")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// On a failure: berth-build first, which berth's death would
		// leave running.
		for _, pid := range childrenOf(cmd.Process.Pid) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	roots := filepath.Join(storeRoot, "build", "roots")
	var log strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(log.String(), "bound-42") {
		n, err := stderr.Read(buf)
		log.Write(buf[:n])
		if err != nil {
			t.Fatalf("build ended before its RUN: %s", log.String())
		}
	}
	attached := func() bool {
		b, _ := os.ReadFile("/proc/self/mountinfo")
		return strings.Contains(string(b), roots+"/root-")
	}
	if !attached() {
		t.Fatalf("no step root attached under %s while the RUN runs", roots)
	}
	helper := childOf(t, cmd.Process.Pid)
	if err := unix.Kill(helper, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(stderr)
	_ = cmd.Wait()
	if !attached() {
		t.Fatal("the killed build's step root is not attached: the test shows nothing")
	}
	mustBerth(t, "ps", "-a")
	if attached() {
		t.Error("the next command left the killed build's step root attached")
	}
	if ents, _ := os.ReadDir(roots); len(ents) != 0 {
		t.Errorf("left in %s: %v", roots, ents)
	}
	// Its step containers too: the RUN's and the bound stage's.
	if ps := mustBerth(t, "ps", "-aq"); ps != "" {
		t.Errorf("the killed build's containers are left: %q", ps)
		mustBerth(t, append([]string{"rm", "-f"}, strings.Fields(ps)...)...)
	}
	if ents, _ := os.ReadDir(filepath.Join(storeRoot, "build", "owners")); len(ents) != 0 {
		t.Errorf("the killed build's lock is left: %v", ents)
	}
}

// childOf is the one child process of pid (berth-build, of berth build).
func childOf(t *testing.T, pid int) int {
	t.Helper()
	children := childrenOf(pid)
	if len(children) == 0 {
		t.Fatalf("berth (%d) has no child", pid)
	}
	return children[0]
}

// childrenOf lists pid's child processes.
func childrenOf(pid int) []int {
	var pids []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(field); err == nil {
				pids = append(pids, n)
			}
		}
	}
	return pids
}
