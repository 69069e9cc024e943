package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bgBuild is a berth build running in the background: its progress
// (standard error) line by line.
type bgBuild struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    bytes.Buffer
	lines  chan string
	done   chan struct{}
	code   int
	stdout bytes.Buffer
}

func startBuild(t *testing.T, args ...string) *bgBuild {
	t.Helper()
	b := &bgBuild{cmd: berthCommand(append([]string{"build"}, args...)...), lines: make(chan string, 1024), done: make(chan struct{})}
	pr, pw := io.Pipe()
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, pw
	b.cmd.WaitDelay = 10 * time.Second // a leftover holding the output does not hang the test
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			b.mu.Lock()
			b.log.WriteString(sc.Text() + "\n")
			b.mu.Unlock()
			select {
			case b.lines <- sc.Text():
			default:
			}
		}
		close(b.lines)
	}()
	go func() {
		err := b.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			b.code = ee.ExitCode()
		} else if err != nil {
			b.code = -1
		}
		pw.Close()
		close(b.done)
	}()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			// berth hands SIGTERM to the build, which kills its step's
			// container and removes it.
			_ = b.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-b.done:
			case <-time.After(30 * time.Second):
				_ = b.cmd.Process.Kill()
				<-b.done
			}
		}
	})
	return b
}

// waitFor waits for a RUN to print the line want ("#N 0.123 want").
func (b *bgBuild) waitFor(t *testing.T, want string) {
	t.Helper()
	line := regexp.MustCompile(`^#\d+ \d+\.\d{3} ` + regexp.QuoteMeta(want) + `$`)
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				t.Fatalf("build ended before printing %q:\n%s", want, b.output())
			}
			if line.MatchString(l) {
				return
			}
		case <-timeout:
			t.Fatalf("build did not print %q within 60s:\n%s", want, b.output())
		}
	}
}

// wait waits for the build to end and returns its status.
func (b *bgBuild) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(120 * time.Second):
		t.Fatalf("build did not end within 120s:\n%s", b.output())
	}
	return b.code
}

func (b *bgBuild) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.log.String()
}

func (b *bgBuild) finished() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// TestBuildConcurrentSharedCache: two builds at once of Dockerfiles that
// share their first RUN both succeed while builder prune runs again and
// again: the shared step is made once (the same uuid in both images, one
// build waited and found it CACHED), and no prune removes a step image or
// a cache mount a build is using (each build's next step starts from the
// one before).
func TestBuildConcurrentSharedCache(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	mustBerth(t, "builder", "prune", "-f")
	shared := "FROM " + base + "\nRUN --mount=type=cache,target=/c cat /proc/sys/kernel/random/uuid > /shared && echo in > /c/f && sleep 1 && cat /c/f > /seen\n"
	ctxA := buildContext(t, map[string]string{"Dockerfile": shared + "RUN echo a > /a\nRUN echo a2 >> /a\n"})
	ctxB := buildContext(t, map[string]string{"Dockerfile": shared + "RUN echo b > /b\nRUN echo b2 >> /b\n"})
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "conc:a", "conc:b") })
	a := startBuild(t, "--progress", "plain", "--network", "none", "-t", "conc:a", ctxA)
	b := startBuild(t, "--progress", "plain", "--network", "none", "-t", "conc:b", ctxB)
	prunes := 0
	deadline := time.Now().Add(2 * time.Minute)
	for (!a.finished() || !b.finished()) && time.Now().Before(deadline) {
		if r := berth(t, "", "builder", "prune", "-f"); r.code != 0 {
			t.Fatalf("builder prune during builds: %+v", r)
		}
		prunes++
	}
	if a.wait(t) != 0 || b.wait(t) != 0 {
		t.Fatalf("builds at once (with %d prunes): A %d\n%s\nB %d\n%s", prunes, a.code, a.output(), b.code, b.output())
	}
	outA := mustBerth(t, "run", "--rm", "--network", "none", "conc:a", "cat", "/shared", "/seen", "/a")
	outB := mustBerth(t, "run", "--rm", "--network", "none", "conc:b", "cat", "/shared", "/seen", "/b")
	la, lb := strings.Fields(outA), strings.Fields(outB)
	if len(la) != 4 || len(lb) != 4 || la[0] != lb[0] || la[1] != "in" || lb[1] != "in" || la[2]+la[3] != "aa2" || lb[2]+lb[3] != "bb2" {
		t.Errorf("the shared step was not made once for both: A %q, B %q", outA, outB)
	}
	if n := strings.Count(a.output(), "CACHED") + strings.Count(b.output(), "CACHED"); n != 1 {
		t.Errorf("want the shared RUN CACHED in one build, got %d CACHED:\nA:\n%s\nB:\n%s", n, a.output(), b.output())
	}
	t.Logf("%d prunes ran during the builds", prunes)
}

