package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestExecProcess: an exec runs with the container's process settings,
// its overrides on top: environment merged, working directory checked,
// and a user other than root without effective capabilities.
func TestExecProcess(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc", "group"), []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	bounding := []string{"CAP_CHOWN", "CAP_KILL"}
	base := &specs.Process{Args: []string{"init"}, Env: []string{"PATH=/bin", "A=1"}, Cwd: "/",
		Capabilities: &specs.LinuxCapabilities{Bounding: bounding, Effective: bounding, Permitted: bounding}}

	p, err := execProcess(base, ExecOptions{Args: []string{"sh"}, Env: []string{"A=2", "B=3"}, Workdir: "/tmp/../srv", User: "nobody", TTY: true}, root)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Args, []string{"sh"}) || !p.Terminal || p.Cwd != "/srv" {
		t.Errorf("process: %+v", p)
	}
	if strings.Join(p.Env, " ") != "PATH=/bin A=2 TERM=xterm B=3" {
		t.Errorf("env: %v", p.Env)
	}
	if p.User.UID != 65534 || p.User.GID != 65534 || len(p.Capabilities.Effective) != 0 || len(p.Capabilities.Permitted) != 0 {
		t.Errorf("user nobody: %+v, caps %+v", p.User, p.Capabilities)
	}
	if len(base.Capabilities.Effective) != 2 || base.Args[0] != "init" {
		t.Errorf("the container's own settings changed: %+v", base)
	}
	if p, err := execProcess(base, ExecOptions{Args: []string{"sh"}, User: "0"}, root); err != nil || len(p.Capabilities.Effective) != 2 {
		t.Errorf("user 0: %v, %+v", err, p)
	}
	if _, err := execProcess(base, ExecOptions{Args: []string{"sh"}, Workdir: "tmp"}, root); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative workdir: %v", err)
	}
}

// TestExecEnvTerm: exec -t sets TERM=xterm, as docker exec -t does, unless
// the container or the exec's -e names a TERM; without -t there is none.
func TestExecEnvTerm(t *testing.T) {
	for _, c := range []struct {
		base, env []string
		tty       bool
		want      string
	}{
		{[]string{"PATH=/bin"}, nil, true, "PATH=/bin TERM=xterm"},
		{[]string{"PATH=/bin"}, nil, false, "PATH=/bin"},
		{[]string{"PATH=/bin"}, []string{"TERM=vt100"}, true, "PATH=/bin TERM=vt100"},
		{[]string{"TERM=linux"}, nil, true, "TERM=linux"},
	} {
		if got := strings.Join(execEnv(c.base, ExecOptions{Env: c.env, TTY: c.tty}), " "); got != c.want {
			t.Errorf("execEnv(%v, -e %v, tty %v) = %q, want %q", c.base, c.env, c.tty, got, c.want)
		}
	}
}
