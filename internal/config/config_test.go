package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if c, err := Load(filepath.Join(dir, "missing.toml")); err != nil || c.Containers.Userns != "" {
		t.Fatalf("missing file: %+v, %v", c, err)
	}
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("# host-wide\n[containers]\nuserns = \"auto:size=1024\"\n"), 0o644)
	if c, err := Load(good); err != nil || c.Containers.Userns != "auto:size=1024" {
		t.Fatalf("good file: %+v, %v", c, err)
	}
	typo := filepath.Join(dir, "typo.toml")
	os.WriteFile(typo, []byte("[containers]\nusern = \"auto\"\n"), 0o644)
	if _, err := Load(typo); err == nil || !strings.Contains(err.Error(), "containers.usern") {
		t.Errorf("unknown key: %v", err)
	}
	broken := filepath.Join(dir, "broken.toml")
	os.WriteFile(broken, []byte("[containers\n"), 0o644)
	if _, err := Load(broken); err == nil || !strings.Contains(err.Error(), broken) {
		t.Errorf("broken file: %v", err)
	}
}

func TestUsernsFromOpts(t *testing.T) {
	for opts, want := range map[string]string{"": "", "--userns=auto": "auto", " --userns  keep-id ": "keep-id", "--userns=host --userns=nomap": "nomap"} {
		if got, err := UsernsFromOpts(opts); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", opts, got, err, want)
		}
	}
	for _, bad := range []string{"--privileged", "--userns=auto -d", "--userns"} {
		if _, err := UsernsFromOpts(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
