package registry

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHelperPull is a pull run in a process of its own by
// TestPullConcurrentProcesses.
func TestHelperPull(t *testing.T) {
	root, ref := os.Getenv("BERTH_TEST_PULL_ROOT"), os.Getenv("BERTH_TEST_PULL_REF")
	if root == "" {
		t.Skip("helper")
	}
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pull(context.Background(), ref, PullOptions{Insecure: true}); err != nil {
		t.Fatal(err)
	}
}

func TestPullConcurrentProcesses(t *testing.T) {
	reg := newRegistry(t, false)
	img := mkImage(t, "amd64", mkTar(t, file("a", randomBytes(512<<10))), mkTar(t, file("b", randomBytes(512<<10))), mkTar(t, file("c", "c")))
	reg.push(t, "app:1", img)
	root := t.TempDir()
	var wg sync.WaitGroup
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPull$", "-test.count=1")
			cmd.Env = append(os.Environ(), "BERTH_TEST_PULL_ROOT="+root, "BERTH_TEST_PULL_REF="+reg.host+"/app:1")
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	for _, d := range layerDigests(t, img) {
		if n := reg.count(d); n != 1 {
			t.Errorf("blob %s fetched %d times", d, n)
		}
	}
	s, _ := Open(root)
	if imgs, _ := s.List(); len(imgs) != 1 || imgs[0].ID != configDigest(t, img) {
		t.Errorf("images %+v", imgs)
	}
}

// TestPullKilled kills a pulling process (SIGKILL) in the middle of a
// layer: the store has no image, no partial layer, and the next pull
// resumes the download.
func TestPullKilled(t *testing.T) {
	reg := newRegistry(t, false)
	img := mkImage(t, "amd64", mkTar(t, file("small", "s")), mkTar(t, file("big", randomBytes(1<<20))))
	reg.push(t, "app:1", img)
	big := layerDigests(t, img)[1]
	reg.stall[big.String()] = 200 << 10
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPull$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BERTH_TEST_PULL_ROOT="+root, "BERTH_TEST_PULL_REF="+reg.host+"/app:1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(root, "tmp", "partial-"+big.Hex)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err := os.Stat(partial); err == nil && fi.Size() >= 200<<10 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the download never reached the stall")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if imgs, _ := s.List(); len(imgs) != 0 {
		t.Error("an image was recorded")
	}
	// Only partial downloads are kept: the big layer's, and the small
	// one's too if the kill caught it mid-download.
	got := readDirNames(t, s.path("tmp"))
	if !slices.Contains(got, "partial-"+big.Hex) {
		t.Errorf("tmp: %v, want the big layer's partial download", got)
	}
	for _, name := range got {
		if !strings.HasPrefix(name, "partial-") {
			t.Errorf("tmp holds %s after the kill", name)
		}
	}
	delete(reg.stall, big.String())
	pull(t, s, reg.host+"/app:1")
	if rs := reg.ranges[big.String()]; len(rs) != 1 || !strings.HasPrefix(rs[0], "bytes=204800-") {
		t.Errorf("not resumed: %v", rs)
	}
}
