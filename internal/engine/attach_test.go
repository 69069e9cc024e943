package engine

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/terminal"
)

// lockedBuffer is a log the hub writes from its own goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// readFull reads n bytes from r or fails after a few seconds.
func readFull(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, n)
		k, _ := io.ReadFull(r, buf)
		got <- string(buf[:k])
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(5 * time.Second):
		t.Fatalf("read %d bytes: timed out", n)
		return ""
	}
}

// TestTerminalServedToClients runs the monitor's terminal server on a
// real pty: a client's input reaches the container's side without the
// detach keys (and with what preceded them in the same read), the
// container's output reaches the client and the log, and the server ends
// when the container's side closes.
func TestTerminalServedToClients(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	id := "c0ffee"
	if err := os.MkdirAll(e.ContainerDir(id), 0o700); err != nil {
		t.Fatal(err)
	}
	master, slave, err := terminal.OpenPTY()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	if _, err := terminal.MakeRaw(slave); err != nil {
		t.Fatal(err)
	}
	log := &lockedBuffer{}
	wait, err := serveTerminal(e.ContainerDir(id), master, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := e.AttachTerminal(id)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	// ctrl-p ctrl-q, with a lone ctrl-p before it that is input.
	in := strings.NewReader("ab\x10x\x10\x11never sent")
	if err := client.CopyInput(in, []byte{0x10, 0x11}); !errors.Is(err, ErrDetached) {
		t.Fatalf("CopyInput: %v, want ErrDetached", err)
	}
	if got := readFull(t, slave, 4); got != "ab\x10x" {
		t.Errorf("container read %q, want %q", got, "ab\x10x")
	}

	if _, err := slave.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, client, 5); got != "hello" {
		t.Errorf("client read %q, want hello", got)
	}
	slave.Close()
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not end when the container's side closed")
	}
	if got := log.String(); got != "hello" {
		t.Errorf("log %q, want hello", got)
	}
	if _, err := os.Stat(e.ContainerDir(id) + "/" + attachSocket); !os.IsNotExist(err) {
		t.Errorf("attach socket left behind: %v", err)
	}
	if _, err := e.AttachTerminal(id); !errors.Is(err, ErrNoTerminal) {
		t.Errorf("attach after the end: %v, want ErrNoTerminal", err)
	}
}
