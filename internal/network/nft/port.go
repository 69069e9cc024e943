package nft

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// A Port is one published port: traffic for HostIP:HostPort is sent to
// the container's ContainerPort.
type Port struct {
	// HostIP limits the port to one local IPv4 address. The zero Addr
	// (or 0.0.0.0) means every local address, 127.0.0.1 included.
	HostIP        netip.Addr
	HostPort      uint16
	ContainerPort uint16
	Proto         string // "tcp", "udp" or "sctp"
}

// ParsePort parses one published port as a container's record holds it
// (String's form): [hostip:]hostport:containerport[/tcp|udp|sctp], with
// its host port chosen. The protocol defaults to tcp. -p's other forms
// (random host ports, ranges) are ParsePublish's.
func ParsePort(s string) (Port, error) {
	p, err := parsePort(s)
	if err != nil {
		return Port{}, fmt.Errorf("invalid port mapping %q: %w", s, err)
	}
	return p, nil
}

func parsePort(s string) (Port, error) {
	rest, proto, hasProto := strings.Cut(s, "/")
	if !hasProto {
		proto = "tcp"
	}
	if !validProto(proto) {
		return Port{}, fmt.Errorf("protocol %q is not tcp, udp or sctp", proto)
	}
	if strings.HasPrefix(rest, "[") || strings.Count(rest, ":") > 2 {
		return Port{}, fmt.Errorf("IPv6 host addresses are not supported")
	}
	parts := strings.Split(rest, ":")
	if len(parts) == 1 || parts[len(parts)-2] == "" {
		return Port{}, fmt.Errorf("a host port is required, as in HOSTPORT:%s", parts[len(parts)-1])
	}
	p := Port{Proto: proto}
	if len(parts) == 3 {
		ip, err := parseHostIP(parts[0])
		if err != nil {
			return Port{}, err
		}
		p.HostIP = ip
	}
	var err error
	if p.HostPort, err = parsePortNumber("host", parts[len(parts)-2]); err != nil {
		return Port{}, err
	}
	if p.ContainerPort, err = parsePortNumber("container", parts[len(parts)-1]); err != nil {
		return Port{}, err
	}
	return p, nil
}

func parseHostIP(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, fmt.Errorf("host address %q is not an IPv4 address", s)
	}
	if ip.IsUnspecified() {
		return netip.Addr{}, nil
	}
	return ip, nil
}

func parsePortNumber(which, s string) (uint16, error) {
	if strings.Contains(s, "-") {
		return 0, fmt.Errorf("%s port %q: port ranges are not supported", which, s)
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%s port %q is not a number from 1 to 65535", which, s)
	}
	return uint16(n), nil
}

// String formats p the way ParsePort reads it.
func (p Port) String() string {
	s := fmt.Sprintf("%d:%d/%s", p.HostPort, p.ContainerPort, p.Proto)
	if p.allAddrs() {
		return s
	}
	return p.HostIP.String() + ":" + s
}

func (p Port) allAddrs() bool { return !p.HostIP.IsValid() || p.HostIP.IsUnspecified() }

// ViaLoopback reports whether the host reaches p through 127.0.0.1 (or
// another loopback address): it is published on every address, or on a
// loopback one.
func (p Port) ViaLoopback() bool { return p.allAddrs() || p.HostIP.IsLoopback() }

// HostAddr is the host address p is published on: 0.0.0.0 for all.
func (p Port) HostAddr() netip.Addr {
	if p.allAddrs() {
		return netip.IPv4Unspecified()
	}
	return p.HostIP
}

func validProto(proto string) bool { return proto == "tcp" || proto == "udp" || proto == "sctp" }

func (p Port) validate() error {
	if !validProto(p.Proto) {
		return fmt.Errorf("port %v: protocol %q is not tcp, udp or sctp", p, p.Proto)
	}
	if p.HostPort == 0 || p.ContainerPort == 0 {
		return fmt.Errorf("port %v: port 0 cannot be published", p)
	}
	if !p.allAddrs() && !p.HostIP.Is4() {
		return fmt.Errorf("port %v: host address is not IPv4", p)
	}
	return nil
}

// Overlaps reports whether p and q claim the same host port: same
// protocol and port, and address sets that intersect.
func (p Port) Overlaps(q Port) bool {
	if p.Proto != q.Proto || p.HostPort != q.HostPort {
		return false
	}
	return p.allAddrs() || q.allAddrs() || p.HostIP == q.HostIP
}
