// Command probe is what the integration tests run inside containers to
// play a hostile program: it does what busybox cannot. It is static (built
// with CGO_ENABLED=0) and copied into the tests' root filesystem.
//
//	probe tiocsti TEXT     push TEXT into the terminal on fds 0, 1 and 2 (TIOCSTI),
//	                       and print what each attempt gave
//	probe scanroot PATH STOP  until the file STOP exists, look for PATH under
//	                       /proc/*/root/ of every other process, then print how
//	                       often it was seen
//	probe udprecv PORT     receive one UDP datagram on PORT (every address) and
//	                       print it, or fail after 20 s (busybox's nc has no
//	                       dependable UDP listener)
//	probe sshagent         list the keys of the SSH agent at $SSH_AUTH_SOCK
//	                       (their count and comments), then ask it to remove
//	                       them all and print its answer (busybox has no
//	                       ssh-add, its nc no unix sockets)
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe tiocsti TEXT | scanroot PATH STOP | udprecv PORT")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "tiocsti":
		tiocsti(os.Args[2])
	case "scanroot":
		scanRoot(os.Args[2], os.Args[3])
	case "udprecv":
		udpRecv(os.Args[2])
	case "sshagent":
		sshAgent()
	default:
		fmt.Fprintf(os.Stderr, "probe: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

// tiocsti tries to type text into whatever terminal fds 0-2 are, as a
// hostile container would to make the shell that started it run a command.
func tiocsti(text string) {
	var report []string
	for fd := 0; fd <= 2; fd++ {
		result := "ok"
		for i := 0; i < len(text); i++ {
			b := text[i]
			_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCSTI, uintptr(unsafe.Pointer(&b)))
			if errno != 0 {
				result = unix.ErrnoName(errno)
				break
			}
		}
		report = append(report, fmt.Sprintf("fd%d=%s", fd, result))
	}
	// On stderr's own line, so that a terminal echo of the pushed text
	// does not run into it.
	fmt.Fprintf(os.Stderr, "\ntiocsti %s\n", strings.Join(report, " "))
}

// scanRoot counts how often path is reachable through another process's
// /proc/PID/root: a process of the container whose root is the host's
// would show the host's files there.
func scanRoot(path, stop string) {
	seen, scans := 0, 0
	self := strconv.Itoa(os.Getpid())
	for ; unix.Access(stop, unix.F_OK) != nil; scans++ {
		dir, err := os.Open("/proc")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		names, _ := dir.Readdirnames(-1)
		dir.Close()
		for _, n := range names {
			if n[0] < '0' || n[0] > '9' || n == self {
				continue
			}
			if err := unix.Access("/proc/"+n+"/root"+path, unix.F_OK); err == nil {
				seen++
			}
		}
	}
	fmt.Printf("scans=%d seen=%d\n", scans, seen)
}

// udpRecv prints the first datagram that reaches port, for a test that
// publishes a UDP port.
func udpRecv(port string) {
	pc, err := net.ListenPacket("udp", ":"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
	fmt.Println("listening")
	_ = pc.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
	fmt.Printf("received %q\n", buf[:n])
}

// sshAgent speaks the SSH agent protocol to $SSH_AUTH_SOCK: request the
// identities (11), print "keys=N" and each comment; then request removing
// them all (19) and print "removeall=success" or "removeall=failure".
func sshAgent() {
	c, err := net.Dial("unix", os.Getenv("SSH_AUTH_SOCK"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer c.Close()
	ask := func(typ byte) []byte {
		if _, err := c.Write([]byte{0, 0, 0, 1, typ}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var n [4]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		body := make([]byte, binary.BigEndian.Uint32(n[:]))
		if _, err := io.ReadFull(c, body); err != nil || len(body) == 0 {
			fmt.Fprintln(os.Stderr, "short answer", err)
			os.Exit(1)
		}
		return body
	}
	body := ask(11)
	if body[0] != 12 || len(body) < 5 {
		fmt.Printf("identities answer type %d\n", body[0])
		os.Exit(1)
	}
	count := binary.BigEndian.Uint32(body[1:5])
	fmt.Printf("keys=%d\n", count)
	rest := body[5:]
	str := func() []byte {
		if len(rest) < 4 {
			return nil
		}
		n := binary.BigEndian.Uint32(rest)
		if uint32(len(rest)-4) < n {
			return nil
		}
		s := rest[4 : 4+n]
		rest = rest[4+n:]
		return s
	}
	for i := uint32(0); i < count; i++ {
		str() // the key blob
		fmt.Printf("comment=%s\n", str())
	}
	if ask(19)[0] == 6 {
		fmt.Println("removeall=success")
	} else {
		fmt.Println("removeall=failure")
	}
}
