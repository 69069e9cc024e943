package progress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Steps renders a build's plain progress (BuildKit's: "#5 [build 2/3]
// RUN make", "#5 0.412 <output>", "#5 DONE 1.2s", "#5 CACHED", "#5 ERROR:
// …", "#5 CANCELED") on a terminal as BuildKit's tty mode does, simply:
// the steps running now are a block redrawn in place, each with its
// elapsed time and last lines of output; a step that ends leaves one line
// above the block ("=> [build 2/3] RUN make  1.2s"), a failed one its
// last lines too; other lines are printed as they come. Write takes the
// plain lines; Close stops the redraw and clears the block.
type Steps struct {
	mu      sync.Mutex
	w       io.Writer
	part    []byte
	running []*runningStep
	drawn   int // lines of the block on the screen
	width   int
	start   time.Time
	done    int
	stop    chan struct{}
	stopped chan struct{}
	now     func() time.Time
}

type runningStep struct {
	id, title string
	start     time.Time
	tail      []string
}

// tailLines is how many of a running step's last output lines show.
const tailLines = 6

// The patterns of a build's progress lines, compiled on first use: at
// package init they cost every berth command, builds or not (2.4% of
// `berth --version`'s CPU in a perf profile).
var (
	stepStart  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^#(\d+) (\[.*)$`) })
	stepEnd    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^#(\d+) (DONE [0-9.]+s|CACHED|CANCELED|ERROR: .*)$`) })
	stepOutput = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^#(\d+) [0-9]+\.[0-9]{3} (.*)$`) })
)

// NewSteps renders to w, redrawn every tick (the elapsed times).
func NewSteps(w io.Writer, tick time.Duration) *Steps {
	s := &Steps{w: w, width: width(w), start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{}), now: time.Now}
	go func() {
		defer close(s.stopped)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.mu.Lock()
				s.redraw(nil)
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// width is the terminal's columns, 80 if unknown: lines are cut to it so
// that none wraps and the block's height is its count of lines.
func width(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	return 80
}

// Write takes plain progress lines (partial lines wait for their end).
func (s *Steps) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.part = append(s.part, p...)
	var above []string
	for {
		i := bytes.IndexByte(s.part, '\n')
		if i < 0 {
			break
		}
		above = append(above, s.line(string(s.part[:i]))...)
		s.part = s.part[i+1:]
	}
	s.redraw(above)
	return len(p), nil
}

// line takes one plain line and returns what it leaves above the block.
func (s *Steps) line(l string) []string {
	if m := stepEnd().FindStringSubmatch(l); m != nil {
		return s.end(m[1], m[2])
	}
	if m := stepOutput().FindStringSubmatch(l); m != nil {
		if st := s.find(m[1]); st != nil {
			st.tail = append(st.tail, m[2])
			if len(st.tail) > tailLines {
				st.tail = st.tail[len(st.tail)-tailLines:]
			}
			return nil
		}
	}
	if m := stepStart().FindStringSubmatch(l); m != nil {
		s.running = append(s.running, &runningStep{id: m[1], title: m[2], start: s.now()})
		return nil
	}
	return []string{l}
}

// end removes a step from the block and returns its line (and a failed
// step's last output).
func (s *Steps) end(id, how string) []string {
	for i, st := range s.running {
		if st.id != id {
			continue
		}
		s.running = append(s.running[:i:i], s.running[i+1:]...)
		s.done++
		elapsed := fmt.Sprintf("%.1fs", s.now().Sub(st.start).Seconds())
		switch {
		case how == "CACHED":
			return []string{"=> CACHED " + st.title}
		case how == "CANCELED":
			return []string{"=> CANCELED " + st.title + "  " + elapsed}
		case strings.HasPrefix(how, "ERROR"):
			out := []string{"=> ERROR " + st.title + "  " + elapsed}
			for _, t := range st.tail {
				out = append(out, "   > "+t)
			}
			return out
		}
		return []string{"=> " + st.title + "  " + strings.TrimPrefix(how, "DONE ")}
	}
	return nil
}

func (s *Steps) find(id string) *runningStep {
	for _, st := range s.running {
		if st.id == id {
			return st
		}
	}
	return nil
}

// redraw clears the block, prints the lines above it, and draws it
// again: a header with the build's time, each running step with its
// elapsed time and last lines.
func (s *Steps) redraw(above []string) {
	var b strings.Builder
	if s.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\r\x1b[J", s.drawn)
	}
	for _, l := range above {
		b.WriteString(s.cut(l) + "\n")
	}
	s.drawn = 0
	if s.stop != nil && len(s.running) > 0 {
		now := s.now()
		s.put(&b, fmt.Sprintf("[+] Building %.1fs (%d done, %d running)", now.Sub(s.start).Seconds(), s.done, len(s.running)))
		for _, st := range s.running {
			s.put(&b, fmt.Sprintf(" => %s  %.1fs", st.title, now.Sub(st.start).Seconds()))
			for _, t := range st.tail {
				s.put(&b, "    > "+t)
			}
		}
	}
	if b.Len() > 0 {
		io.WriteString(s.w, b.String())
	}
}

func (s *Steps) put(b *strings.Builder, l string) {
	b.WriteString(s.cut(l) + "\n")
	s.drawn++
}

// cut keeps a line within the terminal's width (as runes; tabs and wide
// characters may still wrap a line, rarely).
func (s *Steps) cut(l string) string {
	r := []rune(strings.ReplaceAll(l, "\t", " "))
	if len(r) >= s.width {
		return string(r[:s.width-1])
	}
	return string(r)
}

// Close stops the redraw and clears the block; steps still running (a
// build that stopped) are left as they were last drawn, above.
func (s *Steps) Close() error {
	close(s.stop)
	<-s.stopped
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.part) > 0 {
		s.redraw(s.line(string(s.part)))
		s.part = nil
	}
	var left []string
	for _, st := range s.running {
		left = append(left, "=> "+st.title)
	}
	s.stop = nil
	s.redraw(left)
	return nil
}
