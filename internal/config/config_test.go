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
	// Each refusal is one line naming the file, and what is wrong where.
	for _, c := range []struct {
		what, content string
		want          []string
	}{
		{"unknown key", "[containers]\nusern = \"auto\"\n", []string{"unknown setting containers.usern"}},
		{"unknown table", "[container]\nuserns = \"auto\"\n", []string{"unknown setting container"}},
		{"broken file", "[containers\n", []string{"line 1"}},
		{"integer for a string", "[containers]\nuserns = 1\n", []string{"line 2"}},
	} {
		path := filepath.Join(dir, "bad.toml")
		os.WriteFile(path, []byte(c.content), 0o644)
		_, err := Load(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v", c.what, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want %q in it", c.what, err, w)
			}
		}
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

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// Paths follows podman's containers.conf: BERTH_CONFIG alone; root reads
// the host-wide file; a rootless user reads it, then its own, from
// XDG_CONFIG_HOME or else ~/.config.
func TestPaths(t *testing.T) {
	for _, c := range []struct {
		rootless bool
		env      map[string]string
		want     string
	}{
		{false, map[string]string{"HOME": "/home/u"}, DefaultPath},
		{false, map[string]string{"BERTH_CONFIG": "/x.toml"}, "/x.toml"},
		{true, map[string]string{"BERTH_CONFIG": "/x.toml", "HOME": "/home/u"}, "/x.toml"},
		{true, map[string]string{"HOME": "/home/u"}, DefaultPath + " /home/u/.config/berth/berth.toml"},
		{true, map[string]string{"HOME": "/home/u", "XDG_CONFIG_HOME": "/cfg"}, DefaultPath + " /cfg/berth/berth.toml"},
		{true, map[string]string{}, DefaultPath},
	} {
		if got := strings.Join(Paths(c.rootless, envOf(c.env)), " "); got != c.want {
			t.Errorf("Paths(rootless %v, %v) = %q, want %q", c.rootless, c.env, got, c.want)
		}
	}
}

// For a rootless user the host-wide userns is ignored, without an error,
// and its own file's applies; a broken own file is an error naming it.
// The host-wide file is the real one, so the test writes its own
// BERTH_CONFIG-free layout through loadFiles.
func TestLoadForRootless(t *testing.T) {
	dir := t.TempDir()
	system := filepath.Join(dir, "system.toml")
	user := filepath.Join(dir, "user.toml")
	os.WriteFile(system, []byte("[containers]\nuserns = \"auto\"\n"), 0o644)
	if c, err := loadFiles([]string{system, filepath.Join(dir, "none.toml")}, true, system); err != nil || c.Containers.Userns != "" {
		t.Errorf("rootless, host-wide auto only: %+v, %v; want no userns, no error", c, err)
	}
	if c, err := loadFiles([]string{system}, false, system); err != nil || c.Containers.Userns != "auto" {
		t.Errorf("root, host-wide auto: %+v, %v", c, err)
	}
	os.WriteFile(user, []byte("[containers]\nuserns = \"host\"\n"), 0o644)
	if c, err := loadFiles([]string{system, user}, true, system); err != nil || c.Containers.Userns != "host" {
		t.Errorf("rootless, own file: %+v, %v; want host", c, err)
	}
	os.WriteFile(user, []byte("[containers]\nusern = \"host\"\n"), 0o644)
	if _, err := loadFiles([]string{system, user}, true, system); err == nil || !strings.Contains(err.Error(), user) {
		t.Errorf("rootless, own file with a typo: %v, want an error naming it", err)
	}
	// The user's file does not exist: the host-wide one's other
	// settings (none yet) would apply, its userns does not.
	if c, err := LoadFor(true, envOf(map[string]string{"HOME": filepath.Join(dir, "nohome")})); err != nil {
		t.Errorf("LoadFor(rootless) with no own file: %+v, %v", c, err)
	} else if c.Containers.Userns != "" {
		t.Errorf("LoadFor(rootless) took the host-wide userns %q", c.Containers.Userns)
	}
	// BERTH_CONFIG is the user's own choice: its userns applies.
	if c, err := LoadFor(true, envOf(map[string]string{"BERTH_CONFIG": system})); err != nil || c.Containers.Userns != "auto" {
		t.Errorf("LoadFor(rootless, BERTH_CONFIG): %+v, %v", c, err)
	}
}
