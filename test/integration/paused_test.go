package integration

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// within runs a command and gives up on it after d: the bug these tests
// guard against is a command that never returns.
func within(t *testing.T, d time.Duration, cmd *exec.Cmd) (result, bool) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		return result{out.String(), errb.String(), -1}, false
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}, true
}

// runPaused starts a detached container that exits 0 on SIGTERM, pauses
// it and checks that ps says so.
func runPaused(t *testing.T, name string) {
	t.Helper()
	r := berth(t, "", "run", "-d", "--name", name, "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", idle)
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	t.Cleanup(func() {
		berth(t, "", "unpause", name)
		berth(t, "", "rm", "-f", name)
	})
	if r := berth(t, "", "pause", name); r.code != 0 {
		t.Fatalf("pause: %+v", r)
	}
	r = berth(t, "", "ps", "--filter", "name="+name, "--format", "{{.Status}}")
	if !strings.HasPrefix(r.stdout, "Up ") || !strings.HasSuffix(r.stdout, " (Paused)\n") {
		t.Errorf("ps STATUS of a paused container: %q, want Up ... (Paused)", r.stdout)
	}
	if r := berth(t, "", "ps", "-q", "--filter", "status=paused", "--filter", "name="+name); strings.TrimSpace(r.stdout) == "" {
		t.Errorf("ps --filter status=paused does not list it: %+v", r)
	}
	if st := inspectState(t, name); st.Status != "paused" {
		t.Errorf("inspect of a paused container: %+v", st)
	}
}

// TestPausedContainerStopRmRestartKill: stop, rm -f, restart and kill of a
// paused container thaw it, as Docker does, instead of signalling a frozen
// process for ever. The stop signal reaches the program (it exits 0 from
// its TERM trap); a signal that is not meant to end it waits, paused.
func TestPausedContainerStopRmRestartKill(t *testing.T) {
	needRoot(t)
	before := snapshot(t)

	runPaused(t, "paused-stop")
	r, ok := within(t, 20*time.Second, berthCommand("stop", "-t", "5", "paused-stop"))
	if !ok || r.code != 0 {
		t.Fatalf("stop -t 5 of a paused container: ended %v, %+v", ok, r)
	}
	if st := inspectState(t, "paused-stop"); st.Status != "exited" || st.ExitCode != 0 {
		t.Errorf("after stop: %+v, want exited 0 (the TERM trap ran)", st)
	}

	runPaused(t, "paused-rm")
	if r, ok := within(t, 20*time.Second, berthCommand("rm", "-f", "paused-rm")); !ok || r.code != 0 {
		t.Fatalf("rm -f of a paused container: ended %v, %+v", ok, r)
	}
	if r := berth(t, "", "ps", "-aq", "--filter", "name=paused-rm"); r.stdout != "" {
		t.Errorf("rm -f left %q", r.stdout)
	}

	runPaused(t, "paused-restart")
	if r, ok := within(t, 20*time.Second, berthCommand("restart", "-t", "5", "paused-restart")); !ok || r.code != 0 {
		t.Fatalf("restart of a paused container: ended %v, %+v", ok, r)
	}
	if st := inspectState(t, "paused-restart"); st.Status != "running" {
		t.Errorf("after restart: %+v, want running (not paused)", st)
	}

	runPaused(t, "paused-kill")
	if r := berth(t, "", "kill", "-s", "HUP", "paused-kill"); r.code != 0 {
		t.Errorf("kill -s HUP: %+v", r)
	}
	if st := inspectState(t, "paused-kill"); st.Status != "paused" {
		t.Errorf("after SIGHUP: %+v, want still paused (as Docker)", st)
	}
	if r, ok := within(t, 20*time.Second, berthCommand("kill", "paused-kill")); !ok || r.code != 0 {
		t.Fatalf("kill of a paused container: ended %v, %+v", ok, r)
	}
	if r, ok := within(t, 20*time.Second, berthCommand("wait", "paused-kill")); !ok || strings.TrimSpace(r.stdout) != "137" {
		t.Errorf("wait after kill: ended %v, %+v, want 137", ok, r)
	}

	for _, name := range []string{"paused-stop", "paused-restart", "paused-kill"} {
		berth(t, "", "rm", "-f", name)
	}
	checkNoLeaks(t, before)
}

// TestOCIPausedKillAndDelete: berth-oci follows runc: SIGKILL to a paused
// container thaws it so that it dies (a frozen task on cgroup v1 never
// does), other signals wait until resume; delete --force of a paused
// container ends it.
func TestOCIPausedKillAndDelete(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	bundle := ociBundle(t, []string{"sh", "-c", "trap 'echo got-term' TERM; echo ready; while :; do sleep 1; done"}, nil)
	out := ociCreate(t, "pk", bundle)
	oci(t, "start", "pk")
	out.ReadString('\n')
	if r := oci(t, "pause", "pk"); r.code != 0 {
		t.Fatalf("pause: %+v", r)
	}
	if r := oci(t, "kill", "pk", "TERM"); r.code != 0 {
		t.Errorf("kill TERM: %+v", r)
	}
	if st := ociState(t, "pk"); st.Status != "paused" {
		t.Errorf("after TERM: %s, want paused (runc leaves it frozen)", st.Status)
	}
	if r, ok := within(t, 20*time.Second, exec.Command(ociBin, "--root", ociRoot, "kill", "pk", "KILL")); !ok || r.code != 0 {
		t.Fatalf("kill KILL: ended %v, %+v", ok, r)
	}
	waitStatus(t, "pk", specs.StateStopped)
	if r := oci(t, "delete", "pk"); r.code != 0 {
		t.Errorf("delete: %+v", r)
	}

	ociCreate(t, "pd", bundle)
	oci(t, "start", "pd")
	if r := oci(t, "pause", "pd"); r.code != 0 {
		t.Fatalf("pause: %+v", r)
	}
	if r, ok := within(t, 20*time.Second, exec.Command(ociBin, "--root", ociRoot, "delete", "--force", "pd")); !ok || r.code != 0 {
		t.Fatalf("delete --force of a paused container: ended %v, %+v", ok, r)
	}
	checkNoLeaks(t, before)
}
