package managed

import (
	"errors"
	"os/exec"
	"testing"

	"github.com/berth-runtime/berth/internal/pidfd"
	"golang.org/x/sys/unix"
)

// TestSignalMonitorChecksStartTime: a monitor PID is signalled only with
// the start time that proves it is still the recorded process.
func TestSignalMonitorChecksStartTime(t *testing.T) {
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	start, _, err := pidfd.Stat(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []State{{MonitorPid: pid}, {MonitorPid: pid, MonitorStart: start + 1}, {MonitorStart: start}} {
		if err := st.SignalMonitor(unix.SIGTERM); !errors.Is(err, ErrNoMonitor) {
			t.Errorf("%+v: %v, want ErrNoMonitor", st, err)
		}
	}
	if err := (State{MonitorPid: pid, MonitorStart: start}).SignalMonitor(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || cmd.ProcessState.Sys().(interface{ Signal() unix.Signal }).Signal() != unix.SIGTERM {
		t.Errorf("the recorded monitor did not get SIGTERM: %v", err)
	}
}
