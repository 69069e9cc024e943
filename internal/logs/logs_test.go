package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)

// openTest opens a log whose clock advances one second per entry.
func openTest(t *testing.T, o Options) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.json")
	w, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	w.now = func() time.Time { return t0.Add(time.Duration(n.Add(1)-1) * time.Second) }
	t.Cleanup(func() { w.Close() })
	return w, path
}

func copyString(t *testing.T, w *Writer, stream, s string) {
	t.Helper()
	if err := w.Copy(stream, strings.NewReader(s)); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, path string, o ReadOptions) []Entry {
	t.Helper()
	var got []Entry
	err := Read(context.Background(), path, o, nil, func(e Entry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// render shows entries as "stream:text" joined, for comparisons.
func render(es []Entry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s:%s", e.Stream, e.Line)
	}
	return b.String()
}

func TestRoundTrip(t *testing.T) {
	w, path := openTest(t, Options{})
	copyString(t, w, "stdout", "one\ntwo\n")
	copyString(t, w, "stderr", "oops \"quoted\" <tag> \x01\n")
	copyString(t, w, "stdout", "three") // the stream ends without a newline
	got := readAll(t, path, ReadOptions{Tail: -1})
	want := "stdout:one\nstdout:two\nstderr:oops \"quoted\" <tag> \x01\nstdout:three"
	if render(got) != want {
		t.Errorf("got %q, want %q", render(got), want)
	}
	if !got[1].Time.Equal(t0.Add(time.Second)) {
		t.Errorf("time %v", got[1].Time)
	}
	raw, _ := os.ReadFile(path)
	first := strings.SplitN(string(raw), "\n", 2)[0]
	if first != `{"log":"one\n","stream":"stdout","time":"2026-11-22T12:00:00.123456789Z"}` {
		t.Errorf("not Docker's json-file format: %s", first)
	}
	if s := string(FormatEntry(got[0], true)); s != "2026-11-22T12:00:00.123456789Z one\n" {
		t.Errorf("FormatEntry: %q", s)
	}
	if s := string(FormatEntry(got[0], false)); s != "one\n" {
		t.Errorf("FormatEntry: %q", s)
	}
}

func TestLongLineSplits(t *testing.T) {
	w, path := openTest(t, Options{})
	long := strings.Repeat("x", 2*MaxLine+100) + "\n"
	copyString(t, w, "stdout", long+"short\n")
	got := readAll(t, path, ReadOptions{Tail: -1})
	if len(got) != 4 {
		t.Fatalf("%d entries, want 4", len(got))
	}
	var joined bytes.Buffer
	for i, e := range got[:3] {
		joined.Write(e.Line)
		if len(e.Line) > MaxLine || (i < 2) == bytes.HasSuffix(e.Line, []byte("\n")) {
			t.Errorf("entry %d: %d bytes, newline %v", i, len(e.Line), bytes.HasSuffix(e.Line, []byte("\n")))
		}
	}
	if joined.String() != long || string(got[3].Line) != "short\n" {
		t.Error("split entries do not join into the line")
	}
}

// numbered writes lines "0\n" .. "n-1\n" as n entries.
func numbered(t *testing.T, w *Writer, n int) {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%d\n", i)
	}
	copyString(t, w, "stdout", b.String())
}

func TestRotation(t *testing.T) {
	w, path := openTest(t, Options{MaxSize: 1000, MaxFiles: 3})
	numbered(t, w, 200)
	for i := range 4 {
		fi, err := os.Stat(rotated(path, i))
		if i == 3 {
			if err == nil {
				t.Error("more than MaxFiles files")
			}
			continue
		}
		if err != nil || fi.Size() > 1000 {
			t.Errorf("%s: %v, size %v", rotated(path, i), err, fi)
		}
	}
	got := readAll(t, path, ReadOptions{Tail: -1})
	if len(got) < 20 || len(got) >= 200 {
		t.Fatalf("%d entries kept", len(got))
	}
	first := 200 - len(got)
	for i, e := range got {
		if string(e.Line) != fmt.Sprintf("%d\n", first+i) {
			t.Fatalf("entry %d is %q: not the newest ones in order", i, e.Line)
		}
	}

	tail := readAll(t, path, ReadOptions{Tail: 5})
	if render(tail) != "stdout:195\nstdout:196\nstdout:197\nstdout:198\nstdout:199\n" {
		t.Errorf("tail 5: %q", render(tail))
	}
	if n := len(readAll(t, path, ReadOptions{Tail: 0})); n != 0 {
		t.Errorf("tail 0: %d entries", n)
	}
}

func TestRotationSingleFile(t *testing.T) {
	w, path := openTest(t, Options{MaxSize: 500, MaxFiles: 1})
	numbered(t, w, 50)
	if _, err := os.Stat(path + ".1"); err == nil {
		t.Error("MaxFiles 1 kept a rotated file")
	}
	got := readAll(t, path, ReadOptions{Tail: -1})
	if len(got) == 0 || string(got[len(got)-1].Line) != "49\n" {
		t.Errorf("got %q", render(got))
	}
}

func TestSinceUntil(t *testing.T) {
	w, path := openTest(t, Options{MaxSize: 1000, MaxFiles: 5})
	numbered(t, w, 40) // entry i is at t0 + i s
	got := readAll(t, path, ReadOptions{Tail: -1, Since: t0.Add(30 * time.Second)})
	if len(got) != 10 || string(got[0].Line) != "30\n" {
		t.Errorf("since: %q", render(got))
	}
	got = readAll(t, path, ReadOptions{Tail: 2, Since: t0.Add(30 * time.Second), Until: t0.Add(35 * time.Second)})
	if render(got) != "stdout:34\nstdout:35\n" {
		t.Errorf("since, until, tail: %q", render(got))
	}
}

func TestTornAndGarbageLinesSkipped(t *testing.T) {
	w, path := openTest(t, Options{})
	copyString(t, w, "stdout", "a\nb\n")
	w.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("not json\n{\"log\":\"torn")
	f.Close()
	if got := render(readAll(t, path, ReadOptions{Tail: -1})); got != "stdout:a\nstdout:b\n" {
		t.Errorf("got %q", got)
	}
	// A new writer ends the torn line, so the next entry survives.
	w2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	copyString(t, w2, "stderr", "c\n")
	if got := render(readAll(t, path, ReadOptions{Tail: -1})); got != "stdout:a\nstdout:b\nstderr:c\n" {
		t.Errorf("after reopening: %q", got)
	}
}

func TestMissingLog(t *testing.T) {
	err := Read(context.Background(), filepath.Join(t.TempDir(), "none"), ReadOptions{Tail: -1}, nil,
		func(Entry) error { return nil })
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v", err)
	}
}

