package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/terminal"
)

// A detached container with a terminal (-dt) keeps its pty master in its
// monitor, which serves it on <container dir>/attach.sock (mode 0600, in
// the 0700 store): a SOCK_SEQPACKET socket where each message from a
// client is 'd' and input bytes, or 'r' and the window size (rows, cols,
// big-endian uint16); each message to a client is output. Output also
// goes to the log. Clients come and go; the container does not notice.
const (
	attachSocket = "attach.sock"
	msgData      = 'd'
	msgResize    = 'r'
)

// sockPath names a socket in dir through a descriptor of dir: the path
// of a unix socket is limited to 108 bytes, which a deep --root exceeds.
func sockPath(dir *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/" + attachSocket
}

// ttyHub relays a container's pty master to attached clients.
type ttyHub struct {
	master  *os.File
	mu      sync.Mutex
	clients map[*net.UnixConn]bool
}

// serveTerminal takes the container's pty master: its output goes to log
// and to every attached client, their input to the master. The master is
// read at once, before the attach socket is made: a program that writes
// and exits at once must not end its session, and hang up its terminal,
// before anyone read what it wrote. wait returns once the master is
// closed (the container is gone) and the output is drained; it is set
// even when the socket could not be made (err), for the log and the first
// client, a foreground run's (nil if none), which is there before any
// output is read, so it misses nothing.
func serveTerminal(dir string, master *os.File, log io.Writer, first *net.UnixConn) (wait func(), err error) {
	h := &ttyHub{master: master, clients: map[*net.UnixConn]bool{}}
	if first != nil {
		h.clients[first] = true
		go h.input(first)
	}
	listener := make(chan *net.UnixListener, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.broadcast(log)
		if l := <-listener; l != nil {
			l.Close()
			_ = os.Remove(filepath.Join(dir, attachSocket))
		}
		h.closeClients()
		master.Close()
	}()
	l, err := listenAttach(dir)
	listener <- l
	if err != nil {
		return func() { <-done }, err
	}
	go h.accept(l)
	return func() { <-done }, nil
}

// listenAttach makes the attach socket in dir.
func listenAttach(dir string) (*net.UnixListener, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	defer d.Close()
	path := sockPath(d)
	_ = os.Remove(path)
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	_ = os.Chmod(filepath.Join(dir, attachSocket), 0o600)
	return l, nil
}

func (h *ttyHub) accept(l *net.UnixListener) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		h.mu.Lock()
		h.clients[c] = true
		h.mu.Unlock()
		go h.input(c)
	}
}

// input copies one client's messages to the master.
func (h *ttyHub) input(c *net.UnixConn) {
	defer h.drop(c)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			return
		}
		switch buf[0] {
		case msgData:
			if _, err := h.master.Write(buf[1:n]); err != nil {
				return
			}
		case msgResize:
			if n == 5 {
				_ = terminal.SetSize(h.master, terminal.Size{Rows: binary.BigEndian.Uint16(buf[1:3]), Cols: binary.BigEndian.Uint16(buf[3:5])})
			}
		}
	}
}

// broadcast copies the master's output to the log and the clients until
// the master reads EIO (every slave closed: the container is gone).
func (h *ttyHub) broadcast(log io.Writer) {
	buf := make([]byte, 32<<10)
	for {
		n, err := h.master.Read(buf)
		if n > 0 {
			_, _ = log.Write(buf[:n])
			h.mu.Lock()
			for c := range h.clients {
				if _, werr := c.Write(buf[:n]); werr != nil {
					c.Close()
					delete(h.clients, c)
				}
			}
			h.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

func (h *ttyHub) drop(c *net.UnixConn) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	c.Close()
}

func (h *ttyHub) closeClients() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		c.Close()
		delete(h.clients, c)
	}
}

// Terminal is a client of a detached container's terminal: Read is its
// output.
type Terminal struct{ conn *net.UnixConn }

// ErrNoTerminal: the container has no terminal served to attach to (it
// was not run with -dt, or its monitor is gone).
var ErrNoTerminal = errdefs.New(errdefs.ErrInvalidArgument, "has no terminal to attach to")

// AttachTerminal connects to the terminal that container id's monitor
// serves.
func (e *Engine) AttachTerminal(id string) (*Terminal, error) {
	d, err := os.Open(e.ContainerDir(id))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	conn, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: sockPath(d), Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("%w (run it with -dt), or its monitor is gone: %v", ErrNoTerminal, err)
	}
	if rec, err := e.Containers().Get(id); err == nil {
		e.Containers().Event(rec, "attach")
	}
	return &Terminal{conn: conn}, nil
}

func (t *Terminal) Read(p []byte) (int, error) { return readPacket(t.conn, p) }

// readPacket reads one message. A monitor that ends with a client's
// message unread (a window size sent as the container exits) makes the
// kernel report ECONNRESET once, ahead of the output still queued for
// the client: the error is consumed by that read, and the next ones
// return the output, then the end.
func readPacket(c *net.UnixConn, p []byte) (int, error) {
	for {
		n, err := c.Read(p)
		if !errors.Is(err, syscall.ECONNRESET) {
			return n, err
		}
	}
}

// Close ends the client; the container goes on.
func (t *Terminal) Close() error { return t.conn.Close() }

// Resize sets the container's window size.
func (t *Terminal) Resize(s terminal.Size) error {
	msg := []byte{msgResize, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(msg[1:3], s.Rows)
	binary.BigEndian.PutUint16(msg[3:5], s.Cols)
	_, err := t.conn.Write(msg)
	return err
}

// ErrDetached ends CopyInput at the detach keys.
var ErrDetached = errors.New("detached")

// CopyInput sends in to the container until EOF or the detach keys,
// which are not sent (ErrDetached); a partial match is sent once it
// stops matching.
func (t *Terminal) CopyInput(in io.Reader, keys []byte) error {
	buf := make([]byte, 32<<10)
	matched := 0
	for {
		n, err := in.Read(buf)
		out := []byte{msgData}
		for _, b := range buf[:n] {
			if b == keys[matched] {
				matched++
				if matched == len(keys) {
					// What came before the keys in this read goes first.
					if len(out) > 1 {
						if _, werr := t.conn.Write(out); werr != nil {
							return werr
						}
					}
					return ErrDetached
				}
				continue
			}
			out = append(out, keys[:matched]...)
			matched = 0
			if b == keys[0] {
				matched = 1
				continue
			}
			out = append(out, b)
		}
		if len(out) > 1 {
			if _, werr := t.conn.Write(out); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
	}
}
