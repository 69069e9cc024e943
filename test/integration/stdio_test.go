package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hostileTerminalScript is a container program that tries to type a
// command into the terminal of whoever started it (TIOCSTI on fds 0-2),
// then says whether its stdout is a terminal and which session it is in
// (field 6 of /proc/self/stat, 0 when the session's leader is outside the
// container's PID namespace) next to its own PID (field 1).
const hostileTerminalScript = `probe tiocsti 'echo berth-injected
'; [ -t 1 ] && echo stdout-is-a-tty; awk '{print "session=" $6 " pid=" $1}' /proc/self/stat`

// checkNoTerminal checks what hostileTerminalScript printed: no terminal
// was reachable, nothing was typed, and the process's session is led by a
// process of the container (a session whose leader is outside its PID
// namespace, the caller's, reads as 0).
func checkNoTerminal(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "berth-injected") {
		t.Errorf("the container typed into the caller's terminal:\n%s", out)
	}
	if !strings.Contains(out, "tiocsti fd0=ENOTTY fd1=ENOTTY fd2=ENOTTY") {
		t.Errorf("TIOCSTI did not fail with ENOTTY on every standard fd:\n%s", out)
	}
	if strings.Contains(out, "stdout-is-a-tty") {
		t.Errorf("the container's stdout is a terminal:\n%s", out)
	}
	var session, pid int
	i := strings.Index(out, "session=")
	if i < 0 {
		t.Fatalf("no session line:\n%s", out)
	}
	fmt.Sscanf(out[i:], "session=%d pid=%d", &session, &pid)
	if session == 0 {
		t.Errorf("the container process (pid %d) is in a session led from outside the container: the caller's", pid)
	}
}

