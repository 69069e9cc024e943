package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// inspectState reads berth inspect's State of one container.
func inspectState(t *testing.T, ref string) (state struct {
	Status       string
	Pid          int
	MonitorPid   int
	ExitCode     int
	RestartCount int
	Error        string
}) {
	t.Helper()
	r := berth(t, "", "inspect", ref)
	var out []struct{ State json.RawMessage }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %+v", ref, r)
	}
	if err := json.Unmarshal(out[0].State, &state); err != nil {
		t.Fatal(err)
	}
	return state
}

// eventually retries check until it returns "" or 10 s pass.
func eventually(t *testing.T, what string, check func() string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if last = check(); last == "" {
			return
		}
	}
	t.Fatalf("%s: %s", what, last)
}

// httpGet fetches / from addr:port inside the suite's network namespace.
func httpGet(port int) (string, error) {
	cmd := exec.Command("nsenter", "--net=/run/netns/"+suiteNetns, "/bin/sh", "-c",
		fmt.Sprintf("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 5 127.0.0.1 %d", port))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestDetachedWebServer: a detached busybox httpd is listed, serves its
// published port, is logged, exec'd into, stopped within the timeout,
// started again, and removed, leaving nothing.
func TestDetachedWebServer(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	// PID 1 ignores signals it has no handler for: the script traps TERM.
	script := "trap 'echo stopping; exit 0' TERM; mkdir -p /www && echo hello-detached > /www/index.html && httpd -p 80 -h /www && echo serving; sleep 1000 & wait"
	r := berth(t, "", "run", "-d", "--name", "web", "-p", "18081:80", "--rootfs", rootfsDir, "/bin/sh", "-c", script)
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || len(id) != 64 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "web")
	if r := berth(t, "", "ps"); !strings.Contains(r.stdout, id[:12]) || !strings.Contains(r.stdout, "Up ") || !strings.Contains(r.stdout, "web") {
		t.Errorf("ps: %+v", r)
	}
	if r := berth(t, "", "ps", "-q"); strings.TrimSpace(r.stdout) != id[:12] {
		t.Errorf("ps -q: %+v", r)
	}
	eventually(t, "published port", func() string {
		if out, err := httpGet(18081); err != nil || !strings.Contains(out, "hello-detached") {
			return fmt.Sprintf("%v %q", err, out)
		}
		return ""
	})
	eventually(t, "logs", func() string {
		if r := berth(t, "", "logs", "web"); !strings.Contains(r.stdout, "serving") {
			return fmt.Sprintf("%+v", r)
		}
		return ""
	})
	if r := berth(t, "", "logs", "--tail", "1", "-t", id[:8]); r.code != 0 || !strings.HasPrefix(r.stdout, "20") || !strings.HasSuffix(r.stdout, " serving\n") {
		t.Errorf("logs --tail 1 -t by ID prefix: %+v", r)
	}
	r = berth(t, "", "exec", "web", "/bin/sh", "-c", "cat /www/index.html; cat /proc/1/comm; id -u")
	if r.code != 0 || r.stdout != "hello-detached\nsh\n0\n" {
		t.Errorf("exec: %+v", r)
	}
	if r := berth(t, "", "exec", "web", "/bin/sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("exec exit status: %+v", r)
	}
	if r := berth(t, "", "exec", "-u", "app", "web", "id", "-u"); r.code != 0 || r.stdout != "1000\n" {
		t.Errorf("exec -u app: %+v", r)
	}
	// httpd as PID 1 ends on SIGTERM: stop returns well within its timeout.
	began := time.Now()
	if r := berth(t, "", "stop", "-t", "5", "web"); r.code != 0 {
		t.Errorf("stop: %+v", r)
	}
	if took := time.Since(began); took > 4*time.Second {
		t.Errorf("stop took %v: the stop signal was not delivered", took)
	}
	if st := inspectState(t, "web"); st.Status != "exited" || st.ExitCode != 0 {
		t.Errorf("after stop: %+v", st)
	}
	if r := berth(t, "", "logs", "web"); !strings.HasSuffix(r.stdout, "stopping\n") {
		t.Errorf("logs after stop: %+v", r)
	}
	if r := berth(t, "", "ps", "-a", "--format", "{{.Names}} {{.Status}}"); !strings.HasPrefix(r.stdout, "web Exited (0)") {
		t.Errorf("ps -a: %+v", r)
	}
	if r := berth(t, "", "start", "web"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	eventually(t, "the restarted server", func() string {
		if out, err := httpGet(18081); err != nil || !strings.Contains(out, "hello-detached") {
			return fmt.Sprintf("%v %q", err, out)
		}
		return ""
	})
	if r := berth(t, "", "rm", "web"); r.code == 0 || !strings.Contains(r.stderr, "is running") {
		t.Errorf("rm of a running container: %+v", r)
	}
	if r := berth(t, "", "rm", "-f", "web"); r.code != 0 {
		t.Errorf("rm -f: %+v", r)
	}
	if r := berth(t, "", "ps", "-a", "-q"); r.stdout != "" {
		t.Errorf("ps -a after rm: %+v", r)
	}
	checkNoLeaks(t, before)
}

// TestRestartPolicy: a crashing container is run again by its monitor,
// as many times as on-failure:N allows, with the count in inspect.
func TestRestartPolicy(t *testing.T) {
	needRoot(t)
	r := berth(t, "", "run", "-d", "--name", "crasher", "--restart", "on-failure:2", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "echo attempt; exit 3")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "crasher")
	if r := berth(t, "", "wait", "crasher"); strings.TrimSpace(r.stdout) != "3" {
		t.Errorf("wait: %+v", r)
	}
	st := inspectState(t, "crasher")
	if st.Status != "exited" || st.ExitCode != 3 || st.RestartCount != 2 {
		t.Errorf("after the policy gave up: %+v", st)
	}
	if r := berth(t, "", "logs", "crasher"); strings.Count(r.stdout, "attempt") != 3 {
		t.Errorf("logs of three runs: %+v", r)
	}
}

