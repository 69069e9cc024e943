package image

import (
	"io"
	"sync"
	"time"

	"github.com/berth-runtime/berth/internal/progress"
)

// reporter sends one layer's progress, at most every reportEvery for byte
// counts (phase changes always go through). A nil reporter reports nothing.
type reporter struct {
	to progress.Reporter
	id string

	mu    sync.Mutex
	phase progress.Phase
	total int64
	done  int64
	last  time.Time
}

const reportEvery = 100 * time.Millisecond

func newReporter(to progress.Reporter, digest string) *reporter {
	if to == nil {
		to = progress.Discard
	}
	return &reporter{to: to, id: shortID(digest)}
}

// shortID is a digest's first 12 hex digits, as Docker shows layers.
func shortID(digest string) string {
	if i := len("sha256:"); len(digest) >= i+12 {
		return digest[i : i+12]
	}
	return digest
}

func (p *reporter) set(ph progress.Phase, total, done int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.phase, p.total, p.done, p.last = ph, total, done, time.Now()
	p.mu.Unlock()
	p.to.Report(progress.Event{ID: p.id, Phase: ph, Total: total, Done: done})
}

// counter returns a writer that counts bytes on from the current count.
func (p *reporter) counter() io.Writer {
	if p == nil {
		return io.Discard
	}
	return &countWriter{p}
}

type countWriter struct{ p *reporter }

func (c *countWriter) Write(b []byte) (int, error) {
	p := c.p
	p.mu.Lock()
	p.done += int64(len(b))
	now := time.Now()
	send := now.Sub(p.last) >= reportEvery
	e := progress.Event{ID: p.id, Phase: p.phase, Total: p.total, Done: p.done}
	if send {
		p.last = now
	}
	p.mu.Unlock()
	if send {
		p.to.Report(e)
	}
	return len(b), nil
}
