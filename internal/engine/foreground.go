package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/terminal"
	"golang.org/x/sys/unix"
)

// A foreground run whose container must outlive the berth that runs it
// (with a terminal, which ctrl-p ctrl-q detaches; with a restart
// policy; with --sig-proxy=false) runs under a monitor, as run -d does,
// and berth attaches to it as its client, as docker run is create, start
// and attach. The client hands the monitor two more files at start, so
// that it misses nothing of the first run:
const (
	// monitorClientFD is one end of a SOCK_SEQPACKET pair. With a
	// terminal it is the first client of the monitor's terminal hub (the
	// protocol of attach.sock); without one, each message to the client
	// is a stream's tag ('o' stdout, 'e' stderr) and output bytes.
	monitorClientFD = 5
	// monitorExitFD is a pipe: the first run's exit status, "CODE\n".
	monitorExitFD = 6
	// monitorClientEnv tells the monitor it has a client: "1", or the
	// client terminal's size "ROWSxCOLS".
	monitorClientEnv = "BERTH_MONITOR_CLIENT"
)

const (
	tagStdout = 'o'
	tagStderr = 'e'
)

// clientEnds are the monitor's ends of a client's files, and the value of
// monitorClientEnv.
type clientEnds struct {
	conn, exit *os.File
	env        string
}

// Foreground is berth's side of a foreground run under a monitor.
type Foreground struct {
	// Terminal is the container's terminal, with -t.
	Terminal *Terminal
	conn     *net.UnixConn // without -t: the tagged output
	exit     *os.File
}

// RunForeground starts a container created by Create under a monitor
// with this process as its client, and returns once it runs; if it could
// not start, its record is removed. size is the client terminal's (-t).
func (e *Engine) RunForeground(rec managed.Record, owner *managed.Owner, size terminal.Size) (*Foreground, error) {
	fail := func(err error) (*Foreground, error) {
		owner.Release()
		_ = e.Containers().Remove(rec)
		return nil, err
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("foreground client: %w", err))
	}
	mine, theirs := os.NewFile(uintptr(pair[0]), "client"), os.NewFile(uintptr(pair[1]), "monitor-client")
	defer theirs.Close()
	exitR, exitW, err := os.Pipe()
	if err != nil {
		mine.Close()
		return fail(fmt.Errorf("foreground client: %w", err))
	}
	defer exitW.Close()
	conn, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		exitR.Close()
		return fail(fmt.Errorf("foreground client: %w", err))
	}
	env := "1"
	if size != (terminal.Size{}) {
		env = fmt.Sprintf("%dx%d", size.Rows, size.Cols)
	}
	if err := e.runDetachedWith(rec, owner, &clientEnds{conn: theirs, exit: exitW, env: env}); err != nil {
		conn.Close()
		exitR.Close()
		return nil, err
	}
	f := &Foreground{exit: exitR}
	uc := conn.(*net.UnixConn)
	if rec.Config != nil && rec.Config.Tty {
		f.Terminal = &Terminal{conn: uc}
	} else {
		f.conn = uc
	}
	return f, nil
}

// runDetachedWith is RunDetached, with a client's ends for the monitor.
func (e *Engine) runDetachedWith(rec managed.Record, owner *managed.Owner, client *clientEnds) error {
	if err := e.startMonitor(rec, owner, nil, client); err != nil {
		_ = e.Containers().Remove(rec)
		return err
	}
	return nil
}