// TestBuildCacheDfPrune: system df's Build Cache line counts the step
// images and cache mounts (ACTIVE while a build uses them); builder prune
// and system prune during the build leave what it uses; builder prune
// prints what it deleted and "Total reclaimed space", as docker's; after
// it the line is empty.
func TestBuildCacheDfPrune(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	mustBerth(t, "builder", "prune", "-f")
	// The first stage's layer is the build cache's alone: the image
	// built has a copy of its file under another name.
	df := "FROM " + base + " AS big\nRUN head -c 200000 /dev/zero > /big\nFROM " + base + "\nCOPY --from=big /big /big2\nRUN --mount=type=cache,target=/c echo started && head -c 100000 /dev/zero > /c/blob && i=0 && while [ ! -e /c/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n"
	ctx := buildContext(t, map[string]string{"Dockerfile": df})
	iid := filepath.Join(t.TempDir(), "iid")
	t.Cleanup(func() {
		if id, err := os.ReadFile(iid); err == nil {
			berth(t, "", "rmi", "-f", string(id))
		}
	})
	b := startBuild(t, "--progress", "plain", "--network", "none", "--iidfile", iid, ctx)
	b.waitFor(t, "started")
	r := berth(t, "", "system", "df")
	total, active, size, reclaim := dfLine(t, r.stdout, "Build Cache")
	if total < 2 || active < 1 || size < 200000 || reclaim >= size {
		t.Errorf("Build Cache while a build runs: total %d active %d size %d reclaimable %d\n%s", total, active, size, reclaim, r.stdout)
	}
	// A prune now leaves the mount the RUN uses, and the step it runs on.
	if r := berth(t, "", "builder", "prune", "-f"); r.code != 0 || !strings.Contains(r.stdout, "Total reclaimed space: ") {
		t.Errorf("builder prune during a build: %+v", r)
	}
	// system prune prunes the build cache the same way.
	if r := berth(t, "", "system", "prune", "-f"); r.code != 0 {
		t.Errorf("system prune during a build: %+v", r)
	}
	mounts, _ := filepath.Glob(filepath.Join(storeRoot, "build", "mounts", "*", "blob"))
	if len(mounts) != 1 {
		t.Fatalf("the cache mount in use was removed: %v", mounts)
	}
	writeHostFile(t, filepath.Join(filepath.Dir(mounts[0]), "go"), "go\n", 0)
	if code := b.wait(t); code != 0 {
		t.Fatalf("build: %d\n%s", code, b.output())
	}
	r = berth(t, "", "system", "df")
	total, active, size, reclaim = dfLine(t, r.stdout, "Build Cache")
	if total < 2 || active != 0 || size < 290000 || reclaim != size {
		t.Errorf("Build Cache after the build: total %d active %d size %d reclaimable %d\n%s", total, active, size, reclaim, r.stdout)
	}
	r = berth(t, "", "builder", "prune", "-f")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Deleted build cache objects:\n") || !strings.Contains(r.stdout, "\n\nTotal reclaimed space: ") {
		t.Fatalf("builder prune: %+v", r)
	}
	var freed string
	for _, l := range strings.Split(r.stdout, "\n") {
		if s, ok := strings.CutPrefix(l, "Total reclaimed space: "); ok {
			freed = s
		}
	}
	if decimalBytes(t, freed) < 290000 {
		t.Errorf("reclaimed %s, want at least the 300kB the build wrote:\n%s", freed, r.stdout)
	}
	r = berth(t, "", "system", "df")
	if total, _, size, _ := dfLine(t, r.stdout, "Build Cache"); total != 0 || size != 0 {
		t.Errorf("Build Cache after builder prune: %d records, %d bytes\n%s", total, size, r.stdout)
	}
	if r := berth(t, "", "builder", "prune", "-f"); r.code != 0 || r.stdout != "Total reclaimed space: 0B\n" {
		t.Errorf("an empty builder prune: %+v", r)
	}
}

