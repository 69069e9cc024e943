package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// buildContext writes files (name -> content) into a new context dir.
func buildContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		writeHostFile(t, filepath.Join(dir, name), body, 0)
	}
	return dir
}

// TestBuildMultiStage: a two-stage build from the suite's busybox image:
// global ARG in FROM, ARG, ENV, WORKDIR, USER, COPY (with .dockerignore,
// --chown, --chmod, --from), heredoc RUN, a RUN that deletes an image
// file (a whiteout), and the config instructions, then run.
func TestBuildMultiStage(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": `# syntax=docker/dockerfile:1
ARG BASE=` + base + `
FROM ${BASE} AS build
ARG WHO=world
ENV GREETING=hello \
    MODE=build
WORKDIR /src
COPY app.sh lib/ ./
RUN <<EOT
echo "$GREETING $WHO" > /src/greeting
rm /bin/ls
EOT

FROM ${BASE}
ARG TARGETARCH
COPY --from=build /src/ /app/
COPY --chown=1000:1000 --chmod=0750 app.sh /home/app/run.sh
RUN rm /bin/ls && echo "arch=$TARGETARCH" > /app/arch
ENV MODE=prod
USER 1000
WORKDIR /app
LABEL org.example=yes
EXPOSE 8080/tcp
STOPSIGNAL SIGINT
ENTRYPOINT ["/bin/sh"]
CMD ["/app/app.sh"]
`,
		"app.sh":        "#!/bin/sh\necho \"$(cat /app/greeting) mode=$MODE uid=$(id -u) cwd=$(pwd)\"\n",
		"lib/util":      "util\n",
		"secret.key":    "do not ship\n",
		".dockerignore": "secret.key\n*.tmp\n",
		"junk.tmp":      "junk\n",
	})
	r := berth(t, "", "build", "-t", "built:multi", "-t", "built:also", "--build-arg", "WHO=berth", "--iidfile", filepath.Join(ctx, "iid"), ctx)
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:multi", "built:also") })
	if r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	iid, _ := os.ReadFile(filepath.Join(ctx, "iid"))
	if !strings.HasPrefix(string(iid), "sha256:") {
		t.Errorf("--iidfile holds %q", iid)
	}
	if got := mustBerth(t, "run", "--rm", "--network", "none", "built:multi"); got != "hello berth mode=prod uid=1000 cwd=/app\n" {
		t.Errorf("the built image ran: %q", got)
	}
	got := mustBerth(t, "run", "--rm", "--network", "none", "built:also", "-c",
		"cat /app/util /app/arch; ls /app; ls /bin/ls 2>&1; ls -ln /home/app/run.sh; ls /app/secret.key /app/junk.tmp 2>&1 | wc -l")
	for _, want := range []string{"util\n", "arch=", "app.sh", "greeting", "No such file", "-rwxr-x---", " 1000 ", "\n2\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("in the built image, want %q:\n%s", want, got)
		}
	}
	cfg := imageConfig(t, "built:multi")
	c, _ := cfg["Config"].(map[string]any)
	if c == nil {
		t.Fatalf("inspect: %v", cfg)
	}
	for _, want := range []string{`"User":"1000"`, `"WorkingDir":"/app"`, `"org.example":"yes"`, `"8080/tcp"`, `"StopSignal":"SIGINT"`, `"MODE=prod"`} {
		if !strings.Contains(mustBerth(t, "image", "inspect", "built:multi"), strings.ReplaceAll(want, ":", ": ")) &&
			!strings.Contains(mustBerth(t, "image", "inspect", "built:multi"), want) {
			t.Errorf("image config lacks %s", want)
		}
	}
	// The steps' images are not listed.
	if list := mustBerth(t, "images", "-q"); strings.Count(list, "\n") > 4 {
		t.Errorf("intermediate images listed:\n%s", list)
	}
}

// TestBuildCache: a rebuild with nothing changed runs no RUN (every step
// CACHED, the same image ID: a RUN that ran would record a new time in
// its file and history); a changed file re-runs from its COPY on.
func TestBuildCache(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + base + "\nRUN cat /proc/sys/kernel/random/uuid > /stamp1\nCOPY a.txt /a.txt\nRUN cat /proc/sys/kernel/random/uuid > /stamp2\nCMD [\"cat\", \"/stamp1\", \"/stamp2\"]\n",
		"a.txt":      "one\n",
	})
	build := func() (string, string) {
		t.Helper()
		r := berth(t, "", "build", "--progress", "plain", "--network", "none", "-t", "cached:1", "--iidfile", filepath.Join(ctx, "iid"), ctx)
		if r.code != 0 {
			t.Fatalf("build: %+v", r)
		}
		iid, _ := os.ReadFile(filepath.Join(ctx, "iid"))
		return string(iid), r.stderr
	}
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "cached:1") })
	first, log1 := build()
	if strings.Contains(log1, "CACHED") {
		t.Fatalf("a first build hit the cache:\n%s", log1)
	}
	stamps := mustBerth(t, "run", "--rm", "--network", "none", "cached:1")
	second, log2 := build()
	if second != first || strings.Count(log2, "CACHED") != 4 {
		t.Errorf("a rebuild with nothing changed: ID %s (first %s), log:\n%s", second, first, log2)
	}
	if again := mustBerth(t, "run", "--rm", "--network", "none", "cached:1"); again != stamps {
		t.Errorf("a RUN ran again: %q, was %q", again, stamps)
	}
	writeHostFile(t, filepath.Join(ctx, "a.txt"), "two\n", 0)
	third, log3 := build()
	if third == first || strings.Count(log3, "CACHED") != 1 {
		t.Errorf("after a file change, want only the first RUN cached:\n%s", log3)
	}
	after := strings.Fields(mustBerth(t, "run", "--rm", "--network", "none", "cached:1"))
	if len(after) != 2 || after[0] != strings.Fields(stamps)[0] || after[1] == strings.Fields(stamps)[1] {
		t.Errorf("stamps after the change %v, before %q", after, stamps)
	}
	// berth builder prune forgets the steps.
	mustBerth(t, "builder", "prune", "-f")
	if _, log4 := build(); strings.Contains(log4, "CACHED") {
		t.Errorf("a build after builder prune hit the cache:\n%s", log4)
	}
	// --no-cache runs everything.
	r := berth(t, "", "build", "--no-cache", "--network", "none", "-q", ctx)
	if r.code != 0 || strings.Contains(r.stderr, "CACHED") || strings.TrimSpace(r.stdout) == third {
		t.Errorf("--no-cache: %+v", r)
	}
}

// TestBuildFailedRun: the step, its exit code and its last lines; exit 1;
// no container, mount or layer left.
func TestBuildFailedRun(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	before := imageBlobs(t)
	r := berth(t, "FROM "+base+"\nRUN echo first-line; echo last-words >&2; exit 7\n", "build", "-q", "--network", "none", "-")
	if r.code != 1 || !strings.Contains(r.stderr, "line 2: RUN echo first-line") || !strings.Contains(r.stderr, "exited with code 7") ||
		!strings.Contains(r.stderr, "last-words") {
		t.Errorf("failed RUN: %+v", r)
	}
	if ps := mustBerth(t, "ps", "-aq"); ps != "" {
		t.Errorf("containers left: %q", ps)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), storeRoot) || strings.Contains(string(mounts), stateRoot) {
		t.Error("a mount of the build is left")
	}
	if after := imageBlobs(t); !slices.Equal(before, after) {
		t.Errorf("a failed build stored:\nbefore %v\nafter  %v", before, after)
	}
}

// TestBuildBadInput: one line, exit 125, nothing stored.
func TestBuildBadInput(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM " + base + "\nFROBNICATE now\n", "ok/Dockerfile": "FROM " + base + "\nCOPY nothere.txt /\n"})
	before := imageBlobs(t)
	for _, c := range []struct {
		stdin string
		args  []string
		text  string
	}{
		{"", []string{"build", ctx}, "line 2: unknown instruction: FROBNICATE"},
		{"", []string{"build", "-f", filepath.Join(ctx, "ok/Dockerfile"), ctx}, `"nothere.txt" not found in the build context`},
		{"", []string{"build", filepath.Join(ctx, "nosuch")}, "unable to prepare context"},
		{"", []string{"build", "-f", filepath.Join(ctx, "nosuch"), ctx}, "cannot find the Dockerfile"},
		{"", []string{"build", "-t", "Bad:Tag:x", filepath.Join(ctx, "ok")}, "invalid tag"},
		{"FROM " + base + "\nCOPY x /\n", []string{"build", "-"}, "has none"},
		{"", []string{"build", "--target", "nope", filepath.Join(ctx, "ok")}, `target stage "nope" could not be found`},
	} {
		r := berth(t, c.stdin, c.args...)
		if r.code != 125 && !(strings.Contains(c.text, "not found") && r.code != 0) {
			t.Errorf("%v: exit %d, want 125: %+v", c.args, r.code, r)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if last := lines[len(lines)-1]; !strings.Contains(last, c.text) || !strings.HasPrefix(last, "berth: ") {
			t.Errorf("%v: last line %q, want %q", c.args, last, c.text)
		}
	}
	if after := imageBlobs(t); !slices.Equal(before, after) {
		t.Errorf("refused builds stored:\nbefore %v\nafter  %v", before, after)
	}
}

// TestBuildInterrupted: SIGTERM to berth during a RUN stops the build
// with status 130 and leaves no container or mount; the finished step
// stays cached.
func TestBuildInterrupted(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	cmd := berthCommand("build", "--no-cache", "--network", "none", "-")
	cmd.Stdin = strings.NewReader("FROM " + base + "\nRUN echo done > /a\nRUN sleep 60\n")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(log.String(), "RUN sleep 60") {
		n, err := stderr.Read(buf)
		log.Write(buf[:n])
		if err != nil {
			t.Fatalf("build ended before its RUN: %s", log.String())
		}
	}
	_ = cmd.Process.Signal(os.Interrupt)
	rest, _ := io.ReadAll(stderr)
	log.Write(rest)
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(log.String(), "build interrupted") {
		t.Errorf("interrupted build: exit %d (%v):\n%s", code, err, log.String())
	}
	if ps := mustBerth(t, "ps", "-aq"); ps != "" {
		t.Errorf("containers left: %q", ps)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), storeRoot) || strings.Contains(string(mounts), stateRoot) {
		t.Error("a mount of the build is left")
	}
}

// TestBuildAddChownLabel: ADD extracts a local tar.gz and copies a plain
// file, --chown takes the stage's user names, --label lands on the image.
func TestBuildAddChownLabel(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + base + "\nADD bundle.tar.gz /opt/\nADD plain.txt /opt/plain.txt\nCOPY --chown=app:wheel plain.txt /home/app/owned\n",
		"plain.txt":  "plain\n",
		"tree/a/b":   "in the archive\n",
	})
	if out, err := exec.Command("tar", "-C", filepath.Join(ctx, "tree"), "-czf", filepath.Join(ctx, "bundle.tar.gz"), "a").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	r := berth(t, "", "build", "-q", "--network", "none", "--label", "built.by=berth", "-t", "built:add", ctx)
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:add") })
	if r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	got := mustBerth(t, "run", "--rm", "--network", "none", "built:add", "sh", "-c", "cat /opt/a/b /opt/plain.txt; ls /opt/bundle.tar.gz 2>&1; stat -c '%u:%g' /home/app/owned")
	for _, want := range []string{"in the archive\n", "plain\n", "No such file", "1000:10\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("in the image, want %q:\n%s", want, got)
		}
	}
	if !strings.Contains(mustBerth(t, "image", "inspect", "built:add"), `"built.by": "berth"`) {
		t.Error("--label is not in the image's config")
	}
}

// TestBuildRunMounts: RUN --mount=type=cache keeps its directory between
// builds (and out of the image), type=bind reads the context, tmpfs is
// left out of the layer; two empty RUNs make no layer each.
func TestBuildRunMounts(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + base + "\nRUN true\nRUN --mount=type=cache,target=/var/cache/x echo run >> /var/cache/x/log && wc -l < /var/cache/x/log > /count\n" +
			"RUN --mount=type=bind,source=data.txt,target=/mnt/data cp /mnt/data /copied\nRUN --mount=type=tmpfs,target=/scratch touch /scratch/t\nRUN true\n",
		"data.txt": "bound\n",
	})
	for i := 0; i < 2; i++ {
		if r := berth(t, "", "build", "--no-cache", "-q", "--network", "none", "-t", "built:mounts", ctx); r.code != 0 {
			t.Fatalf("build %d: %+v", i, r)
		}
	}
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:mounts") })
	got := mustBerth(t, "run", "--rm", "--network", "none", "built:mounts", "sh", "-c", "cat /count /copied; ls /var/cache/x /scratch 2>&1 | grep -c 'No such'")
	if got != "2\nbound\n2\n" {
		t.Errorf("in the image: %q (want the cache's second run, the bound file, no mount targets)", got)
	}
}

// TestBuildConfigAsPodman: the image config berth build writes for the
// config instructions is the one podman build (buildah) writes for the
// same Dockerfile, field by field (podman in its own temporary storage;
// skipped where podman is missing). Left out: buildah's own label, and
// SHELL, which buildah does not apply to CMD's shell form as Docker does.
func TestBuildConfigAsPodman(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman is not installed")
	}
	if _, err := os.Stat("/etc/containers/policy.json"); err != nil {
		// The test VM copies podman's binary, not its configuration.
		t.Skip("podman has no /etc/containers/policy.json here: the comparison runs where podman is installed")
	}
	base := cpImage(t)
	dir := t.TempDir()
	archive := filepath.Join(dir, "base.tar")
	mustBerth(t, "save", "-o", archive, base)
	pod := func(args ...string) string {
		t.Helper()
		full := append([]string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs"}, args...)
		out, err := exec.Command(podman, full...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// vfs: no mounts to undo; the temporary directory holds the rest.
	pod("load", "-q", "-i", archive)
	ctx := buildContext(t, map[string]string{
		"Dockerfile": "FROM docker.io/library/" + base + "\nARG V=1\nENV A=1 B=\"two words\" PATH=/opt/bin:$PATH\nENV C=${A}x$V\n" +
			"WORKDIR /app\nWORKDIR sub\nUSER 1000:1000\nLABEL a=b \"c d\"=e\nEXPOSE 80 53/udp\nSTOPSIGNAL SIGINT\nVOLUME /data\n" +
			"ENTRYPOINT [\"/bin/echo\"]\nCMD echo hi\nCOPY f /f\n",
		"f": "f\n",
	})
	pod("build", "--pull=never", "-q", "--format", "docker", "-t", "cmp:1", ctx)
	var podCfg map[string]any
	if err := json.Unmarshal([]byte(pod("image", "inspect", "--format", "{{json .Config}}", "cmp:1")), &podCfg); err != nil {
		t.Fatal(err)
	}
	delete(podCfg["Labels"].(map[string]any), "io.buildah.version")
	id := strings.TrimSpace(mustBerth(t, "build", "-q", "--network", "none", ctx))
	raw, err := os.ReadFile(filepath.Join(storeRoot, "images", "blobs", "sha256", strings.TrimPrefix(id, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	var berthFile struct{ Config map[string]any }
	if err := json.Unmarshal(raw, &berthFile); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels", "StopSignal"} {
		b, _ := json.Marshal(berthFile.Config[field])
		p, _ := json.Marshal(podCfg[field])
		if string(b) != string(p) {
			t.Errorf("%s: berth %s, podman %s", field, b, p)
		}
	}
}

// TestBuildOnbuild: an image's ONBUILD triggers run first in a build FROM
// it, and are not carried on.
func TestBuildOnbuild(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:parent", "built:child") })
	r := berth(t, "FROM "+base+"\nONBUILD RUN echo triggered > /t\nONBUILD ENV T=1\n", "build", "-q", "--network", "none", "-t", "built:parent", "-")
	if r.code != 0 {
		t.Fatalf("parent: %+v", r)
	}
	r = berth(t, "FROM built:parent\nRUN test -f /t\n", "build", "-q", "--network", "none", "-t", "built:child", "-")
	if r.code != 0 {
		t.Fatalf("child: %+v", r)
	}
	if got := mustBerth(t, "run", "--rm", "--network", "none", "built:child", "sh", "-c", "cat /t; echo T=$T"); got != "triggered\nT=1\n" {
		t.Errorf("the child: %q", got)
	}
	raw, err := os.ReadFile(filepath.Join(storeRoot, "images", "blobs", "sha256", strings.TrimPrefix(strings.TrimSpace(r.stdout), "sha256:")))
	if err != nil || strings.Contains(string(raw), "OnBuild\":[") {
		t.Errorf("the child's config carries the triggers on (%v): %s", err, raw)
	}
}

// TestBuildHeredocCopyOutput: COPY of heredocs (expanded), and --output
// writes an archive berth load takes, with no image listed by the build.
func TestBuildHeredocCopyOutput(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	out := filepath.Join(t.TempDir(), "image.tar")
	before := mustBerth(t, "images", "-q")
	df := "FROM " + base + "\nENV V=val\nCOPY <<EOF /etc/conf\nhello $V\nEOF\nCOPY <<A <<'B' /dir/\nfirst\nA\nsecond $V\nB\n"
	r := berth(t, df, "build", "-q", "--network", "none", "--output", "type=docker,dest="+out, "-")
	if r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	if after := mustBerth(t, "images", "-q"); after != before {
		t.Errorf("--output listed an image:\n%s", after)
	}
	id := strings.TrimSpace(r.stdout)
	if r := berth(t, "", "load", "-i", out); r.code != 0 {
		t.Fatalf("load: %+v", r)
	}
	t.Cleanup(func() { berth(t, "", "rmi", "-f", id) })
	got := mustBerth(t, "run", "--rm", "--network", "none", id, "cat", "/etc/conf", "/dir/A", "/dir/B")
	if got != "hello val\nfirst\nsecond $V\n" {
		t.Errorf("heredoc files: %q", got)
	}
	if r := berth(t, "", "build", "--output", "type=registry,dest=x", "-"); r.code != 125 || !strings.Contains(r.stderr, "invalid --output") {
		t.Errorf("--output type=registry: %+v", r)
	}
}

// TestBuildContextTar: a context as a gzip tar on standard input, its
// Dockerfile and files read from it; nothing of it left afterwards.
func TestBuildContextTar(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	ctx := buildContext(t, map[string]string{
		"build.Dockerfile": "FROM " + base + "\nCOPY in-tar.txt /\nCMD [\"cat\", \"/in-tar.txt\"]\n",
		"in-tar.txt":       "from the archive\n",
	})
	tarball, err := exec.Command("tar", "-C", ctx, "-cz", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	r := berth(t, string(tarball), "build", "-q", "--network", "none", "-f", "build.Dockerfile", "-t", "built:tar", "-")
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:tar") })
	if r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	if got := mustBerth(t, "run", "--rm", "--network", "none", "built:tar"); got != "from the archive\n" {
		t.Errorf("run: %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(storeRoot, "build", "context-*")); len(left) != 0 {
		t.Errorf("the context is left: %v", left)
	}
}

// TestBuildPushPull: a built image pushed to the test's registry, removed
// here, pulled back and run.
func TestBuildPushPull(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	reg := newTestRegistry(t)
	ref := reg.host + "/test/built:1"
	r := berth(t, "FROM "+base+"\nRUN echo pushed > /p\nCMD [\"cat\", \"/p\"]\n", "build", "-q", "--network", "none", "-t", ref, "-")
	rmiQuiet(t, ref)
	if r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	id := strings.TrimSpace(r.stdout)
	if r := hostBerth(t, t.TempDir(), "", "push", "-q", "--tls-verify=false", ref); r.code != 0 {
		t.Fatalf("push: %+v", r)
	}
	mustBerth(t, "rmi", ref)
	if r := pull(t, "--tls-verify=false", ref); r.code != 0 {
		t.Fatalf("pull: %+v", r)
	}
	if got := imageID(t, ref); got != id {
		t.Errorf("pulled image %s, built %s", got, id)
	}
	if got := mustBerth(t, "run", "--rm", "--network", "none", ref); got != "pushed\n" {
		t.Errorf("run: %q", got)
	}
}

// TestBuildSecret: RUN --mount=type=secret reads --secret's file, which
// leaves no trace in the image (not even /run/secrets) and no key change
// when its contents change; a required one missing is one line.
func TestBuildSecret(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "token")
	writeHostFile(t, secret, "s3cr3t\n", 0)
	df := "FROM " + base + "\nRUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /len\n"
	r := berth(t, df, "build", "-q", "--network", "none", "--secret", "id=tok,src="+secret, "-t", "built:secret", "-")
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:secret") })
	if r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	if got := mustBerth(t, "run", "--rm", "--network", "none", "built:secret", "sh", "-c", "cat /len; ls -d /run/secrets 2>&1; true"); !strings.HasPrefix(got, "7\n") || !strings.Contains(got, "No such file") {
		t.Errorf("in the image: %q", got)
	}
	r = berth(t, "FROM "+base+"\nRUN --mount=type=secret,id=other,required cat /run/secrets/other\n", "build", "--network", "none", "-")
	if r.code != 125 || !strings.Contains(r.stderr, `secret "other" is required`) {
		t.Errorf("a required secret missing: %+v", r)
	}
}

// TestBuildAddURL: ADD of a URL downloads it (mode 0600, root's, not
// unpacked); a failed download is one line. berth runs in the host's
// network namespace to reach the test's server on loopback: the build
// has no RUN, so no network of the host is touched.
func TestBuildAddURL(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/files/tool.sh" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "#!/bin/sh\necho downloaded\n")
	}))
	t.Cleanup(srv.Close)
	df := "FROM " + base + "\nADD " + srv.URL + "/files/tool.sh /opt/\nADD " + srv.URL + "/files/tool.sh /opt/renamed\n"
	r := hostBerth(t, t.TempDir(), df, "build", "-q", "--network", "none", "-t", "built:url", "-")
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "built:url") })
	if r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	got := mustBerth(t, "run", "--rm", "--network", "none", "built:url", "sh", "-c", "stat -c '%a %u' /opt/tool.sh; sh /opt/renamed")
	if got != "600 0\ndownloaded\n" {
		t.Errorf("in the image: %q", got)
	}
	r = hostBerth(t, t.TempDir(), "FROM "+base+"\nADD "+srv.URL+"/missing /x\n", "build", "-q", "--network", "none", "-")
	if r.code != 125 || !strings.Contains(r.stderr, "404") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("a failed download: %+v", r)
	}
	if left, _ := filepath.Glob(filepath.Join(storeRoot, "build", "download-*")); len(left) != 0 {
		t.Errorf("downloads left: %v", left)
	}
}
