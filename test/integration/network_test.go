package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// netnsHost runs berth inside a network namespace of the test's own,
// standing in for the host, with a state root of its own: the bridge,
// berth's nftables table, ip_forward and the address allocations are the
// test's alone and vanish with it.
type netnsHost struct{ name, root string }

func newNetnsHost(t *testing.T) *netnsHost {
	t.Helper()
	h := &netnsHost{name: fmt.Sprintf("berth-it-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-")), root: t.TempDir()}
	if out, err := exec.Command("ip", "netns", "add", h.name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", h.name).Run() })
	h.ip(t, "link", "set", "lo", "up")
	return h
}

func (h *netnsHost) ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", h.name}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v: %v %s", args, err, out)
	}
}

// berth runs berth in the namespace.
func (h *netnsHost) berth(t *testing.T, args ...string) *exec.Cmd {
	// nsenter, not ip netns exec: that also remounts /sys, hiding the
	// cgroup file systems.
	cmd := exec.Command("nsenter", append([]string{"--net=/run/netns/" + h.name, berthBin, "--root", h.root, "--runroot", filepath.Join(h.root, "run")}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	return cmd
}

// start runs a container in the namespace whose script prints "ready"
// when it is set up, and returns berth and what the container printed
// before "ready". The container is stopped at the end of the test.
func (h *netnsHost) start(t *testing.T, script string, flags ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := h.berth(t, append(append([]string{"run", "--rm"}, flags...), "--rootfs", rootfsDir, "/bin/sh", "-c", script)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	buf := make([]byte, 256)
	var got string
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(got, "ready") && time.Now().Before(deadline); {
		n, err := out.Read(buf)
		got += string(buf[:n])
		if err != nil {
			break
		}
	}
	before, _, found := strings.Cut(got, "ready")
	if !found {
		t.Fatalf("container did not get ready: %q", got)
	}
	return cmd, before
}

// remote adds a test host 192.0.2.1 behind the namespace, with no route
// back to the containers' subnet: only masquerading gets replies home.
func (h *netnsHost) remote(t *testing.T) {
	t.Helper()
	remote := h.name + "-r"
	if out, err := exec.Command("ip", "netns", "add", remote).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", remote).Run() })
	h.ip(t, "link", "add", "bthtest0", "type", "veth", "peer", "name", "eth0", "netns", remote)
	h.ip(t, "addr", "add", "192.0.2.254/24", "dev", "bthtest0")
	h.ip(t, "link", "set", "bthtest0", "up")
	for _, args := range [][]string{{"addr", "add", "192.0.2.1/24", "dev", "eth0"}, {"link", "set", "eth0", "up"}, {"link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", append([]string{"-n", remote}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
}

func TestBridgeNetwork(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	h.remote(t)
	// Container a waits; b reaches it, the gateway and the remote host.
	a, got := h.start(t, "ip -4 -o addr show eth0 | awk '{print $4}'; echo ready; "+idle, "--network", "bridge", "--name", "neta")
	addrA := strings.Split(strings.TrimSpace(got), "/")[0]
	if !strings.HasPrefix(addrA, "10.88.") {
		t.Fatalf("container a has address %q", got)
	}
	b := h.berth(t, "run", "--rm", "--network", "bridge", "--rootfs", rootfsDir, "/bin/sh", "-c",
		fmt.Sprintf("ping -c1 -W3 %s >/dev/null && echo peer-ok; ping -c1 -W3 10.88.0.1 >/dev/null && echo gateway-ok; ping -c1 -W3 192.0.2.1 >/dev/null && echo remote-ok; grep -c . /etc/hosts", addrA))
	res, err := b.CombinedOutput()
	if err != nil {
		t.Fatalf("container b: %v %s", err, res)
	}
	for _, want := range []string{"peer-ok", "gateway-ok", "remote-ok"} {
		if !strings.Contains(string(res), want) {
			t.Errorf("container b: no %s in %q", want, res)
		}
	}
	a.Process.Signal(os.Interrupt)
	a.Wait()
	// Nothing of either container is left: addresses, rules, files, veths.
	state, _ := os.ReadFile(filepath.Join(h.root, "networks", "bridge", "ipam.json"))
	if strings.Contains(string(state), "10.88.") && strings.Contains(string(state), `"allocations": {`) && !strings.Contains(string(state), `"allocations": {}`) {
		t.Errorf("addresses still allocated: %s", state)
	}
	files, _ := os.ReadDir(filepath.Join(h.root, "networks", "bridge", "files"))
	if len(files) != 0 {
		t.Errorf("network files left: %v", files)
	}
	// The kernel deletes a container's veth with its network namespace, in
	// the background (berth does not wait for it): give it a moment.
	var links []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		links, _ = exec.Command("ip", "-n", h.name, "-o", "link").Output()
		if strings.Count(string(links), "bth") == strings.Count(string(links), "bthtest0") {
			break
		}
	}
	if strings.Count(string(links), "bth") != strings.Count(string(links), "bthtest0") {
		t.Errorf("container veths left: %s", links)
	}
	rules, _ := exec.Command("nsenter", "--net=/run/netns/"+h.name, "nft", "list", "table", "ip", "berth").CombinedOutput()
	if strings.Contains(string(rules), "owner:") {
		t.Errorf("container rules left: %s", rules)
	}
}

// TestBridgeReadyAtExec: the init stage waits for the network just
// before it sets up the process, not after its mounts; the program's
// first instruction still finds eth0 up, with its address and default
// route. A per-interface sysctl keeps the pause after the mounts, where
// eth0 exists by the time the sysctls are written.
func TestBridgeReadyAtExec(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	out, err := h.berth(t, "run", "--rm", "--network", "bridge", "--rootfs", rootfsDir, "/bin/sh", "-c",
		"cat /sys/class/net/eth0/operstate; ip -4 -o addr show eth0; ip route").CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v %s", err, out)
	}
	if got := string(out); !strings.HasPrefix(got, "up\n") || !strings.Contains(got, "inet 10.88.") || !strings.Contains(got, "default via 10.88.0.1 dev eth0") {
		t.Errorf("eth0 at exec: %q", out)
	}
	out, err = h.berth(t, "run", "--rm", "--network", "bridge", "--sysctl", "net.ipv4.conf.eth0.rp_filter=2",
		"--sysctl", "net.ipv4.ip_unprivileged_port_start=1", "--rootfs", rootfsDir,
		"cat", "/proc/sys/net/ipv4/conf/eth0/rp_filter", "/proc/sys/net/ipv4/ip_unprivileged_port_start").CombinedOutput()
	if got := strings.Fields(string(out)); err != nil || len(got) != 2 || got[0] != "2" || got[1] != "1" {
		t.Errorf("eth0's sysctl: %v %q", err, out)
	}
}

// TestBridgeStartFailureLeavesNothing: a bridged container's network
// namespace is made, and plugged in, before its init stage exists; a
// start that fails after that (a program not found, found only after the
// mounts, when eth0 is in place) leaves no veth, address, file or record,
// and the loopback and eth0 the program would have had were up.
func TestBridgeStartFailureLeavesNothing(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	out, err := h.berth(t, "run", "--rm", "--network", "bridge", "--rootfs", rootfsDir, "/bin/sh", "-c",
		"cat /sys/class/net/lo/operstate /sys/class/net/eth0/operstate").CombinedOutput()
	if err != nil || strings.Fields(string(out))[0] != "unknown" || strings.Fields(string(out))[1] != "up" {
		// lo's operstate is "unknown" when up, "down" when not.
		t.Fatalf("lo and eth0: %v %q", err, out)
	}
	h.noVeths(t)
	before := h.leftovers(t, nil)
	r := h.run(t, "run", "--rm", "--network", "bridge", "-p", "18097:80", "--rootfs", rootfsDir, "/no/such/program")
	if r.code != 127 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("a program not found: %+v; want 127 and one line", r)
	}
	if after := h.leftovers(t, nil); !slicesEqual(before, after) {
		t.Errorf("left behind: %v (before: %v)", after, before)
	}
	h.noVeths(t)
}

func TestBridgeNetworkCollectedAfterBerthKilled(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	a, _ := h.start(t, "echo ready; "+idle, "--network", "bridge")
	filesDir := filepath.Join(h.root, "networks", "bridge", "files")
	if files, _ := os.ReadDir(filesDir); len(files) != 1 {
		t.Fatalf("running container has %d network file sets", len(files))
	}
	// nsenter execs berth: killing it kills berth itself.
	a.Process.Kill()
	a.Wait()
	if r, err := h.berth(t, "run", "--rm", "--network", "bridge", "--rootfs", rootfsDir, "true").CombinedOutput(); err != nil {
		t.Fatalf("next run: %v %s", err, r)
	}
	if files, _ := os.ReadDir(filesDir); len(files) != 0 {
		t.Errorf("the killed container's network files were not collected: %v", files)
	}
	state, _ := os.ReadFile(filepath.Join(h.root, "networks", "bridge", "ipam.json"))
	if !strings.Contains(string(state), `"allocations": {}`) {
		t.Errorf("addresses left allocated: %s", state)
	}
	rules, _ := exec.Command("nsenter", "--net=/run/netns/"+h.name, "nft", "list", "table", "ip", "berth").CombinedOutput()
	if strings.Contains(string(rules), "owner:") {
		t.Errorf("rules left: %s", rules)
	}
}

func TestPublishedPort(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	h.remote(t)
	h.start(t, "mkdir /dev/shm/www && echo hello-from-berth > /dev/shm/www/index.html && httpd -p 80 -h /dev/shm/www && echo ready; "+idle,
		"--network", "bridge", "-p", "18080:80")
	fetch := func(where string, args ...string) {
		t.Helper()
		res, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil || !strings.Contains(string(res), "hello-from-berth") {
			t.Errorf("published port from %s: %v %q", where, err, res)
		}
	}
	// busybox-static's wget crashes in glibc's static resolver: speak
	// HTTP through nc instead.
	get := func(addr string) []string {
		return []string{"/bin/sh", "-c", "printf 'GET / HTTP/1.0\r\n\r\n' | /bin/busybox nc -w 5 " + addr + " 18080"}
	}
	ns := "--net=/run/netns/" + h.name
	fetch("the host, 127.0.0.1", append([]string{"nsenter", ns}, get("127.0.0.1")...)...)
	fetch("the host, bridge address", append([]string{"nsenter", ns}, get("10.88.0.1")...)...)
	fetch("another host", append([]string{"nsenter", "--net=/run/netns/" + h.name + "-r"}, get("192.0.2.254")...)...)
	r, err := h.berth(t, append([]string{"run", "--rm", "--network", "bridge", "--rootfs", rootfsDir}, get("10.88.0.1")...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(r), "hello-from-berth") {
		t.Errorf("published port from another container: %v %q", err, r)
	}
	if r, err := h.berth(t, "run", "--rm", "-p", "bad", "--network", "bridge", "--rootfs", rootfsDir, "true").CombinedOutput(); err == nil || !strings.Contains(string(r), "invalid port mapping") {
		t.Errorf("bad -p: %v %q", err, r)
	}
}

func TestBridgeAddressesDistinctAndNoLeaks(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	// Many containers at once: every one gets its own address.
	const parallel = 12
	addrs := make(chan string, parallel)
	for i := 0; i < parallel; i++ {
		go func() {
			out, err := h.berth(t, "run", "--rm", "--network", "bridge", "--rootfs", rootfsDir, "/bin/sh", "-c",
				"ip -4 -o addr show eth0 | awk '{print $4}'").CombinedOutput()
			if err != nil {
				addrs <- "error: " + string(out)
				return
			}
			addrs <- strings.TrimSpace(string(out))
		}()
	}
	seen := map[string]bool{}
	for i := 0; i < parallel; i++ {
		a := <-addrs
		if !strings.HasPrefix(a, "10.88.") || seen[a] {
			t.Errorf("container address %q (duplicate or missing)", a)
		}
		seen[a] = true
	}
	// Start and stop many times: nothing accumulates.
	for i := 0; i < 100; i++ {
		if out, err := h.berth(t, "run", "--rm", "--network", "bridge", "-p", "18081:80", "--rootfs", rootfsDir, "true").CombinedOutput(); err != nil {
			t.Fatalf("cycle %d: %v %s", i, err, out)
		}
	}
	if files, _ := os.ReadDir(filepath.Join(h.root, "networks", "bridge", "files")); len(files) != 0 {
		t.Errorf("network files left after 100 cycles: %d", len(files))
	}
	state, _ := os.ReadFile(filepath.Join(h.root, "networks", "bridge", "ipam.json"))
	if !strings.Contains(string(state), `"allocations": {}`) {
		t.Errorf("addresses left allocated after 100 cycles: %s", state)
	}
	rules, _ := exec.Command("nsenter", "--net=/run/netns/"+h.name, "nft", "list", "table", "ip", "berth").CombinedOutput()
	if strings.Contains(string(rules), "owner:") {
		t.Errorf("rules left after 100 cycles: %s", rules)
	}
	var links []byte
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		links, _ = exec.Command("ip", "-n", h.name, "-o", "link").Output()
		if !strings.Contains(string(links), "bth") {
			break
		}
	}
	if strings.Contains(string(links), "bth") {
		t.Errorf("veths left after 100 cycles: %s", links)
	}
}

func TestNetworkContainerMode(t *testing.T) {
	needRoot(t)
	a := startContainer(t, "readlink /proc/self/ns/net; "+idle, "--name", "netowner")
	_ = a
	r := berth(t, "", "run", "--rm", "--network", "container:netowner", "--rootfs", rootfsDir, "readlink", "/proc/self/ns/net")
	if r.code != 0 {
		t.Fatalf("--network container:netowner: %+v", r)
	}
	owner := strings.SplitN(a.stdout.String(), "\n", 2)[0]
	if strings.TrimSpace(r.stdout) != owner || owner == "" {
		t.Errorf("joined namespace %q, want the other container's %q", r.stdout, owner)
	}
	r = berth(t, "", "run", "--rm", "--network", "container:nosuchcontainer", "--rootfs", rootfsDir, "true")
	if r.code != 125 || !strings.Contains(r.stderr, "no such container") {
		t.Errorf("unknown container: %+v", r)
	}
	a.cmd.Process.Signal(os.Interrupt)
	a.wait(t)
}

func TestUserDefinedNetwork(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	run := func(args ...string) (string, error) {
		out, err := h.berth(t, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("network", "create", "--subnet", "10.90.0.0/24", "web"); err != nil || out != "web\n" {
		t.Fatalf("network create: %v %q", err, out)
	}
	if out, err := run("network", "create", "--subnet", "10.90.0.128/25", "clash"); err == nil || !strings.Contains(out, "overlaps") {
		t.Errorf("overlapping subnet accepted: %v %q", err, out)
	}
	if out, err := run("network", "create", "bad/name"); err == nil || !strings.Contains(out, "invalid network name") {
		t.Errorf("bad name accepted: %v %q", err, out)
	}
	db, _ := h.start(t, "echo ready; "+idle, "--network", "web", "--name", "db")
	res, err := run("run", "--rm", "--network", "web", "--name", "app", "--rootfs", rootfsDir, "/bin/sh", "-c",
		"ping -c1 -W3 db >/dev/null && echo db-reachable; ip -4 -o addr show eth0 | awk '{print $4}'")
	if err != nil || !strings.Contains(res, "db-reachable") || !strings.Contains(res, "10.90.0.") {
		t.Errorf("app on network web: %v %q", err, res)
	}
	if ls, _ := run("network", "ls", "--format", "{{.Name}} {{.Subnet}}"); !strings.Contains(ls, "web") || !strings.Contains(ls, "10.90.0.0/24") {
		t.Errorf("network ls: %q", ls)
	}
	if insp, _ := run("network", "inspect", "web"); !strings.Contains(insp, `"Gateway": "10.90.0.1"`) || !strings.Contains(insp, "10.90.0.") {
		t.Errorf("network inspect: %q", insp)
	}
	if out, err := run("network", "rm", "web"); err == nil || !strings.Contains(out, "running containers") {
		t.Errorf("network rm with a running container: %v %q", err, out)
	}
	db.Process.Signal(os.Interrupt)
	db.Wait()
	if out, err := run("network", "rm", "web"); err != nil {
		t.Errorf("network rm: %v %q", err, out)
	}
	if ls, _ := run("network", "ls"); strings.Contains(ls, "web") {
		t.Errorf("network still listed: %q", ls)
	}
	if links, _ := exec.Command("ip", "-n", h.name, "-o", "link").Output(); strings.Contains(string(links), "br-") {
		t.Errorf("the network's bridge is left: %s", links)
	}
	if out, err := run("run", "--rm", "--network", "web", "--rootfs", rootfsDir, "true"); err == nil || !strings.Contains(out, `network "web" not found`) {
		t.Errorf("run on a removed network: %v %q", err, out)
	}
}

// TestNetworksIsolated: containers on different networks do not reach
// each other, though each reaches its own network and the outside.
func TestNetworksIsolated(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	h.remote(t)
	for _, n := range []struct{ name, subnet string }{{"front", "10.91.0.0/24"}, {"back", "10.92.0.0/24"}} {
		if out, err := h.berth(t, "network", "create", "--subnet", n.subnet, n.name).CombinedOutput(); err != nil {
			t.Fatalf("network create %s: %v %s", n.name, err, out)
		}
	}
	_, got := h.start(t, "ip -4 -o addr show eth0 | awk '{print $4}'; echo ready; "+idle, "--network", "back", "--name", "db")
	db := strings.Split(strings.TrimSpace(got), "/")[0]
	probe := fmt.Sprintf("ping -c1 -W1 %s >/dev/null && echo db-reached; ping -c1 -W3 192.0.2.1 >/dev/null && echo remote-reached; true", db)
	out, err := h.berth(t, "run", "--rm", "--network", "front", "--rootfs", rootfsDir, "/bin/sh", "-c", probe).CombinedOutput()
	if err != nil || strings.Contains(string(out), "db-reached") || !strings.Contains(string(out), "remote-reached") {
		t.Errorf("from network front: %v %q, want the remote host reached and db (%s, network back) not", err, out, db)
	}
	out, err = h.berth(t, "run", "--rm", "--network", "back", "--rootfs", rootfsDir, "/bin/sh", "-c", probe).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "db-reached") {
		t.Errorf("from network back: %v %q, want db reached", err, out)
	}
}

// berth lists its rules only when the nftables ruleset changed since it
// last found them in place (network.ensure): rules that another program
// deleted between two runs must still be put back by the second run, and
// masquerading must work again for it.
func TestBridgeRulesRepairedAfterForeignChange(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	h.remote(t)
	nft := func(args ...string) string {
		out, err := exec.Command("nsenter", append([]string{"--net=/run/netns/" + h.name, "nft"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("nft %v: %v %s", args, err, out)
		}
		return string(out)
	}
	ping := "ping -c1 -W3 192.0.2.1 >/dev/null && echo remote-ok"
	for i := 0; i < 2; i++ { // the second run finds the ruleset unchanged
		if out, err := h.berth(t, "run", "--rm", "--network", "bridge", "--rootfs", rootfsDir, "/bin/sh", "-c", ping).CombinedOutput(); err != nil || !strings.Contains(string(out), "remote-ok") {
			t.Fatalf("run %d: %v %s", i, err, out)
		}
	}
	before := nft("list", "table", "ip", "berth")
	if !strings.Contains(before, "masquerade") {
		t.Fatalf("no masquerade rule in berth's table:\n%s", before)
	}
	nft("flush", "chain", "ip", "berth", "postrouting")
	if out := nft("list", "table", "ip", "berth"); strings.Contains(out, "masquerade") {
		t.Fatalf("flush left the masquerade rule:\n%s", out)
	}
	if out, err := h.berth(t, "run", "--rm", "--network", "bridge", "--rootfs", rootfsDir, "/bin/sh", "-c", ping).CombinedOutput(); err != nil || !strings.Contains(string(out), "remote-ok") {
		t.Fatalf("run after the rules were flushed: %v %s", err, out)
	}
	if after := nft("list", "table", "ip", "berth"); !strings.Contains(after, "masquerade") {
		t.Fatalf("berth did not put its masquerade rule back:\n%s", after)
	}
}

// A host route into the network's subnet makes berth run refuse, in one
// line, after the init stage has started (the check runs beside it), and
// leave nothing: no address, network files, veth, cgroup or record.
func TestBridgeSubnetRoutedElsewhereRefused(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	h.ip(t, "link", "add", "clash0", "type", "veth", "peer", "name", "clash1")
	h.ip(t, "link", "set", "clash0", "up")
	h.ip(t, "route", "add", "10.88.0.0/24", "dev", "clash0")
	before := snapshot(t)
	cmd := h.berth(t, "run", "--rm", "--network", "bridge", "--rootfs", rootfsDir, "true")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 125 || !strings.Contains(string(out), "overlaps the host's route to 10.88.0.0/24") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Fatalf("run with the subnet routed elsewhere: exit %d, %q", code, out)
	}
	state, _ := os.ReadFile(filepath.Join(h.root, "networks", "bridge", "ipam.json"))
	if strings.Contains(string(state), "10.88.") && !strings.Contains(string(state), `"allocations": {}`) {
		t.Errorf("address left allocated: %s", state)
	}
	if files, _ := os.ReadDir(filepath.Join(h.root, "networks", "bridge", "files")); len(files) != 0 {
		t.Errorf("network files left: %v", files)
	}
	if links, _ := exec.Command("ip", "-n", h.name, "-o", "link").Output(); strings.Contains(string(links), "bth") {
		t.Errorf("veth left: %s", links)
	}
	if ps, _ := h.berth(t, "ps", "-aq").CombinedOutput(); strings.TrimSpace(string(ps)) != "" {
		t.Errorf("records left: %q", ps)
	}
	checkNoLeaks(t, before)
}