// TestBuildParallelStages: two stages that use nothing of each other
// build at once (each RUN writes when it started and ended; the final
// stage copies both records; the intervals overlap), and every line of
// the plain progress names its step, "[stage k/M]" as BuildKit's.
func TestBuildParallelStages(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	// The host's uptime in hundredths (the suite's busybox date has no
	// %N): one clock for both containers.
	stamp := func(name string) string {
		return "RUN cut -d' ' -f1 /proc/uptime > /t && sleep 1 && cut -d' ' -f1 /proc/uptime >> /t # " + name + "\n"
	}
	df := "FROM " + base + " AS one\n" + stamp("one") + "FROM " + base + " AS two\n" + stamp("two") +
		"FROM " + base + "\nCOPY --from=one /t /t1\nCOPY --from=two /t /t2\n"
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "par:1") })
	r := berth(t, df, "build", "--no-cache", "--progress", "plain", "--network", "none", "-t", "par:1", "-")
	if r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	times := strings.Fields(mustBerth(t, "run", "--rm", "--network", "none", "par:1", "cat", "/t1", "/t2"))
	if len(times) != 4 {
		t.Fatalf("stamps %q", times)
	}
	var s1, e1, s2, e2 float64
	for i, p := range []*float64{&s1, &e1, &s2, &e2} {
		if _, err := fmt.Sscan(times[i], p); err != nil {
			t.Fatalf("stamp %q: %v", times[i], err)
		}
	}
	if !(s1 < e2 && s2 < e1) {
		t.Errorf("the stages ran one after the other: one %.3f-%.3f, two %.3f-%.3f\n%s", s1, e1, s2, e2, r.stderr)
	}
	step := regexp.MustCompile(`^#\d+ `)
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if !step.MatchString(l) && !strings.HasPrefix(l, "writing image ") && !strings.HasPrefix(l, "naming to ") {
			t.Errorf("a progress line without its step: %q", l)
		}
	}
	for _, want := range []string{"] [one 1/2] FROM ", "[one 2/2] RUN cut", "[two 2/2] RUN cut", "[stage-2 2/3] COPY --from=one", "[stage-2 3/3] COPY --from=two"} {
		if !strings.Contains(r.stderr, strings.TrimPrefix(want, "] ")) {
			t.Errorf("no %q in the progress:\n%s", want, r.stderr)
		}
	}
}