// CopyOutput writes the container's output (without -t) to stdout and
// stderr (nil: dropped, a stream run -a leaves out) until its first run
// ends or Close.
func (f *Foreground) CopyOutput(stdout, stderr io.Writer) error {
	if f.conn == nil {
		return nil
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := readPacket(f.conn, buf)
		if n > 1 {
			w := stdout
			if buf[0] == tagStderr {
				w = stderr
			}
			if w != nil {
				_, _ = w.Write(buf[1:n])
			}
		}
		if err != nil || n == 0 {
			if errors.Is(err, io.EOF) || n == 0 || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// errNoStatus: the monitor ended (killed) without the first run's status.
var errNoStatus = errors.New("the container's monitor ended without its exit status")

// Wait returns the first run's exit status.
func (f *Foreground) Wait() (int, error) {
	line, _ := bufio.NewReader(f.exit).ReadString('\n')
	code, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, errNoStatus
	}
	return code, nil
}

// Close ends the client (a detach); the container goes on.
func (f *Foreground) Close() {
	if f.Terminal != nil {
		f.Terminal.Close()
	}
	if f.conn != nil {
		f.conn.Close()
	}
	f.exit.Close()
}

// monitorClient is the monitor's side of a foreground client, for its
// first run; nil (no client) is ready to use and does nothing.
type monitorClient struct {
	conn *net.UnixConn
	exit *os.File
	size terminal.Size
	mu   sync.Mutex // the two streams' writes
}

// takeClient picks up the client's files a monitor was started with.
func takeClient() *monitorClient {
	v, ok := os.LookupEnv(monitorClientEnv)
	if !ok {
		return nil
	}
	_ = os.Unsetenv(monitorClientEnv) // not for the container's hooks
	unix.CloseOnExec(monitorClientFD)
	unix.CloseOnExec(monitorExitFD)
	f := os.NewFile(monitorClientFD, "client")
	c := &monitorClient{exit: os.NewFile(monitorExitFD, "client-exit")}
	conn, err := net.FileConn(f)
	f.Close()
	if err == nil {
		c.conn, _ = conn.(*net.UnixConn)
	}
	if r, col, ok := strings.Cut(v, "x"); ok {
		rows, _ := strconv.ParseUint(r, 10, 16)
		cols, _ := strconv.ParseUint(col, 10, 16)
		c.size = terminal.Size{Rows: uint16(rows), Cols: uint16(cols)}
	}
	return c
}

func (c *monitorClient) consoleSize() terminal.Size {
	if c == nil {
		return terminal.Size{}
	}
	return c.size
}

// terminal is the client's connection as the hub's first client.
func (c *monitorClient) terminal() *net.UnixConn {
	if c == nil {
		return nil
	}
	conn := c.conn
	c.conn = nil // the hub closes it when the run ends
	return conn
}

// tee copies what the container writes on stream to the client too.
func (c *monitorClient) tee(stream string, r io.Reader) io.Reader {
	if c == nil || c.conn == nil {
		return r
	}
	tag := byte(tagStdout)
	if stream == "stderr" {
		tag = tagStderr
	}
	return io.TeeReader(r, &clientWriter{c: c, tag: tag})
}

// finish sends the first run's status and lets the client go.
func (c *monitorClient) finish(code int) {
	if c == nil {
		return
	}
	if c.conn != nil {
		c.conn.Close()
	}
	_, _ = fmt.Fprintf(c.exit, "%d\n", code)
	c.exit.Close()
}

// clientWriter sends one stream's output to the client in tagged
// messages. A client gone (detached, killed) is dropped, silently: the
// container and its log go on.
type clientWriter struct {
	c    *monitorClient
	tag  byte
	dead bool
}

func (w *clientWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p) && !w.dead; off += 32 << 10 {
		end := min(off+32<<10, len(p))
		msg := append([]byte{w.tag}, p[off:end]...)
		w.c.mu.Lock()
		_, err := w.c.conn.Write(msg)
		w.c.mu.Unlock()
		if err != nil {
			w.dead = true
		}
	}
	return len(p), nil
}

// teeLog gives an in-process foreground run its log: berth itself copies
// the container's stdout and stderr into it while relaying them (no
// monitor runs). The log is opened on the first output, so a run that
// writes nothing (berth run --rm true) costs nothing more. done closes
// the tees, waits for the copies and closes the log.
func (e *Engine) teeLog(rec managed.Record, std *Stdio) (done func(Warnings) Warnings) {
	lazy := &lazyLog{open: func() (logSink, error) { return e.openLog(rec) }}
	var copies sync.WaitGroup
	var pws [2]*io.PipeWriter
	for i, stream := range []string{"stdout", "stderr"} {
		pr, pw := io.Pipe()
		pws[i], std.Tee[i] = pw, pw
		copies.Add(1)
		go func() {
			defer copies.Done()
			_ = lazy.Copy(stream, pr)
			_, _ = io.Copy(io.Discard, pr) // a failed log never blocks the relay
		}()
	}
	return func(w Warnings) Warnings {
		for _, pw := range pws {
			pw.Close()
		}
		copies.Wait()
		if err := lazy.Close(); err != nil {
			w.add(err)
		}
		return w
	}
}

// lazyLog opens its sink when the first byte arrives.
type lazyLog struct {
	open func() (logSink, error)
	once sync.Once
	sink logSink
	err  error
}

func (l *lazyLog) Copy(stream string, r io.Reader) error {
	br := bufio.NewReader(r)
	if _, err := br.Peek(1); err != nil {
		return nil // no output at all
	}
	l.once.Do(func() { l.sink, l.err = l.open() })
	if l.err != nil {
		return l.err
	}
	return l.sink.Copy(stream, br)
}

func (l *lazyLog) Close() error {
	if l.sink != nil {
		if err := l.sink.Close(); err != nil {
			return err
		}
	}
	return l.err
}

// ProxySignal passes a signal the foreground client received on to the
// container's PID 1 (--sig-proxy), as is: not a stop, so a restart
// policy still applies to how the container ends.
func (e *Engine) ProxySignal(id string, sig unix.Signal) error {
	rec, err := e.Containers().Get(id)
	if err != nil {
		return err
	}
	if err := e.Admits(managed.OpKill, rec); err != nil {
		return err
	}
	return e.signal(rec, sig)
}
