package integration

import (
	"regexp"
	"strings"
	"testing"
)

// TestCreateStartRm: berth create stores a container in state Created
// and prints its full ID; start -a runs it and exits with its status;
// start runs it again in the background; rm leaves nothing.
func TestCreateStartRm(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	r := berth(t, "", "create", "--name", "made", "-e", "WHO=created", "--rootfs", rootfsDir, "/bin/sh", "-c", "echo hello $WHO; exit 3")
	defer berth(t, "", "rm", "-f", "made")
	if r.code != 0 || !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(r.stdout) {
		t.Fatalf("create: %+v, want the full ID", r)
	}
	id := strings.TrimSpace(r.stdout)
	if r := berth(t, "", "ps", "-a", "--filter", "name=made", "--format", "{{.ID}} {{.Status}}"); r.stdout != id[:12]+" Created\n" {
		t.Errorf("ps -a: %+v, want %s Created", r, id[:12])
	}
	if r := berth(t, "", "ps", "-q", "--filter", "name=made"); r.stdout != "" {
		t.Errorf("ps shows the created container as running: %q", r.stdout)
	}
	if r := berth(t, "", "inspect", "made"); !strings.Contains(r.stdout, `"Status": "created"`) {
		t.Errorf("inspect: %+v", r)
	}
	// Refusals of the lifecycle table: nothing runs yet.
	if r := berth(t, "", "exec", "made", "true"); r.code == 0 || !strings.Contains(r.stderr, "is not running") {
		t.Errorf("exec in a created container: %+v", r)
	}
	if r := berth(t, "", "start", "-a", "made"); r.code != 3 || r.stdout != "hello created\n" {
		t.Errorf("start -a: %+v, want its output and status 3", r)
	}
	if r := berth(t, "", "ps", "-a", "--filter", "name=made", "--format", "{{.Status}}"); !strings.HasPrefix(r.stdout, "Exited (3)") {
		t.Errorf("after start -a: %q", r.stdout)
	}
	if r := berth(t, "", "start", "made"); r.code != 0 {
		t.Errorf("start: %+v", r)
	}
	if r := berth(t, "", "wait", "made"); r.stdout != "3\n" {
		t.Errorf("wait: %+v", r)
	}
	if r := berth(t, "", "rm", "made"); r.code != 0 || r.stdout != "made\n" {
		t.Errorf("rm: %+v", r)
	}
	checkNoLeaks(t, before)
}

// TestCreateRmNeverStarted: a created container that never ran is
// removed with nothing left, and container create is create.
func TestCreateRmNeverStarted(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	r := berth(t, "", "container", "create", "--name", "never", "--rm", "-v", "/data", "--rootfs", rootfsDir, "true")
	defer berth(t, "", "rm", "-f", "never")
	if r.code != 0 || len(strings.TrimSpace(r.stdout)) != 64 {
		t.Fatalf("container create: %+v", r)
	}
	// --rm: kept while it waits for start, whatever collects meanwhile.
	if r := berth(t, "", "ps", "-a", "--filter", "name=never", "--format", "{{.Status}}"); r.stdout != "Created\n" {
		t.Errorf("ps -a: %+v", r)
	}
	if r := berth(t, "", "rm", "-v", "never"); r.code != 0 {
		t.Errorf("rm: %+v", r)
	}
	if r := berth(t, "", "ps", "-a", "--filter", "name=never", "-q"); r.stdout != "" {
		t.Errorf("still listed: %q", r.stdout)
	}
	checkNoLeaks(t, before)
}

// TestCreateBadInput: run's checks, and what the first start would
// refuse, refuse bad options at create in one line with 125, and nothing
// is created.
func TestCreateBadInput(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	for _, args := range [][]string{
		{"create", "--name", "bad", "--restart", "sometimes", "--rootfs", rootfsDir, "true"},
		{"create", "--name", "bad", "--bogus", "--rootfs", rootfsDir, "true"},
		{"create", "--name", "bad"},
		{"create", "--name", "bad", "--memory", "lots", "--rootfs", rootfsDir, "true"},
		{"create", "--name", "bad", "--network", "none", "-p", "8080:80", "--rootfs", rootfsDir, "true"},
		{"create", "--name", "bad", "--rootfs", rootfsDir},
	} {
		r := berth(t, "", args...)
		if r.code != 125 || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 || r.stdout != "" {
			t.Errorf("%v: %+v, want one line and 125", args, r)
		}
	}
	if r := berth(t, "", "ps", "-a", "--filter", "name=bad", "-q"); r.stdout != "" {
		t.Errorf("a refused create left a container: %q", r.stdout)
	}
	checkNoLeaks(t, before)
}
