package link

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Endpoint describes one container's attachment to the bridge.
type Endpoint struct {
	HostIf  string           // host end of the veth pair, a port of the bridge
	Addr    netip.Prefix     // the container's address with the subnet's length
	Gateway netip.Addr       // default route inside the container
	MAC     net.HardwareAddr // eth0's MAC; nil means MACFromAddr(Addr.Addr())
}

// Attach creates the veth pair ep.HostIf/eth0 with eth0 directly inside the
// network namespace netnsFD (e.g. an open /proc/PID/ns/net), makes
// ep.HostIf an up port of bridge, and gives eth0 its MAC, address, up state
// and default route via ep.Gateway. The container's loopback is not
// touched. On failure the pair is deleted if Attach created it.
func Attach(bridge string, netnsFD int, ep Endpoint) (err error) {
	if err := checkEndpoint(ep, netnsFD); err != nil {
		return err
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("attach %s: netlink: %w", ep.HostIf, err)
	}
	defer h.Close()
	br, err := h.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("attach %s: bridge %s: %w", ep.HostIf, bridge, err)
	}
	if _, err := checkType(br, "bridge"); err != nil {
		return fmt.Errorf("attach %s: %w", ep.HostIf, err)
	}
	veth := newVeth(ep, br.Attrs().MTU, netnsFD)
	if err := h.LinkAdd(veth); err != nil {
		return fmt.Errorf("attach %s: create veth: %w", ep.HostIf, err)
	}
	defer func() {
		if err != nil {
			// Deleting the host end deletes eth0 too.
			if derr := h.LinkDel(veth); derr != nil && !errors.Is(derr, unix.ENODEV) {
				err = errors.Join(err, fmt.Errorf("attach %s: clean up: %w", ep.HostIf, derr))
			}
		}
	}()
	if err := h.LinkSetMasterByIndex(veth, br.Attrs().Index); err != nil {
		return fmt.Errorf("attach %s: add to bridge %s: %w", ep.HostIf, bridge, err)
	}
	// Hairpin lets a container reach its own published ports: the DNAT'ed
	// packet goes back out of the port it came in on.
	if err := h.LinkSetHairpin(veth, true); err != nil {
		return fmt.Errorf("attach %s: hairpin: %w", ep.HostIf, err)
	}
	if err := configurePeer(netnsFD, ep); err != nil {
		return fmt.Errorf("attach %s: %w", ep.HostIf, err)
	}
	return nil
}

func checkEndpoint(ep Endpoint, netnsFD int) error {
	if err := checkName(ep.HostIf); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	if netnsFD < 0 {
		return fmt.Errorf("attach %s: bad netns fd %d", ep.HostIf, netnsFD)
	}
	if !ep.Addr.IsValid() || !ep.Gateway.IsValid() {
		return fmt.Errorf("attach %s: address %v and gateway %v must both be set", ep.HostIf, ep.Addr, ep.Gateway)
	}
	return nil
}

// newVeth describes the pair in one RTM_NEWLINK: host end up, peer already
// named eth0 inside the container's namespace, both with the bridge's MTU.
func newVeth(ep Endpoint, mtu, netnsFD int) *netlink.Veth {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = ep.HostIf
	attrs.MTU = mtu
	attrs.Flags = net.FlagUp
	mac := ep.MAC
	if mac == nil {
		mac = MACFromAddr(ep.Addr.Addr())
	}
	return &netlink.Veth{
		LinkAttrs:        attrs,
		PeerName:         ContainerIf,
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(netnsFD),
	}
}

// configurePeer gives eth0 its address, brings it up and adds the default
// route, all through a netlink socket opened inside the container.
func configurePeer(netnsFD int, ep Endpoint) error {
	h, err := handleAt(netnsFD)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(ContainerIf)
	if err != nil {
		return fmt.Errorf("container %s: %w", ContainerIf, err)
	}
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: ipNet(ep.Addr)}); err != nil {
		return fmt.Errorf("container %s: add address %v: %w", ContainerIf, ep.Addr, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("container %s: set up: %w", ContainerIf, err)
	}
	route := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: ep.Gateway.AsSlice()}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("container: default route via %v: %w", ep.Gateway, err)
	}
	return nil
}

// handleAt opens a netlink socket inside the namespace netnsFD. The socket
// keeps its namespace once created. It is created on a throwaway thread that
// is never unlocked, so the Go runtime discards that thread instead of
// reusing it in the container's namespace.
func handleAt(netnsFD int) (*netlink.Handle, error) {
	type result struct {
		h   *netlink.Handle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		if err := unix.Setns(netnsFD, unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("enter container netns: %w", err)}
			return
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			err = fmt.Errorf("container netlink: %w", err)
		}
		ch <- result{h, err}
	}()
	r := <-ch
	return r.h, r.err
}

// Detach deletes the veth hostIf, and with it the container's eth0. A
// missing interface is not an error (the kernel deletes the pair itself
// when the container's namespace goes away); an interface that is not a
// veth is. It takes tens of milliseconds, so callers may run it in the
// background.
func Detach(hostIf string) error {
	return deleteLink(hostIf, "veth")
}

// HostInterfaces lists the veths whose names start with prefix, so a
// garbage collector can Detach those of containers that no longer exist.
func HostInterfaces(prefix string) ([]string, error) {
	if prefix == "" {
		return nil, errors.New("host interfaces: empty prefix")
	}
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("host interfaces: %w", err)
	}
	var names []string
	for _, l := range links {
		if l.Type() == "veth" && strings.HasPrefix(l.Attrs().Name, prefix) {
			names = append(names, l.Attrs().Name)
		}
	}
	return names, nil
}
