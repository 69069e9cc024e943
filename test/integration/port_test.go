package integration

import (
	"strings"
	"testing"
)

// TestPortCommand: berth port lists a running container's published
// ports in docker's lines, one port's address with PRIVATE_PORT, exits 1
// for a port not published, and shows nothing once the container stops.
func TestPortCommand(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	r := berth(t, "", "create", "--name", "ports", "-p", "18181:80", "-p", "127.0.0.1:18182:53/udp", "--rootfs", rootfsDir,
		"/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done")
	defer berth(t, "", "rm", "-f", "ports")
	if r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	// Created: nothing published yet.
	if r := berth(t, "", "port", "ports"); r.code != 0 || r.stdout != "" {
		t.Errorf("port of a created container: %+v", r)
	}
	if r := berth(t, "", "start", "ports"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	if r := berth(t, "", "port", "ports"); r.code != 0 || r.stdout != "53/udp -> 127.0.0.1:18182\n80/tcp -> 0.0.0.0:18181\n" {
		t.Errorf("port: %+v", r)
	}
	for arg, want := range map[string]string{"80": "0.0.0.0:18181\n", "80/tcp": "0.0.0.0:18181\n", "53/udp": "127.0.0.1:18182\n"} {
		if r := berth(t, "", "container", "port", "ports", arg); r.code != 0 || r.stdout != want {
			t.Errorf("container port ports %s: %+v, want %q", arg, r, want)
		}
	}
	if r := berth(t, "", "port", "ports", "53"); r.code != 1 || !strings.Contains(r.stderr, "No public port '53/tcp' published for ports") {
		t.Errorf("unpublished port: %+v, want docker's line and 1", r)
	}
	if r := berth(t, "", "port", "ports", "http"); r.code != 125 || !strings.Contains(r.stderr, "invalid port") {
		t.Errorf("bad port: %+v", r)
	}
	if r := berth(t, "", "port", "nosuch"); r.code == 0 || !strings.Contains(r.stderr, "no such container") {
		t.Errorf("missing container: %+v", r)
	}
	if r := berth(t, "", "stop", "ports"); r.code != 0 {
		t.Fatalf("stop: %+v", r)
	}
	if r := berth(t, "", "port", "ports"); r.code != 0 || r.stdout != "" {
		t.Errorf("port of a stopped container: %+v", r)
	}
	if r := berth(t, "", "rm", "ports"); r.code != 0 {
		t.Errorf("rm: %+v", r)
	}
	checkNoLeaks(t, before)
}
