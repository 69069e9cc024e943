package events

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/berth-runtime/berth/internal/logs"
)

// ReadOptions: events from Since (zero: only new ones, when following)
// until Until (zero: for ever); Follow keeps reading new events until ctx
// ends or Until passes.
type ReadOptions struct {
	Since, Until time.Time
	Follow       bool
}

// Read gives emit the journal's events in o's window that keep returns
// true for, oldest first.
func (j Journal) Read(ctx context.Context, o ReadOptions, keep func(Event) bool, emit func(Event) error) error {
	follow := o.Follow && (o.Until.IsZero() || time.Now().Before(o.Until))
	var w *logs.Watcher
	if follow {
		// Watch before reading: nothing written after the history is
		// read goes unseen.
		if err := os.MkdirAll(j.Dir(), 0o700); err != nil {
			return err
		}
		var err error
		if w, err = logs.WatchDir(j.Dir()); err != nil {
			return err
		}
		defer w.Close()
	}
	r := reader{o: o, keep: keep, emit: emit}
	// Without --since, a follower shows only what comes next, as docker.
	r.history = !o.Since.IsZero() || !o.Until.IsZero()
	for _, p := range j.files() {
		if p == j.Path {
			break
		}
		if err := r.readFile(p); err != nil {
			return err
		}
	}
	cur, err := openReader(j.Path, nil)
	if err != nil {
		return err
	}
	defer func() { cur.close() }()
	if err := r.drain(cur); err != nil || !follow {
		return ignoreDone(err)
	}
	r.history = true
	for {
		if err := w.Wait(); err != nil {
			return err
		}
		if ctx.Err() != nil || (!o.Until.IsZero() && time.Now().After(o.Until)) {
			return nil
		}
		if err := r.drain(cur); err != nil {
			return ignoreDone(err)
		}
		// Rotated: finish the old file (drained above), go on with the
		// new one.
		if next, err := openReader(j.Path, cur); err != nil {
			return err
		} else if next != nil {
			if err := r.drain(cur); err != nil {
				return ignoreDone(err)
			}
			cur.close()
			cur = next
			if err := r.drain(cur); err != nil {
				return ignoreDone(err)
			}
		}
	}
}

// errDone ends a read early (Until passed).
var errDone = errors.New("done")

func ignoreDone(err error) error {
	if errors.Is(err, errDone) {
		return nil
	}
	return err
}

type reader struct {
	o       ReadOptions
	keep    func(Event) bool
	emit    func(Event) error
	history bool // false: skip what is there (a follower's start)
}

func (r *reader) readFile(path string) error {
	f, err := openReader(path, nil)
	if err != nil || f == nil {
		return err
	}
	defer f.close()
	return r.drain(f)
}

// drain emits f's complete lines to its end.
func (r *reader) drain(f *fileReader) error {
	if f == nil {
		return nil
	}
	for {
		line, err := f.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !r.history {
			continue
		}
		var e Event
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		t := e.When()
		if !r.o.Until.IsZero() && t.After(r.o.Until) {
			return errDone
		}
		if (!r.o.Since.IsZero() && t.Before(r.o.Since)) || (r.keep != nil && !r.keep(e)) {
			continue
		}
		if err := r.emit(e); err != nil {
			return err
		}
	}
}

// fileReader yields the complete lines of a file that may still grow.
type fileReader struct {
	f       *os.File
	br      *bufio.Reader
	partial []byte
}

// openReader opens path, or nil if it is missing or is the file cur reads.
func openReader(path string, cur *fileReader) (*fileReader, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if cur != nil {
		fi, err1 := f.Stat()
		ci, err2 := cur.f.Stat()
		if err1 == nil && err2 == nil && os.SameFile(fi, ci) {
			f.Close()
			return nil, nil
		}
	}
	return &fileReader{f: f, br: bufio.NewReader(f)}, nil
}

func (f *fileReader) close() {
	if f != nil {
		f.f.Close()
	}
}

// next is the next complete line; io.EOF at the end of what is written
// (a partial line is kept for the next call).
func (f *fileReader) next() ([]byte, error) {
	b, err := f.br.ReadBytes('\n')
	if err == io.EOF {
		f.partial = append(f.partial, b...)
		return nil, io.EOF
	}
	if err != nil {
		return nil, err
	}
	if len(f.partial) > 0 {
		b = append(f.partial, b...)
		f.partial = nil
	}
	return b, nil
}
