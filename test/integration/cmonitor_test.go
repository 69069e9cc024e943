package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

// needLeanMonitor skips unless berth-monitor is installed beside berth.
func needLeanMonitor(t *testing.T) {
	t.Helper()
	needRoot(t)
	if _, err := os.Stat(filepath.Join(filepath.Dir(berthBin), "berth-monitor")); err != nil {
		t.Skip("berth-monitor is not beside berth (make build makes it)")
	}
}

// monitorExe is the program the container's monitor runs.
func monitorExe(t *testing.T, ref string) string {
	t.Helper()
	return handedTo(t, inspectState(t, ref).MonitorPid)
}

// handedTo is the program monitor pid runs, waiting (up to 10 s) for it
// to be berth-monitor: berth run -d returns once the container runs,
// which the Go monitor reports just before it execs berth-monitor.
func handedTo(t *testing.T, pid int) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			t.Fatal(err)
		}
		if exe = filepath.Base(exe); exe == "berth-monitor" || time.Now().After(deadline) {
			return exe
		}
	}
}

// TestLeanMonitor: a detached container with --network none is handed
// to berth-monitor, which survives other berth commands (ps, a run --rm,
// which collect), logs stdout and stderr as berth logs reads them, a
// partial last line included, forwards berth stop's signal, and hands
// the exit back to berth: exit code recorded, nothing left after rm. The
// same from an image.
func TestLeanMonitor(t *testing.T) {
	needLeanMonitor(t)
	before := snapshot(t)
	img := leanImage(t)
	for _, from := range [][]string{{"--rootfs", rootfsDir}, {img}} {
		t.Run(from[0], func(t *testing.T) {
			args := append([]string{"run", "-d", "--name", "lean", "--network", "none"}, from...)
			script := `echo out; echo err >&2; trap 'printf partial; exit 7' TERM; while :; do sleep 0.1; done`
			if r := berth(t, "", append(args, "/bin/sh", "-c", script)...); r.code != 0 {
				t.Fatalf("run -d: %+v", r)
			}
			defer berth(t, "", "rm", "-f", "lean")
			st := inspectState(t, "lean")
			if exe := monitorExe(t, "lean"); exe != "berth-monitor" {
				t.Fatalf("the monitor runs %s, want berth-monitor", exe)
			}
			berth(t, "", "ps", "-a")
			runIn(t, "true", "--network", "none")
			if now := inspectState(t, "lean"); now.Status != "running" || now.Pid != st.Pid || now.MonitorPid != st.MonitorPid {
				t.Fatalf("after ps and run --rm: %+v, was %+v", now, st)
			}
			if err := syscall.Kill(st.Pid, 0); err != nil {
				t.Fatalf("the container's PID 1: %v", err)
			}
			eventually(t, "logs", func() string {
				if r := berth(t, "", "logs", "lean"); r.stdout != "out\n" || r.stderr != "err\n" {
					return fmt.Sprintf("%+v", r)
				}
				return ""
			})
			if r := berth(t, "", "stop", "lean"); r.code != 0 {
				t.Fatalf("stop: %+v", r)
			}
			if st := inspectState(t, "lean"); st.Status != "exited" || st.ExitCode != 7 || st.MonitorPid != 0 {
				t.Errorf("after stop: %+v", st)
			}
			if r := berth(t, "", "logs", "lean"); r.stdout != "out\npartial" {
				t.Errorf("logs after stop: %+v", r)
			}
			if r := berth(t, "", "rm", "lean"); r.code != 0 {
				t.Fatalf("rm: %+v", r)
			}
		})
	}
	checkNoLeaks(t, before)
}

// leanImage loads the suite's busybox as lean-busybox:1.
func leanImage(t *testing.T) string {
	t.Helper()
	const ref = "lean-busybox:1"
	tag, _ := name.NewTag(ref)
	archive := filepath.Join(t.TempDir(), "lean.tar")
	if err := tarball.WriteToFile(archive, tag, busyboxImage(t)); err != nil {
		t.Fatal(err)
	}
	mustBerth(t, "load", "-q", "-i", archive)
	t.Cleanup(func() { berth(t, "", "rmi", "-f", ref) })
	return ref
}

