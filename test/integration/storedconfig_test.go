package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartRunsStoredConfig: a container's record holds its resolved
// configuration, not the command line that made it: berth start runs
// the container as it was created, whatever changed since in the
// creator's environment, working directory or env files.
func TestStartRunsStoredConfig(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	envFile := filepath.Join(dir, "app.env")
	if err := os.WriteFile(envFile, []byte("FROM_FILE=one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := berthCommand("run", "-d", "--name", "stored", "--env-file", "app.env", "-e", "HOST_ONLY", "--network", "none",
		"--rootfs", rootfsDir, "/bin/sh", "-c", "echo $FROM_FILE $HOST_ONLY")
	cmd.Dir = dir
	r := collect(t, cmd, "berth run -d")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "stored")
	id := strings.TrimSpace(r.stdout)
	berth(t, "", "wait", "stored")
	// The file changes after the container was created: its lines were
	// read then.
	if err := os.WriteFile(envFile, []byte("FROM_FILE=two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := berth(t, "", "start", "-a", "stored"); r.code != 0 || r.stdout != "one from-host\n" {
		t.Errorf("second run: %+v, want \"one from-host\"", r)
	}
	b, err := os.ReadFile(filepath.Join(storeRoot, "containers", id, "container.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if _, ok := rec["Args"]; ok {
		t.Errorf("the record holds a command line: %s", rec["Args"])
	}
	var cfg struct {
		Env    []string
		Cmd    []string
		Rootfs string
	}
	if err := json.Unmarshal(rec["Config"], &cfg); err != nil {
		t.Fatalf("the record's Config: %v: %s", err, b)
	}
	if strings.Join(cfg.Env, " ") != "FROM_FILE=one HOST_ONLY=from-host" || cfg.Rootfs != rootfsDir || len(cfg.Cmd) != 3 {
		t.Errorf("stored config: %+v", cfg)
	}
	// inspect shows the last run's config from the record, stopped too.
	var info []struct {
		Config       struct{ Env []string }
		CreateConfig struct{ Env []string }
	}
	if r := berth(t, "", "inspect", "stored"); json.Unmarshal([]byte(r.stdout), &info) != nil || len(info) != 1 ||
		!strings.Contains(strings.Join(info[0].Config.Env, " "), "FROM_FILE=one") || len(info[0].CreateConfig.Env) != 2 {
		t.Errorf("inspect of the stopped container: %+v", r)
	}
}

// TestStartRefusesRecordOfOlderBerth: a record that holds only a command
// line (what berth wrote before it stored the configuration) is refused
// by start with one line that says what to do; rm still removes it.
func TestStartRefusesRecordOfOlderBerth(t *testing.T) {
	needRoot(t)
	id := strings.Repeat("5e", 32)
	dir := filepath.Join(storeRoot, "containers", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	rec := map[string]any{
		"Id": id, "Name": "olderberth", "Created": time.Now().UTC(), "RestartPolicy": map[string]any{"Name": "no"},
		"Args": []string{"--network=none", "--rootfs=" + rootfsDir}, "Command": []string{"/bin/true"},
		"State": map[string]any{"Status": "exited"},
	}
	b, _ := json.Marshal(rec)
	if err := os.WriteFile(filepath.Join(dir, "container.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := berth(t, "", "start", id)
	if r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "older berth") || !strings.Contains(r.stderr, "berth rm") {
		t.Errorf("start of an older record: %+v", r)
	}
	if r := berth(t, "", "rm", id); r.code != 0 {
		t.Errorf("rm of an older record: %+v", r)
	}
}
