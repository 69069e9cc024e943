package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// TestManyStoppedContainers (issue 15): with 200 stopped containers
// present, names stay unique (also between creations racing for one
// name), a killed berth's --rm container is still collected, ps -a lists
// every container once, and a start reads none of the stopped
// containers' directories (strace): what a start costs does not grow
// with the containers kept.
func TestManyStoppedContainers(t *testing.T) {
	needRoot(t)
	const stopped = 200
	root, runroot := t.TempDir(), t.TempDir()
	args := func(a ...string) []string { return append([]string{"--root", root, "--runroot", runroot}, a...) }
	b := func(a ...string) result { return berth(t, "", args(a...)...) }
	defer func() {
		if ids := strings.Fields(b("ps", "-aq", "--no-trunc").stdout); len(ids) > 0 {
			b(append([]string{"rm", "-f"}, ids...)...)
		}
	}()
	names := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan string, stopped)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < stopped; i += 4 {
				name := fmt.Sprintf("kept%03d", i)
				if r := b("run", "--name", name, "--network", "none", "--rootfs", rootfsDir, "true"); r.code != 0 {
					errs <- fmt.Sprintf("run %s: %+v", name, r)
					return
				}
				mu.Lock()
				names[name] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}

	if r := b("run", "--rm", "--name", "kept123", "--network", "none", "--rootfs", rootfsDir, "true"); r.code != 125 ||
		!strings.Contains(r.stderr, `name "kept123" is already in use`) {
		t.Errorf("a second container named kept123: %+v", r)
	}
	// Creations racing for one name: exactly one wins.
	results := make([]result, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = b("create", "--name", "x", "--network", "none", "--rootfs", rootfsDir, "true")
		}()
	}
	wg.Wait()
	won := 0
	for _, r := range results {
		switch {
		case r.code == 0:
			won++
		case r.code != 125 || !strings.Contains(r.stderr, `name "x" is already in use`):
			t.Errorf("a losing create --name x: %+v", r)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent create --name x won, want 1", won, len(results))
	}
	names["x"] = true

	// A killed berth's --rm container is collected by the next command.
	doomed := exec.Command("nsenter", append([]string{"--net=/run/netns/" + suiteNetns, berthBin},
		args("run", "--rm", "--name", "doomed", "--network", "none", "--rootfs", rootfsDir, "sh", "-c", "echo ready; exec sleep 1000")...)...)
	out, err := doomed.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := doomed.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 6)
	if _, err := out.Read(line); err != nil || string(line) != "ready\n" {
		t.Fatalf("doomed container: %q %v", line, err)
	}
	doomed.Process.Kill()
	doomed.Wait()

	r := b("ps", "-a", "--format", "{{.Names}}")
	listed := strings.Fields(r.stdout)
	sort.Strings(listed)
	var want []string
	for n := range names {
		want = append(want, n)
	}
	sort.Strings(want)
	if r.code != 0 || strings.Join(listed, " ") != strings.Join(want, " ") {
		t.Errorf("ps -a lists %d containers, want %d (the kept ones and x, not doomed): %+v", len(listed), len(want), r)
	}
	if r := b("run", "--rm", "--name", "doomed", "--network", "none", "--rootfs", rootfsDir, "true"); r.code != 0 {
		t.Errorf("the killed run's name was not released: %+v", r)
	}
	if hints, _ := os.ReadDir(filepath.Join(root, "containers", ".collect")); len(hints) != 1 { // .scanned
		t.Errorf("collection hints left with nothing running: %v", hints)
	}

	// What one start reads: its own container's directory, no other.
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("no strace: what a start reads is not checked")
	}
	trace := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command("nsenter", append([]string{"--net=/run/netns/" + suiteNetns, strace, "-f", "-qq", "-o", trace, "-e", "trace=%file,getdents64", berthBin},
		args("run", "--rm", "--network", "none", "--rootfs", rootfsDir, "true")...)...)
	if r := collect(t, cmd, "strace berth run"); r.code != 0 {
		t.Fatalf("berth run under strace: %+v", r)
	}
	b2, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`containers/(?:\.[a-z]+-)?(?:\d+-)?([0-9a-f]{64})`).FindAllStringSubmatch(string(b2), -1) {
		seen[m[1]] = true
	}
	if len(seen) != 1 {
		t.Errorf("one berth run --rm touched the directories of %d containers, want its own only", len(seen))
	}
}
