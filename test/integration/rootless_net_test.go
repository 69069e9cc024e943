package integration

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testNetns is a network namespace the test makes to stand for the host's
// network: a veth pair of its own, one end with 198.18.0.1/24 and a
// default route through it (this host's kernel has no dummy interfaces), so that a user-mode stack (which opens its sockets in the
// namespace it runs in) finds a route, and nothing a container sends can
// leave the machine. /etc/netns/NAME/resolv.conf is what ip netns exec
// shows its commands as /etc/resolv.conf. All removed at the end.
type testNetns struct{ name string }

const netnsAddr = "198.18.0.1"

func newTestNetns(t *testing.T, resolvConf string) *testNetns {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	n := &testNetns{name: "berth-it-" + hex.EncodeToString(b)}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", n.name).Run()
		os.RemoveAll(filepath.Join("/etc/netns", n.name))
		os.Remove("/etc/netns") // only if empty: others' stay
	})
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "d0", "type", "veth", "peer", "name", "d1"},
		{"link", "set", "d1", "up"},
		{"addr", "add", netnsAddr + "/24", "dev", "d0"},
		{"link", "set", "d0", "up"},
		{"route", "add", "default", "via", "198.18.0.254", "dev", "d0"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", n.name}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	dir := filepath.Join("/etc/netns", n.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(resolvConf), 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

// do runs fn with its thread in the namespace: sockets it opens stay
// there. The thread is put back, or ends with fn's goroutine if it
// cannot be.
func (n *testNetns) do(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			done <- err
			return
		}
		defer self.Close()
		target, err := os.Open(filepath.Join("/run/netns", n.name))
		if err != nil {
			done <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		fn()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("enter %s: %v", n.name, err)
	}
}

