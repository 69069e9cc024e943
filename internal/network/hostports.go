package network

import (
	"errors"
	"fmt"
	"slices"

	"github.com/berth-runtime/berth/internal/network/nft"
	"golang.org/x/sys/unix"
)

// Published host ports are reserved the way podman's conmon and Docker
// reserve them: whoever runs the container (berth run in the foreground,
// or a detached container's monitor) holds a socket bound to each host
// address and port, listening for TCP, for as long as the container
// lives. A port some host program already holds is refused instead of
// being silently taken over by the DNAT rule, no program can take a
// published port while it is published, and `ss -l` shows who has it.
// The sockets never receive anything while the rules are in place: the
// DNAT in prerouting and output comes first.
//
// They are made in the network namespace berth runs in, which is where
// its rules are (all of berth's threads share it), and close-on-exec, so
// that they never reach the container.

// PortInUseError is a published host port that something else holds.
type PortInUseError struct {
	Port nft.Port
	Err  error // EADDRINUSE
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d is already in use on %s: a host program or another container holds it (%s); stop that, or publish another host port",
		e.Port.HostPort, e.Port.HostAddr(), e.Port.Proto)
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// reservePorts chooses each spec's host port and binds a socket to it; on
// error none is held. A random port is the one the kernel binds the
// socket to (port 0); a range's is the first of it that binds. A mapping
// given twice is held once (the rules skip it too).
func reservePorts(specs []nft.PortSpec) (ports []nft.Port, fds []int, err error) {
	if err := checkDistinct(specs); err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			closePorts(fds)
			ports, fds = nil, nil
		}
	}()
	for _, s := range specs {
		if s.Fixed() && slices.Contains(ports, s.Port(s.HostMin)) {
			continue // held already: given twice
		}
		p, fd, err := reserve(s)
		if err != nil {
			return nil, fds, err
		}
		ports = append(ports, p)
		if fd >= 0 {
			fds = append(fds, fd)
		}
	}
	return ports, fds, nil
}

// checkDistinct refuses two fixed mappings of one host port.
func checkDistinct(specs []nft.PortSpec) error {
	var fixed []nft.Port
	for _, s := range specs {
		if !s.Fixed() {
			continue
		}
		p := s.Port(s.HostMin)
		for _, q := range fixed {
			if p != q && p.Overlaps(q) {
				return fmt.Errorf("host port %d/%s is published twice (-p %v and -p %v)", p.HostPort, p.Proto, q, p)
			}
		}
		fixed = append(fixed, p)
	}
	return nil
}

// reserve holds the host port of one spec. fd is -1 for an SCTP port on a
// kernel without SCTP sockets: no host program can hold one either.
func reserve(s nft.PortSpec) (nft.Port, int, error) {
	if s.Fixed() {
		p := s.Port(s.HostMin)
		fd, err := holdPort(p)
		return p, fd, err
	}
	if s.Random() {
		return holdRandom(s)
	}
	for port := int(s.HostMin); port <= int(s.HostMax); port++ {
		p := s.Port(uint16(port))
		fd, err := holdPort(p)
		var inUse *PortInUseError
		if errors.As(err, &inUse) {
			continue
		}
		return p, fd, err
	}
	return nft.Port{}, -1, fmt.Errorf("no free host port in %d-%d on %s for -p %v: free one, or publish another range", s.HostMin, s.HostMax, s.Port(0).HostAddr(), s)
}

// holdRandom binds a socket to port 0, which the kernel gives a free port
// of its ephemeral range, and reads the port back.
func holdRandom(s nft.PortSpec) (nft.Port, int, error) {
	p := s.Port(0)
	fd, err := holdPort(p)
	if err != nil {
		return nft.Port{}, -1, err
	}
	if fd < 0 {
		return nft.Port{}, -1, fmt.Errorf("-p %v: a random %s host port is chosen by binding a socket, and this kernel has no %s sockets (sctp module): give a host port", s, s.Proto, s.Proto)
	}
	sa, err := unix.Getsockname(fd)
	in4, ok := sa.(*unix.SockaddrInet4)
	if err != nil || !ok || in4.Port == 0 {
		unix.Close(fd)
		return nft.Port{}, -1, fmt.Errorf("-p %v: read the chosen host port: %v", s, err)
	}
	p.HostPort = uint16(in4.Port)
	return p, fd, nil
}

// holdPort binds a socket to p's host address and port (0: the kernel
// chooses) and, for TCP and SCTP, listens on it.
func holdPort(p nft.Port) (int, error) {
	typ, proto := unix.SOCK_STREAM, 0
	switch p.Proto {
	case "udp":
		typ = unix.SOCK_DGRAM
	case "sctp":
		proto = unix.IPPROTO_SCTP
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, proto)
	if p.Proto == "sctp" && (errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ESOCKTNOSUPPORT)) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("reserve host port %v: %w", p, err)
	}
	if typ == unix.SOCK_STREAM {
		// As every TCP server: a restarted container takes its port back
		// although connections of its last run linger in TIME_WAIT. Two
		// listeners still exclude each other.
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrInet4{Port: int(p.HostPort), Addr: p.HostAddr().As4()})
	}
	if err == nil && typ == unix.SOCK_STREAM {
		// Nothing is ever accepted: the DNAT rule takes the connections.
		err = unix.Listen(fd, 1)
	}
	if err == nil {
		return fd, nil
	}
	unix.Close(fd)
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		return -1, &PortInUseError{Port: p, Err: err}
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return -1, fmt.Errorf("cannot publish port %d on %s: it is not an address of this host: %w", p.HostPort, p.HostAddr(), err)
	}
	return -1, fmt.Errorf("reserve host port %v: %w", p, err)
}

func closePorts(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