// TestMonitorKilled: after kill -9 of a container's monitor, the
// container is gone with it, ps tells so, and rm removes it.
func TestMonitorKilled(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	r := berth(t, "", "run", "-d", "--name", "orphan", "--rootfs", rootfsDir, "/bin/sh", "-c", idle)
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	st := inspectState(t, "orphan")
	if st.Status != "running" || st.MonitorPid == 0 || st.Pid == 0 {
		t.Fatalf("running: %+v", st)
	}
	if err := syscall.Kill(st.MonitorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ps after the monitor was killed", func() string {
		if r := berth(t, "", "ps", "-a", "--format", "{{.Names}} {{.Status}}"); !strings.Contains(r.stdout, "orphan Dead") {
			return fmt.Sprintf("%+v", r)
		}
		return ""
	})
	eventually(t, "the container's PID 1 after its monitor was killed", func() string {
		// Gone, or a zombie waiting for its new parent to reap it.
		b, err := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/stat")
		if fields := strings.Fields(string(b)); err == nil && len(fields) > 2 && fields[2] != "Z" {
			return fmt.Sprintf("PID %d is still %s", st.Pid, fields[2])
		}
		return ""
	})
	if r := berth(t, "", "rm", "orphan"); r.code != 0 {
		t.Errorf("rm of a dead container: %+v", r)
	}
	// The next run collects its cgroups, address and files.
	runIn(t, "true")
	checkNoLeaks(t, before)
}

// TestManyDetached: 50 detached containers start and are removed with
// nothing left.
func TestManyDetached(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	var ids []string
	for i := 0; i < 50; i++ {
		r := berth(t, "", "run", "-d", "--rootfs", rootfsDir, "/bin/sh", "-c", idle)
		if r.code != 0 {
			t.Fatalf("run -d #%d: %+v", i, r)
		}
		ids = append(ids, strings.TrimSpace(r.stdout))
	}
	if r := berth(t, "", "ps", "-q"); strings.Count(r.stdout, "\n") != 50 {
		t.Errorf("ps lists %d containers, want 50", strings.Count(r.stdout, "\n"))
	}
	if r := berth(t, "", append([]string{"rm", "-f"}, ids...)...); r.code != 0 {
		t.Errorf("rm -f: %+v", r)
	}
	if r := berth(t, "", "ps", "-aq"); r.stdout != "" {
		t.Errorf("left: %q", r.stdout)
	}
	checkNoLeaks(t, before)
}

