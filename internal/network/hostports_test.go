package network

import (
	"errors"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/network/nft"
	"golang.org/x/sys/unix"
)

// inPrivateNetns runs f on a thread in a new network namespace of its own
// (with lo up), which the thread takes with it when it exits.
func inPrivateNetns(t *testing.T, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			ifr, _ := unix.NewIfreq("lo")
			ifr.SetUint16(unix.IFF_UP)
			err = unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
			unix.Close(fd)
		}
		if err != nil {
			t.Errorf("lo up: %v", err)
			return
		}
		f()
	}()
	<-done
}

func ports(t *testing.T, specs ...string) []nft.Port {
	t.Helper()
	var out []nft.Port
	for _, s := range specs {
		p, err := nft.ParsePort(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestReservePorts(t *testing.T) {
	inPrivateNetns(t, func() {
		held, err := reserveSockets(ports(t, "18080:80", "127.0.0.1:18081:80", "18080:53/udp", "18080:80"))
		if err != nil {
			t.Errorf("reserve: %v", err)
			return
		}
		if len(held) != 3 {
			t.Errorf("holds %d sockets for 3 distinct ports", len(held))
		}
		for _, fd := range held {
			if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
				t.Errorf("held socket %d is not close-on-exec: %v", fd, err)
			}
		}
		// Held ports keep host programs out, and other containers.
		for _, c := range []struct{ network, addr string }{
			{"tcp4", "0.0.0.0:18080"}, {"tcp4", "127.0.0.1:18080"}, {"tcp4", "127.0.0.1:18081"}, {"udp4", "127.0.0.1:18080"},
		} {
			var err error
			if c.network == "udp4" {
				var pc net.PacketConn
				if pc, err = net.ListenPacket(c.network, c.addr); err == nil {
					pc.Close()
				}
			} else {
				var l net.Listener
				if l, err = net.Listen(c.network, c.addr); err == nil {
					l.Close()
				}
			}
			if !errors.Is(err, unix.EADDRINUSE) {
				t.Errorf("a program listening on %s %s while it is published: %v", c.network, c.addr, err)
			}
		}
		_, err = reserveSockets(ports(t, "19000:80", "127.0.0.1:18081:90"))
		var inUse *PortInUseError
		if !errors.As(err, &inUse) || !errors.Is(err, unix.EADDRINUSE) || inUse.Port.HostPort != 18081 ||
			!strings.HasPrefix(err.Error(), "port 18081 is already in use on 127.0.0.1: ") {
			t.Errorf("second reservation: %v", err)
		}
		// The first port of the failed reservation was given back.
		if again, err := reserveSockets(ports(t, "19000:80")); err != nil {
			t.Errorf("19000 after a failed reservation: %v", err)
		} else {
			closePorts(again)
		}
		closePorts(held)
		if again, err := reserveSockets(ports(t, "18080:80", "18080:53/udp")); err != nil {
			t.Errorf("18080 after release: %v", err)
		} else {
			closePorts(again)
		}
	})
}

func TestReservePortsRefused(t *testing.T) {
	inPrivateNetns(t, func() {
		l, err := net.Listen("tcp4", "127.0.0.1:18082")
		if err != nil {
			t.Error(err)
			return
		}
		defer l.Close()
		pc, err := net.ListenPacket("udp4", "0.0.0.0:18083")
		if err != nil {
			t.Error(err)
			return
		}
		defer pc.Close()
		for _, c := range []struct {
			ports []string
			want  string
		}{
			{[]string{"18082:80"}, "port 18082 is already in use on 0.0.0.0: "},                 // a host program on 127.0.0.1
			{[]string{"127.0.0.1:18083:53/udp"}, "port 18083 is already in use on 127.0.0.1: "}, // one on every address
			{[]string{"192.0.2.7:8080:80"}, "cannot publish port 8080 on 192.0.2.7: it is not an address of this host"},
			{[]string{"8080:80", "127.0.0.1:8080:81"}, "host port 8080/tcp is published twice"},
		} {
			held, err := reserveSockets(ports(t, c.ports...))
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("reserve %v: %v, want %q", c.ports, err, c.want)
			}
			if held != nil {
				t.Errorf("reserve %v: holds %v after failing", c.ports, held)
			}
		}
	})
}

// reserveSockets reserves fixed ports and returns their sockets.
func reserveSockets(ports []nft.Port) ([]int, error) {
	_, fds, err := reservePorts(nft.Specs(ports))
	return fds, err
}

func portSpecs(t *testing.T, values ...string) []nft.PortSpec {
	t.Helper()
	var out []nft.PortSpec
	for _, v := range values {
		s, err := nft.ParsePublish(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s...)
	}
	return out
}

// TestReserveRandomAndRange: a random host port is the one the kernel
// binds the held socket to; a range's is its first free port, and a range
// with none free is refused with nothing held.
func TestReserveRandomAndRange(t *testing.T) {
	inPrivateNetns(t, func() {
		l, err := net.Listen("tcp4", "0.0.0.0:18200")
		if err != nil {
			t.Error(err)
			return
		}
		defer l.Close()
		got, fds, err := reservePorts(portSpecs(t, "80", "127.0.0.1::81/udp", "18200-18202:90", "18300-18301:100-101"))
		if err != nil {
			t.Errorf("reserve: %v", err)
			return
		}
		defer closePorts(fds)
		if len(got) != 5 || len(fds) != 5 {
			t.Fatalf("reserved %v with %d sockets, want 5 ports", got, len(fds))
		}
		for i, p := range got[:2] {
			sa, _ := unix.Getsockname(fds[i])
			if p.HostPort == 0 || sa.(*unix.SockaddrInet4).Port != int(p.HostPort) {
				t.Errorf("random port %v is not the held socket's %v", p, sa)
			}
		}
		if got[1].Proto != "udp" || got[1].HostAddr().String() != "127.0.0.1" {
			t.Errorf("random udp port on 127.0.0.1: %v", got[1])
		}
		if got[2].HostPort != 18201 || got[2].ContainerPort != 90 {
			t.Errorf("range 18200-18202 with 18200 taken: %v, want 18201:90", got[2])
		}
		if got[3].String() != "18300:100/tcp" || got[4].String() != "18301:101/tcp" {
			t.Errorf("equal ranges: %v %v", got[3], got[4])
		}
		_, none, err := reservePorts(portSpecs(t, "19500:80", "18200-18200:90"))
		if err == nil || none != nil {
			t.Errorf("a range with no free port: %v, holds %v", err, none)
		}
		if again, err := reserveSockets(ports(t, "19500:80")); err != nil {
			t.Errorf("19500 after a failed reservation: %v", err)
		} else {
			closePorts(again)
		}
	})
}
