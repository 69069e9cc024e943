package main

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/volume"
)

// TestCompletionNames: shell completion lists the containers, volumes and
// networks of the store, by prefix, for the commands that take them.
func TestCompletionNames(t *testing.T) {
	root := t.TempDir()
	if _, _, err := (volume.Store{Dir: filepath.Join(root, "volumes")}).Create("data", volume.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := (volume.Store{Dir: filepath.Join(root, "volumes")}).Create("dump", volume.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := network.Create(root, "backend", netip.MustParsePrefix("10.201.7.0/24")); err != nil {
		t.Fatal(err)
	}
	o, err := (managed.Store{Dir: filepath.Join(root, "containers")}).Create(managed.Record{ID: strings.Repeat("ab", 32), Name: "web",
		Created: time.Now(), Config: &managed.Config{Rootfs: "/", Cmd: []string{"true"}}, State: managed.State{Status: managed.Created}})
	if err != nil {
		t.Fatal(err)
	}
	o.Release()
	complete := func(args ...string) []string {
		t.Helper()
		cmd := newRootCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(append([]string{"__complete", "--root", root, "--runroot", filepath.Join(root, "run")}, args...))
		if err := cmd.Execute(); err != nil {
			t.Fatalf("complete %v: %v", args, err)
		}
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if !strings.HasPrefix(l, ":") && l != "" {
				names = append(names, l)
			}
		}
		return names
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"volume", "rm", "d"}, "data dump"},
		{[]string{"volume", "inspect", "da"}, "data"},
		{[]string{"network", "inspect", ""}, "bridge backend"},
		{[]string{"network", "rm", "b"}, "bridge backend"},
		{[]string{"run", "--network", "back"}, "backend"},
		{[]string{"stop", "w"}, "web"},
		{[]string{"container", "inspect", ""}, "web"},
		{[]string{"inspect", "b"}, "bridge backend"},
		{[]string{"inspect", "w"}, "web"},
	} {
		if got := strings.Join(complete(c.args...), " "); got != c.want {
			t.Errorf("complete %v: %q, want %q", c.args, got, c.want)
		}
	}
}