// TestDetachedBadInput: berth run -d fails like berth run on bad input
// (125, one line) and leaves no container behind.
func TestDetachedBadInput(t *testing.T) {
	needRoot(t)
	for _, args := range [][]string{
		{"--rootfs", "/no/such/dir", "true"},
		{"--rootfs", rootfsDir, "--user", "nosuchuser", "true"},
		{"--rootfs", rootfsDir, "--restart", "sometimes", "true"},
		{"--rootfs", rootfsDir, "/no/such/program"},
	} {
		r := berth(t, "", append([]string{"run", "-d"}, args...)...)
		if r.code < 125 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("run -d %v: %+v", args, r)
		}
	}
	if r := berth(t, "", "ps", "-aq"); r.stdout != "" {
		t.Errorf("containers left: %q", r.stdout)
	}
}

// TestContainerCommands: pause and unpause freeze and thaw, top and stats
// see the container's processes and cgroup, logs -f follows until the
// container stops, rename and container prune do what they say.
func TestContainerCommands(t *testing.T) {
	needRoot(t)
	r := berth(t, "", "run", "-d", "--name", "busy", "--memory", "64m", "--rootfs", rootfsDir, "/bin/sh", "-c",
		"trap 'exit 0' TERM; i=0; while [ $i -lt 100000 ]; do echo line $i; i=$((i+1)); sleep 0.05; done")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "busy", "renamed")
	if r := berth(t, "", "inspect", "busy"); !strings.Contains(r.stdout, `"limit": 67108864`) || !strings.Contains(r.stdout, `"destination": "/proc"`) {
		t.Errorf("inspect lacks the memory limit or the mounts: %+v", r)
	}
	if r := berth(t, "", "top", "busy"); r.code != 0 || !strings.Contains(r.stdout, "/bin/sh -c trap") {
		t.Errorf("top: %+v", r)
	}
	r = berth(t, "", "stats", "--no-stream", "busy")
	if r.code != 0 || !strings.Contains(r.stdout, "busy") || !strings.Contains(r.stdout, "/ 64MiB") {
		t.Errorf("stats: %+v", r)
	}
	if r := berth(t, "", "pause", "busy"); r.code != 0 {
		t.Fatalf("pause: %+v", r)
	}
	n1 := strings.Count(berth(t, "", "logs", "busy").stdout, "\n")
	time.Sleep(300 * time.Millisecond)
	if n2 := strings.Count(berth(t, "", "logs", "busy").stdout, "\n"); n2 != n1 {
		t.Errorf("the paused container wrote %d more lines", n2-n1)
	}
	if r := berth(t, "", "unpause", "busy"); r.code != 0 {
		t.Fatalf("unpause: %+v", r)
	}
	eventually(t, "output after unpause", func() string {
		if n := strings.Count(berth(t, "", "logs", "busy").stdout, "\n"); n <= n1 {
			return fmt.Sprintf("%d lines, %d when paused", n, n1)
		}
		return ""
	})
	// logs -f ends when the container does.
	follow := berthCommand("logs", "-f", "--tail", "0", "busy")
	var out strings.Builder
	follow.Stdout = &out
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if r := berth(t, "", "stop", "busy"); r.code != 0 {
		t.Errorf("stop: %+v", r)
	}
	done := make(chan error, 1)
	go func() { done <- follow.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		follow.Process.Kill()
		t.Fatal("logs -f did not end with the container")
	}
	if !strings.Contains(out.String(), "line ") {
		t.Errorf("logs -f printed %q", out.String())
	}
	if r := berth(t, "", "rename", "busy", "renamed"); r.code != 0 {
		t.Errorf("rename: %+v", r)
	}
	if r := berth(t, "", "ps", "-a", "--filter", "name=renamed", "-q"); strings.TrimSpace(r.stdout) == "" {
		t.Errorf("renamed container not found: %+v", r)
	}
	if r := berth(t, "", "container", "prune", "-f"); r.code != 0 {
		t.Errorf("container prune -f: %+v", r)
	}
	if r := berth(t, "", "ps", "-aq"); r.stdout != "" {
		t.Errorf("after prune: %q", r.stdout)
	}
}

