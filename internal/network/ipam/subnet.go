package ipam

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// MaxBits is the longest prefix a network may have: a /30 holds the network
// address, the gateway, one container and the broadcast address.
const MaxBits = 30

// reserved are IPv4 ranges that cannot carry a container network.
var reserved = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\" (0.0.0.0/8)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback (127.0.0.0/8)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast (224.0.0.0/4)"},
	{netip.MustParsePrefix("255.255.255.255/32"), "the limited broadcast address"},
}

// ParseSubnet parses the --subnet of a network. Input with host bits set
// (10.0.0.1/24) is rejected rather than masked: it is most likely a typo or
// a host address, and silently using a different network than the one
// typed is worse than a one-line error that names the right one.
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("invalid --subnet %q: use an IPv4 CIDR such as 10.89.0.0/24", s)
	}
	if err := checkSubnet(p); err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid --subnet %q: %w", s, err)
	}
	return p, nil
}

// checkSubnet says why p cannot be a network's subnet, in words that fit
// after "invalid subnet X: ".
func checkSubnet(p netip.Prefix) error {
	switch {
	case !p.IsValid():
		return fmt.Errorf("not a CIDR; use one such as 10.89.0.0/24")
	case !p.Addr().Is4():
		return fmt.Errorf("only IPv4 is supported; use a CIDR such as 10.89.0.0/24")
	case p.Bits() > MaxBits:
		return fmt.Errorf("too small: a network needs at least a /%d (gateway and one container)", MaxBits)
	case p.Masked() != p:
		return fmt.Errorf("host bits are set; did you mean %s?", p.Masked())
	}
	for _, r := range reserved {
		if p.Overlaps(r.prefix) {
			return fmt.Errorf("overlaps %s", r.what)
		}
	}
	return nil
}

// Overlaps returns the first of the host's routes that overlaps subnet, if
// any. Routes of length 0 (default routes) are skipped: they cover every
// address and say nothing about whether the subnet is in use. Routes of
// another address family never overlap.
func Overlaps(subnet netip.Prefix, routes []netip.Prefix) (netip.Prefix, bool) {
	for _, r := range routes {
		if r.IsValid() && r.Bits() > 0 && r.Overlaps(subnet) {
			return r, true
		}
	}
	return netip.Prefix{}, false
}

// hostRange returns the addresses a pool may hand out to containers: all
// but the network address, the gateway (network+1) and the broadcast.
func hostRange(p netip.Prefix) (first, last uint32) {
	network := toU32(p.Addr())
	size := uint64(1) << (32 - p.Bits())
	broadcast := uint32(uint64(network) + size - 1)
	return network + 2, broadcast - 1
}

func toU32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func fromU32(u uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return netip.AddrFrom4(b)
}
