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

// reservePorts binds a socket to each host port; on error none is held.
// A mapping given twice is held once (the rules skip it too).
func reservePorts(ports []nft.Port) (fds []int, err error) {
	var distinct []nft.Port
	for _, p := range ports {
		for _, q := range distinct {
			if p != q && p.Overlaps(q) {
				return nil, fmt.Errorf("host port %d/%s is published twice (-p %v and -p %v)", p.HostPort, p.Proto, q, p)
			}
		}
		if !slices.Contains(distinct, p) {
			distinct = append(distinct, p)
		}
	}
	defer func() {
		if err != nil {
			closePorts(fds)
			fds = nil
		}
	}()
	for _, p := range distinct {
		fd, err := holdPort(p)
		if err != nil {
			return fds, err
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// holdPort binds a socket to p's host address and port and, for TCP,
// listens on it.
func holdPort(p nft.Port) (int, error) {
	typ := unix.SOCK_STREAM
	if p.Proto == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
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
