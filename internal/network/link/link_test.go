package link

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const testBridge = "berth0"

var testGateway = netip.MustParsePrefix("10.88.0.1/16")

func requireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root to create network namespaces")
	}
}

// hostNS returns a fresh namespace standing in for the host, with the bridge.
func hostNS(tb testing.TB) netns.NsHandle {
	tb.Helper()
	requireRoot(tb)
	host := newNS(tb)
	inNS(tb, host, func() error { _, err := EnsureBridge(testBridge, testGateway, nil); return err })
	return host
}

func endpoint(hostIf, addr string) Endpoint {
	return Endpoint{
		HostIf:  hostIf,
		Addr:    netip.MustParsePrefix(addr),
		Gateway: testGateway.Addr(),
	}
}

func attach(tb testing.TB, host, ctr netns.NsHandle, ep Endpoint) {
	tb.Helper()
	inNS(tb, host, func() error { return Attach(testBridge, int(ctr), ep) })
}

func readSysctl(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

func TestEnsureBridge(t *testing.T) {
	host := hostNS(t)
	inNS(t, host, func() error {
		if _, err := EnsureBridge(testBridge, testGateway, nil); err != nil {
			return fmt.Errorf("second EnsureBridge: %w", err)
		}
		l, err := netlink.LinkByName(testBridge)
		if err != nil {
			return err
		}
		if l.Type() != "bridge" || l.Attrs().Flags&net.FlagUp == 0 {
			return fmt.Errorf("%s: type %s flags %v, want an up bridge", testBridge, l.Type(), l.Attrs().Flags)
		}
		if got, want := l.Attrs().HardwareAddr.String(), "02:42:0a:58:00:01"; got != want {
			return fmt.Errorf("bridge MAC %s, want %s", got, want)
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		if len(addrs) != 1 || prefixOf(addrs[0].IPNet, false) != testGateway {
			return fmt.Errorf("bridge addresses %v, want only %v", addrs, testGateway)
		}
		for path, want := range map[string]string{
			// Loopback is routed to the bridge only for published ports
			// (network.Attachment.Connect), not for every bridge.
			"/proc/sys/net/ipv4/conf/" + testBridge + "/route_localnet": "0",
			"/proc/sys/net/ipv4/ip_forward":                             "1",
		} {
			if got, err := readSysctl(path); err != nil || got != want {
				return fmt.Errorf("%s = %q (%v), want %q", path, got, err, want)
			}
		}
		return nil
	})
}

// EnsureBridge runs its check before it makes the bridge or gives it its
// address, and stops there when the check fails; a bridge in place with
// its address costs no check.
func TestEnsureBridgeChecksBeforeChanges(t *testing.T) {
	requireRoot(t)
	inNS(t, newNS(t), func() error {
		refuse := errors.New("refused")
		checks := 0
		check := func() error { checks++; return refuse }
		if _, err := EnsureBridge(testBridge, testGateway, check); !errors.Is(err, refuse) || checks != 1 {
			return fmt.Errorf("no bridge yet: %v after %d checks, want the check's error after 1", err, checks)
		}
		if _, err := netlink.LinkByName(testBridge); err == nil {
			return errors.New("the bridge was made though the check failed")
		}
		checks = 0
		if _, err := EnsureBridge(testBridge, testGateway, func() error { checks++; return nil }); err != nil || checks != 1 {
			return fmt.Errorf("made: %v after %d checks, want 1", err, checks)
		}
		checks = 0
		if _, err := EnsureBridge(testBridge, testGateway, check); err != nil || checks != 0 {
			return fmt.Errorf("in place: %v after %d checks, want none", err, checks)
		}
		l, err := netlink.LinkByName(testBridge)
		if err != nil {
			return err
		}
		if err := netlink.AddrDel(l, &netlink.Addr{IPNet: ipNet(testGateway)}); err != nil {
			return err
		}
		checks = 0
		if _, err := EnsureBridge(testBridge, testGateway, check); !errors.Is(err, refuse) || checks != 1 {
			return fmt.Errorf("address gone: %v after %d checks, want the check's error after 1", err, checks)
		}
		return nil
	})
}

func TestEnsureBridgeRejectsOtherType(t *testing.T) {
	requireRoot(t)
	inNS(t, newNS(t), func() error {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = testBridge
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "peer"}); err != nil {
			return err
		}
		if _, err := EnsureBridge(testBridge, testGateway, nil); err == nil {
			return errors.New("EnsureBridge accepted a veth as bridge")
		}
		if err := DeleteBridge(testBridge); err == nil {
			return errors.New("DeleteBridge deleted a veth")
		}
		return nil
	})
}

