package engine

import (
	"bytes"
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestForegroundOutputTagged: the monitor's tee sends each stream's
// output tagged, the client's CopyOutput puts each on its own writer,
// and a client gone does not stop the monitor's copy.
func TestForegroundOutputTagged(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "end")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	mon := &monitorClient{conn: conn(pair[0])}
	client := &Foreground{conn: conn(pair[1])}
	var out, errb bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- client.CopyOutput(&out, &errb) }()
	for _, s := range []struct{ stream, text string }{{"stdout", "one\n"}, {"stderr", "two\n"}, {"stdout", strings.Repeat("x", 100<<10)}} {
		var seen bytes.Buffer
		if _, err := seen.ReadFrom(mon.tee(s.stream, strings.NewReader(s.text))); err != nil || seen.String() != s.text {
			t.Fatalf("tee changed the stream: %v", err)
		}
	}
	mon.conn.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if out.String() != "one\n"+strings.Repeat("x", 100<<10) || errb.String() != "two\n" {
		t.Errorf("stdout %d bytes, stderr %q", out.Len(), errb.String())
	}
	client.conn.Close()
	gone := &monitorClient{conn: conn(mustPair(t))}
	var seen bytes.Buffer
	if _, err := seen.ReadFrom(gone.tee("stdout", strings.NewReader("after\n"))); err != nil || seen.String() != "after\n" {
		t.Errorf("a client gone stopped the copy: %v %q", err, seen.String())
	}
}

// mustPair is one end of a socket pair whose other end is closed.
func mustPair(t *testing.T) int {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(pair[1])
	return pair[0]
}
