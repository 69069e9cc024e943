package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

// hostRun is one berth command in h, with its exit status.
func (h *netnsHost) run(t *testing.T, args ...string) result {
	t.Helper()
	cmd := h.berth(t, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("berth %v: %v", args, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// refused checks that a berth command in h exits 125 with one line
// containing want, and leaves nothing behind: no record, state, address,
// rule or mount more than before.
func (h *netnsHost) refused(t *testing.T, want string, args ...string) {
	t.Helper()
	before := h.leftovers(t, nil)
	r := h.run(t, args...)
	if r.code != 125 || !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("berth %v: %+v; want 125 and one line containing %q", args, r, want)
	}
	after := h.leftovers(t, nil)
	sort.Strings(before)
	sort.Strings(after)
	if !slicesEqual(before, after) {
		t.Errorf("berth %v left behind:\n  %s\nbefore:\n  %s", args, strings.Join(after, "\n  "), strings.Join(before, "\n  "))
	}
}

// publishedPorts parses berth port's lines into "80/tcp" -> host
// addresses.
func publishedPorts(t *testing.T, out string) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		private, public, ok := strings.Cut(line, " -> ")
		if !ok {
			t.Fatalf("berth port line %q", line)
		}
		got[private] = append(got[private], public)
	}
	return got
}

// portOf is the port of an address "IP:PORT".
func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, port, _ := strings.Cut(addr, ":")
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("address %q", addr)
	}
	return n
}

// sctpSockets reports whether this kernel makes SCTP sockets (its sctp
// module is there).
func sctpSockets() bool {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// TestPublishForms: -p with no host port publishes on a free port the
// kernel chose for the held socket, shown by port and ps; a host range
// with one container port takes its first free port, equal ranges map
// port to port, and sctp gets its rule. Bad forms are refused with one
// line, and rm leaves no rule or held socket.
func TestPublishForms(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	ns := h.netnsPath()
	listenTCP(t, ns, "0.0.0.0:18210", "host-service")
	if r := h.run(t, "run", "-d", "--name", "web", "-p", "80", "-p", "127.0.0.1::80", "-p", "18210-18212:80",
		"-p", "18220-18221:80-81", "-p", "18230:80/sctp", "--rootfs", rootfsDir, "/bin/sh", "-c", webScript); r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	t.Cleanup(func() { h.berth(t, "rm", "-f", "web").Run() })
	r := h.run(t, "port", "web")
	got := publishedPorts(t, r.stdout)
	if len(got["80/tcp"]) != 4 || len(got["81/tcp"]) != 1 || len(got["80/sctp"]) != 1 {
		t.Fatalf("port web: %+v", r)
	}
	st := h.inspect(t, "web")
	var random []int
	for _, addr := range got["80/tcp"] {
		switch {
		case addr == "0.0.0.0:18211", addr == "0.0.0.0:18220":
		case regexp.MustCompile(`^(0\.0\.0\.0|127\.0\.0\.1):\d+$`).MatchString(addr):
			random = append(random, portOf(t, addr))
		default:
			t.Errorf("80/tcp published on %s", addr)
		}
	}
	if len(random) != 2 || got["81/tcp"][0] != "0.0.0.0:18221" || got["80/sctp"][0] != "0.0.0.0:18230" {
		t.Errorf("port web: %q, want two random ports, 18211 (18210 is the host's), 18220, 18221 and sctp 18230", r.stdout)
	}
	for _, port := range append(random, 18211, 18220) {
		if !boundBy(t, st.MonitorPid, "tcp", port) {
			t.Errorf("the monitor does not hold port %d", port)
		}
		if got, err := httpFrom(ns, "127.0.0.1", port); !strings.Contains(got, "hello-from-berth") {
			t.Errorf("127.0.0.1:%d: %v %q", port, err, got)
		}
	}
	if got, _ := httpFrom(ns, "127.0.0.1", 18210); !strings.Contains(got, "host-service") {
		t.Errorf("the host's service on 18210 was taken: %q", got)
	}
	if ps := h.run(t, "ps", "--format", "{{.Ports}}"); !strings.Contains(ps.stdout, "0.0.0.0:18211->80/tcp") || !strings.Contains(ps.stdout, "0.0.0.0:18230->80/sctp") ||
		!strings.Contains(ps.stdout, fmt.Sprintf(":%d->80/tcp", random[0])) || !strings.Contains(ps.stdout, fmt.Sprintf(":%d->80/tcp", random[1])) {
		t.Errorf("ps ports: %+v", ps)
	}
	rules, _ := exec.Command("nsenter", "--net="+ns, "nft", "list", "table", "ip", "berth").CombinedOutput()
	if !strings.Contains(string(rules), "sctp 0.0.0.0:18230") || !regexp.MustCompile(`sctp dport 18230 dnat to 10\.88\.0\.\d+:80`).Match(rules) {
		t.Errorf("no sctp rule for 18230:\n%s", rules)
	}
	if !sctpSockets() {
		t.Log("no sctp sockets on this kernel: the sctp rule is checked, not its traffic")
	}

	// A range with no free port, unequal ranges and bad forms: refused,
	// nothing left (the monitor of web aside).
	h.refused(t, "no free host port in 18210-18211", "run", "--rm", "-p", "18210-18211:80", "--rootfs", rootfsDir, "true")
	h.refused(t, "differ in length", "run", "--rm", "-p", "8000-8001:80-82", "--rootfs", rootfsDir, "true")
	h.refused(t, "differ in length", "create", "-p", "8080:80-81", "--rootfs", rootfsDir, "true")
	h.refused(t, `protocol "icmp"`, "run", "--rm", "-p", "80/icmp", "--rootfs", rootfsDir, "true")
	h.refused(t, "IPv4 only", "run", "--rm", "-p", "[::1]::80", "--rootfs", rootfsDir, "true")
	if !sctpSockets() {
		h.refused(t, "no sctp sockets", "run", "--rm", "-p", "80/sctp", "--rootfs", rootfsDir, "true")
	}
	if r := h.run(t, "rm", "-f", "web"); r.code != 0 {
		t.Fatalf("rm: %+v", r)
	}
	h.checkNothingLeft(t, nil)
	for _, port := range append(random, 18211, 18220, 18221) {
		if err := bindable(t, ns, "tcp4", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
			t.Errorf("port %d still held after rm: %v", port, err)
		}
	}
}

// exposingImage loads into h an image of the suite's busybox whose config
// exposes 80/tcp and 53/udp.
func exposingImage(t *testing.T, h *netnsHost) string {
	t.Helper()
	img := busyboxImage(t)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.ExposedPorts = map[string]struct{}{"80/tcp": {}, "53/udp": {}}
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	const ref = "exposing/web:1"
	tag, _ := name.NewTag(ref)
	file := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		t.Fatal(err)
	}
	if r := h.run(t, "load", "-q", "-i", file); r.code != 0 {
		t.Fatalf("load: %+v", r)
	}
	return ref
}