func TestDeleteBridge(t *testing.T) {
	host := hostNS(t)
	inNS(t, host, func() error {
		for i := range 2 {
			if err := DeleteBridge(testBridge); err != nil {
				return fmt.Errorf("DeleteBridge #%d: %w", i+1, err)
			}
		}
		if _, err := netlink.LinkByName(testBridge); !isNotFound(err) {
			return fmt.Errorf("bridge still there after delete: %v", err)
		}
		return nil
	})
}

func TestAttach(t *testing.T) {
	host := hostNS(t)
	c1, c2 := newNS(t), newNS(t)
	attach(t, host, c1, endpoint("bthc1", "10.88.0.2/16"))
	attach(t, host, c2, endpoint("bthc2", "10.88.0.3/16"))

	inNS(t, c1, func() error { return checkContainer("10.88.0.2/16", "02:42:0a:58:00:02") })
	inNS(t, host, func() error {
		names, err := HostInterfaces("bth")
		if err != nil {
			return err
		}
		if slices.Sort(names); !slices.Equal(names, []string{"bthc1", "bthc2"}) {
			return fmt.Errorf("HostInterfaces = %v", names)
		}
		return checkPort("bthc1")
	})

	checkTCP(t, host, c1, "10.88.0.2:7001") // bridge address -> container
	checkTCP(t, c1, host, "10.88.0.1:7002") // container -> bridge address
	checkTCP(t, c1, c2, "10.88.0.3:7003")   // container -> container
	checkTCP(t, c2, c1, "10.88.0.2:7004")
}

// checkContainer checks eth0 in the calling thread's namespace.
func checkContainer(addr, mac string) error {
	l, err := netlink.LinkByName(ContainerIf)
	if err != nil {
		return err
	}
	if l.Attrs().Flags&net.FlagUp == 0 || l.Attrs().HardwareAddr.String() != mac {
		return fmt.Errorf("eth0 flags %v MAC %v, want up with %s", l.Attrs().Flags, l.Attrs().HardwareAddr, mac)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	if len(addrs) != 1 || prefixOf(addrs[0].IPNet, false).String() != addr {
		return fmt.Errorf("eth0 addresses %v, want %s", addrs, addr)
	}
	routes, err := netlink.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	for _, r := range routes {
		if prefixOf(r.Dst, true).Bits() == 0 && r.Gw.Equal(net.IP(testGateway.Addr().AsSlice())) {
			return nil
		}
	}
	return fmt.Errorf("no default route via %v in %v", testGateway.Addr(), routes)
}

// checkPort checks that hostIf is an up port of the test bridge.
func checkPort(hostIf string) error {
	br, err := netlink.LinkByName(testBridge)
	if err != nil {
		return err
	}
	l, err := netlink.LinkByName(hostIf)
	if err != nil {
		return err
	}
	if l.Attrs().MasterIndex != br.Attrs().Index || l.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("%s: master %d flags %v, want up port of %d", hostIf, l.Attrs().MasterIndex, l.Attrs().Flags, br.Attrs().Index)
	}
	return nil
}

// checkTCP listens on addr inside server and connects from client.
func checkTCP(t *testing.T, client, server netns.NsHandle, addr string) {
	t.Helper()
	var ln net.Listener
	inNS(t, server, func() (err error) {
		ln, err = net.Listen("tcp4", addr) // the socket stays in server's namespace
		return err
	})
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	inNS(t, client, func() error {
		c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil || string(b) != "hi" {
			return fmt.Errorf("read from %s: %q, %v", addr, b, err)
		}
		return nil
	})
}

