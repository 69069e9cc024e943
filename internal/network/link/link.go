// Package link owns berth's layer-2 plumbing for bridge networking: the
// host bridge (berth0 by default) with its gateway address, and one veth
// pair per container whose host end is a port of that bridge and whose
// peer is eth0 inside the container's network namespace.
//
// It talks rtnetlink directly (github.com/vishvananda/netlink) and never
// runs the ip tool. It does not own addresses allocation, firewall rules or
// the container's loopback interface.
//
// Every function acts on the network namespace of the calling OS thread
// (the host's, for berth); only Attach reaches into a second namespace, the
// container's, through the file descriptor it is given.
//
// Host state: EnsureBridge sets net.ipv4.ip_forward=1 for the whole
// namespace and leaves it set. (route_localnet, which published ports
// reached through 127.0.0.1 need, is set by the network package only for
// them.) Deleting a veth costs tens of milliseconds (the kernel
// waits for an RCU grace period), so Detach is a separate call that the
// caller can run off the user's critical path; when the container's
// namespace is destroyed the kernel removes the pair on its own, which is
// why Detach treats a missing interface as success.
package link

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ContainerIf is the name of the peer interface inside the container.
const ContainerIf = "eth0"

// Bridge is a bridge EnsureBridge found or made: what Attach needs of
// it, so that it need not look the bridge up again.
type Bridge struct {
	Name  string
	Index int
	MTU   int
}

// EnsureBridge makes sure the bridge name exists, carries gateway (the
// gateway address with the subnet's prefix length) and is up. It is
// idempotent and safe to race with another berth doing the same. It also
// enables IPv4 forwarding. check, if set, runs once before the bridge is
// made or given its address, and its error stops that; a bridge already
// in place with its address is not checked.
func EnsureBridge(name string, gateway netip.Prefix, check func() error) (Bridge, error) {
	if err := checkName(name); err != nil {
		return Bridge{}, err
	}
	if !gateway.IsValid() || !gateway.Addr().Is4() {
		return Bridge{}, fmt.Errorf("bridge %s: gateway %v is not an IPv4 prefix", name, gateway)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return Bridge{}, fmt.Errorf("bridge %s: netlink: %w", name, err)
	}
	defer h.Close()
	if check != nil {
		check = checkOnce(check) // a new bridge has no address yet either
	}
	br, err := bridge(h, name, gateway.Addr(), check)
	if err != nil {
		return Bridge{}, err
	}
	if err := ensureAddr(h, br, gateway, check); err != nil {
		return Bridge{}, err
	}
	if br.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(br); err != nil {
			return Bridge{}, fmt.Errorf("bridge %s: set up: %w", name, err)
		}
	}
	return Bridge{Name: name, Index: br.Attrs().Index, MTU: br.Attrs().MTU}, bridgeSysctls(name)
}

// checkOnce is check that runs the first time only, and then passes.
func checkOnce(check func() error) func() error {
	done := false
	return func() error {
		if done {
			return nil
		}
		done = true
		return check()
	}
}

// bridge returns the existing bridge name or creates it. A created bridge
// gets a fixed MAC derived from the gateway, so the kernel does not change
// the bridge's address as ports come and go (which would leave containers
// with a stale neighbour entry for the gateway).
func bridge(h *netlink.Handle, name string, gw netip.Addr, check func() error) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	if err == nil {
		return checkType(l, "bridge")
	}
	if !isNotFound(err) {
		return nil, fmt.Errorf("bridge %s: lookup: %w", name, err)
	}
	if check != nil {
		if err := check(); err != nil {
			return nil, err
		}
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	attrs.HardwareAddr = MACFromAddr(gw)
	err = h.LinkAdd(&netlink.Bridge{LinkAttrs: attrs})
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("bridge %s: create: %w", name, err)
	}
	if l, err = h.LinkByName(name); err != nil {
		return nil, fmt.Errorf("bridge %s: lookup after create: %w", name, err)
	}
	return checkType(l, "bridge")
}

// ensureAddr adds p to l unless l already has exactly that address and
// prefix length. Other addresses on the link are left alone.
func ensureAddr(h *netlink.Handle, l netlink.Link, p netip.Prefix, check func() error) error {
	name := l.Attrs().Name
	addrs, err := retryDump(func() ([]netlink.Addr, error) {
		return h.AddrList(l, netlink.FAMILY_V4)
	})
	if err != nil {
		return fmt.Errorf("bridge %s: list addresses: %w", name, err)
	}
	for _, a := range addrs {
		if prefixOf(a.IPNet, false) == p {
			return nil
		}
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	err = h.AddrAdd(l, &netlink.Addr{IPNet: ipNet(p)})
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("bridge %s: add address %v: %w", name, p, err)
	}
	return nil
}

// bridgeSysctls writes the sysctl every bridge needs. /proc/sys/net belongs
// to the namespace of the thread that opens it, like the rest of the package.
func bridgeSysctls(name string) error {
	if err := writeSysctl("/proc/sys/net/ipv4/ip_forward", "1"); err != nil {
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	return nil
}

func writeSysctl(path, value string) error {
	if err := os.WriteFile(path, []byte(value), 0); err != nil {
		return fmt.Errorf("set sysctl: %w", err)
	}
	return nil
}

// DeleteBridge deletes the bridge name; a missing bridge is not an error.
// Ports still attached are detached by the kernel, not deleted.
func DeleteBridge(name string) error {
	return deleteLink(name, "bridge")
}

// deleteLink deletes the link name if it exists and has the given type.
func deleteLink(name, kind string) error {
	if err := checkName(name); err != nil {
		return err
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("delete %s %s: netlink: %w", kind, name, err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s %s: lookup: %w", kind, name, err)
	}
	if _, err := checkType(l, kind); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s %s: %w", kind, name, err)
	}
	return nil
}

// checkName rejects names the kernel would refuse, and any name that could
// escape its directory in /proc/sys.
func checkName(name string) error {
	if name == "" || len(name) >= unix.IFNAMSIZ || name == "." || name == ".." ||
		strings.ContainsAny(name, "/: \t\n") {
		return fmt.Errorf("invalid interface name %q", name)
	}
	return nil
}

func checkType(l netlink.Link, kind string) (netlink.Link, error) {
	if l.Type() != kind {
		return nil, fmt.Errorf("%s is a %s, not a %s", l.Attrs().Name, l.Type(), kind)
	}
	return l, nil
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

// retryDump repeats a netlink dump that the kernel reports as interrupted
// by a concurrent change (NLM_F_DUMP_INTR), e.g. another berth run.
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var err error
	for range 10 {
		var v []T
		if v, err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return nil, err
}
