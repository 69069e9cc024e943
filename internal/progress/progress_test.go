package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestPlainLines(t *testing.T) {
	var b bytes.Buffer
	r := NewRenderer(&b)
	r.Report(Event{ID: "aaa", Phase: Waiting})
	r.Report(Event{ID: "bbb", Phase: Waiting})
	r.Report(Event{ID: "aaa", Phase: Downloading, Total: 2000, Done: 10})
	r.Report(Event{ID: "aaa", Phase: Downloading, Total: 2000, Done: 1500})
	r.Report(Event{ID: "aaa", Phase: Done})
	want := "aaa: Waiting\nbbb: Waiting\naaa: Downloading  10B/2kB\naaa: Done\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestTerminalRedraw(t *testing.T) {
	var b bytes.Buffer
	r := NewRenderer(&b)
	r.tty = true
	r.Report(Event{ID: "aaa", Phase: Waiting})
	r.Report(Event{ID: "bbb", Phase: Waiting})
	b.Reset()
	r.Report(Event{ID: "aaa", Phase: Downloading, Total: 3_400_000, Done: 1_200_000})
	// Two lines up to aaa's, rewritten, two lines back down.
	if want := "\x1b[2A\r\x1b[2Kaaa: Downloading  1.2MB/3.4MB\x1b[2B\r"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	r.Report(Event{ID: "bbb", Phase: Exists})
	if !strings.HasPrefix(b.String(), "\x1b[1A") {
		t.Errorf("got %q", b.String())
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 1_234_567: "1.23MB", 5_000_000_000: "5GB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %s, want %s", n, got, want)
		}
	}
}
