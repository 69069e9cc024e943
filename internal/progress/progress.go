// Package progress carries per-item progress events (one item per image
// layer during a pull, an import or a push) and renders them: on a terminal one
// line per item, redrawn in place as docker pull does; elsewhere one plain
// line per phase change, so logs stay readable. It knows nothing of images.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Phase is where an item stands.
type Phase string

const (
	Waiting     Phase = "Waiting"
	Downloading Phase = "Downloading"
	Verifying   Phase = "Verifying"
	Extracting  Phase = "Extracting"
	Done        Phase = "Done"
	Exists      Phase = "Already exists"
	// A push's phases, in docker push's words.
	Preparing   Phase = "Preparing"
	Pushing     Phase = "Pushing"
	Pushed      Phase = "Pushed"
	LayerExists Phase = "Layer already exists"
)

// Event is one report about one item.
type Event struct {
	ID    string // short name of the item, e.g. the first 12 hex digits of a digest
	Phase Phase
	Total int64 // bytes, 0 when unknown
	Done  int64 // bytes so far in this phase
}

// Reporter receives events; implementations must be safe for concurrent
// use, since layers progress in parallel.
type Reporter interface {
	Report(Event)
}

// Discard is a Reporter that drops every event.
var Discard Reporter = discard{}

type discard struct{}

func (discard) Report(Event) {}

// Renderer writes events to a writer.
type Renderer struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	order []string         // items in the order they first appeared
	last  map[string]Event // latest event per item
}

// NewRenderer renders to w, redrawing lines in place when w is a terminal.
func NewRenderer(w io.Writer) *Renderer {
	return &Renderer{w: w, tty: IsTerminal(w), last: map[string]Event{}}
}

// IsTerminal says whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Report implements Reporter.
func (r *Renderer) Report(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev, seen := r.last[e.ID]
	r.last[e.ID] = e
	if !seen {
		r.order = append(r.order, e.ID)
		fmt.Fprintln(r.w, Line(e))
		return
	}
	if !r.tty {
		// Byte counts would flood a log: only phase changes are written.
		if prev.Phase != e.Phase {
			fmt.Fprintln(r.w, Line(e))
		}
		return
	}
	r.redraw(e)
}

// redraw moves the cursor up to the item's line, rewrites it and moves
// back down below the last line.
func (r *Renderer) redraw(e Event) {
	up := 0
	for i := len(r.order) - 1; i >= 0 && r.order[i] != e.ID; i-- {
		up++
	}
	up++ // the cursor sits on the line after the last item
	fmt.Fprintf(r.w, "\x1b[%dA\r\x1b[2K%s\x1b[%dB\r", up, Line(e), up)
}

// Line is the text of one event, e.g. "a1b2c3d4e5f6: Downloading  1.2MB/3.4MB".
func Line(e Event) string {
	s := e.ID + ": " + string(e.Phase)
	if (e.Phase == Downloading || e.Phase == Extracting || e.Phase == Pushing) && e.Done > 0 {
		s += "  " + Size(e.Done)
		if e.Total > 0 {
			s += "/" + Size(e.Total)
		}
	}
	return s
}

// Size formats a byte count in Docker's decimal units (kB, MB, GB).
func Size(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}