// listen is a TCP server of the test's in the namespace, at addr.
func (n *testNetns) listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	n.do(t, func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dial connects from inside the namespace.
func (n *testNetns) dial(t *testing.T, addr string) (net.Conn, error) {
	var c net.Conn
	var err error
	n.do(t, func() { c, err = net.DialTimeout("tcp", addr, time.Second) })
	return c, err
}

// netCommand is the user's berth, as withTun has it (a /dev/net/tun open
// to every user in a private mount namespace), in netns if it is set,
// and with pasta hidden if hidePasta (its path shows /dev/null, which is
// not executable) to stand for a host without it.
func (u *rootlessUser) netCommand(t *testing.T, netns string, hidePasta bool, args ...string) *exec.Cmd {
	t.Helper()
	var hide string
	if hidePasta {
		if p, err := exec.LookPath("pasta"); err == nil {
			hide = `mount --bind /dev/null ` + p
		}
	}
	argv := append([]string{"unshare", "-m", "--propagation", "private", "--"}, u.tunScript(t, hide)...)
	argv = append(argv, args...)
	if netns != "" {
		argv = append([]string{"ip", "netns", "exec", netns}, argv...)
	}
	// A hung berth fails the test rather than outlive it: every exec
	// above keeps the PID, so the kill reaches berth.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env, cmd.Dir, cmd.WaitDelay = u.command().Env, u.home, 5*time.Second
	return cmd
}

// dnsResponder answers every query at addr (UDP, in the namespace) with
// NXDOMAIN, and sends each query's bytes to got.
func (n *testNetns) dnsResponder(t *testing.T, addr string) <-chan []byte {
	t.Helper()
	var pc net.PacketConn
	var err error
	n.do(t, func() { pc, err = net.ListenPacket("udp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	got := make(chan []byte, 16)
	go func() {
		buf := make([]byte, 1500)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if k < 12 {
				continue
			}
			q := append([]byte(nil), buf[:k]...)
			select {
			case got <- q:
			default:
			}
			resp := append([]byte(nil), q...)
			resp[2] |= 0x80       // a response
			resp[3] = 0x80 | 0x03 // recursion available, NXDOMAIN
			pc.WriteTo(resp, from)
		}
	}()
	return got
}

func randomPort() int {
	b := make([]byte, 2)
	rand.Read(b)
	return 20000 + (int(b[0])<<8|int(b[1]))%20000
}

func rootlessRootfs(t *testing.T, u *rootlessUser) string {
	t.Helper()
	dir := filepath.Join(u.home, "rootfs")
	if err := BuildBusyboxRootfs(dir); err != nil {
		t.Fatal(err)
	}
	exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.uid, u.gid), dir).Run()
	return dir
}

// TestRootlessPasta: --network pasta connects a rootless container through
// pasta, in a network namespace the test made to stand for the host's:
// tap0 has 10.0.2.100/24; the container reaches a TCP server of the
// test's there; it does not reach the namespace's loopback, neither
// through the gateway nor through its own loopback (pasta forwards
// neither, as podman runs it); resolv.conf names pasta's DNS forwarder
// with the host's search list, and a lookup through it reaches the
// host's nameserver (a responder of the test's); -p publishes a TCP and
// a UDP port on the host's loopback; rm leaves no process and no file of pasta, and
// after berth is killed with SIGKILL the next command ends pasta.
func TestRootlessPasta(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("pasta"); err != nil {
		t.Skip("needs pasta (Debian's passt)")
	}
	u := newRootlessUser(t)
	dir := rootlessRootfs(t, u)
	ns := newTestNetns(t, "search berth-it.test\nnameserver "+netnsAddr+"\n")
	queries := ns.dnsResponder(t, netnsAddr+":53")
	server := ns.listen(t, netnsAddr+":0")
	loopback := ns.listen(t, "127.0.0.1:0")
	received := make(chan string, 1)
	go func() {
		if c, err := server.Accept(); err == nil {
			line, _ := bufio.NewReader(c).ReadString('\n')
			received <- line
			c.Close()
		}
	}()
	reachedLoopback := make(chan struct{}, 1)
	go func() {
		if c, err := loopback.Accept(); err == nil {
			reachedLoopback <- struct{}{}
			c.Close()
		}
	}()
	lport := loopback.Addr().(*net.TCPAddr).Port
	script := fmt.Sprintf(`ip -4 -o addr show tap0 | awk '{print $4}'
cat /etc/resolv.conf
echo outbound | timeout 5 nc -w 3 %s %d && echo sent
timeout 3 nc -w 2 10.0.2.2 %d </dev/null && echo reached-gateway
timeout 3 nc -w 2 127.0.0.1 %d </dev/null && echo reached-loopback
timeout 5 nslookup berth-probe.berth-it.test 2>&1 | tail -1`, netnsAddr, server.Addr().(*net.TCPAddr).Port, lport, lport)
	out, err := u.netCommand(t, ns.name, false, "run", "--rm", "--rootfs", dir, "--network", "pasta", "sh", "-c", script).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.0.2.100/24") {
		t.Fatalf("--network pasta: %v %q", err, out)
	}
	if !strings.Contains(string(out), "search berth-it.test\nnameserver 169.254.1.1\n") {
		t.Errorf("resolv.conf: %q, want the host's search list and nameserver 169.254.1.1", out)
	}
	select {
	case line := <-received:
		if line != "outbound\n" {
			t.Errorf("the test's server read %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("the container did not reach the test's server: %q", out)
	}
	select {
	case <-reachedLoopback:
		t.Errorf("the container reached the host's loopback: %q", out)
	default:
	}
	if strings.Contains(string(out), "reached-") {
		t.Errorf("the container reached the host's loopback: %q", out)
	}
	select {
	case q := <-queries:
		if !strings.Contains(string(q), "berth-probe") {
			t.Errorf("DNS query %q", q)
		}
	case <-time.After(time.Second):
		t.Errorf("no DNS query reached the host's nameserver through pasta: %q", out)
	}

	port := randomPort()
	hello := func() bool {
		c, err := ns.dial(t, fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line == "hello\n"
	}
	serve := "while :; do echo hello | nc -l -p 80; done"
	if out, err := u.netCommand(t, ns.name, false, "run", "-d", "--name", "rl-pasta", "--rootfs", dir, "--network", "bridge", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "sh", "-c", serve).CombinedOutput(); err != nil {
		t.Fatalf("run -d -p: %v %q", err, out)
	}
	waitFor(t, "the published port answers", hello)
	if r := u.berth(t, "inspect", "rl-pasta"); r.code != 0 || !strings.Contains(r.stdout, "10.0.2.100") || !strings.Contains(r.stdout, "bridge (pasta)") {
		t.Errorf("inspect: %+v", r)
	}
	// --network bridge is stored as asked, not as the none its user-mode
	// stack starts from.
	checkUserModeInspect(t, u, "rl-pasta", "bridge")
	udpPublished(t, u, ns, dir)
	if r := u.berth(t, "rm", "-f", "rl-pasta"); r.code != 0 {
		t.Errorf("rm -f: %+v", r)
	}
	noUserModeLeft(t, u, "rm -f")
	if hello() {
		t.Errorf("port %d still answers after rm", port)
	}

	// berth's monitor killed: the container dies with it, pasta does not
	// (it is told nothing); the next command ends it.
	port = randomPort()
	if out, err := u.netCommand(t, ns.name, false, "run", "-d", "--name", "rl-killed", "--rootfs", dir, "--network", "pasta", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "sh", "-c", serve).CombinedOutput(); err != nil {
		t.Fatalf("run -d -p: %v %q", err, out)
	}
	waitFor(t, "the published port answers", hello)
	monitor := monitorOf(u)
	if monitor == 0 {
		t.Fatal("no monitor process found")
	}
	unix.Kill(monitor, unix.SIGKILL)
	waitFor(t, "the monitor is gone", func() bool { return !alive(monitor) })
	if r := u.berth(t, "rm", "rl-killed"); r.code != 0 {
		t.Errorf("rm after kill -9: %+v", r)
	}
	noUserModeLeft(t, u, "kill -9 of berth and rm")
	if hello() {
		t.Errorf("port %d still answers after its berth was killed and rm ran", port)
	}
}

// udpPublished: -p HOST:CPORT/udp through pasta carries a datagram sent
// to the host's loopback to the container (test/probe's udprecv).
func udpPublished(t *testing.T, u *rootlessUser, ns *testNetns, dir string) {
	t.Helper()
	probe := filepath.Join(dir, "bin", "probe")
	if b, err := os.ReadFile(filepath.Join(rootfsDir, "bin", "probe")); err != nil || os.WriteFile(probe, b, 0o755) != nil {
		t.Fatalf("copy test/probe into the user's rootfs: %v", err)
	}
	port := randomPort()
	if out, err := u.netCommand(t, ns.name, false, "run", "-d", "--name", "rl-udp", "--rootfs", dir, "--network", "pasta", "-p", fmt.Sprintf("127.0.0.1:%d:5353/udp", port), "probe", "udprecv", "5353").CombinedOutput(); err != nil {
		t.Fatalf("run -d -p .../udp: %v %q", err, out)
	}
	var pc net.PacketConn
	var err error
	ns.do(t, func() { pc, err = net.ListenPacket("udp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	waitFor(t, "the container receives a datagram sent to the published UDP port", func() bool {
		pc.WriteTo([]byte("berth-udp"), to)
		r := u.berth(t, "logs", "rl-udp")
		return strings.Contains(r.stdout, `received "berth-udp"`)
	})
	if r := u.berth(t, "rm", "-f", "rl-udp"); r.code != 0 {
		t.Errorf("rm -f: %+v", r)
	}
}

// noUserModeLeft checks that no process of the user runs (pasta,
// slirp4netns, the container) and that no file of the stacks is left.
func noUserModeLeft(t *testing.T, u *rootlessUser, after string) {
	t.Helper()
	var left []int
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if left = processesOf(u.uid); len(left) == 0 {
			break
		}
	}
	for _, pid := range left {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		t.Errorf("after %s: process %d (%s) of uid %d left", after, pid, strings.TrimSpace(string(comm)), u.uid)
	}
	for _, glob := range []string{"pasta-*", "slirp4netns-*"} {
		if files, _ := filepath.Glob(filepath.Join(u.runtime, "berth", glob)); len(files) > 0 {
			t.Errorf("after %s: files left: %v", after, files)
		}
	}
}

// monitorOf is the PID of the user's berth monitor (berth run --monitor).
func monitorOf(u *rootlessUser) int {
	for _, pid := range processesOf(u.uid) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), "--monitor") {
			return pid
		}
	}
	return 0
}

