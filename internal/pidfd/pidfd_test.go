package pidfd

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpenChecksStartTime(t *testing.T) {
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	start, state, err := Stat(pid)
	if err != nil || state == "Z" {
		t.Fatalf("stat: %v %q", err, state)
	}
	if _, err := Open(pid, start+1); !errors.Is(err, ErrGone) {
		t.Fatalf("open with another start time: %v, want ErrGone", err)
	}
	p, err := Open(pid, start)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Wait(0) {
		t.Fatal("a running process reported as exited")
	}
	if err := p.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !p.Wait(5000) {
		t.Fatal("killed process did not exit")
	}
	_ = cmd.Wait()
	// Reaped: the pidfd still names it, and says it is gone.
	if err := p.Signal(unix.SIGTERM); !errors.Is(err, ErrGone) {
		t.Fatalf("signal to a reaped process: %v, want ErrGone", err)
	}
	if _, err := Open(pid, start); !errors.Is(err, ErrGone) {
		t.Fatalf("open of a reaped process: %v, want ErrGone", err)
	}
}

// startRaw starts argv as a child that only the test reaps (exec.Cmd
// would reap it itself), and opens its pidfd.
func startRaw(t *testing.T, argv ...string) *Process {
	t.Helper()
	path, err := exec.LookPath(argv[0])
	if err != nil {
		t.Skip(err)
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(pid, 0)
	if err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, 0, nil)
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestReap(t *testing.T) {
	p := startRaw(t, "sh", "-c", "sleep 0.2; exit 7")
	ws, err := p.Reap()
	if err != nil {
		t.Fatal(err)
	}
	if !ws.Exited() || ws.ExitStatus() != 7 {
		t.Fatalf("reaped status %v, want exit 7", ws)
	}
	// Reaped: no zombie is left to wait for.
	var again unix.WaitStatus
	if _, err := unix.Wait4(p.Pid, &again, unix.WNOHANG, nil); !errors.Is(err, unix.ECHILD) {
		t.Fatalf("wait4 after Reap: %v, want ECHILD", err)
	}

	killed := startRaw(t, "sleep", "100")
	if err := killed.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ws, err = killed.Reap()
	if err != nil || !ws.Signaled() || ws.Signal() != unix.SIGKILL {
		t.Fatalf("reaped status %v, %v; want killed by SIGKILL", ws, err)
	}
	// The pidfd itself stays the caller's: still open, and it says the
	// process is gone.
	if err := killed.Signal(unix.SIGTERM); !errors.Is(err, ErrGone) {
		t.Fatalf("signal after Reap: %v, want ErrGone", err)
	}
}
