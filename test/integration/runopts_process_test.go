package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProcessRunOptions: --ulimit, --oom-score-adj, --sysctl and
// --shm-size as the container sees them.
func TestProcessRunOptions(t *testing.T) {
	needRoot(t)
	out := runIn(t, "grep 'Max open files' /proc/self/limits; grep 'Max processes' /proc/self/limits; cat /proc/self/oom_score_adj; "+
		"cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmax; grep ' /dev/shm ' /proc/mounts",
		"--network", "none", "--ulimit", "nofile=1024:2048", "--ulimit", "nproc=512:1024", "--oom-score-adj", "500",
		"--sysctl", "net.ipv4.ip_unprivileged_port_start=80", "--sysctl", "kernel.shmmax=123456789", "--shm-size", "16m")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("output %q", out)
	}
	if f := strings.Fields(lines[0]); len(f) < 5 || f[3] != "1024" || f[4] != "2048" {
		t.Errorf("--ulimit nofile=1024:2048: %q", lines[0])
	}
	if f := strings.Fields(lines[1]); len(f) < 4 || f[2] != "512" || f[3] != "1024" {
		t.Errorf("--ulimit nproc=512:1024: %q", lines[1])
	}
	if lines[2] != "500" || lines[3] != "80" || lines[4] != "123456789" {
		t.Errorf("oom_score_adj, sysctls: %q", lines[2:5])
	}
	if !strings.Contains(lines[5], "size=16384k") {
		t.Errorf("--shm-size 16m: %q", lines[5])
	}
	// The host's value is untouched.
	if b, _ := os.ReadFile("/proc/sys/kernel/shmmax"); strings.TrimSpace(string(b)) == "123456789" {
		t.Error("--sysctl kernel.shmmax changed the host")
	}
}

// TestStopSignalTimeoutCIDFile: stop sends --stop-signal and waits
// --stop-timeout; --cidfile holds the ID and is never overwritten.
func TestStopSignalTimeoutCIDFile(t *testing.T) {
	needRoot(t)
	cid := filepath.Join(t.TempDir(), "cid")
	r := berth(t, "", "run", "-d", "--name", "usr1", "--network", "none", "--stop-signal", "USR1", "--cidfile", cid, "--rootfs", rootfsDir,
		"/bin/sh", "-c", "trap 'echo got-usr1; exit 0' USR1; trap '' TERM; echo ready; while :; do sleep 0.1; done")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "usr1", "stubborn")
	if b, _ := os.ReadFile(cid); string(b) != strings.TrimSpace(r.stdout) {
		t.Errorf("cidfile %q, run printed %q", b, r.stdout)
	}
	eventually(t, "ready", func() string {
		if out := berth(t, "", "logs", "usr1").stdout; !strings.Contains(out, "ready") {
			return out
		}
		return ""
	})
	start := time.Now()
	if r := berth(t, "", "stop", "usr1"); r.code != 0 {
		t.Fatalf("stop: %+v", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v: USR1 was not sent", d)
	}
	if st := inspectState(t, "usr1"); st.ExitCode != 0 || !strings.Contains(berth(t, "", "logs", "usr1").stdout, "got-usr1") {
		t.Errorf("after stop with SIGUSR1: %+v", st)
	}

	// An existing cidfile is refused, left as it is, and nothing is made.
	before := snapshot(t)
	r = berth(t, "", "run", "--rm", "--cidfile", cid, "--rootfs", rootfsDir, "true")
	if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "container ID file found") {
		t.Errorf("existing cidfile: %+v", r)
	}
	checkNoLeaks(t, before)

	// --stop-timeout 1: a container ignoring SIGTERM is killed after 1 s,
	// not 10; -t still wins.
	r = berth(t, "", "run", "-d", "--name", "stubborn", "--network", "none", "--stop-timeout", "1", "--rootfs", rootfsDir,
		"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	eventually(t, "ready", func() string {
		if out := berth(t, "", "logs", "stubborn").stdout; !strings.Contains(out, "ready") {
			return out
		}
		return ""
	})
	start = time.Now()
	berth(t, "", "stop", "stubborn")
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Errorf("stop with --stop-timeout 1 took %v", d)
	}
	berth(t, "", "start", "stubborn")
	start = time.Now()
	berth(t, "", "restart", "-t", "0", "stubborn")
	if d := time.Since(start); d > 900*time.Millisecond+2*time.Second {
		t.Errorf("restart -t 0 took %v", d)
	}
}
