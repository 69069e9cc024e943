package integration

// Host network exposure: what containers and the hosts of the LAN reach
// on the host berth runs on. The "host" of these tests is a network
// namespace of the test's own (netnsHost); a host-loopback service is a
// listener bound to 127.0.0.1 in it, and a LAN neighbour is another
// namespace, plugged into the host by a veth, that routes 127.0.0.1 to
// the host as a hostile machine on the same link can.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netnsPath is the namespace's file, for nsenter and setns.
func (h *netnsHost) netnsPath() string { return "/run/netns/" + h.name }

// inNetns runs f on a thread that joined the network namespace at path:
// sockets f opens live there for good. The thread is never handed back
// to the scheduler: it exits with its goroutine.
func inNetns(path string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		if err != nil {
			errc <- fmt.Errorf("enter %s: %w", path, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// udpSink records the datagrams a UDP socket receives.
type udpSink struct {
	mu  sync.Mutex
	got []string
}

func listenUDP(t *testing.T, netns, addr string) *udpSink {
	t.Helper()
	var pc net.PacketConn
	if err := inNetns(netns, func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &udpSink{}
	go func() {
		buf := make([]byte, 512)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.got = append(s.got, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *udpSink) received(payload string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.got, payload)
}

// listenTCP serves reply to every connection on addr in netns.
func listenTCP(t *testing.T, netns, addr, reply string) {
	t.Helper()
	var l net.Listener
	if err := inNetns(netns, func() (err error) { l, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "HTTP/1.0 200 OK\r\n\r\n%s\n", reply)
			c.Close()
		}
	}()
}

// httpFrom fetches / from addr:port in the network namespace netns.
func httpFrom(netns, addr string, port int) (string, error) {
	cmd := exec.Command("nsenter", "--net="+netns, "/bin/sh", "-c",
		fmt.Sprintf("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 3 %s %d", addr, port))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// neighbour is a LAN neighbour of the host: 192.0.2.1 on a veth whose
// host end is lan0 (192.0.2.254). It has no loopback of its own (lo
// stays down) and routes 127.0.0.1 to the host, as a hostile machine on
// the host's link can.
type neighbour struct {
	netns   string // its namespace's file
	hostMAC string // lan0's MAC, where its raw frames go
}

func newNeighbour(t *testing.T, h *netnsHost) neighbour {
	t.Helper()
	name := h.name + "-n"
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	h.ip(t, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", name)
	h.ip(t, "addr", "add", "192.0.2.254/24", "dev", "lan0")
	h.ip(t, "link", "set", "lan0", "up")
	n := neighbour{netns: "/run/netns/" + name}
	for _, args := range [][]string{
		{"ip", "addr", "add", "192.0.2.1/24", "dev", "eth0"},
		{"ip", "link", "set", "eth0", "up"},
		// Its own sysctls: it sends to 127.0.0.1 through eth0 and takes
		// answers from 127.0.0.1 there.
		{"sh", "-c", "echo 1 >/proc/sys/net/ipv4/conf/all/route_localnet && echo 1 >/proc/sys/net/ipv4/conf/eth0/route_localnet"},
		{"ip", "route", "add", "127.0.0.1/32", "via", "192.0.2.254", "dev", "eth0", "src", "192.0.2.1"},
	} {
		if out, err := exec.Command("nsenter", append([]string{"--net=" + n.netns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("neighbour: %v: %v %s", args, err, out)
		}
	}
	n.hostMAC = linkMAC(t, h.netnsPath(), "lan0")
	return n
}

// linkMAC is the MAC address of a link in netns.
func linkMAC(t *testing.T, netns, link string) string {
	t.Helper()
	out, err := exec.Command("nsenter", "--net="+netns, "ip", "-o", "link", "show", link).CombinedOutput()
	if err != nil {
		t.Fatalf("ip link show %s: %v %s", link, err, out)
	}
	f := strings.Fields(string(out))
	if i := slices.Index(f, "link/ether"); i >= 0 && i+1 < len(f) {
		return f[i+1]
	}
	t.Fatalf("no MAC in %q", out)
	return ""
}

// rawScript is the start of a container script that learns the bridge's
// MAC (the gateway's) and can then run /rawframe.
const rawScript = `ping -c1 -W2 10.88.0.1 >/dev/null; MAC=$(awk '$1=="10.88.0.1"{print $4}' /proc/net/arp); `

// rawFlags run a container with the rawframe tool at /rawframe.
func rawFlags(t *testing.T) []string {
	return []string{"-v", rawframeTool(t) + ":/rawframe:ro", "-e", rawframeEnv + "=1"}
}

// TestHostLoopbackUnreachableFromContainer: a container with the default
// capabilities (CAP_NET_RAW among them) sends frames to the bridge's MAC
// addressed to 127.0.0.1 (CVE-2020-8558): services bound to the host's
// loopback never see them, nor anything claiming to come from 127.0.0.1,
// while the same frames addressed to the bridge's own address arrive.
func TestHostLoopbackUnreachableFromContainer(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	ns := h.netnsPath()
	loopbackUDP := listenUDP(t, ns, "127.0.0.1:18091")
	bridgeUDP := listenUDP(t, ns, "0.0.0.0:18092")
	listenTCP(t, ns, "127.0.0.1:18093", "host-loopback-secret")
	script := rawScript + `echo mac=$MAC
/rawframe udp eth0 $MAC auto 127.0.0.1:18091 to-loopback
/rawframe udp eth0 $MAC auto 10.88.0.1:18092 to-bridge
/rawframe udp eth0 $MAC 127.0.0.1 10.88.0.1:18092 from-loopback
/rawframe syn eth0 $MAC auto 127.0.0.1:18093`
	// Its published port makes the host route loopback to the bridge
	// (route_localnet), which is what the guard must make safe.
	out, err := h.berth(t, append(append([]string{"run", "--rm", "--network", "bridge", "-p", "18090:80"}, rawFlags(t)...),
		"--rootfs", rootfsDir, "/bin/sh", "-c", script)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "mac=") {
		t.Fatalf("container: %v %s", err, out)
	}
	if b, _ := exec.Command("nsenter", "--net="+ns, "cat", "/proc/sys/net/ipv4/conf/berth0/route_localnet").Output(); strings.TrimSpace(string(b)) != "1" {
		t.Errorf("route_localnet on the bridge is %q: the test does not exercise the guard", b)
	}
	time.Sleep(300 * time.Millisecond) // the last datagrams in flight
	if !bridgeUDP.received("to-bridge") {
		t.Fatalf("the control frame to the bridge's address did not arrive: the test cannot tell anything (container said %q)", out)
	}
	if loopbackUDP.received("to-loopback") {
		t.Errorf("a frame from the container reached a UDP service bound to the host's 127.0.0.1")
	}
	if bridgeUDP.received("from-loopback") {
		t.Errorf("a frame from the container claiming source 127.0.0.1 was accepted by the host")
	}
	if strings.Contains(string(out), "synack") {
		t.Errorf("a TCP service bound to the host's 127.0.0.1 answered the container's SYN")
	}

	// A neighbour on the LAN gets no further, by route or by raw frame.
	lan := newNeighbour(t, h)
	if got, err := httpFrom(lan.netns, "127.0.0.1", 18093); strings.Contains(got, "secret") {
		t.Errorf("the LAN neighbour reached the host's loopback service: %v %q", err, got)
	}
	if b, err := rawframeCmd(t, lan.netns, "udp", "eth0", lan.hostMAC, "auto", "127.0.0.1:18091", "lan-to-loopback").CombinedOutput(); err != nil {
		t.Fatalf("rawframe from the neighbour: %v %s", err, b)
	}
	time.Sleep(300 * time.Millisecond)
	if loopbackUDP.received("lan-to-loopback") {
		t.Errorf("a frame from the LAN reached a UDP service bound to the host's 127.0.0.1")
	}
	// From the host itself, loopback and the published ports through it work.
	if got, err := httpFrom(ns, "127.0.0.1", 18093); !strings.Contains(got, "secret") {
		t.Errorf("the host cannot reach its own loopback service: %v %q", err, got)
	}
}

// webScript serves "hello-from-berth" on port 80 and prints ready.
const webScript = "mkdir /dev/shm/www && echo hello-from-berth > /dev/shm/www/index.html && httpd -p 80 -h /dev/shm/www && echo ready; " + idle

// TestLoopbackPublishedPortOnlyFromHost: -p 127.0.0.1:PORT publishes to
// this host alone. A LAN neighbour that routes 127.0.0.1 here does not
// reach it (moby#41872), by route or by raw frame, nor a port published
// on every address through 127.0.0.1; a container does not reach it by
// raw frame either. The host reaches both through 127.0.0.1, and the
// neighbour the second through the host's LAN address.
func TestLoopbackPublishedPortOnlyFromHost(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	lan := newNeighbour(t, h)
	h.start(t, webScript, "--network", "bridge", "-p", "127.0.0.1:18094:80", "-p", "18095:80")
	ns := h.netnsPath()
	for _, port := range []int{18094, 18095} {
		if got, err := httpFrom(ns, "127.0.0.1", port); !strings.Contains(got, "hello-from-berth") {
			t.Errorf("host to 127.0.0.1:%d: %v %q", port, err, got)
		}
	}
	if got, err := httpFrom(lan.netns, "192.0.2.254", 18095); !strings.Contains(got, "hello-from-berth") {
		t.Errorf("neighbour to the host's LAN address, port published on every address: %v %q", err, got)
	}
	for _, port := range []int{18094, 18095} {
		if got, _ := httpFrom(lan.netns, "127.0.0.1", port); strings.Contains(got, "hello-from-berth") {
			t.Errorf("the LAN neighbour reached the container through 127.0.0.1:%d", port)
		}
	}
	out, err := rawframeCmd(t, lan.netns, "syn", "eth0", lan.hostMAC, "auto", "127.0.0.1:18094").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "nothing" {
		t.Errorf("raw SYN from the LAN neighbour to 127.0.0.1:18094: %v %q, want nothing back", err, out)
	}
	if got, _ := httpFrom(lan.netns, "192.0.2.254", 18094); strings.Contains(got, "hello-from-berth") {
		t.Errorf("the LAN neighbour reached the loopback-published port on the host's LAN address")
	}
	b, err := h.berth(t, append(append([]string{"run", "--rm", "--network", "bridge"}, rawFlags(t)...),
		"--rootfs", rootfsDir, "/bin/sh", "-c", rawScript+"echo mac=$MAC; /rawframe syn eth0 $MAC auto 127.0.0.1:18094")...).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "mac=") || !strings.Contains(string(b), "nothing") {
		t.Errorf("raw SYN from a container to 127.0.0.1:18094: %v %q, want nothing back", err, b)
	}
}

// leftovers lists what berth left in h: container records, runtime
// state, network files, address allocations, nftables rules of
// containers, and the cgroups of the containers ids.
func (h *netnsHost) leftovers(t *testing.T, ids map[string]bool) []string {
	t.Helper()
	var out []string
	list := func(what, dir string) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() == "names" || e.Name() == ".names" {
				continue
			}
			var files []string
			inside, _ := os.ReadDir(filepath.Join(dir, e.Name()))
			for _, f := range inside {
				if e.Name() != ".collect" || f.Name() != ".scanned" {
					files = append(files, f.Name())
				}
			}
			// The collection index: only a hint left is a leftover.
			if e.Name() == ".collect" && len(files) == 0 {
				continue
			}
			out = append(out, fmt.Sprintf("%s %s %v", what, e.Name(), files))
		}
	}
	list("container record", filepath.Join(h.root, "containers"))
	list("runtime state", filepath.Join(h.root, "run"))
	list("network files", filepath.Join(h.root, "networks", "bridge", "files"))
	var ipam struct{ Allocations map[string]string }
	if b, err := os.ReadFile(filepath.Join(h.root, "networks", "bridge", "ipam.json")); err == nil {
		if err := json.Unmarshal(b, &ipam); err != nil {
			t.Fatal(err)
		}
	}
	for id, addr := range ipam.Allocations {
		out = append(out, "address "+addr+" of "+id)
	}
	rules, _ := exec.Command("nsenter", "--net="+h.netnsPath(), "nft", "list", "table", "ip", "berth").CombinedOutput()
	for _, line := range strings.Split(string(rules), "\n") {
		if strings.Contains(line, "owner:") {
			out = append(out, "rule "+strings.TrimSpace(line))
		}
	}
	for id := range ids {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/berth/" + id)
		v2, _ := filepath.Glob("/sys/fs/cgroup/berth/" + id)
		for _, d := range append(dirs, v2...) {
			out = append(out, "cgroup "+d)
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		if strings.Contains(line, h.root) {
			out = append(out, "mount "+line)
		}
	}
	return out
}

// checkNothingLeft fails unless berth left nothing in h.
func (h *netnsHost) checkNothingLeft(t *testing.T, ids map[string]bool) {
	t.Helper()
	if left := h.leftovers(t, ids); len(left) > 0 {
		t.Errorf("left behind:\n  %s", strings.Join(left, "\n  "))
	}
}

// boundBy reports whether one of pid's descriptors is a socket listening
// (TCP) or bound (UDP) on port in pid's network namespace.
func boundBy(t *testing.T, pid int, proto string, port int) bool {
	t.Helper()
	inodes := map[string]bool{}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, proto))
	if err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && strings.HasSuffix(f[1], suffix) && (proto == "udp" || f[3] == "0A") {
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[target] {
			return true
		}
	}
	return false
}

// bindable reports whether addr (proto "tcp4" or "udp4") can be taken in
// netns, as a host program would take it.
func bindable(t *testing.T, netns, proto, addr string) error {
	t.Helper()
	return inNetns(netns, func() error {
		if proto == "udp4" {
			pc, err := net.ListenPacket(proto, addr)
			if err == nil {
				pc.Close()
			}
			return err
		}
		l, err := net.Listen(proto, addr)
		if err == nil {
			l.Close()
		}
		return err
	})
}

// TestPublishedPortInUse: a published port that a host program holds
// is refused with one line and exit status 125, leaving nothing, and the
// host's clients keep reaching their service; a port berth publishes is
// held for the container's life by whoever runs it (visible to ss, and
// refused to the next program), never by the container itself.
func TestPublishedPortInUse(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	ns := h.netnsPath()
	listenTCP(t, ns, "0.0.0.0:18096", "host-service")
	listenUDP(t, ns, "127.0.0.1:18097")
	listenTCP(t, ns, "127.0.0.1:18098", "host-loopback-service")
	refused := func(name string, port int, host string, flags ...string) {
		t.Helper()
		var stderr strings.Builder
		cmd := h.berth(t, append(append([]string{"run"}, flags...), "--rootfs", rootfsDir, "/bin/sh", "-c", "echo started")...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var ee *exec.ExitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		want := fmt.Sprintf("berth: port %d is already in use on %s: ", port, host)
		if code != 125 || strings.Contains(string(out), "started") || !strings.HasPrefix(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 125 and one line starting %q", name, code, out, stderr.String(), want)
		}
		h.checkNothingLeft(t, nil)
	}
	refused("detached, every address", 18096, "0.0.0.0", "-d", "-p", "18096:80")
	refused("foreground", 18096, "0.0.0.0", "--rm", "-p", "18096:80")
	refused("udp on 127.0.0.1", 18097, "127.0.0.1", "--rm", "-p", "127.0.0.1:18097:53/udp")
	refused("every address, host listens on 127.0.0.1", 18098, "0.0.0.0", "--rm", "-p", "18098:80")
	refused("127.0.0.1, host listens on every address", 18096, "127.0.0.1", "--rm", "-p", "127.0.0.1:18096:80")
	if got, err := httpFrom(ns, "127.0.0.1", 18096); !strings.Contains(got, "host-service") {
		t.Errorf("the host's clients lost their service on 18096: %v %q", err, got)
	}

	// Published ports are held by berth (or the monitor), never by the
	// container, for the container's life.
	a, _ := h.start(t, "echo ready; "+idle, "--network", "bridge", "-p", "18099:80", "-p", "18099:53/udp", "--name", "holder")
	for _, p := range []string{"tcp", "udp"} {
		if !boundBy(t, a.Process.Pid, p, 18099) {
			t.Errorf("berth does not hold %s port 18099", p)
		}
		if err := bindable(t, ns, p+"4", "0.0.0.0:18099"); !errors.Is(err, unix.EADDRINUSE) {
			t.Errorf("a host program could take %s port 18099 while it is published: %v", p, err)
		}
	}
	for _, pid := range containerPids(t, a.Process.Pid) {
		for _, p := range []string{"tcp", "udp"} {
			if boundBy(t, pid, p, 18099) {
				t.Errorf("container process %d holds the published %s port's socket", pid, p)
			}
		}
	}
	var stderr strings.Builder
	second := h.berth(t, "run", "--rm", "-p", "18099:80", "--rootfs", rootfsDir, "true")
	second.Stderr = &stderr
	if err := second.Run(); err == nil || !strings.Contains(stderr.String(), "port 18099 is already in use on 0.0.0.0") {
		t.Errorf("a second container publishing 18099: %v %q", err, stderr.String())
	}
	a.Process.Signal(os.Interrupt)
	a.Wait()
	for _, p := range []string{"tcp4", "udp4"} {
		if err := bindable(t, ns, p, "0.0.0.0:18099"); err != nil {
			t.Errorf("%s port 18099 still taken after the container exited: %v", p, err)
		}
	}

	// A detached container's monitor holds them.
	if out, err := h.berth(t, "run", "-d", "--name", "web", "-p", "18100:80", "--rootfs", rootfsDir, "/bin/sh", "-c", webScript).CombinedOutput(); err != nil {
		t.Fatalf("run -d: %v %s", err, out)
	}
	t.Cleanup(func() { h.berth(t, "rm", "-f", "web").Run() })
	st := h.inspect(t, "web")
	if !boundBy(t, st.MonitorPid, "tcp", 18100) {
		t.Errorf("the monitor (%d) does not hold port 18100", st.MonitorPid)
	}
	if boundBy(t, st.Pid, "tcp", 18100) {
		t.Errorf("the container's PID 1 holds the published port's socket")
	}
}

// containerPids are the processes under berth (pid) other than berth:
// the container's.
func containerPids(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	var walk func(int)
	walk = func(p int) {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		for _, task := range tasks {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", p, task.Name()))
			for _, f := range strings.Fields(string(b)) {
				c, _ := strconv.Atoi(f)
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(pid)
	if len(out) == 0 {
		t.Fatal("no container process under berth")
	}
	return out
}

// inspect reads the State of a container of h.
func (h *netnsHost) inspect(t *testing.T, ref string) (st struct {
	Status     string
	Pid        int
	MonitorPid int
}) {
	t.Helper()
	b, err := h.berth(t, "inspect", ref).Output()
	var out []struct {
		Id    string
		State json.RawMessage
	}
	if err != nil || json.Unmarshal(b, &out) != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v %s", ref, err, b)
	}
	if err := json.Unmarshal(out[0].State, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// gone waits until process pid has exited.
func gone(t *testing.T, pid int) {
	t.Helper()
	eventually(t, fmt.Sprintf("process %d to exit", pid), func() string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return ""
		}
		if f := strings.Fields(string(b)); len(f) > 2 && (f[2] == "Z" || f[2] == "X") {
			return ""
		}
		return "still running"
	})
}

// TestKilledMonitorCollected: after kill -9 of a detached container's
// monitor, the next berth command, whatever it is, releases what the
// container held: its published port's rule, address, network files and
// runtime state; the port is refused at once rather than timing out.
func TestKilledMonitorCollected(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	for _, collector := range [][]string{{"rm", "web"}, {"ps", "-a"}, {"network", "ls"}} {
		t.Run(collector[0], func(t *testing.T) {
			out, err := h.berth(t, "run", "-d", "--name", "web", "-p", "18101:80", "--rootfs", rootfsDir, "/bin/sh", "-c", webScript).CombinedOutput()
			if err != nil {
				t.Fatalf("run -d: %v %s", err, out)
			}
			id := strings.TrimSpace(string(out))
			defer h.berth(t, "rm", "-f", "web").Run()
			eventually(t, "the published port to answer", func() string {
				got, err := httpFrom(h.netnsPath(), "127.0.0.1", 18101)
				if strings.Contains(got, "hello-from-berth") {
					return ""
				}
				return fmt.Sprintf("%v %q", err, got)
			})
			st := h.inspect(t, "web")
			if err := unix.Kill(st.MonitorPid, unix.SIGKILL); err != nil {
				t.Fatal(err)
			}
			gone(t, st.MonitorPid)
			gone(t, st.Pid)
			if out, err := h.berth(t, collector...).CombinedOutput(); err != nil {
				t.Fatalf("berth %v: %v %s", collector, err, out)
			}
			left := h.leftovers(t, map[string]bool{id: true})
			left = slices.DeleteFunc(left, func(s string) bool { return strings.HasPrefix(s, "container record "+id) }) // kept until rm
			if len(left) > 0 {
				t.Errorf("berth %s left behind:\n  %s", strings.Join(collector, " "), strings.Join(left, "\n  "))
			}
			start := time.Now()
			if got, err := httpFrom(h.netnsPath(), "127.0.0.1", 18101); err == nil || strings.Contains(got, "hello") || time.Since(start) > 2*time.Second {
				t.Errorf("the port of the dead container: %v %q after %v, want refused at once", err, got, time.Since(start))
			}
		})
	}
}

// TestKilledBerthCollected: bridged containers with published ports are
// started six at a time, and each berth is killed with SIGKILL at a
// random moment of its start, 300 times; afterwards one berth command
// collects everything that was left (the collections of the runs in
// between are killed too): rules, addresses, network files, runtime
// state, container records, cgroups, mounts.
func TestKilledBerthCollected(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	runs, parallel := 300, 4
	if testing.Short() {
		runs = 30
	}
	ids := map[string]bool{}
	leaving := 0
	note := func(dir string) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if id := e.Name()[max(0, len(e.Name())-64):]; len(id) == 64 {
				ids[id] = true
			}
		}
	}
	for i := 0; i < runs; i += parallel {
		var wg sync.WaitGroup
		for slot := 0; slot < parallel; slot++ {
			cmd := h.berth(t, "run", "--rm", "-p", strconv.Itoa(18110+slot)+":80", "--rootfs", rootfsDir, "sleep", "2")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(rand.IntN(500)) * time.Millisecond)
				cmd.Process.Kill()
				cmd.Wait()
			}()
		}
		wg.Wait()
		note(filepath.Join(h.root, "containers"))
		note(filepath.Join(h.root, "run"))
		if files, _ := os.ReadDir(filepath.Join(h.root, "networks", "bridge", "files")); len(files) > 0 {
			leaving++
		}
	}
	t.Logf("%d runs killed, %d containers seen, %d of %d rounds left network files for the next; left before the last command:\n  %s",
		runs, len(ids), leaving, runs/parallel, strings.Join(h.leftovers(t, ids), "\n  "))
	if out, err := h.berth(t, "ps", "-a").CombinedOutput(); err != nil {
		t.Fatalf("berth ps: %v %s", err, out)
	}
	h.checkNothingLeft(t, ids)
}