// TestLeanMonitorEnds: under berth-monitor, an exit's code is recorded,
// --rm removes the container, rm -f removes a running one, and a killed
// berth-monitor is collected by the next command, leaving nothing.
func TestLeanMonitorEnds(t *testing.T) {
	needLeanMonitor(t)
	before := snapshot(t)
	run := func(args ...string) string {
		t.Helper()
		r := berth(t, "", append([]string{"run", "-d", "--network", "none", "--rootfs", rootfsDir}, args...)...)
		if r.code != 0 {
			t.Fatalf("run -d %q: %+v", args, r)
		}
		return strings.TrimSpace(r.stdout)
	}
	exited := run("--name", "exits", "/bin/sh", "-c", "echo bye; exit 3")
	gone := run("--rm", "--name", "gone", "/bin/sh", "-c", "sleep 0.2")
	forced := run("--name", "forced", "/bin/sh", "-c", idle)
	killed := run("--name", "killed", "/bin/sh", "-c", idle)
	if exe := monitorExe(t, forced); exe != "berth-monitor" {
		t.Fatalf("the monitor runs %s, want berth-monitor", exe)
	}
	eventually(t, "the exit of "+exited, func() string {
		if st := inspectState(t, exited); st.Status != "exited" || st.ExitCode != 3 || st.MonitorPid != 0 {
			return fmt.Sprintf("%+v", st)
		}
		return ""
	})
	if r := berth(t, "", "logs", exited); r.stdout != "bye\n" {
		t.Errorf("logs: %+v", r)
	}
	eventually(t, "--rm", func() string {
		if r := berth(t, "", "ps", "-aq", "--no-trunc"); strings.Contains(r.stdout, gone) {
			return r.stdout
		}
		return ""
	})
	if r := berth(t, "", "rm", "-f", forced, exited); r.code != 0 {
		t.Errorf("rm -f: %+v", r)
	}
	if err := syscall.Kill(inspectState(t, killed).MonitorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ps after berth-monitor was killed", func() string {
		if r := berth(t, "", "ps", "-a", "--format", "{{.Names}} {{.Status}}"); !strings.Contains(r.stdout, "killed Dead") {
			return fmt.Sprintf("%+v", r)
		}
		return ""
	})
	if r := berth(t, "", "rm", killed); r.code != 0 {
		t.Errorf("rm of a dead container: %+v", r)
	}
	runIn(t, "true")
	checkNoLeaks(t, before)
}

// TestLeanMonitorRestarts: a restart policy is applied by berth between
// two runs and each run goes to berth-monitor again, all in the one
// monitor process the record names.
func TestLeanMonitorRestarts(t *testing.T) {
	needLeanMonitor(t)
	before := snapshot(t)
	r := berth(t, "", "run", "-d", "--name", "relean", "--restart", "on-failure:2", "--network", "none", "--rootfs", rootfsDir,
		"/bin/sh", "-c", "echo attempt; sleep 0.5; exit 3")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer func() {
		berth(t, "", "rm", "-f", "relean")
		checkNoLeaks(t, before)
	}()
	first := inspectState(t, "relean").MonitorPid
	eventually(t, "the second run", func() string {
		if st := inspectState(t, "relean"); st.RestartCount < 1 || st.Status != "running" {
			return fmt.Sprintf("%+v", st)
		}
		return ""
	})
	if st := inspectState(t, "relean"); st.MonitorPid != first {
		t.Errorf("the second run's monitor is %d, the first's %d", st.MonitorPid, first)
	}
	if exe := monitorExe(t, "relean"); exe != "berth-monitor" {
		t.Errorf("the second run's monitor runs %s, want berth-monitor", exe)
	}
	if r := berth(t, "", "wait", "relean"); strings.TrimSpace(r.stdout) != "3" {
		t.Errorf("wait: %+v", r)
	}
	if st := inspectState(t, "relean"); st.Status != "exited" || st.ExitCode != 3 || st.RestartCount != 2 || st.MonitorPid != 0 {
		t.Errorf("after the policy gave up: %+v", st)
	}
	if r := berth(t, "", "logs", "relean"); strings.Count(r.stdout, "attempt") != 3 {
		t.Errorf("logs of three runs: %+v", r)
	}
}

