package terminal

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tempFile is a caller's file for a relay to copy into.
func tempFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func contents(t *testing.T, f *os.File) string {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPipesRelay(t *testing.T) {
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inR.Close()
	out, errf := tempFile(t), tempFile(t)
	p, err := NewPipes(inR, out, errf)
	if err != nil {
		t.Fatal(err)
	}
	// What the container holds, kept open past Start as a child would.
	child := [3]*os.File{}
	for i, f := range p.Child {
		fd, err := dupFile(f)
		if err != nil {
			t.Fatal(err)
		}
		child[i] = fd
	}
	p.Start()
	inW.WriteString("typed\n")
	inW.Close()
	got, err := io.ReadAll(child[0])
	if err != nil || string(got) != "typed\n" {
		t.Fatalf("stdin through the relay: %q %v", got, err)
	}
	child[1].WriteString("to stdout\n")
	child[2].WriteString("to stderr\n")
	for _, f := range child {
		f.Close()
	}
	p.Wait(5 * time.Second)
	if got := contents(t, out); got != "to stdout\n" {
		t.Errorf("stdout: %q", got)
	}
	if got := contents(t, errf); got != "to stderr\n" {
		t.Errorf("stderr: %q", got)
	}
}

// One file for stdout and stderr (2>&1) gets one pipe, so the order of
// what the two streams wrote is kept.
func TestPipesSameFileKeepsOrder(t *testing.T) {
	out := tempFile(t)
	p, err := NewPipes(nil, out, out)
	if err != nil {
		t.Fatal(err)
	}
	if p.Child[0] != nil || p.Child[1] != p.Child[2] {
		t.Fatalf("want no stdin pipe and one output pipe, got %v", p.Child)
	}
	w, err := dupFile(p.Child[1])
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	for i := 0; i < 50; i++ {
		w.WriteString("a\n")
		w.WriteString("b\n")
	}
	w.Close()
	p.Wait(5 * time.Second)
	if got := contents(t, out); got != strings.Repeat("a\nb\n", 50) {
		t.Errorf("interleaved output out of order: %q", got)
	}
}

// A writer the container leaves behind does not hold Wait past its grace.
func TestPipesWaitGrace(t *testing.T) {
	out := tempFile(t)
	p, err := NewPipes(nil, out, out)
	if err != nil {
		t.Fatal(err)
	}
	lingering, err := dupFile(p.Child[1])
	if err != nil {
		t.Fatal(err)
	}
	defer lingering.Close()
	p.Start()
	lingering.WriteString("before\n")
	start := time.Now()
	p.Wait(100 * time.Millisecond)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Wait took %v with a grace of 100ms", d)
	}
	if got := contents(t, out); got != "before\n" {
		t.Errorf("output written before the end was lost: %q", got)
	}
}

func dupFile(f *os.File) (*os.File, error) {
	fd, err := dup(int(f.Fd()))
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

func dup(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }

// teeBuffer is a tee that records what it got and whether it was closed.
type teeBuffer struct {
	strings.Builder
	closed chan struct{}
}

func newTee() *teeBuffer          { return &teeBuffer{closed: make(chan struct{})} }
func (b *teeBuffer) Close() error { close(b.closed); return nil }

// TestPipesTee: each stream goes to its file and its tee, on pipes of
// their own even to one file; a nil file goes to the tee only; the tees
// are closed at the end of their streams.
func TestPipesTee(t *testing.T) {
	out := tempFile(t)
	teeOut, teeErr := newTee(), newTee()
	p, err := NewPipesTee(nil, out, out, [2]io.WriteCloser{teeOut, teeErr})
	if err != nil {
		t.Fatal(err)
	}
	if p.Child[1] == p.Child[2] {
		t.Fatal("a tee needs stdout and stderr apart")
	}
	o, e := dup2(t, p.Child[1]), dup2(t, p.Child[2])
	p.Start()
	o.WriteString("to stdout\n")
	e.WriteString("to stderr\n")
	o.Close()
	e.Close()
	p.Wait(time.Second)
	<-teeOut.closed
	<-teeErr.closed
	if teeOut.String() != "to stdout\n" || teeErr.String() != "to stderr\n" {
		t.Errorf("tees: %q %q", teeOut.String(), teeErr.String())
	}
	if got := contents(t, out); !strings.Contains(got, "to stdout\n") || !strings.Contains(got, "to stderr\n") {
		t.Errorf("file: %q", got)
	}

	teeOut, teeErr = newTee(), newTee()
	p, err = NewPipesTee(nil, nil, out, [2]io.WriteCloser{teeOut, teeErr})
	if err != nil {
		t.Fatal(err)
	}
	o = dup2(t, p.Child[1])
	p.Start()
	o.WriteString("log only\n")
	o.Close()
	p.Wait(time.Second)
	<-teeOut.closed
	if teeOut.String() != "log only\n" || strings.Contains(contents(t, out), "log only") {
		t.Errorf("a stream left out: tee %q, file %q", teeOut.String(), contents(t, out))
	}

	// Never started: Close closes the tees, so nobody waits on them.
	teeOut, teeErr = newTee(), newTee()
	p, err = NewPipesTee(nil, out, out, [2]io.WriteCloser{teeOut, teeErr})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	<-teeOut.closed
	<-teeErr.closed
}

func dup2(t *testing.T, f *os.File) *os.File {
	t.Helper()
	d, err := dupFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
