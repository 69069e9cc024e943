package integration

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawframe is a tool the network security tests run inside containers
// and in test network namespaces: it sends hand-made Ethernet frames,
// as an attacker with CAP_NET_RAW can, so that a test can address a
// frame to the bridge's MAC and 127.0.0.1, which no socket API sends.
// It is this test binary itself, which is static (CGO_ENABLED=0), run
// with rawframeEnv set: init below runs it instead of the tests.
//
//	rawframe udp IFACE DSTMAC SRCIP DSTIP:PORT PAYLOAD
//	    sends one UDP datagram; SRCIP "auto" is IFACE's address
//	rawframe syn IFACE DSTMAC SRCIP DSTIP:PORT
//	    sends TCP SYNs and prints "synack" if a SYN-ACK comes back
//	    within two seconds, "nothing" if none does
const rawframeEnv = "BERTH_IT_RAWFRAME"

func init() {
	if os.Getenv(rawframeEnv) == "" {
		return
	}
	if err := rawframe(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rawframe:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func rawframe(args []string) error {
	if len(args) < 5 {
		return errors.New("usage: udp|syn IFACE DSTMAC SRCIP DSTIP:PORT [PAYLOAD]")
	}
	ifi, err := net.InterfaceByName(args[1])
	if err != nil {
		return err
	}
	dstMAC, err := net.ParseMAC(args[2])
	if err != nil {
		return err
	}
	src, err := sourceAddr(ifi, args[3])
	if err != nil {
		return err
	}
	dst, err := netip.ParseAddrPort(args[4])
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return fmt.Errorf("AF_PACKET socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index}); err != nil {
		return fmt.Errorf("bind to %s: %w", ifi.Name, err)
	}
	to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
	copy(to.Addr[:], dstMAC)
	sport := uint16(20000 + rand.IntN(20000))
	switch args[0] {
	case "udp":
		if len(args) < 6 {
			return errors.New("udp needs a payload")
		}
		frame := ethernet(dstMAC, ifi.HardwareAddr, ipv4(src, dst.Addr(), unix.IPPROTO_UDP, udp(sport, dst.Port(), []byte(args[5]))))
		return unix.Sendto(fd, frame, 0, to)
	case "syn":
		seg := tcpSYN(src, dst.Addr(), sport, dst.Port())
		frame := ethernet(dstMAC, ifi.HardwareAddr, ipv4(src, dst.Addr(), unix.IPPROTO_TCP, seg))
		got, err := awaitSYNACK(fd, to, frame, dst, sport)
		if err != nil {
			return err
		}
		if got {
			fmt.Println("synack")
		} else {
			fmt.Println("nothing")
		}
		return nil
	}
	return fmt.Errorf("unknown mode %q", args[0])
}

func sourceAddr(ifi *net.Interface, s string) (netip.Addr, error) {
	if s != "auto" {
		return netip.ParseAddr(s)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			return p.Addr(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%s has no IPv4 address", ifi.Name)
}

// awaitSYNACK sends the SYN frame a few times and watches for the answer.
func awaitSYNACK(fd int, to *unix.SockaddrLinklayer, frame []byte, from netip.AddrPort, sport uint16) (bool, error) {
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return false, err
	}
	buf := make([]byte, 2048)
	deadline := time.Now().Add(2 * time.Second)
	for sent := 0; time.Now().Before(deadline); {
		if sent < 4 && time.Until(deadline) < time.Duration(4-sent)*500*time.Millisecond {
			if err := unix.Sendto(fd, frame, 0, to); err != nil {
				return false, err
			}
			sent++
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue // timeout: send again or give up
		}
		if isSYNACK(buf[:n], from, sport) {
			return true, nil
		}
	}
	return false, nil
}

// isSYNACK reports whether an Ethernet frame carries a SYN-ACK from
// from to our port.
func isSYNACK(f []byte, from netip.AddrPort, sport uint16) bool {
	if len(f) < 14+20+20 || binary.BigEndian.Uint16(f[12:]) != unix.ETH_P_IP {
		return false
	}
	ip := f[14:]
	ihl := int(ip[0]&0xf) * 4
	if ip[9] != unix.IPPROTO_TCP || len(ip) < ihl+20 {
		return false
	}
	src := netip.AddrFrom4([4]byte(ip[12:16]))
	tcp := ip[ihl:]
	return src == from.Addr() && binary.BigEndian.Uint16(tcp[0:]) == from.Port() &&
		binary.BigEndian.Uint16(tcp[2:]) == sport && tcp[13]&0x12 == 0x12
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func ethernet(dst, src net.HardwareAddr, payload []byte) []byte {
	f := make([]byte, 14, 14+len(payload))
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], unix.ETH_P_IP)
	return append(f, payload...)
}

func ipv4(src, dst netip.Addr, proto byte, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(h[4:], uint16(rand.IntN(65536)))
	h[8], h[9] = 64, proto
	s, d := src.As4(), dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	binary.BigEndian.PutUint16(h[10:], checksum(h, 0))
	return append(h, payload...)
}

// udp is a UDP header and payload, without a checksum (optional in IPv4).
func udp(sport, dport uint16, payload []byte) []byte {
	h := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return append(h, payload...)
}

func tcpSYN(src, dst netip.Addr, sport, dport uint16) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], rand.Uint32())
	h[12] = 5 << 4
	h[13] = 0x02 // SYN
	binary.BigEndian.PutUint16(h[14:], 64240)
	// The checksum covers a pseudo-header of addresses, protocol, length.
	pseudo := make([]byte, 12)
	s, d := src.As4(), dst.As4()
	copy(pseudo, s[:])
	copy(pseudo[4:], d[:])
	pseudo[9] = unix.IPPROTO_TCP
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(h)))
	binary.BigEndian.PutUint16(h[16:], checksum(h, sum(pseudo)))
	return h
}

func sum(b []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func checksum(b []byte, initial uint32) uint16 {
	s := initial + sum(b)
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

var rawTool struct {
	once sync.Once
	path string
	err  error
}

// rawframeTool returns a static binary of this test program, to run as
// rawframe: this one if it is static (as make builds it, and in the VM),
// otherwise a static copy built once.
func rawframeTool(t *testing.T) string {
	t.Helper()
	rawTool.once.Do(func() {
		self, err := os.Executable()
		if err != nil {
			rawTool.err = err
			return
		}
		if isStatic(self) {
			rawTool.path = self
			return
		}
		// Beside the suite's root filesystem, removed with it.
		out := filepath.Join(filepath.Dir(rootfsDir), "rawframe")
		build := exec.Command("go", "test", "-c", "-o", out, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := build.CombinedOutput(); err != nil {
			rawTool.err = fmt.Errorf("this test binary is not static and building a static one failed: %v %s", err, b)
			return
		}
		rawTool.path = out
	})
	if rawTool.err != nil {
		t.Fatal(rawTool.err)
	}
	return rawTool.path
}

// isStatic reports whether the ELF file at path has no program interpreter.
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// rawframeCmd is rawframe run directly in the network namespace netns
// (a path), as a host or a LAN neighbour would send.
func rawframeCmd(t *testing.T, netns string, args ...string) *exec.Cmd {
	cmd := exec.Command("nsenter", append([]string{"--net=" + netns, rawframeTool(t)}, args...)...)
	cmd.Env = []string{rawframeEnv + "=1"}
	return cmd
}

// portString formats an address and port for rawframe.
func portString(addr string, port int) string { return addr + ":" + strconv.Itoa(port) }
