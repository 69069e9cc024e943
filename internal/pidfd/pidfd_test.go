package pidfd

import (
	"errors"
	"os/exec"
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
