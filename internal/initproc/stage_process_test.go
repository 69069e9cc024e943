package initproc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The C stage's process half (cmd/berth-stage report.c and process.c),
// driven by its checker (check/process_main.c) with a config filled in by
// hand: what it reports to berth, and what the program it execs gets.
// Its results are held against the Go stage's where both can be asked.

// buildStageProcessCheck builds the checker as the Makefile builds
// berth-stage (static, warnings as errors) into dir.
func buildStageProcessCheck(t *testing.T, dir string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the checker changes its identity and namespaces")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed")
	}
	_, here, _, _ := runtime.Caller(0)
	stage := filepath.Join(filepath.Dir(here), "../../cmd/berth-stage")
	bin := filepath.Join(dir, "process-check")
	args := []string{"-static", "-Os", "-Wall", "-Wextra", "-Werror", "-std=gnu11", "-o", bin,
		filepath.Join(stage, "check/process_main.c"), filepath.Join(stage, "report.c"), filepath.Join(stage, "process.c"), filepath.Join(stage, "proc.c")}
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("build the checker: %v\n%s", err, out)
	}
	return bin
}

// stageSocket is berth's end of a sync socket and the stage's, as berth
// makes them: SOCK_SEQPACKET, one message a read.
func stageSocket(t *testing.T) (*net.UnixConn, *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours := os.NewFile(uintptr(fds[0]), "sync")
	defer ours.Close()
	c, err := net.FileConn(ours)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "sync child")
}

// readStageMessage reads one message; nil at the end (every copy of the
// stage's end closed).
func readStageMessage(t *testing.T, c *net.UnixConn) *Message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 1<<16)
	n, err := c.Read(buf)
	if errors.Is(err, io.EOF) || (err == nil && n == 0) {
		return nil
	}
	if err != nil {
		t.Fatalf("read the stage's message: %v", err)
	}
	var m Message
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		t.Fatalf("the stage's message %q: %v", buf[:n], err)
	}
	return &m
}

// cgroupLine is a line of /proc/self/cgroup.
var cgroupLine = regexp.MustCompile(`^[0-9]+:[^:]*:/`)

type stageRun struct {
	code           int
	stdout, stderr string
}

