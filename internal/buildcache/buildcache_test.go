package buildcache

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func prune(t *testing.T, root string, exists func(string) bool) map[string]bool {
	t.Helper()
	var used map[string]bool
	if _, err := Prune(root, func(u map[string]bool) error { used = u; return nil }, exists, nil); err != nil {
		t.Fatal(err)
	}
	return used
}

// Two builds' entries both stay (each put reads the file again), and a
// prune sees what live builds use, and forgets steps whose image went.
func TestPutMergesAndPruneSeesUsers(t *testing.T) {
	root := t.TempDir()
	a, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"ka", "ia"}, {"kb", "ib"}} {
		c := a
		if kv[0] == "kb" {
			c = b
		}
		release, err := c.Hold()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Done(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
		release()
	}
	all := func(string) bool { return true }
	for _, k := range []string{"ka", "kb"} {
		if _, ok, err := a.Lookup(k, all); !ok || err != nil {
			t.Errorf("lookup %s: %v %v", k, ok, err)
		}
	}
	if used := prune(t, root, all); !used["ia"] || !used["ib"] {
		t.Errorf("used %v, want ia and ib", used)
	}
	a.Close()
	if used := prune(t, root, func(id string) bool { return id != "ia" }); used["ia"] || !used["ib"] {
		t.Errorf("used after A ended %v, want ib alone", used)
	}
	if _, ok, _ := b.Lookup("ka", all); ok {
		t.Error("a step whose image went is still cached")
	}
	b.Close()
}

// A build killed while it holds a step's lock and its user file frees
// both: the next build takes the step at once, a prune sees no user.
func TestKilledBuildFreesLocks(t *testing.T) {
	if root := os.Getenv("BUILDCACHE_HOLDER"); root != "" {
		c, err := Open(root)
		if err == nil {
			_, err = c.StepLock("step")
		}
		if err == nil {
			release, _ := c.Hold()
			err = c.Done("", "held-image")
			release()
		}
		if err != nil {
			os.Exit(1)
		}
		os.WriteFile(filepath.Join(root, "ready"), nil, 0o600)
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledBuildFreesLocks$")
	cmd.Env = append(os.Environ(), "BUILDCACHE_HOLDER="+root)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(root, "ready")); err == nil {
			break
		}
		if i > 1000 {
			cmd.Process.Kill()
			t.Fatal("the holder did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if used := prune(t, root, func(string) bool { return true }); !used["held-image"] {
		t.Errorf("a live build's image is not in use: %v", used)
	}
	cmd.Process.Kill()
	cmd.Wait()
	c, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan error, 1)
	go func() {
		unlock, err := c.StepLock("step")
		if err == nil {
			unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the killed build's step lock was not freed")
	}
	if used := prune(t, root, func(string) bool { return true }); len(used) != 0 {
		t.Errorf("a killed build's images still in use: %v", used)
	}
	users, _ := os.ReadDir(filepath.Join(root, "build", "users"))
	if len(users) != 1 { // c's own
		t.Errorf("user files after prune: %d, want 1", len(users))
	}
}

// A second build after the same step waits for the first's lock, and the
// lock file goes with the first's unlock.
func TestStepLockWaitsAndGoes(t *testing.T) {
	root := t.TempDir()
	c, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	unlock, err := c.StepLock("k")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		u, err := c.StepLock("k")
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("a second StepLock did not wait")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case u := <-got:
		u()
	case <-time.After(10 * time.Second):
		t.Fatal("the second StepLock was not granted")
	}
	if left, _ := os.ReadDir(filepath.Join(root, "build", "steps")); len(left) != 0 {
		t.Errorf("step lock files left: %v", left)
	}
}
