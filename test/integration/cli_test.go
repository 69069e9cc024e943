package integration

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPruneAsks: every prune asks docker's question on stderr and reads
// the answer from stdin, terminal or not: no answer (end of input) keeps
// everything, y removes, -f removes without asking.
func TestPruneAsks(t *testing.T) {
	needRoot(t)
	root, runroot := t.TempDir(), t.TempDir()
	b := func(stdin string, args ...string) result {
		return berth(t, stdin, append([]string{"--root", root, "--runroot", runroot}, args...)...)
	}
	asked := func(r result, warning string) bool {
		return r.code == 0 && r.stdout == "" && strings.Contains(r.stderr, "WARNING! This will remove all "+warning) &&
			strings.HasSuffix(r.stderr, "Are you sure you want to continue? [y/N] ")
	}

	if r := b("", "network", "create", "--subnet", "10.91.7.0/24", "prune-me"); r.code != 0 {
		t.Fatalf("network create: %+v", r)
	}
	if r := b("", "network", "prune"); !asked(r, "custom networks not used by at least one container.") {
		t.Errorf("network prune without an answer: %+v", r)
	}
	if r := b("", "network", "ls", "--format", "{{.Name}}"); !strings.Contains(r.stdout, "prune-me\n") {
		t.Errorf("network prune without an answer removed it: %+v", r)
	}
	if r := b("n\n", "network", "prune"); r.stdout != "" {
		t.Errorf("network prune answered n: %+v", r)
	}
	if r := b("y\n", "network", "prune"); r.code != 0 || r.stdout != "prune-me\n" {
		t.Errorf("network prune answered y: %+v", r)
	}

	if r := b("", "run", "--name", "prune-c", "--network", "none", "--rootfs", rootfsDir, "true"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	if r := b("", "container", "prune"); !asked(r, "stopped containers.") {
		t.Errorf("container prune without an answer: %+v", r)
	}
	if r := b("", "ps", "-a", "--format", "{{.Names}}"); r.stdout != "prune-c\n" {
		t.Errorf("container prune without an answer removed it: %+v", r)
	}
	if r := b("", "container", "prune", "--force"); r.code != 0 || len(strings.Fields(r.stdout)) != 1 || r.stderr != "" {
		t.Errorf("container prune --force: %+v", r)
	}
	if r := b("", "ps", "-aq"); r.stdout != "" {
		t.Errorf("after container prune --force: %+v", r)
	}

	if r := b("", "image", "prune"); !asked(r, "dangling images.") {
		t.Errorf("image prune without an answer: %+v", r)
	}
	if r := b("", "image", "prune", "-a"); !asked(r, "images without at least one container associated to them.") {
		t.Errorf("image prune -a without an answer: %+v", r)
	}
	if r := b("", "image", "prune", "-a", "-f"); r.code != 0 || strings.Contains(r.stderr, "[y/N]") {
		t.Errorf("image prune -a -f: %+v", r)
	}
}

// TestLogsFollowInterrupt: ctrl-c ends logs -f quietly with status 0, as
// docker logs -f does (berth printed "context canceled" and exited 125).
func TestLogsFollowInterrupt(t *testing.T) {
	needRoot(t)
	r := berth(t, "", "run", "-d", "--name", "follow-int", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c",
		"trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "follow-int")
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		follow := berthCommand("logs", "-f", "follow-int")
		out, errb := &syncBuffer{mu: make(chan struct{}, 1)}, &syncBuffer{mu: make(chan struct{}, 1)}
		follow.Stdout, follow.Stderr = out, errb
		if err := follow.Start(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "logs -f printed ready", func() string {
			if !strings.Contains(out.String(), "ready") {
				return "nothing yet"
			}
			return ""
		})
		follow.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- follow.Wait() }()
		select {
		case err := <-done:
			if err != nil || errb.String() != "" {
				t.Errorf("logs -f after %v: %v, stderr %q", sig, err, errb.String())
			}
		case <-time.After(10 * time.Second):
			follow.Process.Kill()
			t.Fatalf("logs -f did not end on %v", sig)
		}
	}
}
