package link

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// MACFromAddr returns the MAC Docker derives from an IPv4 address,
// 02:42:a:b:c:d, so a container keeps its MAC as long as it keeps its
// address. It returns nil for anything but IPv4.
func MACFromAddr(a netip.Addr) net.HardwareAddr {
	a = a.Unmap()
	if !a.Is4() {
		return nil
	}
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// HostRoutes returns the destinations of the IPv4 routes in the main table,
// so the caller can refuse a subnet that overlaps one of them. Default
// routes are left out (everything overlaps them), and so are routes through
// the interface exceptDev, typically berth's own bridge ("" keeps all).
func HostRoutes(exceptDev string) ([]netip.Prefix, error) {
	// Routes first, then the device: a bridge another berth creates in
	// between has its route either missing from the dump or known here.
	// The other order took such a route for someone else's.
	// One socket for both requests, not one each as the package-level
	// calls open.
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("host routes: netlink: %w", err)
	}
	defer h.Close()
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return h.RouteList(nil, netlink.FAMILY_V4)
	})
	if err != nil {
		return nil, fmt.Errorf("host routes: %w", err)
	}
	except := 0
	if exceptDev != "" {
		l, err := h.LinkByName(exceptDev)
		if err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("host routes: %s: %w", exceptDev, err)
		}
		if err == nil {
			except = l.Attrs().Index
		}
	}
	var out []netip.Prefix
	for _, r := range routes {
		p := prefixOf(r.Dst, true)
		if p.IsValid() && p.Bits() > 0 && (except == 0 || r.LinkIndex != except) {
			out = append(out, p)
		}
	}
	return out, nil
}

// prefixOf converts n, masked or keeping its host bits; nil gives the zero
// Prefix.
func prefixOf(n *net.IPNet, masked bool) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a, ok := netip.AddrFromSlice(n.IP)
	ones, bits := n.Mask.Size()
	if !ok || bits == 0 {
		return netip.Prefix{}
	}
	p := netip.PrefixFrom(a.Unmap(), ones)
	if masked {
		return p.Masked()
	}
	return p
}

// ipNet converts p keeping its host bits, as an interface address needs.
func ipNet(p netip.Prefix) *net.IPNet {
	a := p.Addr().Unmap()
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}