func TestConcurrentCopy(t *testing.T) {
	w, path := openTest(t, Options{MaxSize: 64 << 10, MaxFiles: 100})
	const n = 3000
	var wg sync.WaitGroup
	for _, stream := range []string{"stdout", "stderr"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr, pw := io.Pipe()
			go func() {
				for i := range n {
					// Odd sizes, so writes and reads split lines anywhere.
					fmt.Fprintf(pw, "%s %d %s\n", stream, i, strings.Repeat("y", i%97))
				}
				pw.Close()
			}()
			if err := w.Copy(stream, pr); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	next := map[string]int{}
	for _, e := range readAll(t, path, ReadOptions{Tail: -1}) {
		want := fmt.Sprintf("%s %d %s\n", e.Stream, next[e.Stream], strings.Repeat("y", next[e.Stream]%97))
		if string(e.Line) != want {
			t.Fatalf("got %q, want %q", e.Line, want)
		}
		next[e.Stream]++
	}
	if next["stdout"] != n || next["stderr"] != n {
		t.Errorf("read %v entries, want %d each", next, n)
	}
}

// follow runs a following Read and hands its entries over a channel.
func follow(t *testing.T, ctx context.Context, path string, o ReadOptions, stop func() bool) (<-chan Entry, <-chan error) {
	t.Helper()
	o.Follow = true
	entries, done := make(chan Entry, 1000), make(chan error, 1)
	go func() {
		done <- Read(ctx, path, o, stop, func(e Entry) error {
			entries <- e
			return nil
		})
	}()
	return entries, done
}

func expect(t *testing.T, entries <-chan Entry, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case e := <-entries:
			if string(e.Line) != w {
				t.Fatalf("got %q, want %q", e.Line, w)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no entry %q", w)
		}
	}
}

func TestFollowAcrossRotation(t *testing.T) {
	w, path := openTest(t, Options{MaxSize: 300, MaxFiles: 2})
	copyString(t, w, "stdout", "old1\nold2\n")
	ctx, cancel := context.WithCancel(context.Background())
	entries, done := follow(t, ctx, path, ReadOptions{Tail: 1}, nil)
	expect(t, entries, "old2\n")
	copyString(t, w, "stdout", "new1\n")
	expect(t, entries, "new1\n")
	// Each entry is ~80 bytes: these rotate the file several times, more
	// often than MaxFiles keeps, so the follower must not fall behind.
	for i := range 12 {
		copyString(t, w, "stdout", fmt.Sprintf("r%d\n", i))
		expect(t, entries, fmt.Sprintf("r%d\n", i))
	}
	// A burst rotates before the follower wakes: it must finish the old
	// file before moving to the new one.
	copyString(t, w, "stdout", "b1\nb2\nb3\nb4\n")
	expect(t, entries, "b1\n", "b2\n", "b3\n", "b4\n")
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Read after cancel: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("cancel did not end Follow")
	}
}

func TestFollowStop(t *testing.T) {
	w, path := openTest(t, Options{})
	var stopped atomic.Bool
	entries, done := follow(t, context.Background(), path, ReadOptions{Tail: -1}, stopped.Load)
	// Written just before stop reports true: must still be emitted.
	copyString(t, w, "stdout", "last words\n")
	stopped.Store(true)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("stop did not end Follow")
	}
	expect(t, entries, "last words\n")
}

func TestFollowBeforeFileExists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	entries, _ := follow(t, ctx, path, ReadOptions{Tail: -1}, nil)
	time.Sleep(50 * time.Millisecond)
	w, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	copyString(t, w, "stdout", "hello\n")
	expect(t, entries, "hello\n")
}

func TestFollowCompletesPartialLine(t *testing.T) {
	_, path := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	entries, _ := follow(t, ctx, path, ReadOptions{Tail: -1}, nil)
	line := encode("stdout", []byte("split write\n"), t0)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	defer f.Close()
	f.Write(line[:10])
	time.Sleep(100 * time.Millisecond) // the follower sees the half line first
	f.Write(line[10:])
	expect(t, entries, "split write\n")
}
