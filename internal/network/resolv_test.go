package network

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFilterResolvConf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	content := "# comment\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver ::1\nsearch example.test\noptions edns0\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	conf, servers, dropped := filterResolvConf(path)
	want := "# comment\nnameserver 192.0.2.53\nsearch example.test\noptions edns0\n"
	if conf != want || servers != 1 || dropped != 2 {
		t.Errorf("got %q, %d kept, %d dropped; want %q, 1, 2", conf, servers, dropped, want)
	}
	if conf, servers, dropped := filterResolvConf(filepath.Join(t.TempDir(), "missing")); conf != "" || servers != 0 || dropped != 0 {
		t.Errorf("missing file: %q %d %d", conf, servers, dropped)
	}
}
