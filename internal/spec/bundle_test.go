package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeBundle(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// LoadBundle decodes through specjson, and through encoding/json's
// Decoder what specjson leaves to it: the same configs load, with the
// same errors.
func TestLoadBundle(t *testing.T) {
	for _, tc := range []struct{ name, config, host, err string }{
		{"plain", `{"ociVersion":"1.0.2","root":{"path":"rootfs"},"hostname":"h"}`, "h", ""},
		{"case-folded key", `{"ociVersion":"1.0.2","root":{"path":"rootfs"},"HOSTNAME":"h"}`, "h", ""},
		{"data after the config", `{"ociVersion":"1.0.2","root":{"path":"rootfs"},"hostname":"h"} trailing`, "h", ""},
		{"type error", `{"ociVersion":"1.0.2","root":{"path":"rootfs"},"hostname":1}`, "",
			"config.json in %s: field hostname must be string, not a JSON number"},
		{"syntax error", `{"ociVersion":"1.0.2",}`, "", "config.json in %s: invalid character '}' looking for beginning of object key string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeBundle(t, tc.config)
			s, err := LoadBundle(dir)
			if tc.err != "" {
				want := strings.Replace(tc.err, "%s", dir, 1)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Hostname != tc.host || s.Root.Path != filepath.Join(dir, "rootfs") {
				t.Fatalf("hostname %q, root %q", s.Hostname, s.Root.Path)
			}
		})
	}
}
