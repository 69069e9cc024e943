package nft

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// The topology, all in namespaces the test creates:
//
//	remote 192.0.2.1 --- vr0 192.0.2.254 [host: berth0 10.88.0.1] vh0 --- eth0 10.88.0.2 container
//
// The host namespace is the test's own; it forwards, the container's
// default route is the bridge, and the remote has no route to 10.88/16,
// so it can only answer the container if the host masquerades.
const (
	bridgeAddr    = "10.88.0.1"
	containerAddr = "10.88.0.2"
	hostUplink    = "192.0.2.254"
	remoteAddr    = "192.0.2.1"
	ioTimeout     = 5 * time.Second
)

type topology struct {
	container, remote *netns
}

func buildTopology(t *testing.T) *topology {
	t.Helper()
	privateNetns(t)
	top := &topology{container: newNetns(t), remote: newNetns(t)}
	run(t, "ip", "link", "add", "berth0", "type", "bridge")
	run(t, "ip", "addr", "add", bridgeAddr+"/24", "dev", "berth0")
	run(t, "ip", "link", "set", "berth0", "up")
	run(t, "ip", "link", "add", "vh0", "type", "veth", "peer", "name", "eth0", "netns", top.container.path)
	run(t, "ip", "link", "set", "vh0", "master", "berth0", "up")
	// With br_netfilter, a container's connection to its own published
	// port is DNATed at the bridge and bridged back out the port it came
	// in by: the port needs hairpin mode, as Docker sets it.
	run(t, "ip", "link", "set", "vh0", "type", "bridge_slave", "hairpin", "on")
	top.container.run(t, "ip", "addr", "add", containerAddr+"/24", "dev", "eth0")
	top.container.run(t, "ip", "link", "set", "eth0", "up")
	top.container.run(t, "ip", "route", "add", "default", "via", bridgeAddr)
	run(t, "ip", "link", "add", "vr0", "type", "veth", "peer", "name", "eth0", "netns", top.remote.path)
	run(t, "ip", "addr", "add", hostUplink+"/24", "dev", "vr0")
	run(t, "ip", "link", "set", "vr0", "up")
	top.remote.run(t, "ip", "addr", "add", remoteAddr+"/24", "dev", "eth0")
	top.remote.run(t, "ip", "link", "set", "eth0", "up")
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := EnableRouteLocalnet("berth0"); err != nil {
		t.Fatal(err)
	}
	return top
}

// serveTCP listens in ns and answers every connection with the address
// it came from.
func serveTCP(t *testing.T, ns *netns, addr string) {
	t.Helper()
	var l net.Listener
	if err := ns.call(func() (err error) { l, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, c.RemoteAddr())
			c.Close()
		}
	}()
}

// serveUDP answers every datagram with the address it came from.
func serveUDP(t *testing.T, ns *netns, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := ns.call(func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(from.String()+"\n"), from)
		}
	}()
}

// peerOf connects to addr from the calling goroutine's namespace and
// returns the source address the server saw.
func peerOf(network, addr string) (netip.Addr, error) { return peerOfWithin(network, addr, ioTimeout) }

func peerOfWithin(network, addr string, timeout time.Duration) (netip.Addr, error) {
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if network == "udp4" {
		if _, err := c.Write([]byte("hi")); err != nil {
			return netip.Addr{}, err
		}
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s %s: reading: %w", network, addr, err)
	}
	ap, err := netip.ParseAddrPort(strings.TrimSpace(line))
	return ap.Addr(), err
}

func expectPeer(t *testing.T, from string, got netip.Addr, err error, want string) {
	t.Helper()
	if err != nil {
		t.Errorf("from %s: %v\n%s", from, err, nftList(t))
	} else if got.String() != want {
		t.Errorf("from %s: server saw source %v, want %s", from, got, want)
	}
}

