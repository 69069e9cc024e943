package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInit: with --init, PID 1 is berth-pid1 (read-only inside), the
// command is its child, SIGINT stops a sleep (which as PID 1 ignores
// it), and an orphan is reaped; without it, the orphan stays a zombie.
// --init works for create and start too.
func TestInit(t *testing.T) {
	needRoot(t)
	run := func(name string, flags ...string) {
		t.Helper()
		args := append(append([]string{"run", "-d", "--name", name, "--network", "none"}, flags...), "--rootfs", rootfsDir, "sleep", "30")
		mustBerth(t, args...)
		t.Cleanup(func() { berth(t, "", "rm", "-f", name) })
	}
	run("init-on", "--init")
	run("init-off")
	if cmdline := mustBerth(t, "exec", "init-on", "cat", "/proc/1/cmdline"); cmdline != "/dev/init\x00--\x00sleep\x0030\x00" {
		t.Errorf("PID 1's command line %q, want the init running sleep", cmdline)
	}
	if ps := mustBerth(t, "exec", "init-on", "ps", "-o", "pid,ppid,comm"); !hasProcess(ps, "1", "0", "init") || !hasProcess(ps, "", "1", "sleep") {
		t.Errorf("with --init, want init as PID 1 and sleep its child:\n%s", ps)
	}
	if r := berth(t, "", "exec", "init-on", "sh", "-c", "echo x >/dev/init"); r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("the init is writable inside: %+v", r)
	}
	// An orphan: the exec'd shell exits before its sleep, which the
	// kernel gives to PID 1.
	for _, c := range []string{"init-on", "init-off"} {
		mustBerth(t, "exec", c, "sh", "-c", "sleep 0.1 & exit")
	}
	waitFor(t, "the orphan to end", func() bool {
		return strings.Count(mustBerth(t, "exec", "init-off", "ps", "-o", "stat,comm"), "Z ") == 1
	})
	if ps := mustBerth(t, "exec", "init-on", "ps", "-o", "stat,comm"); strings.Contains(ps, "Z ") {
		t.Errorf("with --init a zombie remains:\n%s", ps)
	}
	mustBerth(t, "kill", "-s", "INT", "init-on", "init-off")
	if code := strings.TrimSpace(mustBerth(t, "wait", "init-on")); code != "130" {
		t.Errorf("with --init, SIGINT: exit %s, want 130", code)
	}
	if st := psStatus(t, "init-off"); !strings.HasPrefix(st, "Up ") {
		t.Errorf("without --init, SIGINT stopped PID 1 (%q): the test proves nothing", st)
	}
	mustBerth(t, "create", "--name", "init-created", "--init", "--network", "none", "--rootfs", rootfsDir, "sleep", "30")
	t.Cleanup(func() { berth(t, "", "rm", "-f", "init-created") })
	mustBerth(t, "start", "init-created")
	if cmdline := mustBerth(t, "exec", "init-created", "cat", "/proc/1/cmdline"); !strings.HasPrefix(cmdline, "/dev/init\x00") {
		t.Errorf("create --init, start: PID 1 is %q", cmdline)
	}
}

// TestInitMissing: a berth without berth-pid1 beside it refuses --init
// in one line, leaving nothing.
func TestInitMissing(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	lone := filepath.Join(dir, "berth")
	b, err := os.ReadFile(berthBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lone, b, 0o755); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t)
	for _, cmd := range []string{"run", "create"} {
		c := exec.Command("nsenter", "--net=/run/netns/"+suiteNetns, lone, "--root", storeRoot, "--runroot", stateRoot,
			cmd, "--init", "--name", "init-missing", "--network", "none", "--rootfs", rootfsDir, "true")
		c.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		r := collect(t, c, "berth")
		if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "--init needs berth-pid1") {
			t.Errorf("%s --init without berth-pid1: %+v", cmd, r)
		}
	}
	checkNoLeaks(t, before)
}

// hasProcess reports whether ps -o pid,ppid,comm lists a process with
// that PID (any, if empty), parent and command.
func hasProcess(ps, pid, ppid, comm string) bool {
	for _, l := range strings.Split(ps, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && (pid == "" || f[0] == pid) && f[1] == ppid && f[2] == comm {
			return true
		}
	}
	return false
}

// TestInitTerminalInterrupt: with -it --init, ctrl-c on the terminal
// stops a sleep (the command owns the container's terminal), where
// without --init PID 1 would ignore it.
func TestInitTerminalInterrupt(t *testing.T) {
	needRoot(t)
	r := runPTY(t, func(master *os.File, p *os.Process, out *syncBuffer) {
		out.waitFor(t, "ready")
		master.Write([]byte{3})
	}, "run", "--rm", "-it", "--init", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "echo ready; exec sleep 30")
	if r.code != 130 {
		t.Errorf("ctrl-c with --init: exit %d, want 130:\n%s", r.code, r.output)
	}
}