// TestLeanMonitorBridge: a detached container on the default bridge, with
// or without a port published on loopback, or on a network of its own
// (and connected to another while it runs), is handed to berth-monitor
// too, which keeps its attachment: the container is reachable at its
// address and the published port while berth-monitor runs it; stop, rm
// -f (after which the port can be published again at once), --rm, the end of a restart policy (whose second run is attached
// and handed off again) and a killed berth-monitor (collected by the next
// command) each leave no port mapping, lease or network files, and the
// host port free.
func TestLeanMonitorBridge(t *testing.T) {
	needLeanMonitor(t)
	h := newNetnsHost(t)
	t.Cleanup(func() { // a failed check must not leave its containers running
		out, _ := h.berth(t, "ps", "-aq", "--no-trunc").Output()
		for _, id := range strings.Fields(string(out)) {
			_ = h.berth(t, "rm", "-f", id).Run()
		}
	})
	b := func(args ...string) string {
		t.Helper()
		out, err := h.berth(t, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("berth %q: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	web := `mkdir /dev/shm/w && echo hello-lean > /dev/shm/w/index.html && httpd -p 80 -h /dev/shm/w; trap 'exit 0' TERM; while :; do sleep 0.1; done`
	run := func(args ...string) string {
		t.Helper()
		return b(append(append([]string{"run", "-d"}, args...), "--rootfs", rootfsDir, "/bin/sh", "-c", web)...)
	}
	get := func(addr, port string) string {
		out, _ := exec.Command("nsenter", "--net="+h.netnsPath(), "/bin/sh", "-c",
			"printf 'GET / HTTP/1.0\r\n\r\n' | "+filepath.Join(rootfsDir, "bin/busybox")+" nc -w 5 "+addr+" "+port).CombinedOutput()
		return string(out)
	}
	handed := func(id string) {
		t.Helper()
		pid, err := strconv.Atoi(b("inspect", "--format", "{{.State.MonitorPid}}", id))
		if err != nil {
			t.Fatal(err)
		}
		if exe := handedTo(t, pid); exe != "berth-monitor" {
			t.Fatalf("the monitor of %s runs %s, want berth-monitor", id, exe)
		}
	}
	released := func(id, port string, networks ...string) {
		t.Helper()
		for _, n := range networks {
			if _, err := os.Stat(filepath.Join(h.root, "networks", n, "files", id)); !os.IsNotExist(err) {
				t.Errorf("the files of %s on %s are left: %v", id, n, err)
			}
		}
		if table := h.nftTable(t); strings.Contains(table, id[:12]) {
			t.Errorf("port mappings of %s left:\n%s", id, table)
		}
		if leases, _ := os.ReadFile(filepath.Join(h.root, "networks", "bridge", "ipam.json")); strings.Contains(string(leases), id) {
			t.Errorf("the lease of %s is left: %s", id, leases)
		}
		if _, err := os.Stat(filepath.Join(h.root, "networks", "bridge", "files", id)); !os.IsNotExist(err) {
			t.Errorf("the network files of %s are left: %v", id, err)
		}
		if port != "" {
			if err := listenIn(h.netnsPath(), "127.0.0.1:"+port); err != nil {
				t.Errorf("host port %s is not free: %v", port, err)
			}
		}
	}
	hostPort := func(id string) string {
		t.Helper()
		_, port, ok := strings.Cut(b("port", id, "80/tcp"), "127.0.0.1:")
		if !ok {
			t.Fatalf("port of %s: %q", id, port)
		}
		return port
	}
	reachable := func(id, port string) {
		t.Helper()
		addr := b("inspect", "--format", "{{.NetworkSettings.IPAddress}}", id)
		eventually(t, "httpd of "+id, func() string {
			if got := get(addr, "80"); !strings.Contains(got, "hello-lean") {
				return "at its address: " + got
			}
			if port != "" && !strings.Contains(get("127.0.0.1", port), "hello-lean") {
				return "at 127.0.0.1:" + port
			}
			return ""
		})
	}

	plain := run("--network", "bridge")
	published := run("-p", "127.0.0.1::80")
	handed(plain)
	handed(published)
	port := hostPort(published)
	reachable(plain, "")
	reachable(published, port)
	b("stop", plain)
	released(plain, "")
	b("rm", "-f", published)
	released(published, port)
	// Published again at once: rm -f returned with the port released.
	reuse := run("-p", "127.0.0.1:"+port+":80")
	handed(reuse)
	b("rm", "-f", reuse)
	released(reuse, port)
	b("rm", plain)

	gone := b("run", "-d", "--rm", "-p", "127.0.0.1::80", "--rootfs", rootfsDir, "/bin/sh", "-c", "sleep 2")
	gonePort := hostPort(gone)
	eventually(t, "--rm", func() string {
		if out, _ := h.berth(t, "ps", "-aq", "--no-trunc").CombinedOutput(); strings.Contains(string(out), gone) {
			return string(out)
		}
		return ""
	})
	released(gone, gonePort)

	// The second run lasts until the checks of it below are done, which
	// say so with a file in a bind mount (a fixed sleep of 3 s was too
	// short for them under CI's load); another file tells it from the
	// first.
	marks := t.TempDir()
	again := b("run", "-d", "--restart", "on-failure:1", "-p", "127.0.0.1::80", "-v", marks+":/marks", "--rootfs", rootfsDir,
		"/bin/sh", "-c", "if [ -e /marks/first ]; then while [ ! -e /marks/checked ]; do sleep 0.1; done; else touch /marks/first; sleep 0.5; fi; exit 3")
	first := b("inspect", "--format", "{{.State.MonitorPid}}", again)
	eventually(t, "the second run", func() string {
		if st := b("inspect", "--format", "{{.State.Status}} {{.State.RestartCount}}", again); st != "running 1" {
			return st
		}
		return ""
	})
	handed(again)
	againPort := hostPort(again)
	if pid := b("inspect", "--format", "{{.State.MonitorPid}}", again); pid != first {
		t.Errorf("the second run's monitor is %s, the first's %s", pid, first)
	}
	if err := os.WriteFile(filepath.Join(marks, "checked"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := b("wait", again); code != "3" {
		t.Errorf("wait: %s", code)
	}
	released(again, againPort)
	b("rm", again)

	// A network of its own, and a second one connected while it runs
	// (held by its lifetime lock, which berth-monitor keeps).
	b("network", "create", "--subnet", "10.94.0.0/24", "leannet")
	b("network", "create", "--subnet", "10.95.0.0/24", "leanmore")
	own := run("--network", "leannet")
	handed(own)
	reachable(own, "")
	b("network", "connect", "leanmore", own)
	b("stop", own)
	released(own, "", "leannet")
	b("rm", own) // the next command collects what connect made
	released(own, "", "leanmore")

	killed := run("-p", "127.0.0.1::80")
	handed(killed)
	killedPort := hostPort(killed)
	pid, _ := strconv.Atoi(b("inspect", "--format", "{{.State.MonitorPid}}", killed))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ps after berth-monitor was killed", func() string {
		if st := b("ps", "-a", "--format", "{{.ID}} {{.Status}}"); !strings.Contains(st, killed[:12]+" Dead") {
			return st
		}
		return ""
	})
	released(killed, killedPort)
	b("rm", killed)
}

// listenIn binds and listens on addr (TCP) in the network namespace at
// nsPath, then closes the socket: whether the port is free there. It
// runs on a thread of its own that enters the namespace and is never
// given back (locked, it ends with its goroutine), so no other goroutine
// runs in that namespace. No program is needed inside the test host (the
// cgroup v2 VM has no python3).
func listenIn(nsPath, addr string) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := os.Open(nsPath)
		if err != nil {
			done <- err
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("enter %s: %w", nsPath, err)
			return
		}
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
		}
		done <- err
	}()
	return <-done
}

