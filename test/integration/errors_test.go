package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// refused checks a command that the container's state does not admit:
// one line, berth's prefix, the words wanted, and the status (125 for a
// command on one container, 1 for one over several names, as docker).
func refused(t *testing.T, r result, code int, want string, what string) {
	t.Helper()
	if r.code != code || !singleLine(r) || !strings.HasPrefix(r.stderr, "berth: ") || !strings.Contains(r.stderr, want) {
		t.Errorf("%s: status %d, stderr %q; want %d and one line naming %q", what, r.code, r.stderr, code, want)
	}
}

// TestPausedContainerRefusals: a paused container refuses, in Docker's
// words and one line, what needs it to run or to be stopped (exec,
// attach, start, pause again, rm without -f) and stays paused; it admits
// rename and unpause. Once stopped, exec, kill, pause and unpause are
// refused as not running, and rm works without -f.
func TestPausedContainerRefusals(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	runPaused(t, "refuse")

	refused(t, berth(t, "", "exec", "refuse", "true"), 125, "container refuse is paused, unpause it first", "exec")
	refused(t, berth(t, "", "attach", "refuse"), 125, "container refuse is paused, unpause it before attaching", "attach")
	refused(t, berth(t, "", "start", "refuse"), 1, "container refuse is paused: unpause it instead of starting it", "start")
	refused(t, berth(t, "", "pause", "refuse"), 1, "container refuse is already paused", "pause")
	refused(t, berth(t, "", "rm", "refuse"), 1, "container refuse is paused: unpause and stop it first, or use rm -f", "rm")
	if st := inspectState(t, "refuse"); st.Status != "paused" {
		t.Errorf("after the refusals: %+v, want still paused", st)
	}
	if r := berth(t, "", "rename", "refuse", "refuse2"); r.code != 0 {
		t.Errorf("rename of a paused container: %+v", r)
	}
	if r := berth(t, "", "rename", "refuse2", "refuse"); r.code != 0 {
		t.Fatalf("rename back: %+v", r)
	}
	if r := berth(t, "", "unpause", "refuse"); r.code != 0 {
		t.Fatalf("unpause: %+v", r)
	}
	refused(t, berth(t, "", "unpause", "refuse"), 1, "container refuse is not paused", "unpause of a running container")
	refused(t, berth(t, "", "rm", "refuse"), 1, "container refuse is running: stop it first, or use rm -f", "rm of a running container")

	if r := berth(t, "", "stop", "-t", "5", "refuse"); r.code != 0 {
		t.Fatalf("stop: %+v", r)
	}
	refused(t, berth(t, "", "exec", "refuse", "true"), 125, "container refuse is not running: start it first", "exec of a stopped container")
	refused(t, berth(t, "", "attach", "refuse"), 125, "container refuse is not running", "attach to a stopped container")
	refused(t, berth(t, "", "kill", "refuse"), 1, "container refuse is not running", "kill of a stopped container")
	refused(t, berth(t, "", "pause", "refuse"), 1, "container refuse is not running", "pause of a stopped container")
	refused(t, berth(t, "", "unpause", "refuse"), 1, "container refuse is not running", "unpause of a stopped container")
	if r := berth(t, "", "stop", "refuse"); r.code != 0 {
		t.Errorf("stop of a stopped container (docker: nothing to do): %+v", r)
	}
	if r := berth(t, "", "rm", "refuse"); r.code != 0 {
		t.Errorf("rm of a stopped container: %+v", r)
	}
	checkNoLeaks(t, before)
}

// TestMissingContainerOneLine: every command naming a container that does
// not exist says so in one line, with 125 for a command on one container
// and 1 for one over several names, and makes nothing.
func TestMissingContainerOneLine(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"exec", "nosuch", "true"}, 125},
		{[]string{"attach", "nosuch"}, 125},
		{[]string{"logs", "nosuch"}, 125},
		{[]string{"rename", "nosuch", "other"}, 125},
		{[]string{"container", "checkpoint", "nosuch"}, 125},
		{[]string{"container", "restore", "nosuch"}, 125},
		{[]string{"start", "nosuch"}, 1},
		{[]string{"stop", "nosuch"}, 1},
		{[]string{"restart", "nosuch"}, 1},
		{[]string{"kill", "nosuch"}, 1},
		{[]string{"pause", "nosuch"}, 1},
		{[]string{"unpause", "nosuch"}, 1},
		{[]string{"rm", "nosuch"}, 1},
		{[]string{"rm", "-f", "nosuch"}, 1},
		{[]string{"wait", "nosuch"}, 1},
		{[]string{"cp", "nosuch:/etc/passwd", "-"}, 1},
		{[]string{"diff", "nosuch"}, 1},
		{[]string{"container", "export", "nosuch"}, 1},
	}
	for _, c := range cases {
		r := berth(t, "", c.args...)
		refused(t, r, c.code, "no such container: nosuch", strings.Join(c.args, " "))
	}
	checkNoLeaks(t, before)
}

// TestOCIFailingHookWarnsInLog: a failing poststart or poststop hook is a
// warning, not a failure (runtime spec), and berth-oci gives it to the
// engine as runc does: a warning line in the --log file, nothing on
// stderr, where an engine reads the container's output or takes any text
// for an error.
func TestOCIFailingHookWarnsInLog(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	fail := func(name string) []specs.Hook {
		return []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo " + name + "-hook-failed >&2; exit 3"}}}
	}
	bundle := ociBundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststart: fail("poststart"), Poststop: fail("poststop")}
	})
	logFile := filepath.Join(t.TempDir(), "log.json")
	r := oci(t, "--log", logFile, "--log-format", "json", "run", "--bundle", bundle, "hookwarn")
	logged, _ := os.ReadFile(logFile)
	if r.code != 0 {
		t.Fatalf("run with failing hooks: %+v, log %q; want status 0 (hooks after start only warn)", r, logged)
	}
	if r.stderr != "" {
		t.Errorf("stderr %q: warnings belong in the --log file", r.stderr)
	}
	for _, hook := range []string{"poststart", "poststop"} {
		found := false
		for _, line := range strings.Split(string(logged), "\n") {
			if strings.Contains(line, `"level":"warning"`) && strings.Contains(line, hook) {
				found = true
			}
		}
		if !found {
			t.Errorf("no warning about the %s hook in the log %q", hook, logged)
		}
	}
	checkNoLeaks(t, before)
}
