package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/testutil/ccbuild"
)

// berthMonitor is cmd/berth-monitor built with the undefined-behaviour
// sanitizer.
var berthMonitor = ccbuild.Sanitized("berth-monitor", "cmd/berth-monitor/*.c")

// TestMain removes the test's build of berth-monitor; run as
// monitorLaunchEnv, it is launchMonitor instead.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == lateNotifyArg {
		lateNotify(os.Args[2:])
	}
	if os.Getenv(monitorLaunchEnv) != "" {
		launchMonitor(os.Args[1], os.Args[2:])
	}
	code := m.Run()
	berthMonitor.Remove()
	os.Exit(code)
}

// monitorLaunchEnv makes the test binary launchMonitor.
const monitorLaunchEnv = "BERTH_TEST_LAUNCH_MONITOR"

// launchMonitor does what berth's monitor does before it hands a
// container to berth-monitor: it starts a child (the shell script, its
// stdout and stderr on fds 5 and 6, whose read ends are 3 and 4) and
// execs berth-monitor (argv[0], the rest of its command line after the
// descriptors) in the same process. Go, unlike a shell, never reaps a
// child it was not asked to wait for.
func launchMonitor(script string, argv []string) {
	for fd := 3; fd <= 6; fd++ {
		syscall.CloseOnExec(fd)
	}
	null, _ := os.Open(os.DevNull)
	p, err := os.StartProcess("/bin/sh", []string{"sh", "-c", script},
		&os.ProcAttr{Files: []*os.File{null, os.NewFile(5, "out"), os.NewFile(6, "err")}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, fd := range []int{3, 4} {
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFD, 0); e != 0 {
			os.Exit(1)
		}
	}
	args := append([]string{argv[0], fmt.Sprint(p.Pid), "3", "4"}, argv[1:]...)
	err = syscall.Exec(argv[0], args, os.Environ())
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// lateNotifyArg, first, makes the test binary lateNotify, as
// berth-monitor execs it back.
const lateNotifyArg = "berth-test-late-notify"

// lateNotify is a Go program that takes its time before it registers for
// any signal, as berth does between its start and MonitorExited's
// signal.Notify: it writes its arguments (the result file, then what
// berth-monitor appended) to the file args[0] after 300 ms, unless a
// signal killed it first.
func lateNotify(args []string) {
	time.Sleep(300 * time.Millisecond)
	if err := os.WriteFile(args[0], []byte(strings.Join(args[1:], " ")+"\n"), 0o600); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// monitorRun is berth-monitor started as berth's monitor execs it (see
// launchMonitor). What it execs back is a shell that writes its
// arguments (berth-monitor's status last) to a file.
type monitorRun struct {
	cmd     *exec.Cmd
	log     string
	result  string
	stop    string // the stop lock berth-monitor looks at
	stopped chan error
}

func startMonitor(t *testing.T, script string) *monitorRun {
	t.Helper()
	return startMonitorBack(t, script, false)
}

// startMonitorBack is startMonitor; with goBack, what berth-monitor execs
// back is a Go program (lateNotify) instead of a shell.
func startMonitorBack(t *testing.T, script string, goBack bool) *monitorRun {
	t.Helper()
	bin := berthMonitor.Path(t)
	dir := t.TempDir()
	m := &monitorRun{log: filepath.Join(dir, "container.log"), result: filepath.Join(dir, "result"), stopped: make(chan error, 1)}
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	defer outW.Close()
	defer errW.Close()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	m.stop = filepath.Join(dir, stopLockName)
	back := []string{"/bin/sh", "-c", `echo "$@" > "$0"`, m.result}
	if goBack {
		back = []string{self, lateNotifyArg, m.result}
	}
	m.cmd = exec.Command(self, append([]string{script, bin, m.log, "0", "1", "--stop-lock=" + m.stop}, back...)...)
	m.cmd.Env = append(os.Environ(), monitorLaunchEnv+"=1")
	m.cmd.ExtraFiles = []*os.File{outR, errR, outW, errW}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outR.Close()
	errR.Close()
	go func() { m.stopped <- m.cmd.Wait() }()
	return m
}

// wait returns the status berth-monitor passed on, within limit.
func (m *monitorRun) wait(t *testing.T, limit time.Duration) string {
	t.Helper()
	select {
	case err := <-m.stopped:
		if err != nil {
			t.Fatalf("berth-monitor, then the shell it execs: %v", err)
		}
	case <-time.After(limit):
		_ = m.cmd.Process.Kill()
		t.Fatalf("berth-monitor still runs after %v", limit)
	}
	b, err := os.ReadFile(m.result)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// waitReady waits until the child's "ready" is in the log: berth-monitor
// has its signalfd by then.
func (m *monitorRun) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(m.log); bytes.Contains(b, []byte("ready")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the child never wrote ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// entries reads the log back as stream: text lines.
func (m *monitorRun) entries(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(m.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e struct{ Log, Stream string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, e.Stream+": "+e.Log)
	}
	return out
}

// TestBerthMonitorLogsAndExecsBack: berth-monitor logs both streams, a
// partial last line included, reaps its child and execs what it was
// given with the child's wait status appended.
func TestBerthMonitorLogsAndExecsBack(t *testing.T) {
	m := startMonitor(t, `printf 'out\npart'; echo err >&2; exit 3`)
	if st := m.wait(t, 10*time.Second); st != "768" { // exit 3
		t.Errorf("status %q, want 768", st)
	}
	got := strings.Join(m.entries(t), "|")
	for _, want := range []string{"stdout: out\n", "stdout: part", "stderr: err\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
}

// TestBerthMonitorForwardsSignals: SIGTERM to berth-monitor reaches its
// child (berth stop when there is no process to signal), and the exit it
// causes is passed on.
func TestBerthMonitorForwardsSignals(t *testing.T) {
	m := startMonitor(t, `trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done`)
	m.waitReady(t)
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st := m.wait(t, 10*time.Second); st != "1792 --stopped" { // exit 7, told to stop
		t.Errorf("status %q, want 1792 --stopped", st)
	}
}

// TestMonitorSurvivesStopWhileBerthStarts: the signal berth stop sends a
// monitor (monitorStopSignal) does not kill the berth that berth-monitor
// execs back before that berth has registered for it: the signal is sent
// without a pause from the container's last moments to the end of the
// Go program berth-monitor execs, which registers for none. SIGTERM
// killed it.
func TestMonitorSurvivesStopWhileBerthStarts(t *testing.T) {
	m := startMonitorBack(t, `echo ready; while :; do sleep 0.05; done`, true)
	m.waitReady(t)
	done := make(chan struct{})
	sent := make(chan int)
	go func() {
		n := 0
		defer func() { sent <- n }()
		for {
			select {
			case <-done:
				return
			default:
			}
			if m.cmd.Process.Signal(monitorStopSignal) == nil {
				n++
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var err error
	select {
	case err = <-m.stopped:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		err = <-m.stopped
	}
	close(done)
	n := <-sent
	if err != nil {
		t.Fatalf("berth-monitor, then the Go program it execs, with %d signals sent: %v", n, err)
	}
	b, err := os.ReadFile(m.result)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); !strings.HasSuffix(got, " --stopped") {
		t.Errorf("berth-monitor passed on %q, want a status and --stopped", got)
	}
}

// TestBerthMonitorHandsExitToStop: with the stop lock held (berth stop
// waiting), berth-monitor writes the wait status into it and exits
// without exec'ing berth back; with the lock there but free (its
// stopper died), it execs berth back.
func TestBerthMonitorHandsExitToStop(t *testing.T) {
	// The child exits once the test made the stop lock, as berth stop
	// makes it before it signals.
	gate := func() (string, string) {
		p := filepath.Join(t.TempDir(), "go")
		return p, fmt.Sprintf(`while [ ! -e %s ]; do sleep 0.01; done; exit 3`, p)
	}
	goFile, script := gate()
	m := startMonitor(t, script)
	lock, err := os.OpenFile(m.stop, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-m.stopped:
		if err != nil {
			t.Fatalf("berth-monitor: %v", err)
		}
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		t.Fatal("berth-monitor still runs")
	}
	if b, _ := os.ReadFile(m.stop); string(b) != "768\n" {
		t.Errorf("the stop lock holds %q, want the status 768", b)
	}
	if _, err := os.Stat(m.result); !os.IsNotExist(err) {
		t.Errorf("berth-monitor exec'd back too: %v", err)
	}

	goFile, script = gate()
	free := startMonitor(t, script)
	if err := os.WriteFile(free.stop, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if st := free.wait(t, 10*time.Second); st != "768" {
		t.Errorf("status %q, want 768", st)
	}
	if b, _ := os.ReadFile(free.stop); len(b) != 0 {
		t.Errorf("a free stop lock was written: %q", b)
	}
}

// TestBerthMonitorDoesNotWaitForEscapees: a process that outlives the
// child and keeps its pipes open does not hold berth-monitor.
func TestBerthMonitorDoesNotWaitForEscapees(t *testing.T) {
	m := startMonitor(t, `sleep 3 & echo left; exit 0`)
	if st := m.wait(t, 5*time.Second); st != "0" {
		t.Errorf("status %q, want 0", st)
	}
	if got := m.entries(t); len(got) != 1 || got[0] != "stdout: left\n" {
		t.Errorf("log %q", got)
	}
}

// TestBerthMonitorRefusesBadArguments: anything but its command line
// exits 2 with one line, before it touches anything.
func TestBerthMonitorRefusesBadArguments(t *testing.T) {
	bin := berthMonitor.Path(t)
	for _, args := range [][]string{
		nil,
		{"1", "3", "4", "log", "0", "1"}, // nothing to exec
		{"1", "3", "4", "log", "0", "1", "--stop-lock=x"}, // nothing to exec
		{"x", "3", "4", "log", "0", "1", "/bin/true"},     // PID
		{"0", "3", "4", "log", "0", "1", "/bin/true"},     // PID 0
		{"1", "2", "4", "log", "0", "1", "/bin/true"},     // a standard stream
		{"1", "3", "4", "log", "-1", "1", "/bin/true"},    // size
		{"1", "3", "4", "log", "0", "0", "/bin/true"},     // files
		{"1", "3", "4", "log", "10k", "1", "/bin/true"},   // units are berth's
		{"1", "3", "4x", "log", "0", "1", "/bin/true"},    // trailing junk
		{"1", "3", "4", "log", "0", "99999999999999999999", "/bin/true"},
		{"1", "0", "1", "log", "0", "1", "/bin/true"}, // stdin, stdout
		{"1", "3", "4", "log", "0", "1", "/bin/true"}, // PID 1 is not its child
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || strings.Count(string(out), "\n") != 1 {
			t.Errorf("berth-monitor %q: %v, %q", args, err, out)
		}
	}
}
