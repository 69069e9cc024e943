package build

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress is BuildKit's plain progress, so that stages running at once
// stay readable: every line of a step starts with its number, "#5 [build
// 2/3] RUN make" when it starts, "#5 0.412 <output line>" for each line
// of its output (seconds since it started), "#5 DONE 1.2s", "#5 CACHED"
// or "#5 ERROR: …" at its end. Each line is one write to the progress
// writer (lockedWriter), whole.

// lockedWriter makes each Write whole against the others.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// startStep numbers the stage's next step and prints its first line.
func (b *builder) startStep(st *stageState, text string) {
	b.mu.Lock()
	b.step++
	st.step = b.step
	b.mu.Unlock()
	st.k++
	st.started = time.Now()
	b.progressf("#%d [%s %d/%d] %s\n", st.step, st.name, st.k, st.steps, text)
}

// endStep prints the step's last line.
func (b *builder) endStep(st *stageState, cached bool) {
	if cached {
		b.progressf("#%d CACHED\n", st.step)
		return
	}
	b.progressf("#%d DONE %.1fs\n", st.step, time.Since(st.started).Seconds())
}

// failStep prints the step's end as failed (CANCELED when the build was
// stopped) and returns err.
func (b *builder) failStep(st *stageState, err error) error {
	if errors.Is(err, errInterrupted) || b.ctx.Err() != nil {
		b.progressf("#%d CANCELED\n", st.step)
		return err
	}
	b.progressf("#%d ERROR: %s\n", st.step, strings.ReplaceAll(err.Error(), "\n", " "))
	return err
}

// stepWriter prefixes each line of a step's output.
type stepWriter struct {
	b       *builder
	step    int
	started time.Time
	part    []byte
}

func (b *builder) stepOutput(st *stageState) *stepWriter {
	return &stepWriter{b: b, step: st.step, started: st.started}
}

func (w *stepWriter) Write(p []byte) (int, error) {
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		w.line(w.part[:i])
		w.part = w.part[i+1:]
	}
	return len(p), nil
}

func (w *stepWriter) line(l []byte) {
	w.b.progressf("#%d %.3f %s\n", w.step, time.Since(w.started).Seconds(), bytes.TrimRight(l, "\r"))
}

// flush writes a last line that had no newline.
func (w *stepWriter) flush() {
	if len(w.part) > 0 {
		w.line(w.part)
		w.part = nil
	}
}