// TestLeanMonitorStop: berth stop of a container berth-monitor runs
// records its exit itself, berth-monitor handing it the status instead
// of exec'ing berth back: even with the berth that would be exec'd back
// gone (which, exec'd back, recorded the exit before, and now the
// container would be Dead), stop -t 0 records Exited (137), no monitor
// is left and --restart always does not restart it; berth start hands
// it to berth-monitor again, and a stop with time records the
// container's own exit code; rm -f leaves no monitor, record, runtime
// state or cgroup; stop of a --rm container removes it.
func TestLeanMonitorStop(t *testing.T) {
	needLeanMonitor(t)
	before := snapshot(t)
	// A berth whose program file goes once the container is handed off.
	dir := t.TempDir()
	entries, err := os.ReadDir(filepath.Dir(berthBin))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(filepath.Dir(berthBin), e.Name())); err == nil && e.Type().IsRegular() {
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	copied := filepath.Join(dir, filepath.Base(berthBin))
	cmd := berthCommand("run", "-d", "--name", "leanstop", "--restart", "always", "--network", "none", "--rootfs", rootfsDir,
		"/bin/sh", "-c", "trap 'exit 5' TERM; while :; do sleep 0.1; done")
	cmd.Args[2] = copied // after nsenter's --net=
	if r := collect(t, cmd, "berth"); r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "leanstop")
	monitor := inspectState(t, "leanstop").MonitorPid
	if exe := monitorExe(t, "leanstop"); exe != "berth-monitor" {
		t.Fatalf("the monitor runs %s, want berth-monitor", exe)
	}
	if err := os.Remove(copied); err != nil {
		t.Fatal(err)
	}
	stopped := func(code int) {
		t.Helper()
		st := inspectState(t, "leanstop")
		if st.Status != "exited" || st.ExitCode != code || st.MonitorPid != 0 || st.RestartCount != 0 {
			t.Errorf("after stop: %+v, want exited (%d), no monitor, no restart", st, code)
		}
		if ps := mustBerth(t, "ps", "-a", "--filter", "name=leanstop", "--format", "{{.Status}}"); !strings.HasPrefix(ps, fmt.Sprintf("Exited (%d)", code)) {
			t.Errorf("ps: %q", ps)
		}
		if !processGone(monitor) {
			t.Errorf("berth-monitor %d still runs", monitor)
		}
	}
	mustBerth(t, "stop", "-t", "0", "leanstop")
	stopped(137)

	mustBerth(t, "start", "leanstop")
	monitor = inspectState(t, "leanstop").MonitorPid
	if exe := monitorExe(t, "leanstop"); exe != "berth-monitor" {
		t.Fatalf("after start the monitor runs %s, want berth-monitor", exe)
	}
	mustBerth(t, "stop", "leanstop")
	stopped(5)

	mustBerth(t, "start", "leanstop")
	monitor = inspectState(t, "leanstop").MonitorPid
	if exe := monitorExe(t, "leanstop"); exe != "berth-monitor" {
		t.Fatalf("after start the monitor runs %s, want berth-monitor", exe)
	}
	id := strings.TrimSpace(mustBerth(t, "inspect", "--format", "{{.Id}}", "leanstop"))
	mustBerth(t, "rm", "-f", "leanstop")
	if !processGone(monitor) {
		t.Errorf("berth-monitor %d still runs after rm -f", monitor)
	}
	if r := berth(t, "", "inspect", "leanstop"); r.code == 0 {
		t.Errorf("inspect after rm -f: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(stateRoot, id)); !os.IsNotExist(err) {
		t.Errorf("the runtime record is left: %v", err)
	}

	// --rm: the stop that records the exit removes it too.
	r := berth(t, "", "run", "-d", "--rm", "--name", "leanstoprm", "--network", "none", "--rootfs", rootfsDir, "sleep", "1000")
	if r.code != 0 {
		t.Fatalf("run -d --rm: %+v", r)
	}
	if exe := monitorExe(t, "leanstoprm"); exe != "berth-monitor" {
		t.Fatalf("the --rm container's monitor runs %s, want berth-monitor", exe)
	}
	mustBerth(t, "stop", "-t", "0", "leanstoprm")
	if r := berth(t, "", "inspect", "leanstoprm"); r.code == 0 {
		t.Errorf("inspect after stop of a --rm container: %+v", r)
	}
	checkNoLeaks(t, before)
}

// processGone reports whether pid has exited (a zombie, not yet reaped
// by whoever inherited it, has).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z") || strings.HasPrefix(rest, "X")
}
