package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/terminal"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
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
// and to every attached client, their input to the master. It returns
// once the master is closed (the container is gone) and the output is
// drained.
func serveTerminal(dir string, master *os.File, log io.Writer) (wait func(), err error) {
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
	h := &ttyHub{master: master, clients: map[*net.UnixConn]bool{}}
	go h.accept(l)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.broadcast(log)
		l.Close()
		_ = os.Remove(filepath.Join(dir, attachSocket))
		h.closeClients()
		master.Close()
	}()
	return func() { <-done }, nil
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

func newAttachCommand(g *globalOptions) *cobra.Command {
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [--detach-keys KEYS] CONTAINER",
		Short: "Attach to a detached container's terminal (leave with ctrl-p ctrl-q)",
		Example: `  berth run -dit --name shell busybox sh
  berth attach shell`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := g.containers().Get(args[0])
			if err != nil {
				return err
			}
			keys, err := parseDetachKeys(detachKeys)
			if err != nil {
				return err
			}
			return attach(g, rec, keys)
		},
	}
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "ctrl-p,ctrl-q", "the key sequence that detaches")
	return cmd
}

// parseDetachKeys reads Docker's detach-key syntax: comma-separated
// keys, each a letter or ctrl-<letter> (also ctrl-@ [ \ ] ^ _).
func parseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range splitComma(s) {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case len(k) == 6 && k[:5] == "ctrl-":
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c >= '@' && c <= '_':
				out = append(out, c-'@')
			default:
				return nil, fmt.Errorf("invalid --detach-keys %q: %q is not a key", s, k)
			}
		default:
			return nil, fmt.Errorf("invalid --detach-keys %q: use keys like ctrl-p,ctrl-q or a,b", s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("invalid --detach-keys %q: no keys", s)
	}
	return out, nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// errDetached ends an attach by the detach keys: berth exits 0.
var errDetached = errors.New("detached")

// attach joins the container's terminal until it ends (exiting with its
// status) or the user types the detach keys.
// Why attach cannot join a container: start -a then follows its log.
var (
	errNoTerminal = errors.New("has no terminal to attach to")
	errNotRunning = errors.New("is not running")
)

func attach(g *globalOptions, rec managed.Record, keys []byte) error {
	if rec.State.Status != managed.Running {
		return fmt.Errorf("container %s %w: start it with berth start -a %s", rec.Name, errNotRunning, rec.Name)
	}
	d, err := os.Open(g.containerDir(rec.ID))
	if err != nil {
		return err
	}
	conn, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: sockPath(d), Net: "unixpacket"})
	d.Close()
	if err != nil {
		return fmt.Errorf("container %s %w (run it with -dt), or its monitor is gone: %v", rec.Name, errNoTerminal, err)
	}
	defer conn.Close()
	if terminal.IsTerminal(os.Stdin) {
		restore, err := terminal.MakeRaw(os.Stdin)
		if err == nil {
			defer restore()
		}
		sendSize(conn)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				sendSize(conn)
			}
		}()
	}
	input := make(chan error, 1)
	output := make(chan error, 1)
	go func() { input <- copyInput(conn, os.Stdin, keys) }()
	go func() {
		_, err := io.Copy(os.Stdout, conn)
		output <- err
	}()
	select {
	case err := <-input:
		if errors.Is(err, errDetached) {
			return nil
		}
		// Input ended: the output goes on until the container ends.
		<-output
	case <-output:
	}
	// The container ended: exit with its status, as docker attach.
	g.containers().WaitReleased(rec.ID, 0)
	if end, err := g.containers().Get(rec.ID); err == nil && end.State.ExitCode != 0 {
		return exitError{end.State.ExitCode}
	}
	return nil
}

func sendSize(conn *net.UnixConn) {
	s, err := terminal.GetSize(os.Stdin)
	if err != nil {
		return
	}
	msg := []byte{msgResize, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(msg[1:3], s.Rows)
	binary.BigEndian.PutUint16(msg[3:5], s.Cols)
	_, _ = conn.Write(msg)
}

// copyInput sends stdin to the container until EOF or the detach keys,
// which are not sent; a partial match is sent once it stops matching.
func copyInput(conn *net.UnixConn, in io.Reader, keys []byte) error {
	buf := make([]byte, 32<<10)
	matched := 0
	for {
		n, err := in.Read(buf)
		out := []byte{msgData}
		for _, b := range buf[:n] {
			if b == keys[matched] {
				matched++
				if matched == len(keys) {
					return errDetached
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
			if _, werr := conn.Write(out); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
	}
}
