package integration

import (
	"os"
	"os/exec"
	"regexp"
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

// TestNotRootSeesOwnContainers: an ordinary user's berth ps lists the
// user's own containers (none here), not root's, and exits 0; stop of a
// container of root's is "no such container", saying that rootless berth
// looks among the user's own only.
func TestNotRootSeesOwnContainers(t *testing.T) {
	needRoot(t)
	r := berth(t, "", "run", "-d", "--name", "roots-own", "--network", "none", "--rootfs", rootfsDir, "sleep", "100")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "roots-own")
	home, err := os.MkdirTemp("", "berth-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(home)
	os.Chmod(home, 0o700)
	os.Chown(home, 65534, 65534)
	nobody := func(args ...string) result {
		cmd := exec.Command(berthBin, args...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home, "XDG_RUNTIME_DIR=" + home}
		cmd.Dir = home
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
		return collect(t, cmd, "berth as nobody")
	}
	if r := berth(t, "", "ps", "--format", "{{.Names}}"); !strings.Contains(r.stdout, "roots-own\n") {
		t.Fatalf("root's ps: %+v", r)
	}
	if r := nobody("ps", "-a"); r.code != 0 || !strings.HasPrefix(r.stdout, "CONTAINER ID") || strings.Count(r.stdout, "\n") != 1 || r.stderr != "" {
		t.Errorf("ps as nobody: %+v", r)
	}
	r = nobody("stop", "roots-own")
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "no such container: roots-own") || !strings.Contains(r.stderr, "sudo berth") {
		t.Errorf("stop of root's container as nobody: %+v", r)
	}
	if r := berth(t, "", "ps", "--format", "{{.Names}}\t{{.State}}"); !strings.Contains(r.stdout, "roots-own\trunning\n") {
		t.Errorf("root's container after nobody's stop: %+v", r)
	}
}

// TestExecTerm: exec -t sets TERM=xterm, as docker exec -t does, unless
// -e TERM is given; without -t the container's environment has none.
func TestExecTerm(t *testing.T) {
	needRoot(t)
	r := berth(t, "", "run", "-d", "--name", "exec-term", "--network", "none", "--rootfs", rootfsDir, "sleep", "100")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "exec-term")
	if r := berth(t, "", "ps", "--format", `table {{.Names}}\t{{.Status}}`); r.code != 0 || !regexp.MustCompile(`^NAMES +STATUS\n(.*\n)*exec-term +Up `).MatchString(r.stdout) {
		t.Errorf("ps --format 'table {{.Names}}\\t{{.Status}}': %+v", r)
	}
	if tty := runPTY(t, nil, "exec", "-t", "exec-term", "sh", "-c", "echo TERM=$TERM."); tty.code != 0 || !strings.Contains(tty.output, "TERM=xterm.") {
		t.Errorf("exec -t: %+v", tty)
	}
	if tty := runPTY(t, nil, "exec", "-it", "-e", "TERM=vt100", "exec-term", "sh", "-c", "echo TERM=$TERM."); tty.code != 0 || !strings.Contains(tty.output, "TERM=vt100.") {
		t.Errorf("exec -it -e TERM=vt100: %+v", tty)
	}
	if r := berth(t, "", "exec", "exec-term", "sh", "-c", "echo TERM=$TERM."); r.code != 0 || r.stdout != "TERM=.\n" {
		t.Errorf("exec without -t: %+v", r)
	}
}

// TestRelativeBindMount: -v ./DIR:/x binds DIR under the current
// directory, as docker does (berth refused it); a bare name is still a
// named volume.
func TestRelativeBindMount(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.MkdirAll(dir+"/data", 0o755)
	os.WriteFile(dir+"/data/f", []byte("from the host\n"), 0o644)
	run := func(args ...string) result {
		cmd := berthCommand(append([]string{"run", "--rm", "--network", "none", "--rootfs", rootfsDir}, args...)...)
		cmd.Dir = dir + "/data"
		return collect(t, cmd, "berth run")
	}
	if r := run("-v", "./:/x:ro", "cat", "/x/f"); r.code != 0 || r.stdout != "from the host\n" {
		t.Errorf("-v ./:/x: %+v", r)
	}
	if r := run("-v", "../data:/x", "sh", "-c", "cat /x/f; echo more > /x/g"); r.code != 0 || r.stdout != "from the host\n" {
		t.Errorf("-v ../data:/x: %+v", r)
	}
	if b, err := os.ReadFile(dir + "/data/g"); err != nil || string(b) != "more\n" {
		t.Errorf("written through -v ../data: %q %v", b, err)
	}
	if r := run("-v", "relvol:/x", "true"); r.code != 0 {
		t.Errorf("a bare name, a volume: %+v", r)
	}
	berth(t, "", "volume", "rm", "relvol")
}
