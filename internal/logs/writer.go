package logs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"
)

// Docker's json-file defaults are unbounded; berth bounds a container's
// log to 30 MiB unless told otherwise.
const (
	DefaultMaxSize  = 10 << 20
	DefaultMaxFiles = 3
)

// Options bound the log's size on disk.
type Options struct {
	// MaxSize is the size in bytes a file may reach before it is rotated;
	// 0 means never rotate.
	MaxSize int64
	// MaxFiles counts the current file and the rotated ones kept;
	// less than 1 counts as 1 (rotation then discards the old file).
	MaxFiles int
}

// DefaultOptions is what berth uses when the user sets no log options:
// three files of at most 10 MiB.
func DefaultOptions() Options {
	return Options{MaxSize: DefaultMaxSize, MaxFiles: DefaultMaxFiles}
}

// Writer appends entries to a log file. Its methods are safe for
// concurrent use, so stdout and stderr can be copied at once.
type Writer struct {
	path string
	opts Options
	now  func() time.Time // tests set the clock

	mu   sync.Mutex
	f    *os.File // nil once closed
	size int64
}

// Open opens the log at path for appending, creating it if need be.
func Open(path string, o Options) (*Writer, error) {
	if o.MaxFiles < 1 {
		o.MaxFiles = 1
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	w := &Writer{path: path, opts: o, now: time.Now, f: f}
	if err := w.endTornLine(); err != nil {
		f.Close()
		return nil, err
	}
	w.removeStale()
	return w, nil
}

// endTornLine ends the file with a newline if a previous writer was killed
// mid-entry, so the torn entry spoils only itself and not the next one.
func (w *Writer) endTornLine() error {
	fi, err := w.f.Stat()
	if err != nil {
		return fmt.Errorf("stat log: %w", err)
	}
	w.size = fi.Size()
	if w.size == 0 {
		return nil
	}
	last := make([]byte, 1)
	if _, err := w.f.ReadAt(last, w.size-1); err != nil {
		return fmt.Errorf("read log %s: %w", w.path, err)
	}
	if last[0] == '\n' {
		return nil
	}
	n, err := w.f.Write([]byte{'\n'})
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("write log %s: %w", w.path, err)
	}
	return nil
}

// removeStale deletes rotated files beyond MaxFiles, left by an earlier
// writer with a larger limit. Failing only costs disk space.
func (w *Writer) removeStale() {
	for i := w.opts.MaxFiles; ; i++ {
		if err := os.Remove(rotated(w.path, i)); err != nil {
			return
		}
	}
}

// Copy writes what r yields as entries of stream until r ends, one entry
// per line. A write error does not stop the copy: the container must not
// block on a full pipe because its log cannot be written; Copy keeps
// trying and returns the first error at the end.
func (w *Writer) Copy(stream string, r io.Reader) error {
	br := bufio.NewReaderSize(r, MaxLine)
	var werr error
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if err := w.write(stream, line); err != nil && werr == nil {
				werr = err
			}
		}
		switch {
		case err == nil || errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF) || errors.Is(err, syscall.EIO):
			// A pty master reads EIO once the last slave fd is closed:
			// that is its end of stream.
			return werr
		default:
			return fmt.Errorf("read %s: %w", stream, err)
		}
	}
}

// write appends one entry with a single write, so a reader sees whole
// lines. The time is taken under the lock to keep the file in time order.
func (w *Writer) write(stream string, line []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("write log %s: %w", w.path, fs.ErrClosed)
	}
	b := encode(stream, line, w.now())
	if w.opts.MaxSize > 0 && w.size > 0 && w.size+int64(len(b)) > w.opts.MaxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("write log %s: %w", w.path, err)
	}
	return nil
}

// rotate shifts path.N-1 to path.N ... path to path.1 and starts a new
// file. The current file is renamed or removed, never truncated: a reader
// following it finishes its open fd and then moves to the new file.
func (w *Writer) rotate() error {
	for i := w.opts.MaxFiles - 1; i > 1; i-- {
		err := os.Rename(rotated(w.path, i-1), rotated(w.path, i))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate log: %w", err)
		}
	}
	var err error
	if w.opts.MaxFiles > 1 {
		err = os.Rename(w.path, rotated(w.path, 1))
	} else {
		err = os.Remove(w.path)
	}
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	w.f.Close()
	w.f, w.size = f, 0
	return nil
}

// Close closes the file; later writes fail.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("close log %s: %w", w.path, err)
	}
	return nil
}

// rotated names the i-th rotated file; 0 is the current one.
func rotated(path string, i int) string {
	if i == 0 {
		return path
	}
	return fmt.Sprintf("%s.%d", path, i)
}
