// Package terminal gives a container a pseudo-terminal of its own and
// relays it to the user's terminal. The pty pair is opened inside the
// container, from its own devpts instance, and only the master travels to
// the host over a unix socket (SCM_RIGHTS): the container never holds a
// file of the host's devpts.
package terminal

import (
	"fmt"
	"os"

	"github.com/berth-runtime/berth/internal/rootfs"
	"golang.org/x/sys/unix"
)

// Size is a terminal's window size.
type Size struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// OpenPTY opens a new pty pair from the container's own devpts instance
// (rootfs.OpenPtmx: its ptmx checked and reopened through a verified
// procfs, never a path lookup of /dev/ptmx), and checks that the slave
// belongs to it.
func OpenPTY() (master, slave *os.File, err error) {
	master, err = rootfs.OpenPtmx()
	if err != nil {
		return nil, nil, err
	}
	m := int(master.Fd())
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	// TIOCGPTPEER opens the slave through the master, with no path lookup
	// that a container's files could redirect.
	s, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		master.Close()
		return nil, nil, fmt.Errorf("open pty slave: %w", errno)
	}
	slave = os.NewFile(s, "pty-slave")
	if err := rootfs.CheckPtyPeer(master, slave); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// SetSize sets the window size of a terminal.
func SetSize(f *os.File, s Size) error {
	if s.Rows == 0 && s.Cols == 0 {
		return nil
	}
	return unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: s.Rows, Col: s.Cols})
}

// GetSize reads the window size of a terminal.
func GetSize(f *os.File) (Size, error) {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return Size{}, err
	}
	return Size{Rows: ws.Row, Cols: ws.Col}, nil
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// MakeControlling makes slave the controlling terminal of the calling
// process, which leads a session of its own (every container process is
// started with setsid), and its stdin, stdout and stderr.
func MakeControlling(slave *os.File) error {
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup pty onto fd %d: %w", fd, err)
		}
	}
	return nil
}

// SendFD passes f over the unix socket sock.
func SendFD(sock *os.File, f *os.File) error {
	rights := unix.UnixRights(int(f.Fd()))
	if err := unix.Sendmsg(int(sock.Fd()), []byte("pty"), rights, nil, 0); err != nil {
		return fmt.Errorf("send pty master: %w", err)
	}
	return nil
}

// MakeRaw puts the terminal f into raw mode and returns a function that
// restores it.
func MakeRaw(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