// TestPublishAll: -P publishes each port the image and --expose expose
// on a random host port, except those -p publishes; without -P, exposed
// ports are not published.
func TestPublishAll(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	ns := h.netnsPath()
	ref := exposingImage(t, h)
	if r := h.run(t, "run", "-d", "--name", "all", "-P", "--expose", "90-91", "--expose", "7/udp", "-p", "18240:80", ref, "/bin/sh", "-c", webScript); r.code != 0 {
		t.Fatalf("run -d -P: %+v", r)
	}
	t.Cleanup(func() { h.berth(t, "rm", "-f", "all").Run() })
	r := h.run(t, "port", "all")
	got := publishedPorts(t, r.stdout)
	if len(got) != 5 || !slicesEqual(got["80/tcp"], []string{"0.0.0.0:18240"}) || len(got["53/udp"]) != 1 || len(got["90/tcp"]) != 1 || len(got["91/tcp"]) != 1 || len(got["7/udp"]) != 1 {
		t.Fatalf("port all: %q, want 80/tcp on 18240 only, 53/udp, 90/tcp, 91/tcp and 7/udp on random ports", r.stdout)
	}
	st := h.inspect(t, "all")
	if !boundBy(t, st.MonitorPid, "udp", portOf(t, got["53/udp"][0])) || !boundBy(t, st.MonitorPid, "tcp", portOf(t, got["90/tcp"][0])) {
		t.Errorf("the monitor does not hold the random ports %v", got)
	}
	if res, err := httpFrom(ns, "127.0.0.1", 18240); !strings.Contains(res, "hello-from-berth") {
		t.Errorf("18240: %v %q", err, res)
	}
	if r := h.run(t, "run", "-d", "--name", "all2", "-P", ref, "/bin/sh", "-c", webScript); r.code != 0 {
		t.Fatalf("run -d -P: %+v", r)
	}
	t.Cleanup(func() { h.berth(t, "rm", "-f", "all2").Run() })
	got2 := publishedPorts(t, h.run(t, "port", "all2").stdout)
	if len(got2["80/tcp"]) != 1 {
		t.Fatalf("port all2: %v", got2)
	}
	if res, err := httpFrom(ns, "127.0.0.1", portOf(t, got2["80/tcp"][0])); !strings.Contains(res, "hello-from-berth") {
		t.Errorf("the image's exposed 80 on %s: %v %q", got2["80/tcp"][0], err, res)
	}
	if r := h.run(t, "run", "--rm", "--expose", "80", ref, "true"); r.code != 0 {
		t.Errorf("--expose without -P: %+v", r)
	}
	h.refused(t, `invalid exposed port "http"`, "run", "--rm", "-P", "--expose", "http", ref, "true")
	h.refused(t, "--network none has none", "run", "--rm", "-P", "--network", "none", ref, "true")
	for _, c := range []string{"all", "all2"} {
		if r := h.run(t, "rm", "-f", c); r.code != 0 {
			t.Fatalf("rm: %+v", r)
		}
	}
	h.checkNothingLeft(t, nil)
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// TestNetworkAddressOptions: --ip, --mac-address and --network-alias on a
// user-defined network, seen inside the container and by its neighbours;
// what Docker refuses (--ip on the default bridge, an address in use,
// --ip6, --link, --link-local-ip) is refused with one line, leaving
// nothing.
func TestNetworkAddressOptions(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	if r := h.run(t, "network", "create", "--subnet", "10.93.0.0/24", "app"); r.code != 0 {
		t.Fatalf("network create: %+v", r)
	}
	_, got := h.start(t, "ip -4 -o addr show eth0 | awk '{print $4}'; cat /sys/class/net/eth0/address; echo ready; "+idle,
		"--network", "app", "--name", "db", "--ip", "10.93.0.50", "--mac-address", "02:42:0a:5d:00:32", "--network-alias", "database", "--network-alias", "pg")
	if f := strings.Fields(got); len(f) != 2 || f[0] != "10.93.0.50/24" || f[1] != "02:42:0a:5d:00:32" {
		t.Errorf("db's eth0: %q, want 10.93.0.50/24 and 02:42:0a:5d:00:32", got)
	}
	r := h.run(t, "run", "--rm", "--network", "app", "--rootfs", rootfsDir, "/bin/sh", "-c",
		"grep 10.93.0.50 /etc/hosts; ping -c1 -W3 database >/dev/null && echo database-reached; ping -c1 -W3 pg >/dev/null && echo pg-reached")
	if r.code != 0 || !regexp.MustCompile(`10\.93\.0\.50\s.*\bdb\b.*\bdatabase pg\b`).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, "database-reached") || !strings.Contains(r.stdout, "pg-reached") {
		t.Errorf("db by its aliases: %+v", r)
	}
	appFiles := func() []string {
		entries, _ := os.ReadDir(filepath.Join(h.root, "networks", "app", "files"))
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	before := appFiles()
	run := func(flags ...string) []string {
		return append(append([]string{"run", "--rm"}, flags...), "--rootfs", rootfsDir, "true")
	}
	h.refused(t, "10.93.0.50 belongs to container", run("--network", "app", "--ip", "10.93.0.50")...)
	h.refused(t, "not a container address of subnet 10.93.0.0/24", run("--network", "app", "--ip", "10.94.0.5")...)
	h.refused(t, "not a container address", run("--network", "app", "--ip", "10.93.0.1")...)
	h.refused(t, "user-defined networks only", run("--ip", "10.88.0.50")...)
	h.refused(t, "user-defined networks only", run("--network-alias", "x")...)
	h.refused(t, "invalid --ip", run("--network", "app", "--ip", "fd00::5")...)
	h.refused(t, "invalid --mac-address", run("--network", "app", "--mac-address", "01:00:5e:00:00:01")...)
	h.refused(t, "--network none has none", run("--network", "none", "--mac-address", "02:42:0a:5d:00:33")...)
	h.refused(t, "IPv4 only", run("--network", "app", "--ip6", "fd00::5")...)
	h.refused(t, "legacy links", run("--link", "db:db")...)
	h.refused(t, "--link-local-ip", run("--link-local-ip", "169.254.1.1")...)
	h.refused(t, "invalid --network-alias", run("--network", "app", "--network-alias", "a b")...)
	if after := appFiles(); slicesEqual(before, after) == false {
		t.Errorf("network app's files: %v, before the refusals %v", after, before)
	}
}
