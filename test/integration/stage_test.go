package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// initStageBinary is the first of names installed beside berth-oci: the
// init stage a container of the default config runs. berth-oci itself
// when none is (its built-in Go stage).
func initStageBinary(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(filepath.Dir(ociBin), n)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ociBin
}

// runsBinary reports whether process pid executes the file at path.
func runsBinary(t *testing.T, pid int, path string) bool {
	t.Helper()
	var got, want unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/exe", pid), &got); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(path, &want); err != nil {
		t.Fatal(err)
	}
	return got.Ino == want.Ino && got.Dev == want.Dev
}

// TestInitStageChoice: a container whose config lies within what the C
// init stage does starts through berth-stage (no second Go runtime); one
// it does not know (here a sysctl) through berth-init, the Go stage. Both
// wait for start as the container's PID 1, so /proc/PID/exe tells them
// apart; both then run the program.
func TestInitStageChoice(t *testing.T) {
	needRoot(t)
	stage := filepath.Join(filepath.Dir(ociBin), "berth-stage")
	goStage := filepath.Join(filepath.Dir(ociBin), "berth-init")
	for _, p := range []string{stage, goStage} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s is not installed beside berth-oci", p)
		}
	}
	before := snapshot(t)
	for _, c := range []struct {
		id   string
		edit func(*specs.Spec)
		want string
	}{
		{"stage-c", nil, stage},
		// Sysctls, as every berth run --network bridge has: the C stage.
		{"stage-c-sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"} }, stage},
		// A runtime hook pauses the init stage (as berth's networking
		// does): the C stage pauses too.
		{"stage-c-hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true"}}}
		}, stage},
		// A container hook runs in the init stage: berth-init's.
		{"stage-go", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}}
		}, goStage},
	} {
		bundle := ociBundle(t, []string{"sh", "-c", "echo ran as $(id -u)"}, c.edit)
		out := ociCreate(t, c.id, bundle)
		pid := ociState(t, c.id).Pid
		if !runsBinary(t, pid, c.want) {
			t.Errorf("%s: the init stage waiting for start is not %s", c.id, c.want)
		}
		if r := oci(t, "start", c.id); r.code != 0 {
			t.Fatalf("%s: start: %+v", c.id, r)
		}
		line, err := out.ReadString('\n')
		if err != nil || line != "ran as 0\n" {
			t.Errorf("%s: the program printed %q (%v)", c.id, line, err)
		}
		if r := oci(t, "delete", "--force", c.id); r.code != 0 {
			t.Fatalf("%s: delete: %+v", c.id, r)
		}
	}
	checkNoLeaks(t, before)
}
