package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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
	links := h.hostLinks(t)
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
	for _, l := range h.hostLinks(t) {
		if !slices.Contains(links, l) {
			t.Errorf("berth %v left veth %s", args, l)
		}
	}
}

// noVeths waits until berth's veths in h are gone: the kernel deletes a
// container's with its network namespace, in the background.
func (h *netnsHost) noVeths(t *testing.T) {
	t.Helper()
	eventually(t, "veths gone", func() string {
		if links := h.hostLinks(t); len(links) > 0 {
			return fmt.Sprintf("veths left: %v", links)
		}
		return ""
	})
}

// ready waits until detached container name has logged "ready".
func (h *netnsHost) ready(t *testing.T, name string) {
	t.Helper()
	eventually(t, name+" ready", func() string {
		if r := h.run(t, "logs", name); !strings.Contains(r.stdout, "ready") {
			return fmt.Sprintf("logs: %+v", r)
		}
		return ""
	})
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
	h.ready(t, "web")
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
	out, _ := exec.Command("nsenter", "--net="+ns, "nft", "list", "table", "ip", "berth").CombinedOutput()
	rules := []byte(protoNames(string(out)))
	if !regexp.MustCompile(`sctp \. 18230 comment "owner:\S+ sctp 0\.0\.0\.0:18230 10\.88\.0\.\d+:80" : 10\.88\.0\.\d+ \. 80`).Match(rules) {
		t.Errorf("no sctp map element for 18230:\n%s", rules)
	}
	if !sctpSockets() {
		t.Log("no sctp sockets on this kernel: the sctp map element is checked, not its traffic")
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
	h.noVeths(t)
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
	h.ready(t, "all")
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
	h.ready(t, "all2")
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
	h.noVeths(t)
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

// execIn runs a shell script in a running container of h.
func (h *netnsHost) execIn(t *testing.T, ctr, script string) result {
	t.Helper()
	return h.run(t, "exec", ctr, "/bin/sh", "-c", script)
}

// hostLinks are the veths berth made in h (bth*, btc*).
func (h *netnsHost) hostLinks(t *testing.T) []string {
	t.Helper()
	out, _ := exec.Command("ip", "-n", h.name, "-o", "link").Output()
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && (strings.HasPrefix(f[1], "bth") || strings.HasPrefix(f[1], "btc")) {
			names = append(names, strings.TrimSuffix(strings.Split(f[1], "@")[0], ":"))
		}
	}
	return names
}

// networksOf is inspect's NetworkSettings.Networks of a container: name
// to address.
func (h *netnsHost) networksOf(t *testing.T, ctr string) map[string]string {
	t.Helper()
	r := h.run(t, "inspect", ctr)
	var out []struct {
		NetworkSettings struct {
			Networks map[string]struct{ IPAddress string }
		}
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %+v", ctr, r)
	}
	got := map[string]string{}
	for name, ep := range out[0].NetworkSettings.Networks {
		got[name] = ep.IPAddress
	}
	return got
}

// TestNetworkConnect: network connect gives a running container a second
// interface on another network, whose members and it resolve each other
// by name (and alias); disconnect takes it away again. A stopped
// container keeps the connection in its configuration and joins both
// networks at its next start. Nothing is left after rm.
func TestNetworkConnect(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	for _, n := range []struct{ name, subnet string }{{"front", "10.95.0.0/24"}, {"back", "10.96.0.0/24"}} {
		if r := h.run(t, "network", "create", "--subnet", n.subnet, n.name); r.code != 0 {
			t.Fatalf("network create: %+v", r)
		}
	}
	for _, c := range [][]string{{"api", "front"}, {"db", "back"}, {"web", "front"}} {
		if r := h.run(t, "run", "-d", "--name", c[0], "--network", c[1], "--rootfs", rootfsDir, "/bin/sh", "-c", idle); r.code != 0 {
			t.Fatalf("run %s: %+v", c[0], r)
		}
		name := c[0]
		t.Cleanup(func() { h.berth(t, "rm", "-f", name).Run() })
	}
	if r := h.execIn(t, "api", "ping -c1 -W1 db >/dev/null 2>&1 && echo reached"); strings.Contains(r.stdout, "reached") {
		t.Fatalf("api reaches db before connect: %+v", r)
	}
	if r := h.run(t, "network", "connect", "--alias", "apiback", "back", "api"); r.code != 0 || r.stdout != "" {
		t.Fatalf("network connect: %+v", r)
	}
	r := h.execIn(t, "api", "ip -4 -o addr show eth1 | awk '{print $4}'; ip route | grep default; ping -c1 -W3 db >/dev/null && echo db-reached; ping -c1 -W3 web >/dev/null && echo web-reached")
	if !regexp.MustCompile(`^10\.96\.0\.\d+/24\n`).MatchString(r.stdout) || !strings.Contains(r.stdout, "default via 10.95.0.1 dev eth0") ||
		!strings.Contains(r.stdout, "db-reached") || !strings.Contains(r.stdout, "web-reached") {
		t.Errorf("api after connect: %+v", r)
	}
	r = h.execIn(t, "db", "ping -c1 -W3 api >/dev/null && echo api-reached; ping -c1 -W3 apiback >/dev/null && echo alias-reached; grep -cw web /etc/hosts")
	if !strings.Contains(r.stdout, "api-reached") || !strings.Contains(r.stdout, "alias-reached") || !strings.HasSuffix(r.stdout, "0\n") {
		t.Errorf("db after connect: %+v (want api by name and alias, and not web of the other network)", r)
	}
	if got := h.networksOf(t, "api"); len(got) != 2 || !strings.HasPrefix(got["front"], "10.95.0.") || !strings.HasPrefix(got["back"], "10.96.0.") {
		t.Errorf("inspect api's networks: %v", got)
	}
	h.refused(t, "already on network back", "network", "connect", "back", "api")
	if r := h.run(t, "network", "connect", "nosuch", "api"); r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, `network "nosuch" not found`) {
		t.Errorf("connect to a missing network: %+v", r)
	}
	h.refused(t, "user-defined networks only", "network", "connect", "--ip", "10.88.0.9", "bridge", "api")

	if r := h.run(t, "network", "disconnect", "back", "api"); r.code != 0 {
		t.Fatalf("network disconnect: %+v", r)
	}
	if r := h.execIn(t, "api", "ip -o link show eth1 2>&1; grep -cw db /etc/hosts"); !strings.HasSuffix(r.stdout, "0\n") || strings.Contains(r.stdout, "eth1:") {
		t.Errorf("api after disconnect: %+v", r)
	}
	if r := h.execIn(t, "db", "grep -cw api /etc/hosts"); r.stdout != "0\n" {
		t.Errorf("db's hosts after disconnect: %+v", r)
	}
	if got := h.networksOf(t, "api"); len(got) != 1 || got["back"] != "" {
		t.Errorf("inspect api's networks after disconnect: %v", got)
	}
	if r := h.run(t, "network", "disconnect", "back", "api"); r.code == 0 || !strings.Contains(r.stderr, "not connected to network back") {
		t.Errorf("second disconnect: %+v", r)
	}

	// A stopped container: kept in its configuration, joined at start.
	if r := h.run(t, "create", "--name", "later", "--network", "front", "--rootfs", rootfsDir, "/bin/sh", "-c", idle); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	t.Cleanup(func() { h.berth(t, "rm", "-f", "later").Run() })
	if r := h.run(t, "network", "connect", "--ip", "10.96.0.77", "back", "later"); r.code != 0 {
		t.Fatalf("connect a created container: %+v", r)
	}
	if r := h.run(t, "start", "later"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	if r := h.execIn(t, "later", "ip -4 -o addr show eth1 | awk '{print $4}'; ping -c1 -W3 db >/dev/null && echo db-reached; ping -c1 -W3 api >/dev/null && echo api-reached"); !strings.HasPrefix(r.stdout, "10.96.0.77/24\n") ||
		!strings.Contains(r.stdout, "db-reached") || !strings.Contains(r.stdout, "api-reached") {
		t.Errorf("later after start: %+v", r)
	}
	if r := h.execIn(t, "db", "ping -c1 -W3 later >/dev/null && echo later-reached"); !strings.Contains(r.stdout, "later-reached") {
		t.Errorf("db to later: %+v", r)
	}
	// Its name resolves to its first network's address first.
	for _, c := range []string{"later", "api"} {
		if r := h.execIn(t, c, "grep -w "+c+" /etc/hosts | head -1"); !strings.HasPrefix(r.stdout, "10.95.0.") {
			t.Errorf("%s's first line for itself: %+v, want its address on front", c, r)
		}
	}
	// Disconnected while running from a network its start joined.
	if r := h.run(t, "network", "disconnect", "back", "later"); r.code != 0 {
		t.Fatalf("disconnect later: %+v", r)
	}
	if r := h.execIn(t, "later", "ip -o link show eth1 >/dev/null 2>&1 && echo has-eth1; grep -cw db /etc/hosts"); r.stdout != "0\n" {
		t.Errorf("later after disconnect: %+v", r)
	}
	// Connected while running, then removed: what connect made is
	// collected once the container is gone.
	for _, c := range []string{"api", "later"} {
		if r := h.run(t, "network", "connect", "back", c); r.code != 0 {
			t.Fatalf("connect %s again: %+v", c, r)
		}
	}
	if r := h.execIn(t, "db", "ping -c1 -W3 api >/dev/null && echo api-reached"); !strings.Contains(r.stdout, "api-reached") {
		t.Errorf("db to api connected again: %+v", r)
	}
	for _, c := range []string{"api", "db", "web", "later"} {
		if r := h.run(t, "rm", "-f", c); r.code != 0 {
			t.Fatalf("rm %s: %+v", c, r)
		}
	}
	h.run(t, "ps", "-a") // a berth command collects what is left
	h.noVeths(t)
	for _, n := range []string{"front", "back"} {
		if entries, _ := os.ReadDir(filepath.Join(h.root, "networks", n, "files")); len(entries) > 0 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("network %s's files left: %v", n, names)
		}
	}
	h.checkNothingLeft(t, nil)
}

