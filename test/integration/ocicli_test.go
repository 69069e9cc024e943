package integration

// berth-oci's command line as runc 1.1.5's: what runc's own bats suite
// (tests/integration) and the engines that drive runc check.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ociWithin runs berth-oci and fails the test if it has not finished
// within d: for commands that must not wait on another one.
func ociWithin(t *testing.T, d time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, ociBin, append([]string{"--root", ociRoot}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("berth-oci %s did not finish within %v", strings.Join(args, " "), d)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// TestOCIReadOnlyCommandsDoNotWaitForRun: a foreground run holds its
// container's lock for the container's whole life; state, list, ps and
// events must still answer at once.
func TestOCIReadOnlyCommandsDoNotWaitForRun(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"sleep", "1000"}, nil)
	run := exec.Command(ociBin, "--root", ociRoot, "run", "--bundle", bundle, "fgrun")
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if b, err := os.ReadFile(filepath.Join(ociRoot, "fgrun", "state.json")); err == nil {
			var rec struct{ Pid int }
			json.Unmarshal(b, &rec)
			if rec.Pid > 0 {
				unix.Kill(rec.Pid, unix.SIGKILL)
			}
		}
		run.Process.Kill()
		run.Wait()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(ociRoot, "fgrun", "state.json"))
		if strings.Contains(string(b), `"status":"running"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the foreground container never ran")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := ociWithin(t, 10*time.Second, "state", "fgrun")
	if r.code != 0 || !strings.Contains(r.stdout, `"status": "running"`) {
		t.Errorf("state: %+v", r)
	}
	if r := ociWithin(t, 10*time.Second, "list", "-q"); !strings.Contains(r.stdout, "fgrun") {
		t.Errorf("list: %+v", r)
	}
	if r := ociWithin(t, 10*time.Second, "ps", "-f", "json", "fgrun"); r.code != 0 || !regexp.MustCompile(`^\[[0-9]+\]\n$`).MatchString(r.stdout) {
		t.Errorf("ps: %+v", r)
	}
	if r := ociWithin(t, 10*time.Second, "events", "--stats", "fgrun"); r.code != 0 || !strings.Contains(r.stdout, `"type":"stats"`) {
		t.Errorf("events --stats: %+v", r)
	}
	// kill neither (runc's tty.bats kills a foreground run this way): it
	// ends the container, and the run exits with its status.
	if r := ociWithin(t, 10*time.Second, "kill", "fgrun", "KILL"); r.code != 0 {
		t.Errorf("kill: %+v", r)
	}
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	select {
	case <-done:
		if run.ProcessState.ExitCode() != 137 {
			t.Errorf("the foreground run exited %d after kill, want 137", run.ProcessState.ExitCode())
		}
		run = exec.Command("true") // waited for: nothing for the cleanup to end
		run.Run()
	case <-time.After(10 * time.Second):
		t.Errorf("the foreground run did not end after kill")
	}
}

// TestOCIExecCreatedAndPaused: runc execs into a created container, refuses
// a paused one with status 255 unless --ignore-paused, and then the
// process runs once the container is resumed.
func TestOCIExecCreatedAndPaused(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"sleep", "1000"}, nil)
	ociCreate(t, "execcreated", bundle)
	if r := ociWithin(t, 20*time.Second, "exec", "execcreated", "echo", "in-created"); r.code != 0 || r.stdout != "in-created\n" {
		t.Errorf("exec into a created container: %+v", r)
	}
	if st := ociState(t, "execcreated"); st.Status != specs.StateCreated {
		t.Errorf("after exec the container is %s, want created", st.Status)
	}
	if r := oci(t, "start", "execcreated"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	if r := oci(t, "pause", "execcreated"); r.code != 0 {
		t.Fatalf("pause: %+v", r)
	}
	r := ociWithin(t, 20*time.Second, "exec", "execcreated", "echo", "ok")
	if r.code != 255 || !strings.Contains(r.stderr, "cannot exec in a paused container") {
		t.Errorf("exec into a paused container: %+v", r)
	}
	go func() {
		time.Sleep(time.Second)
		oci(t, "resume", "execcreated")
	}()
	if r := ociWithin(t, 20*time.Second, "exec", "--ignore-paused", "execcreated", "echo", "ok"); r.code != 0 || r.stdout != "ok\n" {
		t.Errorf("exec --ignore-paused: %+v", r)
	}
}

// TestOCIExecExitStatus: runc's exec exits 255 for its own failures, and
// with the process's status otherwise (exec.bats "exit codes").
func TestOCIExecExitStatus(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"sleep", "1000"}, nil)
	if r := oci(t, "run", "--detach", "--bundle", bundle, "execstatus"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	defer oci(t, "delete", "--force", "execstatus")
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"execstatus", "false"}, 1},
		{[]string{"execstatus", "sh", "-c", "exit 42"}, 42},
		{[]string{"--pid-file", "/non-existent/directory", "execstatus", "true"}, 255},
		{[]string{"execstatus", "no-such-binary"}, 255},
		{[]string{"no_such_container", "true"}, 255},
	} {
		if r := oci(t, append([]string{"exec"}, c.args...)...); r.code != c.want {
			t.Errorf("exec %v: status %d, want %d (%q)", c.args, r.code, c.want, r.stderr)
		}
	}
	// A failed pid file leaves no process behind.
	if r := oci(t, "ps", "-f", "json", "execstatus"); !regexp.MustCompile(`^\[[0-9]+\]\n$`).MatchString(r.stdout) {
		t.Errorf("processes left after the failed execs: %+v", r)
	}
}

// TestOCIDebugLog: --debug writes logrus-format debug lines to stderr, or
// to --log in text or json (debug.bats).
func TestOCIDebugLog(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"echo", "Hello World"}, nil)
	textLine := regexp.MustCompile(`(?m)^time="[^"]+" level=debug msg="[^"]+`)
	r := oci(t, "--debug", "run", "--bundle", bundle, "dbg1")
	if r.code != 0 || !textLine.MatchString(r.stderr) || r.stdout != "Hello World\n" {
		t.Errorf("--debug to stderr: %+v", r)
	}
	for _, steps := range []string{"nsexec container setup", "child process in init()", "init: closing the pipe to signal completion"} {
		if !strings.Contains(r.stderr, steps) {
			t.Errorf("--debug does not log %q (runc's debug.bats looks for it): %s", steps, r.stderr)
		}
	}
	for _, format := range []string{"", "text", "json"} {
		log := filepath.Join(t.TempDir(), "log.out")
		args := []string{"--log", log}
		if format != "" {
			args = append(args, "--log-format", format)
		}
		r := oci(t, append(args, "--debug", "run", "--bundle", bundle, "dbg2")...)
		b, _ := os.ReadFile(log)
		if r.code != 0 || strings.Contains(r.stderr, "level=debug") {
			t.Errorf("--log %s: %+v", format, r)
		}
		if format == "json" {
			var line struct{ Level, Msg, Time string }
			first, _, _ := strings.Cut(string(b), "\n")
			if err := json.Unmarshal([]byte(first), &line); err != nil || line.Level != "debug" || line.Msg == "" || line.Time == "" || !strings.Contains(string(b), `"level":"debug"`) {
				t.Errorf("--log-format json: %v %q", err, b)
			}
		} else if !textLine.Match(b) {
			t.Errorf("--log-format %q: %q", format, b)
		}
	}
	// exec logs its own steps (exec.bats "--debug exec").
	long := ociBundle(t, []string{"sleep", "1000"}, nil)
	if r := oci(t, "run", "--detach", "--bundle", long, "dbgexec"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	defer oci(t, "delete", "--force", "dbgexec")
	r = oci(t, "--debug", "exec", "dbgexec", "true")
	log := filepath.Join(t.TempDir(), "log.out")
	r2 := oci(t, "--debug", "--log", log, "exec", "dbgexec", "true")
	b, _ := os.ReadFile(log)
	for _, steps := range []string{"nsexec container setup", "child process in init()", "setns_init: about to exec"} {
		if r.code != 0 || !strings.Contains(r.stderr, steps) {
			t.Errorf("--debug exec does not log %q: %+v", steps, r)
		}
		if r2.code != 0 || !strings.Contains(string(b), steps) || strings.Contains(r2.stderr, "level=debug") {
			t.Errorf("--debug --log exec does not log %q there: %q %+v", steps, b, r2)
		}
	}

	// Without --debug nothing is logged at debug level.
	log = filepath.Join(t.TempDir(), "log.out")
	oci(t, "--log", log, "run", "--bundle", bundle, "dbg3")
	if b, _ := os.ReadFile(log); strings.Contains(string(b), "debug") {
		t.Errorf("debug lines without --debug: %q", b)
	}
}

// TestOCIKillSignalZero: signal 0 probes that the container lives.
func TestOCIKillSignalZero(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"sleep", "1000"}, nil)
	if r := oci(t, "run", "--detach", "--bundle", bundle, "kill0"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	defer oci(t, "delete", "--force", "kill0")
	for _, args := range [][]string{{"kill", "kill0", "0"}, {"kill", "-a", "kill0", "0"}} {
		if r := oci(t, args...); r.code != 0 {
			t.Errorf("%v: %+v", args, r)
		}
	}
	if st := ociState(t, "kill0"); st.Status != specs.StateRunning {
		t.Errorf("after signal 0 the container is %s", st.Status)
	}
}