// TestNoCallerTerminal: a container started from an interactive shell
// without -t never gets that shell's terminal, so it cannot push input
// into it (TIOCSTI, which this kernel still allows); its stdio goes
// through pipes that berth relays, and it runs in a session of its own.
func TestNoCallerTerminal(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	t.Run("run", func(t *testing.T) {
		r := runPTY(t, nil, "run", "--rm", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", hostileTerminalScript)
		checkNoTerminal(t, r.output)
		if r.code != 0 {
			t.Errorf("exit status %d:\n%s", r.code, r.output)
		}
	})
	t.Run("run -i", func(t *testing.T) {
		r := runPTY(t, func(master *os.File, _ *os.Process, out *syncBuffer) {
			out.waitFor(t, "session=")
			master.Write([]byte("typed\r"))
		}, "run", "--rm", "-i", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", hostileTerminalScript+"; read x; echo got=$x")
		checkNoTerminal(t, r.output)
		if !strings.Contains(r.output, "got=typed") {
			t.Errorf("stdin did not reach the container through the relay:\n%s", r.output)
		}
	})
	name := fmt.Sprintf("tty-exec-%d", os.Getpid())
	if r := berth(t, "", "run", "-d", "--name", name, "--network", "none", "--rootfs", rootfsDir, "sleep", "1000"); r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", name)
	t.Run("exec", func(t *testing.T) {
		r := runPTY(t, nil, "exec", name, "/bin/sh", "-c", hostileTerminalScript)
		checkNoTerminal(t, r.output)
		if r.code != 0 {
			t.Errorf("exit status %d:\n%s", r.code, r.output)
		}
	})
	t.Run("start -a", func(t *testing.T) {
		job := name + "-job"
		if r := berth(t, "", "run", "--name", job, "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", hostileTerminalScript); r.code != 0 {
			t.Fatalf("run: %+v", r)
		}
		defer berth(t, "", "rm", "-f", job)
		r := runPTY(t, nil, "start", "-a", job)
		checkNoTerminal(t, r.output)
	})
	berth(t, "", "rm", "-f", name)
	checkNoLeaks(t, before)
}

// TestOCISetsid: berth-oci passes the engine's stdio through as runc does,
// but the container's PID 1 and every exec'd process lead sessions of
// their own, never the engine's.
func TestOCISetsid(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"sh", "-c", "awk '{print \"session=\" $6 \" pid=\" $1}' /proc/self/stat"}, nil)
	r := oci(t, "run", "--bundle", bundle, "setsid-run")
	if r.stdout != "session=1 pid=1\n" {
		t.Errorf("PID 1: %q, want session=1 pid=1 (%s)", r.stdout, r.stderr)
	}
	long := ociBundle(t, []string{"sleep", "1000"}, nil)
	if r := oci(t, "run", "--detach", "--bundle", long, "setsid-exec"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	defer oci(t, "delete", "--force", "setsid-exec")
	r = oci(t, "exec", "setsid-exec", "awk", `{print $6 == $1 ? "leader" : "session=" $6 " pid=" $1}`, "/proc/self/stat")
	if r.stdout != "leader\n" {
		t.Errorf("exec'd process: %q, want it to lead its own session (%s)", r.stdout, r.stderr)
	}
}

// TestExecWindow: a process that exec starts is never seen in the
// container's PID namespace while it still has the host's root (or mount
// namespace, or working directory). A container with CAP_SYS_PTRACE scans
// /proc/*/root/ for a file that exists only on the host while the host
// runs berth-oci exec again and again (runc's CVE-2016-9962 class).
func TestExecWindow(t *testing.T) {
	needRoot(t)
	marker, err := os.CreateTemp("", "berth-host-only-")
	if err != nil {
		t.Fatal(err)
	}
	marker.Close()
	defer os.Remove(marker.Name())
	bundle := ociBundle(t, []string{"sh", "-c", "probe scanroot " + marker.Name() + " /stop > /result.tmp; mv /result.tmp /result; exec sleep 1000"}, func(s *specs.Spec) {
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_SYS_PTRACE")
		c.Effective = append(c.Effective, "CAP_SYS_PTRACE")
		c.Permitted = append(c.Permitted, "CAP_SYS_PTRACE")
	})
	if _, err := os.Stat(filepath.Join(bundle, "rootfs", marker.Name())); err == nil {
		t.Fatalf("%s exists in the container's rootfs too", marker.Name())
	}
	id := "exec-window"
	if r := oci(t, "run", "--detach", "--bundle", bundle, id); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	defer oci(t, "delete", "--force", id)
	n := 200
	if os.Getenv("BERTH_VM") != "" {
		n = 60 // emulated CPUs: each exec takes ~10x longer
	}
	for i := 0; i < n; i++ {
		if r := oci(t, "exec", id, "true"); r.code != 0 {
			t.Fatalf("exec %d: %+v", i, r)
		}
	}
	if r := oci(t, "exec", id, "touch", "/stop"); r.code != 0 {
		t.Fatalf("exec touch: %+v", r)
	}
	result := filepath.Join(bundle, "rootfs", "result")
	var out []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if out, err = os.ReadFile(result); err == nil {
			break
		}
	}
	var scans, seen int
	if _, err := fmt.Sscanf(string(out), "scans=%d seen=%d", &scans, &seen); err != nil {
		t.Fatalf("scanner result %q: %v", out, err)
	}
	t.Logf("%d execs, %d scans of /proc", n, scans)
	if seen != 0 {
		t.Errorf("the container saw the host's %s through /proc/PID/root of exec'd processes %d times in %d execs", marker.Name(), seen, n)
	}
	if scans < n {
		t.Errorf("only %d scans during %d execs: the scanner did not run alongside", scans, n)
	}
}

// TestExecPidFile: the pid file of berth-oci exec names the exec'd
// program itself, a child of the caller (what engines wait on).
func TestExecPidFile(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"sleep", "1000"}, nil)
	if r := oci(t, "run", "--detach", "--bundle", bundle, "exec-pid"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	defer oci(t, "delete", "--force", "exec-pid")
	pidFile := filepath.Join(t.TempDir(), "pid")
	if r := oci(t, "exec", "--detach", "--pid-file", pidFile, "exec-pid", "sleep", "777"); r.code != 0 {
		t.Fatalf("exec --detach: %+v", r)
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(string(b))
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if string(cmdline) != "sleep\x00777\x00" {
		t.Errorf("pid file names %d, whose command line is %q, want sleep 777", pid, cmdline)
	}
}
