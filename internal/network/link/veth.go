package link

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
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
	// Secondary is a network the container joins besides its first
	// (berth network connect): its interface is the first free ethN, and
	// the default route stays the first network's.
	Secondary bool
}

// Attach creates the veth pair ep.HostIf/eth0 with eth0 directly inside the
// network namespace netnsFD (e.g. an open /proc/PID/ns/net), makes
// ep.HostIf an up port of bridge, and gives eth0 its MAC, address, up state
// and default route via ep.Gateway. The container's loopback is not
// touched. On failure the pair is deleted if Attach created it.
func Attach(bridge string, netnsFD int, ep Endpoint) error {
	return AttachTo(Bridge{Name: bridge}, netnsFD, ep)
}

// AttachTo is Attach to a bridge EnsureBridge returned, which it does not
// look up again (0.2 ms); a Bridge with only its Name is looked up.
func AttachTo(br Bridge, netnsFD int, ep Endpoint) (err error) {
	return attachIn(br, netnsFD, nil, ep)
}

// AttachNetns is AttachTo into a namespace made by NewNetns, configured
// through the netlink socket made there with it.
func AttachNetns(br Bridge, ns *Netns, ep Endpoint) error {
	return attachIn(br, int(ns.File.Fd()), ns.h, ep)
}

// attachIn is AttachTo; inside, a netlink socket of that namespace, when
// the caller has one, else one made for the peer's configuration.
func attachIn(br Bridge, netnsFD int, inside *netlink.Handle, ep Endpoint) (err error) {
	if err := checkEndpoint(ep, netnsFD); err != nil {
		return err
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("attach %s: netlink: %w", ep.HostIf, err)
	}
	defer h.Close()
	if br.Index == 0 {
		if br, err = lookupBridge(h, br.Name); err != nil {
			return fmt.Errorf("attach %s: %w", ep.HostIf, err)
		}
	}
	peer := ContainerIf
	if ep.Secondary {
		if peer, err = freeContainerIf(netnsFD); err != nil {
			return fmt.Errorf("attach %s: %w", ep.HostIf, err)
		}
	}
	veth := newVeth(ep, peer, br.MTU, netnsFD)
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
	if err := h.LinkSetMasterByIndex(veth, br.Index); err != nil {
		return fmt.Errorf("attach %s: add to bridge %s: %w", ep.HostIf, br.Name, err)
	}
	// Hairpin lets a container reach its own published ports: the DNAT'ed
	// packet goes back out of the port it came in on.
	if err := h.LinkSetHairpin(veth, true); err != nil {
		return fmt.Errorf("attach %s: hairpin: %w", ep.HostIf, err)
	}
	if err := configurePeer(netnsFD, inside, peer, ep); err != nil {
		return fmt.Errorf("attach %s: %w", ep.HostIf, err)
	}
	return nil
}

// lookupBridge finds the bridge name.
func lookupBridge(h *netlink.Handle, name string) (Bridge, error) {
	l, err := h.LinkByName(name)
	if err != nil {
		return Bridge{}, fmt.Errorf("bridge %s: %w", name, err)
	}
	if _, err := checkType(l, "bridge"); err != nil {
		return Bridge{}, err
	}
	return Bridge{Name: name, Index: l.Attrs().Index, MTU: l.Attrs().MTU}, nil
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
func newVeth(ep Endpoint, peer string, mtu, netnsFD int) *netlink.Veth {
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
		PeerName:         peer,
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(netnsFD),
	}
}

// configurePeer gives the container's end (peer) its address, brings it
// up and adds the default route (not for a secondary network), all
// through a netlink socket opened inside the container.
func configurePeer(netnsFD int, h *netlink.Handle, peer string, ep Endpoint) error {
	if h == nil {
		var err error
		if h, err = handleAt(netnsFD); err != nil {
			return err
		}
		defer h.Close()
	}
	l, err := h.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("container %s: %w", peer, err)
	}
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: ipNet(ep.Addr)}); err != nil {
		return fmt.Errorf("container %s: add address %v: %w", peer, ep.Addr, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("container %s: set up: %w", peer, err)
	}
	if ep.Secondary {
		return nil // the subnet's route came with the address
	}
	route := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: ep.Gateway.AsSlice()}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("container: default route via %v: %w", ep.Gateway, err)
	}
	return nil
}

// freeContainerIf is the first ethN that the namespace netnsFD has not.
func freeContainerIf(netnsFD int) (string, error) {
	h, err := handleAt(netnsFD)
	if err != nil {
		return "", err
	}
	defer h.Close()
	for i := 1; i < 1000; i++ {
		name := fmt.Sprintf("eth%d", i)
		if _, err := h.LinkByName(name); isNotFound(err) {
			return name, nil
		} else if err != nil {
			return "", fmt.Errorf("container %s: %w", name, err)
		}
	}
	return "", errors.New("the container has eth1 to eth999 already")
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

// DetachFrom deletes the veth hostIf if it is a port of bridge (and
// with it the container's end). A missing interface, or one on another
// bridge, is left alone: a container's first network's veth and a
// network connect made one have different names, and which one a
// network has is told by its bridge.
func DetachFrom(hostIf, bridge string) error {
	if err := checkName(hostIf); err != nil {
		return err
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("detach %s: netlink: %w", hostIf, err)
	}
	defer h.Close()
	l, err := h.LinkByName(hostIf)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("detach %s: %w", hostIf, err)
	}
	br, err := h.LinkByName(bridge)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("detach %s: bridge %s: %w", hostIf, bridge, err)
	}
	if l.Type() != "veth" || l.Attrs().MasterIndex != br.Attrs().Index {
		return nil
	}
	if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("detach %s: %w", hostIf, err)
	}
	return nil
}

// Netns is a new network namespace made before the container's init
// stage exists (NewNetns), so that its network is plugged in while the
// container is still being created: the init stage enters it instead of
// making one.
type Netns struct {
	File *os.File
	h    *netlink.Handle // a netlink socket inside it
}

// NewNetns makes a new network namespace, its loopback up, and a netlink
// socket inside it, on a throwaway thread: unshare moves only that thread, which
// is never unlocked, so the Go runtime ends it rather than run anything
// else in the new namespace.
func NewNetns() (*Netns, error) {
	type result struct {
		ns  *Netns
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("create network namespace: %w", err)}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{err: fmt.Errorf("open the new network namespace: %w", err)}
			return
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			unix.Close(fd)
			ch <- result{err: fmt.Errorf("netlink in the new network namespace: %w", err)}
			return
		}
		// Loopback up here, not in the init stage: there it would wait
		// for the RTNL lock that the veth's creation holds meanwhile.
		if err := h.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1, Name: "lo"}}); err != nil {
			h.Close()
			unix.Close(fd)
			ch <- result{err: fmt.Errorf("bring loopback up in the new network namespace: %w", err)}
			return
		}
		ch <- result{ns: &Netns{File: os.NewFile(uintptr(fd), "netns"), h: h}}
	}()
	r := <-ch
	return r.ns, r.err
}

// Close closes the descriptor and the socket: the namespace goes with the
// last process in it.
func (n *Netns) Close() {
	if n == nil {
		return
	}
	n.h.Close()
	n.File.Close()
}
