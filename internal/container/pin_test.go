package container

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/berth-runtime/berth/internal/pidfd"
	"github.com/berth-runtime/berth/internal/state"
)

// PinNamespace names a namespace through a descriptor berth holds, never
// through a PID that another process may have taken since the record was
// written: a record whose start time does not match is not running.
func TestPinNamespace(t *testing.T) {
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	start, _, err := pidfd.Stat(pid)
	if err != nil {
		t.Fatal(err)
	}
	stale := &Container{rec: state.Record{ID: "stale", Pid: pid, PidStart: start + 1}}
	if _, _, err := stale.PinNamespace("net"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("a PID whose start time differs from the record's: %v, want ErrNotRunning", err)
	}
	live := &Container{rec: state.Record{ID: "live", Pid: pid, PidStart: start}}
	path, release, err := live.PinNamespace("net")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	// The process is gone; the pinned path still names its namespace.
	if got, err := os.Readlink(path); err != nil || got != want {
		t.Errorf("pinned path %s reads %q (%v), want %q", path, got, err, want)
	}
	release()
	if _, err := os.Readlink(path); err == nil {
		t.Errorf("%s still resolves after release", path)
	}
}
