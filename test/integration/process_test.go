package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestExitStatus(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"exit code", []string{"/bin/sh", "-c", "exit 3"}, 3, ""},
		{"missing absolute", []string{"/no/such/program"}, 127, `exec "/no/such/program": no such file or directory`},
		{"missing in PATH", []string{"nosuchprogram"}, 127, `exec "nosuchprogram": executable file not found in $PATH`},
		{"not executable", []string{"/etc/passwd"}, 126, `exec "/etc/passwd": permission denied`},
		{"directory", []string{"/bin"}, 126, `exec "/bin": is a directory`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := berth(t, "", append([]string{"run", "--rm", "--rootfs", rootfsDir}, c.args...)...)
			if r.code != c.code {
				t.Errorf("exit status %d, want %d (stderr %q)", r.code, c.code, r.stderr)
			}
			if c.msg != "" && r.stderr != "berth: "+c.msg+"\n" {
				t.Errorf("stderr %q, want one line %q", r.stderr, "berth: "+c.msg)
			}
		})
	}
	checkNoLeaks(t, before)
}

func TestKilledBySignal(t *testing.T) {
	needRoot(t)
	c := startContainer(t, "echo ready; exec sleep 1000")
	if err := unix.Kill(c.containerPid(t), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t); code != 128+9 {
		t.Errorf("exit status %d, want 137", code)
	}
}

func TestSignalsForwarded(t *testing.T) {
	needRoot(t)
	for _, sig := range []syscall.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2} {
		name := strings.TrimPrefix(unix.SignalName(sig), "SIG")
		t.Run(name, func(t *testing.T) {
			c := startContainer(t, fmt.Sprintf(`trap 'echo got %s; exit 42' %s; sleep 1000 & echo ready; wait`, name, name))
			if err := c.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := c.wait(t); code != 42 {
				t.Errorf("exit status %d, want 42 (stdout %q)", code, c.stdout.String())
			}
			if !strings.Contains(c.stdout.String(), "got "+name) {
				t.Errorf("container did not see %s: %q", name, c.stdout.String())
			}
		})
	}
}

// signalLauncherArg, first, makes the test binary launchWithSignals.
const signalLauncherArg = "berth-test-signal-launcher"

// launchWithSignals execs argv as a caller that ignores SIGHUP, SIGINT
// and signal 32 (libc's own, which a C program cannot reset through libc)
// and blocks SIGUSR1, all of which survive execve.
func launchWithSignals(argv []string) {
	runtime.LockOSThread()
	ign := [4]uint64{1} // SIG_IGN
	for _, sig := range []int{int(unix.SIGHUP), int(unix.SIGINT), 32} {
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&ign)), 0, 8, 0, 0); e != 0 {
			fmt.Fprintln(os.Stderr, "ignore signal:", e)
			os.Exit(1)
		}
	}
	var set unix.Sigset_t
	set.Val[0] = 1 << (unix.SIGUSR1 - 1)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		fmt.Fprintln(os.Stderr, "block SIGUSR1:", err)
		os.Exit(1)
	}
	err := syscall.Exec(argv[0], argv, os.Environ())
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// TestSignalsNotInherited: the container's process starts with every
// signal's default action and none blocked, whatever berth's caller
// ignored or blocked (nohup ignores SIGHUP, a shell's background job
// SIGINT), as under runc and crun: an ignored signal and the mask survive
// execve, and a shell cannot even trap a signal it was started ignoring.
// berth run, berth exec (the Go init stage) and berth-oci run
// (berth-stage) alike.
func TestSignalsNotInherited(t *testing.T) {
	needRoot(t)
	const want = "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
	// grep itself: busybox's sh -c, exec'ing its one command, leaves
	// SIGQUIT ignored.
	grep := []string{"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// launched runs cmd through launchWithSignals.
	launched := func(cmd *exec.Cmd) *exec.Cmd {
		l := exec.Command(self, append([]string{signalLauncherArg, cmd.Path}, cmd.Args[1:]...)...)
		l.Env = cmd.Env
		return l
	}
	if r := collect(t, launched(exec.Command("/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status")), "grep"); r.stdout == want {
		t.Fatalf("the launcher changed nothing: %+v", r)
	}
	if r := collect(t, launched(berthCommand(append([]string{"run", "--rm", "--network", "none", "--rootfs", rootfsDir}, grep...)...)), "berth run"); r.code != 0 || r.stdout != want {
		t.Errorf("berth run: %+v", r)
	}
	if r := berth(t, "", "run", "-d", "--name", "sigreset", "--network", "none", "--rootfs", rootfsDir, "sleep", "1000"); r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "sigreset")
	if r := collect(t, launched(berthCommand(append([]string{"exec", "sigreset"}, grep...)...)), "berth exec"); r.code != 0 || r.stdout != want {
		t.Errorf("berth exec: %+v", r)
	}
	bundle := ociBundle(t, grep, nil)
	oci := exec.Command(ociBin, "--root", ociRoot, "run", "--bundle", bundle, "sigreset")
	if r := collect(t, launched(oci), "berth-oci run"); r.code != 0 || r.stdout != want {
		t.Errorf("berth-oci run: %+v", r)
	}
}

