package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunOptionsBadInput: each bad option value is refused in one line,
// exit 125, with no container, cgroup, mount or cidfile left.
func TestRunOptionsBadInput(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	badProfile := filepath.Join(dir, "bad.json")
	os.WriteFile(badProfile, []byte(`{"defaultAction": "SCMP_ACT_SOMETIMES"}`), 0o644)
	cid := filepath.Join(dir, "cid")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--cap-add", "CAP_FLY"}, "unknown capability"},
		{[]string{"--cap-drop", "nope"}, "--cap-drop"},
		{[]string{"--security-opt", "frobnicate=1"}, "--security-opt"},
		{[]string{"--security-opt", "no-new-privileges=maybe"}, "no-new-privileges"},
		{[]string{"--security-opt", "seccomp=" + filepath.Join(dir, "missing.json")}, "seccomp"},
		{[]string{"--security-opt", "seccomp=" + badProfile}, "seccomp"},
		{[]string{"--security-opt", "apparmor=docker-default"}, "AppArmor"},
		{[]string{"--security-opt", "mask=relative/path"}, "absolute"},
		{[]string{"--group-add", "nosuchgroup"}, "nosuchgroup"},
		{[]string{"--stop-signal", "SIGNOPE"}, "--stop-signal"},
		{[]string{"--stop-timeout", "-5"}, "--stop-timeout"},
		{[]string{"--ulimit", "nofile=2048:1024"}, "soft limit"},
		{[]string{"--ulimit", "bogus=1"}, "--ulimit"},
		{[]string{"--oom-score-adj", "1001"}, "--oom-score-adj"},
		{[]string{"--sysctl", "vm.swappiness=1"}, "vm.swappiness"},
		{[]string{"--sysctl", "net.ipv4.ip_forward=1", "--network", "host"}, "net.ipv4.ip_forward"},
		{[]string{"--shm-size", "0"}, "--shm-size"},
		{[]string{"--label-file", filepath.Join(dir, "nolabels")}, "--label-file"},
		{[]string{"--annotation", "novalue"}, "--annotation"},
	}
	before := snapshot(t)
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			args := append(append([]string{"run", "--rm", "--cidfile", cid}, c.args...), "--rootfs", rootfsDir, "true")
			r := berth(t, "", args...)
			if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("%+v: want 125 and one line naming %q", r, c.want)
			}
			if _, err := os.Stat(cid); err == nil {
				t.Error("cidfile left behind")
				os.Remove(cid)
			}
		})
	}
	checkNoLeaks(t, before)
}
