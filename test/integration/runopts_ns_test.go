package integration

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestNamespaceRunOptions: --pid, --ipc and --uts host and
// container:NAME, and --domainname, as the container sees them.
func TestNamespaceRunOptions(t *testing.T) {
	needRoot(t)
	r := berth(t, "", "run", "-d", "--name", "nstarget", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "trap 'exit 0' TERM; sleep 1001 & wait")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "nstarget")
	var pid int
	eventually(t, "target running", func() string {
		if pid = inspectState(t, "nstarget").Pid; pid == 0 {
			return "no pid"
		}
		return ""
	})
	targetIPC, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/ipc")
	hostIPC, _ := os.Readlink("/proc/self/ns/ipc")
	hostInit, _ := os.ReadFile("/proc/1/comm")
	hostname, _ := os.Hostname()

	out := runIn(t, "cat /proc/1/comm; readlink /proc/self/ns/ipc; hostname; echo $HOSTNAME", "--network", "none", "--pid", "host", "--ipc", "host", "--uts", "host")
	want := strings.TrimSpace(string(hostInit)) + "\n" + hostIPC + "\n" + hostname + "\n" + hostname + "\n"
	if out != want {
		t.Errorf("--pid host --ipc host --uts host: %q, want %q", out, want)
	}
	out = runIn(t, "cat /proc/*/cmdline | tr '\\0' ' '; echo; readlink /proc/self/ns/ipc; cat /proc/sys/kernel/domainname", "--network", "none",
		"--pid", "container:nstarget", "--ipc", "container:nstarget", "--domainname", "example.org")
	lines := strings.Split(out, "\n")
	if len(lines) < 3 || !strings.Contains(lines[0], "sleep 1001") || lines[1] != targetIPC || lines[2] != "example.org" {
		t.Errorf("--pid/--ipc container:nstarget --domainname: %q (target ipc %s)", out, targetIPC)
	}

	before := snapshot(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--uts", "host", "--hostname", "box"}, "conflicting options"},
		{[]string{"--ipc", "bogus"}, "invalid --ipc"},
		{[]string{"--pid", "private"}, "invalid --pid"},
		{[]string{"--pid", "container:nosuchcontainer"}, "nosuchcontainer"},
	} {
		r := berth(t, "", append(append([]string{"run", "--rm", "--network", "none"}, c.args...), "--rootfs", rootfsDir, "true")...)
		if r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: %+v, want one line naming %q", c.args, r, c.want)
		}
	}
	checkNoLeaks(t, before)
}

// TestNetworkFileRunOptions: --add-host (host-gateway too), --dns,
// --dns-search and --dns-option in a bridge container's /etc/hosts and
// /etc/resolv.conf; refused where berth writes neither.
func TestNetworkFileRunOptions(t *testing.T) {
	needRoot(t)
	out := runIn(t, "cat /etc/hosts; echo ---; cat /etc/resolv.conf", "--add-host", "db:10.1.2.3", "--add-host", "gw:host-gateway",
		"--dns", "192.0.2.53", "--dns-search", "a.example", "--dns-option", "ndots:3")
	hosts, resolv, _ := strings.Cut(out, "---\n")
	for _, want := range []string{"\n10.1.2.3\tdb\n", "\n10.88.0.1\tgw\n", "localhost"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("/etc/hosts %q lacks %q", hosts, want)
		}
	}
	var servers []string
	for _, line := range strings.Split(resolv, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "nameserver" {
			servers = append(servers, f[1])
		}
	}
	if len(servers) != 1 || servers[0] != "192.0.2.53" || !strings.Contains(resolv, "search a.example\n") || !strings.Contains(resolv, "options ndots:3\n") {
		t.Errorf("resolv.conf %q", resolv)
	}
	before := snapshot(t)
	for _, args := range [][]string{{"--network", "none", "--add-host", "db:10.1.2.3"}, {"--network", "host", "--dns", "192.0.2.53"}, {"--add-host", "db"}, {"--dns", "dns.example"}} {
		r := berth(t, "", append(append([]string{"run", "--rm"}, args...), "--rootfs", rootfsDir, "true")...)
		if r.code != 125 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%q: %+v, want 125 and one line", args, r)
		}
	}
	checkNoLeaks(t, before)
}