func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(stat), ") Z ")
}

// TestRootlessNetworkChoice: a rootless --network bridge (or -p without
// --network) is pasta when it is installed, as podman 5 chooses, else
// slirp4netns; --network pasta and --network slirp4netns choose; an
// unknown name, a missing tool, and pasta for root are refused in one
// line.
func TestRootlessNetworkChoice(t *testing.T) {
	needRoot(t)
	_, errPasta := exec.LookPath("pasta")
	_, errSlirp := exec.LookPath("slirp4netns")
	if errPasta != nil || errSlirp != nil {
		t.Skip("needs pasta (Debian's passt) and slirp4netns")
	}
	u := newBareUser(t)
	dir := rootlessRootfs(t, u)
	if r := u.berth(t, "run", "--rm", "--rootfs", dir, "true"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	// pasta needs an interface with a default route, which the v2 VM
	// has not (loopback only): the runs are in a test namespace with one.
	ns := newTestNetns(t, "nameserver "+netnsAddr+"\n")
	nameserver := func(hidePasta bool, args ...string) string {
		t.Helper()
		argv := append([]string{"run", "--rm", "--rootfs", dir}, args...)
		out, err := u.netCommand(t, ns.name, hidePasta, append(argv, "sh", "-c", "ip -4 -o addr show tap0 | awk '{print $4}'; grep nameserver /etc/resolv.conf")...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "10.0.2.100/24") {
			t.Errorf("%v: %v %q", args, err, out)
		}
		return string(out)
	}
	for _, c := range []struct {
		args      []string
		hidePasta bool
		want      string
	}{
		{[]string{"--network", "bridge"}, false, "169.254.1.1"},
		{[]string{"-p", fmt.Sprintf("127.0.0.1:%d:80", randomPort())}, false, "169.254.1.1"},
		{[]string{"--network", "pasta"}, false, "169.254.1.1"},
		{[]string{"--network", "slirp4netns"}, false, "10.0.2.3"},
		{[]string{"--network", "bridge"}, true, "10.0.2.3"},
	} {
		if out := nameserver(c.hidePasta, c.args...); !strings.Contains(out, "nameserver "+c.want) {
			t.Errorf("%v (pasta hidden: %v): %q, want nameserver %s", c.args, c.hidePasta, out, c.want)
		}
	}
	oneLine(t, "--network vde", u.berth(t, "run", "--rm", "--rootfs", dir, "--network", "vde", "true"), "pasta")
	r := collectCmd(t, u.netCommand(t, "", true, "run", "--rm", "--rootfs", dir, "--network", "pasta", "true"))
	oneLine(t, "--network pasta without pasta", r, "passt")
	r = collect(t, berthCommand("run", "--rm", "--rootfs", dir, "--network", "pasta", "true"), "berth as root")
	oneLine(t, "--network pasta as root", r, "rootless")
	noUserModeLeft(t, u, "the runs")
}

// collectCmd runs cmd and returns its result.
func collectCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	return collect(t, cmd, strings.Join(cmd.Args, " "))
}
