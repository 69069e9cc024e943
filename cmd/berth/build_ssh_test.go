package main

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseSSH(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	k1, k2 := filepath.Join(dir, "k1"), filepath.Join(dir, "k2")
	for _, k := range []string{k1, k2} {
		if err := os.WriteFile(k, []byte("key"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := parseSSH([]string{"default", "keys=" + k1 + "," + k2, "other=" + sock}, sock)
	if err != nil || !slices.Equal(got["default"], []string{sock}) || !slices.Equal(got["keys"], []string{k1, k2}) || !slices.Equal(got["other"], []string{sock}) {
		t.Errorf("parseSSH: %v %v", got, err)
	}
	for in, want := range map[string]string{
		"default":              "SSH_AUTH_SOCK is not set",
		"x=" + dir + "/nope":   "is not an agent's socket or a key file",
		"x=" + dir:             "is not an agent's socket or a key file",
		"x=" + sock + "," + k1: "give one agent, or key files",
		"=" + k1:               "invalid --ssh",
	} {
		if _, err := parseSSH([]string{in}, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}