// TestRenameUpdatesNetworkHosts: the members of a running container's
// networks resolve it by its new name after rename, not its old one.
func TestRenameUpdatesNetworkHosts(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	if r := h.run(t, "network", "create", "--subnet", "10.97.0.0/24", "ren"); r.code != 0 {
		t.Fatalf("network create: %+v", r)
	}
	for _, c := range []string{"old", "peer"} {
		if r := h.run(t, "run", "-d", "--name", c, "--network", "ren", "--rootfs", rootfsDir, "/bin/sh", "-c", idle); r.code != 0 {
			t.Fatalf("run %s: %+v", c, r)
		}
		name := c
		t.Cleanup(func() { h.berth(t, "rm", "-f", name).Run() })
	}
	if r := h.run(t, "rename", "old", "new"); r.code != 0 {
		t.Fatalf("rename: %+v", r)
	}
	t.Cleanup(func() { h.berth(t, "rm", "-f", "new").Run() })
	r := h.execIn(t, "peer", "ping -c1 -W3 new >/dev/null && echo new-reached; grep -cw old /etc/hosts")
	if r.stdout != "new-reached\n0\n" {
		t.Errorf("peer after rename: %+v, want new resolved and old gone", r)
	}
	if r := h.execIn(t, "new", "grep -cw new /etc/hosts"); r.stdout != "1\n" {
		t.Errorf("the renamed container's own hosts: %+v", r)
	}
}