func TestTraffic(t *testing.T) {
	top := buildTopology(t)
	serveTCP(t, top.container, ":80")
	serveUDP(t, top.container, ":53")
	serveTCP(t, top.remote, remoteAddr+":9000")

	r, err := New(-1)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.EnsureNetwork("berth0", netip.MustParsePrefix("10.88.0.0/16")); err != nil {
		t.Fatal(err)
	}
	ports := mustPorts(t, "18080:80", "127.0.0.1:15353:53/udp")
	if err := r.AddPorts("ctr", netip.MustParseAddr(containerAddr), ports); err != nil {
		t.Fatal(err)
	}

	got, err := peerOf("tcp4", "127.0.0.1:18080")
	expectPeer(t, "host to 127.0.0.1:18080", got, err, bridgeAddr)
	got, err = peerOf("tcp4", bridgeAddr+":18080")
	expectPeer(t, "host to bridge:18080", got, err, bridgeAddr)
	got, err = peerOf("udp4", "127.0.0.1:15353")
	expectPeer(t, "host to 127.0.0.1:15353/udp", got, err, bridgeAddr)

	err = top.remote.call(func() (err error) { got, err = peerOf("tcp4", hostUplink+":18080"); return err })
	expectPeer(t, "remote to host:18080", got, err, remoteAddr) // other hosts keep their address

	err = top.container.call(func() (err error) { got, err = peerOf("tcp4", remoteAddr+":9000"); return err })
	expectPeer(t, "container to remote", got, err, hostUplink) // masqueraded

	err = top.container.call(func() (err error) { got, err = peerOf("tcp4", hostUplink+":18080"); return err })
	expectPeer(t, "container to its own published port", got, err, bridgeAddr) // hairpin

	// A host that routes to the subnet through this one reaches published
	// ports only, not the container's other ports.
	top.remote.run(t, "ip", "route", "add", "10.88.0.0/16", "via", hostUplink)
	err = top.remote.call(func() error {
		c, err := net.DialTimeout("tcp4", containerAddr+":80", 500*time.Millisecond)
		if err == nil {
			c.Close()
			return errors.New("connected")
		}
		return nil
	})
	if err != nil {
		t.Errorf("remote routed to the container's unpublished port 80: %v\n%s", err, nftList(t))
	}

	// A host on the LAN that routes 127.0.0.1 here (it has no loopback
	// of its own) reaches no port through it: neither the one published
	// on 127.0.0.1 nor the one published on every address. Either of the
	// two defenses is enough alone: the dispatch that skips 127.0.0.0/8
	// from outside, and the guard that drops it at raw priority.
	top.remote.run(t, "ip", "addr", "flush", "dev", "lo")
	top.remote.run(t, "sh", "-c", "echo 1 >/proc/sys/net/ipv4/conf/all/route_localnet; echo 1 >/proc/sys/net/ipv4/conf/eth0/route_localnet")
	top.remote.run(t, "ip", "route", "add", "127.0.0.1/32", "via", hostUplink, "src", remoteAddr)
	viaLoopback := func(defenses string, reach bool) {
		t.Helper()
		for _, dial := range []struct{ network, addr string }{{"tcp4", "127.0.0.1:18080"}, {"udp4", "127.0.0.1:15353"}} {
			var got netip.Addr
			err := top.remote.call(func() (err error) { got, err = peerOfWithin(dial.network, dial.addr, time.Second); return err })
			if (err == nil) != reach {
				t.Errorf("remote to %s %s through its route to 127.0.0.1, %s: got %v, %v; want reached %v\n%s",
					dial.network, dial.addr, defenses, got, err, reach, nftList(t))
			}
		}
	}
	deleteGuard := func() {
		t.Helper()
		c := &nftables.Conn{}
		rules, err := listRules(c, chainRaw)
		if err == nil {
			err = delRules(c, rules, func(tag string) bool { return tag == tagGuard })
		}
		if err == nil {
			err = flush(c, "delete the guard")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	viaLoopback("both defenses", false)
	deleteGuard()
	viaLoopback("without the guard", false)
	// The dispatch as it was: every local address, 127.0.0.1 included.
	c := &nftables.Conn{}
	c.InsertRule(&nftables.Rule{Table: table(), Chain: chain(table(), chainPrerouting),
		Exprs: join(matchLocalDaddr(), []expr.Any{jump(chainPorts)}), UserData: comment("test")})
	if err := flush(c, "add the old dispatch"); err != nil {
		t.Fatal(err)
	}
	viaLoopback("with neither (the control: the route works)", true)
	if err := r.EnsureNetwork("berth0", netip.MustParsePrefix("10.88.0.0/16")); err != nil {
		t.Fatal(err)
	}
	viaLoopback("with the guard and a dispatch of 127.0.0.0/8", false)

	if err := r.RemoveOwner("ctr"); err != nil {
		t.Fatal(err)
	}
	if _, err := peerOf("tcp4", "127.0.0.1:18080"); !isRefused(err) {
		t.Errorf("127.0.0.1:18080 after RemoveOwner: %v, want connection refused", err)
	}
}

func isRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "connection refused")
}
