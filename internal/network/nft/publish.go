package nft

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// A PortSpec is one published port of a -p value before its host port is
// chosen: HostMin and HostMax 0 take a free port the kernel chooses; equal,
// that port; a range, the first free port in it (Docker's rules).
type PortSpec struct {
	HostIP           netip.Addr
	HostMin, HostMax uint16
	ContainerPort    uint16
	Proto            string
}

// Fixed reports whether the spec names one host port.
func (s PortSpec) Fixed() bool { return s.HostMin != 0 && s.HostMin == s.HostMax }

// Random reports whether the kernel chooses the host port.
func (s PortSpec) Random() bool { return s.HostMin == 0 }

// Port is the mapping of the spec with host port hostPort.
func (s PortSpec) Port(hostPort uint16) Port {
	return Port{HostIP: s.HostIP, HostPort: hostPort, ContainerPort: s.ContainerPort, Proto: s.Proto}
}

// String is the spec as -p reads it.
func (s PortSpec) String() string {
	host := ""
	switch {
	case s.Fixed():
		host = strconv.Itoa(int(s.HostMin))
	case !s.Random():
		host = fmt.Sprintf("%d-%d", s.HostMin, s.HostMax)
	}
	ip := ""
	if s.HostIP.IsValid() {
		ip = s.HostIP.String()
	}
	return fmt.Sprintf("%s:%s:%d/%s", ip, host, s.ContainerPort, s.Proto)
}

// Specs are the specs of fixed ports.
func Specs(ports []Port) []PortSpec {
	out := make([]PortSpec, len(ports))
	for i, p := range ports {
		out[i] = PortSpec{HostIP: p.HostIP, HostMin: p.HostPort, HostMax: p.HostPort, ContainerPort: p.ContainerPort, Proto: p.Proto}
	}
	return out
}

// ParsePublish parses a -p value in all of Docker's forms:
// [[hostip:][hostport[-end]]:]containerport[-end][/tcp|udp|sctp]. No host
// port (80, 127.0.0.1::80) is a free port the kernel chooses, as is host
// port 0. A host range as long as the container range maps port to port;
// a host range with one container port takes the first free port of the
// range; other lengths are refused, as Docker refuses them.
func ParsePublish(s string) ([]PortSpec, error) {
	specs, err := parsePublish(s)
	if err != nil {
		return nil, fmt.Errorf("invalid port mapping %q: %w", s, err)
	}
	return specs, nil
}

func parsePublish(s string) ([]PortSpec, error) {
	rest, proto, hasProto := strings.Cut(s, "/")
	if !hasProto {
		proto = "tcp"
	}
	if !validProto(proto) {
		return nil, fmt.Errorf("protocol %q is not tcp, udp or sctp", proto)
	}
	if strings.HasPrefix(rest, "[") || strings.Count(rest, ":") > 2 {
		return nil, fmt.Errorf("IPv6 host addresses are not supported: berth's networks are IPv4 only")
	}
	parts := strings.Split(rest, ":")
	var hostIP netip.Addr
	if len(parts) == 3 {
		ip, err := parseHostIP(parts[0])
		if err != nil {
			return nil, err
		}
		hostIP = ip
	}
	cmin, cmax, err := parseRange("container", parts[len(parts)-1], false)
	if err != nil {
		return nil, err
	}
	var hmin, hmax uint16
	if len(parts) > 1 && parts[len(parts)-2] != "" {
		if hmin, hmax, err = parseRange("host", parts[len(parts)-2], true); err != nil {
			return nil, err
		}
	}
	clen, hlen := int(cmax)-int(cmin), int(hmax)-int(hmin)
	if hmin != 0 && clen != hlen && clen != 0 {
		return nil, fmt.Errorf("the host range %d-%d and the container range %d-%d differ in length: give ranges of equal length, or one container port", hmin, hmax, cmin, cmax)
	}
	var out []PortSpec
	for i := 0; i <= clen; i++ {
		sp := PortSpec{HostIP: hostIP, HostMin: hmin, HostMax: hmax, ContainerPort: cmin + uint16(i), Proto: proto}
		if hmin != 0 && clen == hlen {
			sp.HostMin, sp.HostMax = hmin+uint16(i), hmin+uint16(i)
		}
		out = append(out, sp)
	}
	return out, nil
}

// parseRange reads PORT or START-END. Host port 0 is the kernel's choice.
func parseRange(which, s string, zeroOK bool) (uint16, uint16, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	min, err := rangePort(which, lo, zeroOK && !isRange)
	if err != nil || !isRange {
		return min, min, err
	}
	max, err := rangePort(which, hi, false)
	if err != nil {
		return 0, 0, err
	}
	if max < min {
		return 0, 0, fmt.Errorf("%s port range %q ends before it starts", which, s)
	}
	return min, max, nil
}

func rangePort(which, s string, zeroOK bool) (uint16, error) {
	if s == "" || s[0] == '+' {
		return 0, fmt.Errorf("%s port %q is not a number from 1 to 65535", which, s)
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || (n == 0 && !zeroOK) {
		return 0, fmt.Errorf("%s port %q is not a number from 1 to 65535", which, s)
	}
	return uint16(n), nil
}

// ParseExpose parses an --expose value or an image's ExposedPorts key:
// PORT[-END][/PROTO], each port a container port -P publishes.
func ParseExpose(s string) ([]PortSpec, error) {
	port, proto, hasProto := strings.Cut(s, "/")
	if !hasProto {
		proto = "tcp"
	}
	if !validProto(proto) {
		return nil, fmt.Errorf("invalid exposed port %q: protocol %q is not tcp, udp or sctp", s, proto)
	}
	min, max, err := parseRange("container", port, false)
	if err != nil {
		return nil, fmt.Errorf("invalid exposed port %q: %w", s, err)
	}
	var out []PortSpec
	for p := int(min); p <= int(max); p++ {
		out = append(out, PortSpec{ContainerPort: uint16(p), Proto: proto})
	}
	return out, nil
}
