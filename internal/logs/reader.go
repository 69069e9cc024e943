package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ReadOptions select the entries Read emits.
type ReadOptions struct {
	// Follow keeps emitting new entries until ctx is done or stop
	// reports true.
	Follow bool
	// Tail emits only the last Tail entries of the history (those
	// written before Read was called); -1 emits all and 0 none, as
	// `docker logs --tail`.
	Tail int
	// Since skips entries before it; zero: no bound.
	Since time.Time
	// Until ends the read at the first entry after it; zero: no bound.
	Until time.Time
}

// errUntil ends a read at ReadOptions.Until.
var errUntil = errors.New("past until")

// Read emits the entries of the log at path and its rotated files, oldest
// first. Lines that are not whole records (a writer killed mid-entry) are
// skipped. Without Follow, a log with no file at all is fs.ErrNotExist.
//
// With Follow, stop is called whenever Read wakes (at least every 250 ms);
// once it reports true Read emits what is left and returns nil, so stop
// should report true only when the writer is done (the monitor has
// exited). A nil stop never stops. If ctx ends the read, Read returns
// ctx.Err(). An error from emit ends the read and is returned.
func Read(ctx context.Context, path string, o ReadOptions, stop func() bool, emit func(Entry) error) error {
	var w *watcher
	if o.Follow {
		// Watch before reading, so no write after the history goes unseen.
		var err error
		if w, err = watchDir(filepath.Dir(path)); err != nil {
			return err
		}
		defer w.close()
	}
	files, err := openHistory(path)
	if err != nil {
		return err
	}
	if len(files) == 0 && !o.Follow {
		return fmt.Errorf("read log %s: %w", path, fs.ErrNotExist)
	}
	s := &sink{o: o, emit: emit}
	cur, err := s.history(files)
	defer func() { // follow may have moved cur on
		if cur != nil {
			cur.f.Close()
		}
	}()
	if errors.Is(err, errUntil) {
		return s.flushTail() // nothing later can be emitted, even following
	}
	if err == nil {
		err = s.flushTail()
	}
	if err == nil && o.Follow {
		err = s.follow(ctx, path, &cur, w, stop)
	}
	if errors.Is(err, errUntil) {
		return nil
	}
	return err
}

// openHistory opens path and its rotated files, oldest first. It opens
// them newest first and drops a file it already holds: a rotation between
// two opens shifts the file just opened to the next name. Whatever the
// rotations meanwhile, the files held are then consecutive in time.
func openHistory(path string) ([]*os.File, error) {
	var files []*os.File
	var seen []os.FileInfo
	for i := 0; ; i++ {
		f, err := os.Open(rotated(path, i))
		if errors.Is(err, fs.ErrNotExist) && i == 0 {
			continue // mid-rotation, or never written: older files may exist
		}
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err == nil {
			err = addUnseen(&files, &seen, f)
		}
		if err != nil {
			closeAll(files)
			return nil, fmt.Errorf("open log: %w", err)
		}
	}
	for i, j := 0, len(files)-1; i < j; i, j = i+1, j-1 {
		files[i], files[j] = files[j], files[i]
	}
	return files, nil
}

// addUnseen appends f to files unless it is one of them under another name.
func addUnseen(files *[]*os.File, seen *[]os.FileInfo, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	for _, s := range *seen {
		if os.SameFile(s, fi) {
			return f.Close()
		}
	}
	*files = append(*files, f)
	*seen = append(*seen, fi)
	return nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// sink filters entries and emits them, holding back the last Tail ones
// until the history has been read.
type sink struct {
	o    ReadOptions
	emit func(Entry) error
	ring []Entry // the last Tail entries so far, oldest at head once full
	head int
	live bool // the history is done: emit at once
}

// history reads files to their ends and closes all but the newest, which
// it returns for following.
func (s *sink) history(files []*os.File) (*fileReader, error) {
	var cur *fileReader
	for i, f := range files {
		cur = newFileReader(f)
		if err := s.drain(cur); err != nil {
			closeAll(files[i+1:])
			return cur, err
		}
		if i < len(files)-1 {
			f.Close()
		}
	}
	return cur, nil
}

// drain passes the complete lines up to r's end to take. An incomplete
// last line stays in r for a follower to complete.
func (s *sink) drain(r *fileReader) error {
	for {
		line, err := r.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read log %s: %w", r.f.Name(), err)
		}
		if err := s.take(line); err != nil {
			return err
		}
	}
}