// runStageCheck runs the checker with the stage's end of sock at fd 3
// (after files, if any, which come first) and "go" sent, and waits.
func runStageCheck(t *testing.T, cmd *exec.Cmd) stageRun {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	r := stageRun{stdout: out.String(), stderr: errb.String()}
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

func TestStageProcess(t *testing.T) {
	dir := t.TempDir()
	bin := buildStageProcessCheck(t, dir)
	// With no_new_privs the filter comes after the identity change;
	// without, before (it needs CAP_SYS_ADMIN then).
	t.Run("Run", func(t *testing.T) { testStageProcessRun(t, bin, true) })
	t.Run("RunPrivs", func(t *testing.T) { testStageProcessRun(t, bin, false) })
	t.Run("Lookup", func(t *testing.T) { testStageProcessLookup(t, bin) })
	t.Run("ParentGone", func(t *testing.T) { testStageProcessParentGone(t, bin) })
}

// testStageProcessRun runs main.c's steps after the mounts, in new PID,
// UTS and network namespaces (no user namespace), and checks what the
// program sees: identity, capabilities, limits, the filter, descriptors.
func testStageProcessRun(t *testing.T, bin string, noNewPrivs bool) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("/bin/busybox is not installed")
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "exec.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	fifoFD, err := unix.Open(fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fifoPath := os.NewFile(uintptr(fifoFD), "exec.fifo")
	defer fifoPath.Close()
	preserved, err := os.Create(filepath.Join(dir, "preserved"))
	if err != nil {
		t.Fatal(err)
	}
	defer preserved.Close()
	pids, err := os.Create(filepath.Join(dir, "pids.max"))
	if err != nil {
		t.Fatal(err)
	}
	defer pids.Close()
	sock, child := stageSocket(t)
	if _, err := sock.Write([]byte("go")); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// --kill-child: a test that gives up takes the stage with it.
	args := []string{"-p", "-f", "--kill-child", "-u", "-n", "--mount-proc", bin, "4", "run", dir}
	nnp := "NoNewPrivs:\t1"
	if !noNewPrivs {
		args = append(args, "privs")
		nnp = "NoNewPrivs:\t0"
	}
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.ExtraFiles = []*os.File{preserved, child, fifoPath, pids} // 3, 4, 5, 6
	// A pipe, replaced by /dev/null (devnull 0).
	cmd.Stdin = strings.NewReader("")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	m := readStageMessage(t, sock)
	if m == nil || m.Type != MsgCreated {
		cancel()
		<-done
		t.Fatalf("want %q first, got %+v\nstderr: %s", MsgCreated, m, errb.String())
	}
	select {
	case err := <-done:
		t.Fatalf("the stage did not wait for start: %v\n%s%s", err, out.String(), errb.String())
	case <-time.After(100 * time.Millisecond):
	}
	// start: the stage holds the FIFO read-write, so this open does not block.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte{0})
	w.Close()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	// The exec closed the socket (close_range's CLOEXEC) without a word.
	if m := readStageMessage(t, sock); m != nil {
		t.Fatalf("after the exec: %+v", m)
	}

	keys := ""
	if _, err := os.Stat("/proc/keys"); err == nil {
		keys = "1"
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{
		"1000", "1000", "1000 10 20", // id -u, -g, -G
		// Inheritable as given, ambient within permitted and inheritable
		// (CAP_KILL and CAP_SYS_ADMIN left out), which the exec as uid
		// 1000 makes permitted and effective; bounding as given; bit 63
		// ignored.
		"CapInh:\t0000000000000401",
		"CapPrm:\t0000000000000401",
		"CapEff:\t0000000000000401",
		"CapBnd:\t0000000000002421",
		"CapAmb:\t0000000000000401",
		nnp,
		"1234", "2048", // RLIMIT_NOFILE
		"0027", // umask
		dir,    // cwd
		"stagetest", "stage.example",
		"500",       // oom_score_adj
		"77", "100", // the sysctls, in the new network namespace
	}
	if len(got) < len(want) {
		t.Fatalf("output:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("line %d: got %q, want %q", i+1, got[i], w)
		}
	}
	rest := strings.Join(got[len(want):], "\n")
	// A new cgroup namespace: every hierarchy's root is the process's own.
	for _, l := range got[len(want):] {
		if cgroupLine.MatchString(l) && !strings.HasSuffix(l, ":/") {
			t.Errorf("cgroup %q: not the namespace's root", l)
		}
	}
	for _, w := range []string{"<LOOPBACK,UP", "\n/dev/null\n", "\n" + preserved.Name() + "\n", "\npid 1\n", "\ndone"} {
		if !strings.Contains("\n"+rest, w) {
			t.Errorf("output lacks %q:\n%s", w, rest)
		}
	}
	if keys != "" && !strings.Contains(rest, "\n"+keys+"\npid 1") {
		t.Errorf("no session keyring _ses.berth:\n%s", rest)
	}
	for _, bad := range []string{"sync-leaked", "fifo-leaked"} {
		if strings.Contains(rest, bad) {
			t.Errorf("%s:\n%s", bad, rest)
		}
	}
	if !strings.Contains(errb.String(), "can't create directory 'x': Operation not permitted") {
		t.Errorf("mkdir was not refused by the filter:\n%s", errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("mkdir made x")
	}
	if b, _ := os.ReadFile(pids.Name()); string(b) != "42" {
		t.Errorf("pids limit written: %q, want \"42\"", b)
	}
}

// testStageProcessLookup checks lookup_program's and exec_program's
// reports against the Go stage's lookPath and execError.
func testStageProcessLookup(t *testing.T, bin string) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := write("plain", "text\n", 0o644)
	garbage := write("garbage", "\x00\x01\x02\x03", 0o755)
	noInterp := write("nointerp", "#!/no/such/interpreter\n", 0o755)
	if err := os.MkdirAll(filepath.Join(dir, "a/prog"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	prog := write("b/prog", "#!/bin/sh\n", 0o755)
	write("b/dir-first", "", 0o755)

	weird := "a\"b\\c\nd\x01 é"
	cases := []struct {
		name, path string // path "-": no PATH at all
		found      string // the program found, or "" for an error
	}{
		{"nosuchprogram", "/usr/bin:/bin", ""},
		{"/no/such/program", "-", ""},
		{"/no/such/dir/../program", "-", ""},
		{plain + "/x", "-", ""},              // ENOTDIR: 127
		{dir, "-", ""},                       // a directory: 126
		{plain, "-", ""},                     // not executable: 126
		{"plain", dir + ":/nonexistent", ""}, // denied beats not found
		{"prog", filepath.Join(dir, "a") + ":" + filepath.Join(dir, "b"), prog}, // a/prog is a directory
		{"prog", "/nonexistent::" + filepath.Join(dir, "b"), prog},
		{prog, "-", prog},
		{weird, "/usr/bin", ""},
	}
	for _, tc := range cases {
		var env []string
		args := []string{"3", "lookup", tc.name}
		if tc.path != "-" {
			env = []string{"PATH=" + tc.path}
			args = append(args, tc.path)
		}
		wantPath, wantErr := lookPath(tc.name, env)
		if tc.found != "" && (wantErr != nil || wantPath != tc.found) {
			t.Fatalf("the Go stage's lookPath(%q, %q) = %q, %v: the case is wrong", tc.name, env, wantPath, wantErr)
		}
		got := runLookup(t, bin, args, "")
		if wantErr == nil {
			if got.code != 0 || got.msg != nil || got.stdout != wantPath+"\n" {
				t.Errorf("%q in %q: got %d %+v %q, want %q", tc.name, tc.path, got.code, got.msg, got.stdout, wantPath)
			}
			continue
		}
		checkStageError(t, fmt.Sprintf("%q in %q", tc.name, tc.path), got, wantErr)
	}

	// An empty PATH is the working directory.
	if got := runLookup(t, bin, []string{"3", "lookup", "prog", ""}, filepath.Join(dir, "b")); got.code != 0 || got.stdout != "./prog\n" {
		t.Errorf("prog in an empty PATH: got %d %+v %q, want ./prog", got.code, got.msg, got.stdout)
	}

	// exec_program's own failures, as the Go stage's execError maps them.
	for _, tc := range []struct {
		path string
		err  error
	}{
		{garbage, unix.ENOEXEC},
		{noInterp, unix.ENOENT},
		{plain, unix.EACCES},
	} {
		got := runLookup(t, bin, []string{"3", "exec", tc.path}, "")
		checkStageError(t, "exec "+tc.path, got, execError(tc.path, tc.err))
	}
}

type lookupRun struct {
	stageRun
	msg *Message
}

// runLookup runs the checker with a socket at fd 3 and reads what it
// reported there.
func runLookup(t *testing.T, bin string, args []string, cwd string) lookupRun {
	t.Helper()
	sock, child := stageSocket(t)
	if _, err := sock.Write([]byte("go")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = []*os.File{child}
	cmd.Dir = cwd
	r := runStageCheck(t, cmd)
	child.Close()
	return lookupRun{r, readStageMessage(t, sock)}
}

// checkStageError wants the C stage to have reported what the Go stage
// would have: the same text and exit status, in a JSON error message.
func checkStageError(t *testing.T, what string, got lookupRun, want error) {
	t.Helper()
	var se *startError
	if !errors.As(want, &se) {
		t.Fatalf("%s: the Go stage's error %v has no exit status", what, want)
	}
	if got.msg == nil || got.msg.Type != MsgError {
		t.Errorf("%s: no error message (exit %d, stderr %q)", what, got.code, got.stderr)
		return
	}
	if got.msg.Error != want.Error() || got.msg.Code != se.code || got.code != se.code {
		t.Errorf("%s: got %q code %d exit %d, want %q code %d", what, got.msg.Error, got.msg.Code, got.code, want.Error(), se.code)
	}
}

// testStageProcessParentGone: with berth gone, the error goes to stderr
// (the write's EPIPE is not a SIGPIPE death) with the same exit status.
func testStageProcessParentGone(t *testing.T, bin string) {
	for _, tc := range []struct {
		send bool
		code int
		want string
	}{
		{true, 127, `berth: exec "nosuchprogram": executable file not found in $PATH` + "\n"},
		{false, 125, "berth: read config: the parent closed the connection\n"},
	} {
		sock, child := stageSocket(t)
		if tc.send {
			if _, err := sock.Write([]byte("go")); err != nil {
				t.Fatal(err)
			}
		}
		sock.Close()
		cmd := exec.Command(bin, "3", "lookup", "nosuchprogram", "/usr/bin:/bin")
		cmd.ExtraFiles = []*os.File{child}
		got := runStageCheck(t, cmd)
		child.Close()
		if got.code != tc.code || got.stderr != tc.want {
			t.Errorf("got exit %d, stderr %q; want %d, %q", got.code, got.stderr, tc.code, tc.want)
		}
	}
}