// TestAttach: a detached container's terminal takes input from berth
// attach and gives its output; the detach keys leave it running; when it
// ends, attach exits with its status. start -a follows a container
// without a terminal to its end.
func TestAttach(t *testing.T) {
	needRoot(t)
	r := berth(t, "", "run", "-dit", "--name", "term", "--network", "none", "--rootfs", rootfsDir, "/bin/sh")
	if r.code != 0 {
		t.Fatalf("run -dit: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "term")
	// ctrl-p ctrl-q, once the command's output is seen: detached, the
	// shell still runs.
	a := berthCommand("attach", "term")
	in, _ := a.StdinPipe()
	out, _ := a.StdoutPipe()
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "echo first-$((2*3))\n")
	seen := make(chan string, 1)
	go func() {
		var got string
		buf := make([]byte, 1024)
		for !strings.Contains(got, "first-6") {
			n, err := out.Read(buf)
			got += string(buf[:n])
			if err != nil {
				break
			}
		}
		seen <- got
	}()
	select {
	case got := <-seen:
		if !strings.Contains(got, "first-6") {
			t.Errorf("attach output: %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Error("no output through attach")
	}
	io.WriteString(in, "\x10\x11")
	if err := a.Wait(); err != nil {
		t.Errorf("attach after the detach keys: %v", err)
	}
	if st := inspectState(t, "term"); st.Status != "running" {
		t.Fatalf("after detaching: %+v", st)
	}
	r = berth(t, "echo second\nexit 4\n", "attach", "term")
	if r.code != 4 || !strings.Contains(r.stdout, "second") {
		t.Errorf("attach until the shell exits: %+v", r)
	}
	if r := berth(t, "", "logs", "term"); !strings.Contains(r.stdout, "first-6") || !strings.Contains(r.stdout, "second") {
		t.Errorf("the terminal's output is not in the log: %+v", r)
	}
	if r := berth(t, "", "attach", "--detach-keys", "ctrl-", "term"); r.code != 125 || !strings.Contains(r.stderr, "detach-keys") {
		t.Errorf("bad --detach-keys: %+v", r)
	}
	// start -a of a container without a terminal: its output, its status.
	r = berth(t, "", "run", "-d", "--name", "job", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "echo job-ran; exit 5")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "job")
	berth(t, "", "wait", "job")
	if r := berth(t, "", "start", "-a", "job"); r.code != 5 || r.stdout != "job-ran\n" {
		t.Errorf("start -a: %+v", r)
	}
}

// TestConcurrentCommandsSerialized: restarts racing on one container all
// succeed, one after another, and leave it running under one monitor.
func TestConcurrentCommandsSerialized(t *testing.T) {
	needRoot(t)
	r := berth(t, "", "run", "-d", "--name", "racy", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", idle)
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "racy")
	results := make(chan result, 4)
	for i := 0; i < 4; i++ {
		go func() { results <- berth(t, "", "restart", "-t", "5", "racy") }()
	}
	for i := 0; i < 4; i++ {
		if r := <-results; r.code != 0 {
			t.Errorf("concurrent restart: %+v", r)
		}
	}
	st := inspectState(t, "racy")
	if st.Status != "running" || st.MonitorPid == 0 {
		t.Fatalf("after the restarts: %+v", st)
	}
	var ids []struct{ Id string }
	json.Unmarshal([]byte(berth(t, "", "inspect", "racy").stdout), &ids)
	if len(ids) != 1 {
		t.Fatal("inspect racy")
	}
	monitors := 0
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		cmdline, _ := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if strings.Contains(string(cmdline), "--monitor") && strings.Contains(string(cmdline), ids[0].Id) {
			monitors++
		}
	}
	if monitors != 1 {
		t.Errorf("%d monitors run the container, want 1", monitors)
	}
}

// TestRestartKeepsCopiedEnv: -e KEY copies berth's variable into the
// container, again on every start; the rest of berth's environment (here
// a secret) is not written to the container's record.
func TestRestartKeepsCopiedEnv(t *testing.T) {
	needRoot(t)
	cmd := berthCommand("run", "-d", "--name", "envcopy", "-e", "HOST_ONLY", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "echo got=$HOST_ONLY")
	cmd.Env = append(cmd.Env, "SECRET_TOKEN=hunter2")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run -d: %v", err)
	}
	defer berth(t, "", "rm", "-f", "envcopy")
	berth(t, "", "wait", "envcopy")
	if r := berth(t, "", "start", "-a", "envcopy"); r.stdout != "got=from-host\n" {
		t.Errorf("second run: %+v", r)
	}
	if r := berth(t, "", "logs", "envcopy"); strings.Count(r.stdout, "got=from-host") != 2 {
		t.Errorf("logs: %+v", r)
	}
	b, err := os.ReadFile(filepath.Join(storeRoot, "containers", strings.TrimSpace(string(out)), "container.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hunter2") {
		t.Errorf("berth's environment was written to the record: %s", b)
	}
}

// TestStopDuringRestartBackoff: berth stop of a container between two
// runs, while its monitor waits out the restart back-off, ends the
// monitor and the restarts, as docker stop does. The record names the
// monitor then, so that stop can reach it.
func TestStopDuringRestartBackoff(t *testing.T) {
	needRoot(t)
	r := berth(t, "", "run", "-d", "--name", "looper", "--restart", "always", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "exit 1")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "looper")
	// From the second restart on, the back-off is 400 ms or more: most of
	// the time the container is between two runs.
	eventually(t, "two restarts", func() string {
		if st := inspectState(t, "looper"); st.RestartCount < 2 {
			return fmt.Sprintf("%+v", st)
		}
		return ""
	})
	done := make(chan result, 1)
	go func() { done <- berth(t, "", "stop", "-t", "1", "looper") }()
	select {
	case r := <-done:
		if r.code != 0 {
			t.Fatalf("stop: %+v", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("berth stop did not return within 20 s")
	}
	before := inspectState(t, "looper")
	time.Sleep(3 * time.Second)
	after := inspectState(t, "looper")
	if after.Status != "exited" || after.RestartCount != before.RestartCount || after.MonitorPid != 0 {
		t.Errorf("still restarting after berth stop: %+v, then %+v", before, after)
	}
}

// TestRestartAfterStopTimeout: berth restart -t N of a container that
// ignores its stop signal kills it after N seconds and starts it again.
// The stop's first wait for the container's lock timed out, and its
// waiter, left behind, took a shared lock just as the container ended:
// the start that followed found the lock held and said "already
// running". The race is narrow; internal/managed's
// TestReleasedLeavesNoWaiter pins it down.
func TestRestartAfterStopTimeout(t *testing.T) {
	needRoot(t)
	r := berth(t, "", "run", "-d", "--name", "stubborn", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "stubborn")
	for i := range 4 {
		if r := berth(t, "", "restart", "-t", "1", "stubborn"); r.code != 0 {
			t.Fatalf("restart %d: %+v", i+1, r)
		}
		if st := inspectState(t, "stubborn"); st.Status != "running" {
			t.Fatalf("after restart %d: %+v", i+1, st)
		}
	}
}

// TestRmForceDuringRestartBackoff: berth rm -f of a container between
// two runs, while its monitor waits out the restart back-off, ends the
// monitor and removes the container, as docker rm -f does (berth said
// the container was running and to use rm -f).
func TestRmForceDuringRestartBackoff(t *testing.T) {
	needRoot(t)
	r := berth(t, "", "run", "-d", "--name", "rmlooper", "--restart", "always", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "exit 1")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "rmlooper")
	// From the second restart on, the back-off is 400 ms or more: most of
	// the time the container is between two runs.
	eventually(t, "two restarts", func() string {
		if st := inspectState(t, "rmlooper"); st.RestartCount < 2 {
			return fmt.Sprintf("%+v", st)
		}
		return ""
	})
	if r := berth(t, "", "rm", "-f", "rmlooper"); r.code != 0 {
		t.Fatalf("rm -f: %+v", r)
	}
	if r := berth(t, "", "inspect", "rmlooper"); r.code == 0 {
		t.Errorf("still there after rm -f: %s", r.stdout)
	}
}

// TestMonitorEnvironment: a detached container's monitor has nothing of
// the caller's environment but PATH, and runs Go with one P (each P is
// memory the monitor holds for the container's life: docs/bench.md,
// Monitors).
func TestMonitorEnvironment(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	r := berth(t, "", "run", "-d", "--name", "lean", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", idle)
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer func() {
		berth(t, "", "rm", "-f", "lean")
		checkNoLeaks(t, before)
	}()
	st := inspectState(t, "lean")
	// Read while the monitor hands the run to berth-monitor (an exec),
	// /proc/PID/environ is empty for a moment: read again until it is not.
	var env []string
	eventually(t, "the monitor's environment", func() string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", st.MonitorPid))
		if err != nil {
			t.Fatal(err)
		}
		if env = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"); !slices.Contains(env, "GOMAXPROCS=1") {
			return fmt.Sprintf("%q has no GOMAXPROCS=1", env)
		}
		return ""
	})
	for _, kv := range env {
		if strings.HasPrefix(kv, "HOST_ONLY=") {
			t.Errorf("the caller's %s reached the monitor", kv)
		}
	}
}
