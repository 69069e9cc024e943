package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A container's network namespace is its own, owned by the user namespace
// the container runs in (the host's, or its own with --uidmap), with lo
// up and, on a bridge, its veth configured; every thread of berth is in
// the host's namespace (berth's netlink work inside the container's runs
// on threads that end), and neither berth nor the container's program
// holds a descriptor of the namespace once it runs.
func TestContainerNetns(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	// A user namespace's root must reach the network files under it.
	for _, dir := range []string{filepath.Dir(h.root), h.root} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var st unix.Stat_t // a bind mount of the namespace, not a link
	if err := unix.Stat(h.netnsPath(), &st); err != nil {
		t.Fatal(err)
	}
	hostNet := fmt.Sprintf("net:[%d]", st.Ino)
	hostUser := nsLink(t, os.Getpid(), "user")
	script := "cat /sys/class/net/lo/flags; ping -c1 -W3 10.88.0.1 >/dev/null && echo gateway-ok; echo ready; trap 'exit 0' INT TERM; sleep 60 & wait"
	for _, c := range []struct {
		name  string
		flags []string
	}{
		{"bridge", []string{"--network", "bridge"}},
		{"none", []string{"--network", "none"}},
		{"bridge in a user namespace", []string{"--network", "bridge", "--uidmap", "0:300000:65536"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd, out := h.start(t, script, c.flags...)
			if !strings.HasPrefix(out, "0x9\n") {
				t.Errorf("lo is not up (flags want 0x9): %q", out)
			}
			if bridged := c.flags[1] == "bridge"; bridged != strings.Contains(out, "gateway-ok") {
				t.Errorf("bridge %v, but the container printed %q", bridged, out)
			}
			berthPid := cmd.Process.Pid // nsenter execs berth
			kids := childrenOf(berthPid)
			if len(kids) != 1 {
				t.Fatalf("berth %d has children %v, want the container's PID 1", berthPid, kids)
			}
			ctrNet := nsLink(t, kids[0], "net")
			if ctrNet == hostNet {
				t.Fatal("the container is in the host's network namespace")
			}
			wantOwner := hostUser
			if len(c.flags) > 2 {
				wantOwner = nsLink(t, kids[0], "user")
				if wantOwner == hostUser {
					t.Fatal("the container has no user namespace of its own")
				}
			}
			if got := nsOwner(t, kids[0], "net"); got != wantOwner {
				t.Errorf("the container's network namespace is owned by %s, want %s", got, wantOwner)
			}
			tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/ns/net", berthPid))
			if len(tasks) == 0 {
				t.Fatal("no threads of berth found")
			}
			for _, task := range tasks {
				if got, _ := os.Readlink(task); got != hostNet {
					t.Errorf("berth's thread %s is in %s, not the host's %s", task, got, hostNet)
				}
			}
			fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", berthPid))
			for _, fd := range fds {
				if target, _ := os.Readlink(fd); target == ctrNet {
					t.Errorf("berth holds %s, the container's network namespace", fd)
				}
			}
			// Nor does the container's program get the descriptor its
			// init stage joined the namespace by.
			fds, _ = filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", kids[0]))
			for _, fd := range fds {
				if target, _ := os.Readlink(fd); strings.HasPrefix(target, "net:") {
					t.Errorf("the container's PID 1 holds %s: %s", fd, target)
				}
			}
		})
	}
}