// TestNetworkLsColumns: network ls prints Docker's columns, NETWORK ID
// (12 hex digits, the same every time, also for a network made before
// IDs), NAME, DRIVER, SCOPE; berth's BRIDGE and SUBNET through --format.
func TestNetworkLsColumns(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	if r := h.run(t, "network", "create", "--subnet", "10.98.0.0/24", "cols"); r.code != 0 {
		t.Fatalf("network create: %+v", r)
	}
	// A network made before IDs: its network.json has none.
	if r := h.run(t, "network", "create", "--subnet", "10.99.0.0/24", "older"); r.code != 0 {
		t.Fatalf("network create: %+v", r)
	}
	path := filepath.Join(h.root, "networks", "older", "network.json")
	b, _ := os.ReadFile(path)
	var settings map[string]any
	if err := json.Unmarshal(b, &settings); err != nil {
		t.Fatal(err)
	}
	delete(settings, "id")
	b, _ = json.Marshal(settings)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	first := h.run(t, "network", "ls")
	lines := strings.Split(strings.TrimSpace(first.stdout), "\n")
	row := regexp.MustCompile(`^[0-9a-f]{12}\s+(bridge|cols|older)\s+bridge\s+local$`)
	if first.code != 0 || len(lines) != 4 || !regexp.MustCompile(`^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$`).MatchString(lines[0]) {
		t.Fatalf("network ls: %+v", first)
	}
	for _, l := range lines[1:] {
		if !row.MatchString(l) {
			t.Errorf("network ls row %q", l)
		}
	}
	if again := h.run(t, "network", "ls"); again.stdout != first.stdout {
		t.Errorf("network ls changed: %q then %q", first.stdout, again.stdout)
	}
	if r := h.run(t, "network", "ls", "--format", "{{.Name}} {{.Bridge}} {{.Subnet}}"); !strings.Contains(r.stdout, "cols br-") || !strings.Contains(r.stdout, " 10.98.0.0/24\n") {
		t.Errorf("network ls --format: %+v", r)
	}
	r := h.run(t, "network", "inspect", "older")
	var info []struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || len(info) != 1 || len(info[0].ID) != 64 || !strings.Contains(first.stdout, info[0].ID[:12]+" ") {
		t.Errorf("network inspect older: %+v, want its 64-digit ID, whose first 12 ls shows", r)
	}
}