func TestOrphansAreReaped(t *testing.T) {
	needRoot(t)
	const marker = "7243911"
	r := berth(t, "", "run", "--rm", "--rootfs", rootfsDir, "/bin/sh", "-c", "(sleep "+marker+" &) ; (sleep "+marker+" &); exit 5")
	if r.code != 5 {
		t.Fatalf("exit status %d, want 5: %q", r.code, r.stderr)
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		cmdline, _ := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if strings.Contains(string(cmdline), marker) {
			status, _ := os.ReadFile("/proc/" + p.Name() + "/status")
			t.Errorf("orphan left running or unreaped: pid %s %q\n%s", p.Name(), cmdline, status)
		}
	}
}

func TestStdinPipe(t *testing.T) {
	needRoot(t)
	r := berth(t, "hi\n", "run", "--rm", "-i", "--rootfs", rootfsDir, "cat")
	if r.code != 0 || r.stdout != "hi\n" {
		t.Errorf("echo hi | berth run -i cat: %+v", r)
	}
	// Without -i the container reads its own /dev/null.
	r = berth(t, "ignored\n", "run", "--rm", "--rootfs", rootfsDir, "/bin/sh", "-c", "cat; readlink /proc/self/fd/0")
	if r.code != 0 || r.stdout != "/dev/null\n" {
		t.Errorf("stdin without -i: %+v", r)
	}
	// Output passes through unbuffered and separately.
	r = berth(t, "", "run", "--rm", "--rootfs", rootfsDir, "/bin/sh", "-c", "echo out; echo err >&2")
	if r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("stdout/stderr: %+v", r)
	}
}

// ptyResult is a berth run on a pseudo-terminal.
type ptyResult struct {
	output string
	code   int
}

// runPTY runs berth with a new pty as its stdin, stdout and stderr, like a
// user at a terminal. interact, if given, may type into the terminal; it
// gets the master and the berth process.
func runPTY(t *testing.T, interact func(master *os.File, p *os.Process, out *syncBuffer), args ...string) ptyResult {
	t.Helper()
	master, slave := openPTY(t)
	defer master.Close()
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 111}); err != nil {
		t.Fatal(err)
	}
	cmd := berthCommand(args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	out := &syncBuffer{}
	copied := make(chan struct{})
	go func() {
		io.Copy(out, master)
		close(copied)
	}()
	if interact != nil {
		interact(master, cmd.Process, out)
	}
	err := cmd.Wait()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	return ptyResult{out.String(), code}
}

func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (b *syncBuffer) lock() {
	if b.mu == nil {
		b.mu = make(chan struct{}, 1)
	}
	b.mu <- struct{}{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.lock()
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.lock()
	defer func() { <-b.mu }()
	return b.buf.String()
}

// waitFor waits until the terminal output contains s.
func (b *syncBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal never showed %q; got %q", s, b.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestInteractiveTerminal(t *testing.T) {
	needRoot(t)
	r := runPTY(t, func(master *os.File, p *os.Process, out *syncBuffer) {
		out.waitFor(t, "ready")
		master.Write([]byte("hello\r"))
		out.waitFor(t, "got=hello")
		// A window size change reaches the container: its pty is resized,
		// and the kernel tells its foreground process group with SIGWINCH.
		out.waitFor(t, "waiting")
		unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 150})
		p.Signal(unix.SIGWINCH)
	}, "run", "--rm", "-it", "--rootfs", rootfsDir, "/bin/sh", "-c",
		"tty; stty size; readlink /proc/self/fd/0; stat -c %t:%T /dev/console; echo ready; read x; echo got=$x; trap 'stty size; exit 7' WINCH; sleep 1000 & echo waiting; wait")
	for _, want := range []string{"/dev/pts/0", "33 111", "88:0", "got=hello", "50 150"} {
		if !strings.Contains(r.output, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, r.output)
		}
	}
	if r.code != 7 {
		t.Errorf("exit status %d, want 7", r.code)
	}
}

// TestWorkdirCreated: a missing working directory is made inside the
// container, as docker, runc and crun do, and never through a symlink
// out of it.
func TestWorkdirCreated(t *testing.T) {
	needRoot(t)
	if out := runIn(t, "pwd; ls -ld . | cut -c1-10", "-w", "/srv/app/data"); out != "/srv/app/data\ndrwxr-xr-x\n" {
		t.Errorf("-w /srv/app/data: %q", out)
	}
	outside := t.TempDir()
	link := filepath.Join(rootfsDir, "escape-"+filepath.Base(outside))
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(link)
	// Resolved inside the rootfs, the link dangles: berth refuses it.
	r := berth(t, "", "run", "--rm", "--rootfs", rootfsDir, "-w", "/"+filepath.Base(link)+"/made", "pwd")
	if _, err := os.Stat(filepath.Join(outside, "made")); err == nil {
		t.Errorf("the working directory was created on the host, through a symlink in the rootfs: %+v", r)
	}
	if r.code != 125 || !strings.Contains(r.stderr, "create working directory") {
		t.Errorf("-w through a dangling link: %+v", r)
	}
}