func TestDetach(t *testing.T) {
	host := hostNS(t)
	ctr := newNS(t)
	attach(t, host, ctr, endpoint("bthd1", "10.88.0.2/16"))
	inNS(t, host, func() error {
		for i := range 2 {
			if err := Detach("bthd1"); err != nil {
				return fmt.Errorf("Detach #%d: %w", i+1, err)
			}
		}
		if _, err := netlink.LinkByName("bthd1"); !isNotFound(err) {
			return fmt.Errorf("host end still there: %v", err)
		}
		if err := Detach(testBridge); err == nil {
			return errors.New("Detach deleted the bridge")
		}
		return nil
	})
	inNS(t, ctr, func() error { return noEth0() })
}

func noEth0() error {
	if _, err := netlink.LinkByName(ContainerIf); !isNotFound(err) {
		return fmt.Errorf("eth0 still in container: %v", err)
	}
	return nil
}

func TestAttachFailureLeavesNothing(t *testing.T) {
	host := hostNS(t)
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	cases := []struct {
		name  string
		setup func(ctr netns.NsHandle) int // returns the fd to pass to Attach
		ep    Endpoint
	}{
		{"not a netns fd", func(netns.NsHandle) int { return int(devNull.Fd()) }, endpoint("bthf1", "10.88.0.2/16")},
		{"closed fd", func(netns.NsHandle) int { return 1000 }, endpoint("bthf2", "10.88.0.2/16")},
		{"eth0 exists", withDummy("eth0", "", false), endpoint("bthf3", "10.88.0.2/16")},
		{"default route exists", withDummy("dummy0", "192.168.9.2/24", true), endpoint("bthf4", "10.88.0.2/16")},
		{"gateway outside subnet", withDummy("", "", false), Endpoint{
			HostIf: "bthf5", Addr: netip.MustParsePrefix("10.88.0.2/24"), Gateway: netip.MustParseAddr("10.88.1.1"),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctr := newNS(t)
			var fd int
			inNS(t, ctr, func() error { fd = tc.setup(ctr); return nil })
			inNS(t, host, func() error {
				err := Attach(testBridge, fd, tc.ep)
				if err == nil {
					return errors.New("Attach succeeded")
				}
				t.Logf("Attach: %v", err)
				if names, err := HostInterfaces("bth"); err != nil || len(names) != 0 {
					return fmt.Errorf("veths left behind: %v %v", names, err)
				}
				return nil
			})
			if tc.name != "eth0 exists" {
				inNS(t, ctr, noEth0)
			}
		})
	}
}

// withDummy returns a setup that, inside the container namespace, adds a
// stand-in interface name (a port-less bridge: this kernel has no dummy driver) (if any) with addr (if any) and optionally a default
// route through it.
func withDummy(name, addr string, defRoute bool) func(netns.NsHandle) int {
	return func(ctr netns.NsHandle) int {
		if name == "" {
			return int(ctr)
		}
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		attrs.Flags = net.FlagUp
		d := &netlink.Bridge{LinkAttrs: attrs}
		must(netlink.LinkAdd(d))
		if addr != "" {
			must(netlink.AddrAdd(d, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix(addr))}))
		}
		if defRoute {
			gw := netip.MustParsePrefix(addr).Masked().Addr().Next()
			must(netlink.RouteAdd(&netlink.Route{LinkIndex: d.Index, Gw: gw.AsSlice()}))
		}
		return int(ctr)
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func TestAttachKeepsExistingHostIf(t *testing.T) {
	host := hostNS(t)
	ctr := newNS(t)
	inNS(t, host, func() error {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = "bthdup"
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
			return err
		}
		if err := Attach(testBridge, int(ctr), endpoint("bthdup", "10.88.0.2/16")); !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("Attach over an existing name: %v, want EEXIST", err)
		}
		_, err := netlink.LinkByName("bthdup")
		return err
	})
	inNS(t, ctr, noEth0)
}

