package hooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRunPassesStateAndFails(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	st := specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreating, Pid: 42, Bundle: "/b"}
	ok := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + out + "; echo $X >> " + out}, Env: []string{"X=env-ok"}}
	if err := Run("prestart", []specs.Hook{ok}, st); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), `"id":"c1"`) || !strings.Contains(string(b), `"pid":42`) || !strings.Contains(string(b), "env-ok") {
		t.Errorf("hook saw %q", b)
	}
	fail := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo broken >&2; exit 3"}}
	err := Run("poststart", []specs.Hook{fail, ok}, st)
	if err == nil || !strings.Contains(err.Error(), "poststart hook /bin/sh") || !strings.Contains(err.Error(), "broken") {
		t.Errorf("failing hook: %v", err)
	}
	one := 1
	slow := specs.Hook{Path: "/bin/sleep", Args: []string{"sleep", "30"}, Timeout: &one}
	if err := Run("createRuntime", []specs.Hook{slow}, st); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("slow hook: %v", err)
	}
	if err := Run("prestart", []specs.Hook{{Path: "/no/such/hook"}}, st); err == nil {
		t.Error("missing hook binary ran")
	}
}