func (s *sink) take(line []byte) error {
	e, ok := decode(line)
	if !ok || (!s.o.Since.IsZero() && e.Time.Before(s.o.Since)) {
		return nil
	}
	if !s.o.Until.IsZero() && e.Time.After(s.o.Until) {
		return errUntil
	}
	if s.live || s.o.Tail < 0 {
		return s.emit(e)
	}
	if len(s.ring) < s.o.Tail {
		s.ring = append(s.ring, e)
		return nil
	}
	if s.o.Tail > 0 {
		s.ring[s.head] = e
		s.head = (s.head + 1) % s.o.Tail
	}
	return nil
}

// flushTail emits the held-back entries; from then on entries go out as
// they are read.
func (s *sink) flushTail() error {
	s.live = true
	for _, part := range [][]Entry{s.ring[s.head:], s.ring[:s.head]} {
		for _, e := range part {
			if err := s.emit(e); err != nil {
				return err
			}
		}
	}
	s.ring = nil
	return nil
}

// follow emits entries as they are written until stop or ctx ends it.
// *cur is the newest file read so far, nil if there was none.
func (s *sink) follow(ctx context.Context, path string, cur **fileReader, w *watcher, stop func() bool) error {
	for {
		// Ask before draining: what was written before stop reported
		// true is then read before returning.
		stopped := stop != nil && stop()
		if err := s.catchUp(path, cur); err != nil {
			return err
		}
		if stopped {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.wait(); err != nil {
			return err
		}
	}
}

// catchUp reads *cur to its end and, while path names a newer file (the
// writer rotated), moves on to that one.
func (s *sink) catchUp(path string, cur **fileReader) error {
	for {
		if *cur != nil {
			if err := s.drain(*cur); err != nil {
				return err
			}
		}
		next, err := openIfNew(path, *cur)
		if err != nil || next == nil {
			return err
		}
		if *cur != nil {
			// The writer renamed the file after its last write to it, and
			// that write may have come after the drain above.
			if err := s.drain(*cur); err != nil {
				next.Close()
				return err
			}
			(*cur).f.Close()
		}
		*cur = newFileReader(next)
	}
}

// openIfNew opens path if it names a file other than cur's; nil if it
// names the same file or none (mid-rotation).
func openIfNew(path string, cur *fileReader) (*os.File, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	if cur == nil {
		return f, nil
	}
	fi, err := f.Stat()
	if err == nil {
		var ci os.FileInfo
		if ci, err = cur.f.Stat(); err == nil && os.SameFile(fi, ci) {
			return nil, f.Close()
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat log: %w", err)
	}
	return f, nil
}

// fileReader yields the complete lines of a file that may still grow.
type fileReader struct {
	f       *os.File
	br      *bufio.Reader
	partial []byte // the start of a line not yet complete
}

func newFileReader(f *os.File) *fileReader {
	return &fileReader{f: f, br: bufio.NewReaderSize(f, 64<<10)}
}

// next returns the next complete line, valid until the next call, or
// io.EOF when the file holds no more complete lines. bufio.Reader reads
// the file again on the next call, so lines appended later are found.
func (r *fileReader) next() ([]byte, error) {
	for {
		b, err := r.br.ReadSlice('\n')
		switch {
		case err == nil && len(r.partial) == 0:
			return b, nil
		case err == nil:
			line := append(r.partial, b...)
			r.partial = nil
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			r.partial = append(r.partial, b...)
		default:
			r.partial = append(r.partial, b...)
			return nil, err
		}
	}
}
