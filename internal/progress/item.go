package progress

import (
	"io"
	"sync"
	"time"
)

// Item sends one item's progress (a layer's, in a pull or a push), at most
// every reportEvery for byte counts; phase changes always go through. A
// nil Item reports nothing.
type Item struct {
	to Reporter
	id string

	mu    sync.Mutex
	phase Phase
	total int64
	done  int64
	last  time.Time
}

const reportEvery = 100 * time.Millisecond

// NewItem reports item id's progress to to (nil: nowhere).
func NewItem(to Reporter, id string) *Item {
	if to == nil {
		to = Discard
	}
	return &Item{to: to, id: id}
}

// Set reports a phase and the bytes done of total in it.
func (p *Item) Set(ph Phase, total, done int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.phase, p.total, p.done, p.last = ph, total, done, time.Now()
	p.mu.Unlock()
	p.to.Report(Event{ID: p.id, Phase: ph, Total: total, Done: done})
}

// Counter returns a writer that counts bytes on from the current count.
func (p *Item) Counter() io.Writer {
	if p == nil {
		return io.Discard
	}
	return &countWriter{p}
}

type countWriter struct{ p *Item }

func (c *countWriter) Write(b []byte) (int, error) {
	p := c.p
	p.mu.Lock()
	p.done += int64(len(b))
	now := time.Now()
	send := now.Sub(p.last) >= reportEvery
	e := Event{ID: p.id, Phase: p.phase, Total: p.total, Done: p.done}
	if send {
		p.last = now
	}
	p.mu.Unlock()
	if send {
		p.to.Report(e)
	}
	return len(b), nil
}

// ShortID is a digest's first 12 hex digits, as Docker shows layers.
func ShortID(digest string) string {
	if i := len("sha256:"); len(digest) >= i+12 {
		return digest[i : i+12]
	}
	return digest
}