func TestHostRoutes(t *testing.T) {
	host := hostNS(t)
	inNS(t, host, func() error {
		withDummy("dummy0", "192.168.77.1/24", true)(host)
		all, err := HostRoutes("")
		if err != nil {
			return err
		}
		slices.SortFunc(all, netip.Prefix.Compare)
		want := []netip.Prefix{netip.MustParsePrefix("10.88.0.0/16"), netip.MustParsePrefix("192.168.77.0/24")}
		if !slices.Equal(all, want) {
			return fmt.Errorf("HostRoutes(\"\") = %v, want %v", all, want)
		}
		others, err := HostRoutes(testBridge)
		if err != nil {
			return err
		}
		if !slices.Equal(others, want[1:]) {
			return fmt.Errorf("HostRoutes(%q) = %v, want %v", testBridge, others, want[1:])
		}
		return nil
	})
}

func TestMACFromAddr(t *testing.T) {
	if got := MACFromAddr(netip.MustParseAddr("172.17.0.2")).String(); got != "02:42:ac:11:00:02" {
		t.Errorf("MACFromAddr(172.17.0.2) = %s", got)
	}
	if got := MACFromAddr(netip.MustParseAddr("fd00::1")); got != nil {
		t.Errorf("MACFromAddr(fd00::1) = %s, want nil", got)
	}
}

func BenchmarkEnsureBridgeExisting(b *testing.B) {
	host := hostNS(b)
	inNS(b, host, func() error {
		for b.Loop() {
			if _, err := EnsureBridge(testBridge, testGateway, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

func BenchmarkAttach(b *testing.B) { benchPair(b, true) }

func BenchmarkDetach(b *testing.B) { benchPair(b, false) }

// benchPair attaches and detaches b.N containers, timing only one side.
func benchPair(b *testing.B, timeAttach bool) {
	host := hostNS(b)
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		ctr := newNS(b)
		inNS(b, host, func() error {
			b.StartTimer()
			err := Attach(testBridge, int(ctr), endpoint("bthbench", "10.88.0.2/16"))
			if timeAttach {
				b.StopTimer()
			}
			if err == nil {
				err = Detach("bthbench")
			}
			b.StopTimer()
			return err
		})
		ctr.Close()
	}
}

// TestAttachNetns: NewNetns makes a namespace of its own, its loopback
// up, without moving the caller's thread; AttachNetns plugs it in as
// Attach plugs in a namespace made otherwise; once its descriptor is
// closed, with nothing in it, the namespace goes and the veth with it.
func TestAttachNetns(t *testing.T) {
	host := hostNS(t)
	var ns *Netns
	inNS(t, host, func() error {
		own, _ := os.Readlink("/proc/thread-self/ns/net")
		var err error
		if ns, err = NewNetns(); err != nil {
			return err
		}
		if now, _ := os.Readlink("/proc/thread-self/ns/net"); now != own {
			return fmt.Errorf("the caller's thread moved from %s to %s", own, now)
		}
		made, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", ns.File.Fd()))
		if made == own || !strings.HasPrefix(made, "net:") {
			return fmt.Errorf("NewNetns gave %q, the caller is in %q", made, own)
		}
		h := mustHandle()
		defer h.Close()
		br, err := lookupBridge(h, testBridge)
		if err != nil {
			return err
		}
		return AttachNetns(br, ns, endpoint("bthn1", "10.88.0.7/16"))
	})
	inNS(t, netns.NsHandle(ns.File.Fd()), func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil || lo.Attrs().Flags&net.FlagUp == 0 {
			return fmt.Errorf("lo: %v, %v", lo, err)
		}
		return checkContainer("10.88.0.7/16", "02:42:0a:58:00:07")
	})
	ns.Close()
	inNS(t, host, func() error {
		for i := 0; i < 200; i++ {
			if _, err := netlink.LinkByName("bthn1"); err != nil {
				return nil
			}
			time.Sleep(10 * time.Millisecond)
		}
		return errors.New("bthn1 is still there 2 s after its namespace was closed")
	})
}

func mustHandle() *netlink.Handle {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		panic(err)
	}
	return h
}