// TestBuildTTYProgress: on a terminal (a pty the test allocates) the
// running step is redrawn in place with its elapsed time and its last
// output lines, and each step ends as one line; --progress plain there,
// and auto on a pipe, are plain lines with no escape sequence.
func TestBuildTTYProgress(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo hello-tty && sleep 1 && echo bye-tty\n"})
	r := runPTY(t, nil, "build", "--no-cache", "--network", "none", ctx)
	out := strings.ReplaceAll(r.output, "\r\n", "\n")
	if r.code != 0 {
		t.Fatalf("build on a terminal: %d\n%q", r.code, out)
	}
	for _, want := range []string{
		"[+] Building ", " => [stage-0 2/2] RUN echo hello-tty && sleep 1 && echo bye-tty  ", "\n    > hello-tty\n",
		"A\r\x1b[J", "=> [stage-0 1/2] FROM " + base + "  0.", "=> [stage-0 2/2] RUN echo hello-tty && sleep 1 && echo bye-tty  1.", "\nwriting image sha256:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q on the terminal:\n%q", want, out)
		}
	}
	if strings.Contains(out, "\n#2 ") {
		t.Errorf("plain lines on the terminal:\n%q", out)
	}
	r = runPTY(t, nil, "build", "--progress", "plain", "--network", "none", ctx)
	if r.code != 0 || strings.Contains(r.output, "\x1b") || !strings.Contains(r.output, "#2 CACHED") {
		t.Errorf("--progress plain on a terminal: %d\n%q", r.code, r.output)
	}
	p := berth(t, "", "build", "--no-cache", "--network", "none", ctx)
	if p.code != 0 || strings.Contains(p.stderr, "\x1b") || !regexp.MustCompile(`(?m)^#2 \d+\.\d{3} hello-tty$`).MatchString(p.stderr) {
		t.Errorf("auto on a pipe: %+v", p)
	}
	// The images built have no name: remove them.
	for _, id := range regexp.MustCompile(`writing image (sha256:[0-9a-f]+)`).FindAllStringSubmatch(out+r.output+p.stderr, -1) {
		berth(t, "", "rmi", "-f", id[1])
	}
}

// TestBuildParallelStageFails: the first stage to fail cancels the one
// running beside it (its step CANCELED, its container removed) and its
// error is the build's: its line, status 1, nothing left.
func TestBuildParallelStageFails(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	base := cpImage(t)
	// A cache mount of the test's own tells the bad stage when the slow
	// one's RUN runs.
	sem := fmt.Sprintf("RUN --mount=type=cache,id=sync-%d,target=/s ", time.Now().UnixNano())
	df := "FROM " + base + " AS slow\n" + sem + "touch /s/started && sleep 60\n" +
		"FROM " + base + " AS bad\n" + sem + "until [ -e /s/started ]; do sleep 0.1; done; exit 3\n" +
		"FROM " + base + "\nCOPY --from=slow /etc/passwd /a\nCOPY --from=bad /etc/passwd /b\n"
	r := berth(t, df, "build", "--no-cache", "--progress", "plain", "--network", "none", "-")
	if r.code != 1 || !strings.Contains(r.stderr, "line 4: RUN --mount=type=cache") || !strings.Contains(r.stderr, "exited with code 3") {
		t.Fatalf("a failing stage: %+v", r)
	}
	if !regexp.MustCompile(`(?m)^#\d+ CANCELED$`).MatchString(r.stderr) || strings.Contains(r.stderr, "[stage-2") {
		t.Errorf("the slow stage was not cancelled, or the final stage ran:\n%s", r.stderr)
	}
	if ps := mustBerth(t, "ps", "-aq"); ps != "" {
		t.Errorf("containers left: %q", ps)
	}
	mustBerth(t, "builder", "prune", "-f")
}

// TestBuildVFSRefused: on storage that copies images (vfs) a RUN has no
// upper directory to take its layer from: one line naming the overlay
// driver, status 125, and no container left.
func TestBuildVFSRefused(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	dir := t.TempDir()
	g := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs"}
	if r := berth(t, "", append(g, "image", "import", pristineRootfsTar, "vfs-base:1")...); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM vfs-base:1\nRUN echo hi > /hi\n"})
	r := berth(t, "", append(g, "build", "-q", "--network", "none", ctx)...)
	if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "--storage-driver overlay") {
		t.Errorf("a RUN on vfs storage: %+v", r)
	}
	if r := berth(t, "", append(g, "ps", "-aq")...); r.stdout != "" {
		t.Errorf("containers left: %+v", r)
	}
	berth(t, "", append(g, "rmi", "-f", "vfs-base:1")...)
}