// TestOCIOutputAsRunc: list, ps and state print runc's JSON; help and
// version are runc's layout (help.bats, version.bats, list.bats).
func TestOCIOutputAsRunc(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"sleep", "1000"}, nil)
	root := filepath.Join(t.TempDir(), "alt")
	os.MkdirAll(root, 0o700)
	ociAlt := func(args ...string) result { return oci(t, append([]string{"--root", root}, args...)...) }
	if r := ociAlt("list", "--format", "json"); r.code != 0 || r.stdout != "null\n" {
		t.Errorf("list --format json of no containers: %+v", r)
	}
	for _, id := range []string{"box1", "box2"} {
		if r := ociAlt("run", "--detach", "--bundle", bundle, id); r.code != 0 {
			t.Fatalf("run: %+v", r)
		}
		defer ociAlt("delete", "--force", id)
	}
	entry := `\{"ociVersion":"[0-9.]+[^"]*","id":"%s","pid":[0-9]+,"status":"running","bundle":"%s","rootfs":"%s/rootfs","created":"[^"]+","owner":"root"\}`
	want := regexp.MustCompile(`^\[` + fmt.Sprintf(entry, "box1", bundle, bundle) + "," + fmt.Sprintf(entry, "box2", bundle, bundle) + `\]\n$`)
	if r := ociAlt("list", "--format", "json"); !want.MatchString(r.stdout) {
		t.Errorf("list --format json:\n%s\nwant %s", r.stdout, want)
	}
	if r := ociAlt("ps", "-f", "json", "box1"); !regexp.MustCompile(`^\[[0-9]+\]\n$`).MatchString(r.stdout) {
		t.Errorf("ps -f json: %q", r.stdout)
	}
	r := ociAlt("state", "box1")
	var st map[string]any
	json.Unmarshal([]byte(r.stdout), &st)
	for _, k := range []string{"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"} {
		if _, ok := st[k]; !ok {
			t.Errorf("state lacks %q: %s", k, r.stdout)
		}
	}

	for _, flag := range []string{"-h", "--help"} {
		r := oci(t, flag)
		lines := strings.Split(r.stdout, "\n")
		if r.code != 0 || len(lines) < 2 || lines[0] != "NAME:" || !strings.Contains(lines[1], "runc - Open Container Initiative runtime") {
			t.Errorf("berth-oci %s: %+v", flag, r)
		}
	}
	for _, cmd := range []string{"checkpoint", "delete", "events", "exec", "kill", "list", "pause", "restore", "resume", "spec", "start", "run", "state", "update"} {
		r := oci(t, cmd, "-h")
		lines := strings.Split(r.stdout, "\n")
		if cmd == "checkpoint" || cmd == "restore" {
			// Another part of the issue adds them.
			if r.code != 0 {
				continue
			}
		}
		if r.code != 0 || len(lines) < 2 || lines[0] != "NAME:" || !regexp.MustCompile(`runc `+cmd+`\b`).MatchString(lines[1]) {
			t.Errorf("berth-oci %s -h: %+v", cmd, r)
		}
	}
	if r := oci(t, "foo", "-h"); r.code == 0 || !strings.Contains(r.stdout+r.stderr, "No help topic for 'foo'") {
		t.Errorf("berth-oci foo -h: %+v", r)
	}
	r = oci(t, "-v")
	lines := strings.Split(r.stdout, "\n")
	if r.code != 0 || len(lines) < 4 || !regexp.MustCompile(`^runc version [0-9]+\.[0-9]+\.[0-9]+`).MatchString(lines[0]) ||
		!strings.HasPrefix(lines[1], "commit:") || !regexp.MustCompile(`^spec: [0-9]+\.[0-9]+\.[0-9]+`).MatchString(lines[2]) ||
		!strings.Contains(r.stdout, "berth-oci") {
		t.Errorf("berth-oci -v: %+v", r)
	}
	if r2 := oci(t, "--version"); r2.stdout != r.stdout {
		t.Errorf("--version %q differs from -v %q", r2.stdout, r.stdout)
	}
}

