package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBadInputOneLineAndNothingLeft(t *testing.T) {
	needRoot(t)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing rootfs", []string{"--rootfs", "/nonexistent/rootfs", "true"}, "does not exist"},
		{"rootfs is a file", []string{"--rootfs", file, "true"}, "is not a directory"},
		{"no command", []string{"--rootfs", rootfsDir}, "no command"},
		{"bad memory", []string{"--rootfs", rootfsDir, "--memory", "lots", "true"}, "invalid --memory"},
		{"memory too small", []string{"--rootfs", rootfsDir, "--memory", "1k", "true"}, "minimum is 6m"},
		{"bad cpus", []string{"--rootfs", rootfsDir, "--cpus", "half", "true"}, "invalid --cpus"},
		{"too many cpus", []string{"--rootfs", rootfsDir, "--cpus", "1000", "true"}, "the range is 0.01"},
		{"bad user", []string{"--rootfs", rootfsDir, "--user", "nosuchuser", "true"}, "unable to find user"},
		{"relative workdir", []string{"--rootfs", rootfsDir, "-w", "tmp", "true"}, "absolute path"},
		{"image not stored", []string{"--pull", "never", "no-such-image", "true"}, `image "no-such-image" not found`},
		{"bad --pull", []string{"--pull", "sometimes", "no-such-image", "true"}, "invalid --pull"},
		{"bad storage driver", []string{"--storage-driver", "zfs", "no-such-image", "true"}, "unknown storage driver"},
		{"no image", []string{}, "no image given"},
	}
	before := snapshot(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := berth(t, "", append([]string{"run", "--rm"}, c.args...)...)
			if r.code != 125 {
				t.Errorf("exit status %d, want 125", r.code)
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "berth: ") || !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr %q: want one line naming %q", r.stderr, c.want)
			}
		})
	}
	checkNoLeaks(t, before)
}

// TestNotRootOnRootsStorage: an ordinary user (nobody, with no
// subordinate IDs) pointing berth at root's storage runs rootless and is
// refused in one line naming the directory it cannot write, with nothing
// made there.
func TestNotRootOnRootsStorage(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	// Directly, not through berthCommand: nsenter would refuse nobody.
	cmd := exec.Command(berthBin, "--root", storeRoot, "--runroot", stateRoot, "run", "--rm", "--rootfs", rootfsDir, "true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 125 {
		t.Fatalf("as nobody: %v %q", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "permission denied") || !strings.Contains(last, storeRoot) {
		t.Errorf("message %q does not name the directory nobody cannot write", out)
	}
	checkNoLeaks(t, before)
}

func TestNameInUse(t *testing.T) {
	needRoot(t)
	c := startContainer(t, idle, "--name", "web")
	r := berth(t, "", "run", "--rm", "--name", "web", "--rootfs", rootfsDir, "true")
	if r.code != 125 || !strings.Contains(r.stderr, `name "web" is already in use`) {
		t.Errorf("second container named web: %+v", r)
	}
	c.cmd.Process.Signal(os.Interrupt)
	c.wait(t)
	if r := berth(t, "", "run", "--rm", "--name", "web", "--rootfs", rootfsDir, "true"); r.code != 0 {
		t.Errorf("name not released after exit: %+v", r)
	}
}

// TestGarbageCollectedAfterBerthKilled kills berth with SIGKILL while its
// container runs: the container dies with it, and the next berth command
// removes the record and cgroups left behind.
func TestGarbageCollectedAfterBerthKilled(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	c := startContainer(t, "echo ready; exec sleep 1000", "--memory", "64m", "--pids-limit", "10", "--name", "doomed")
	pid := c.containerPid(t)
	if len(snapshot(t).cgroups) <= len(before.cgroups) {
		t.Fatal("running container has no cgroup")
	}
	c.cmd.Process.Kill()
	c.wait(t)
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("container outlived berth")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r := berth(t, "", "run", "--rm", "--rootfs", rootfsDir, "true"); r.code != 0 {
		t.Fatalf("next run: %+v", r)
	}
	checkNoLeaks(t, before)
}
