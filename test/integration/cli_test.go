package integration

import (
	"strings"
	"testing"
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