// TestOCIRunKeep: run --keep leaves the stopped container for delete.
func TestOCIRunKeep(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	bundle := ociBundle(t, []string{"sh", "-c", "exit 3"}, nil)
	if r := oci(t, "run", "--keep", "--bundle", bundle, "kept"); r.code != 3 {
		t.Fatalf("run --keep: %+v", r)
	}
	if st := ociState(t, "kept"); st.Status != specs.StateStopped {
		t.Errorf("kept container is %s", st.Status)
	}
	// Its cgroup stays until delete (run.bats "check cgroup exists").
	cg := "/sys/fs/cgroup/pids/berth/kept"
	if cgroupVersion(t) == "v2" {
		cg = "/sys/fs/cgroup/berth/kept"
	}
	if _, err := os.Stat(filepath.Join(cg, "pids.max")); err != nil {
		t.Errorf("the kept container's cgroup: %v", err)
	}
	if r := oci(t, "delete", "kept"); r.code != 0 {
		t.Errorf("delete: %+v", r)
	}
	if r := oci(t, "state", "kept"); r.code == 0 {
		t.Errorf("still there after delete: %+v", r)
	}
	checkNoLeaks(t, before)
}

// TestOCISpecAsRunc: berth-oci spec writes runc spec's config, the
// version of the runtime spec apart.
func TestOCISpecAsRunc(t *testing.T) {
	needRoot(t)
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc is not installed")
	}
	read := func(bin string, args ...string) map[string]any {
		dir := t.TempDir()
		cmd := exec.Command(bin, append([]string{"spec"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s spec: %v %s", bin, err, out)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "ociVersion")
		return m
	}
	for _, args := range [][]string{nil, {"--rootless"}} {
		want, _ := json.MarshalIndent(read(runc, args...), "", " ")
		got, _ := json.MarshalIndent(read(ociBin, args...), "", " ")
		if string(got) != string(want) {
			t.Errorf("berth-oci spec %v differs from runc's:\n%s\nrunc:\n%s", args, got, want)
		}
	}
}

// TestOCITerminalOwner: the pty of a non-root process belongs to its uid,
// in devpts's tty group (gid=5), as runc's tty.bats "tty owner" checks,
// for the container's process and exec's.
func TestOCITerminalOwner(t *testing.T) {
	needRoot(t)
	sockPath, masterc := consoleSocket(t)
	bundle := ociBundle(t, []string{"sh", "-c", "stat -c %u:%g $(tty); exec sleep 1000"}, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.User = specs.User{UID: 1000, GID: 1001}
	})
	ociCreate(t, "ttyowner", bundle, "--console-socket", sockPath)
	master := <-masterc
	if master == nil {
		t.Fatal("no pty master")
	}
	defer master.Close()
	if r := oci(t, "start", "ttyowner"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	line, _ := bufio.NewReader(master).ReadString('\n')
	if strings.TrimSpace(line) != "1000:5" {
		t.Errorf("the container's terminal is owned by %q, want 1000:5", line)
	}
	sock2, master2c := consoleSocket(t)
	done := make(chan result, 1)
	go func() {
		done <- oci(t, "exec", "-t", "--console-socket", sock2, "--user", "1002:1003", "ttyowner", "sh", "-c", "stat -c %u:%g $(tty)")
	}()
	m2 := <-master2c
	if m2 == nil {
		t.Fatal("no pty master for exec")
	}
	defer m2.Close()
	line, _ = bufio.NewReader(m2).ReadString('\n')
	<-done
	if strings.TrimSpace(line) != "1002:5" {
		t.Errorf("the exec'd process's terminal is owned by %q, want 1002:5", line)
	}
}

var _ = strconv.Itoa

// TestOCIExecCwdOutOfUsersReach: runc's cwd.bats. The working directory is
// entered before the process's user and capabilities are set, so an exec
// as a root without CAP_DAC_OVERRIDE into a cwd of mode 0700 owned by
// another user starts there, as with runc.
func TestOCIExecCwdOutOfUsersReach(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Process.Cwd = "/home42"
		s.Process.User.UID = 42
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"}}
	})
	home := filepath.Join(bundle, "rootfs", "home42")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chown(home, 42, 42)
	ociRunDetached(t, "cwdreach", bundle)
	if r := ociWithin(t, 20*time.Second, "exec", "--user", "0", "cwdreach", "sh", "-c", "pwd"); r.code != 0 || r.stdout != "/home42\n" {
		t.Errorf("exec --user 0 with a cwd only uid 42 may enter: %+v", r)
	}
}
