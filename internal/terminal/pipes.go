package terminal

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Pipes stands between a container process without a terminal and the
// caller's own standard streams, as Docker's daemon and podman's conmon
// do: the process gets pipes, and berth copies between them and the
// caller's files. A caller's terminal therefore never reaches the
// container, which could otherwise push input into it (TIOCSTI) or read
// and reconfigure it.
type Pipes struct {
	// Child are the files the container process gets as stdin, stdout
	// and stderr; Child[0] is nil without stdin.
	Child   [3]*os.File
	readers []*os.File // the read ends of the output pipes
	stdinW  *os.File   // the write end of the input pipe
	copies  sync.WaitGroup
	start   []func()
}

// NewPipes makes the pipes for the caller's stdin (nil: the container
// takes no input), stdout and stderr. When stdout and stderr are the same
// file, one pipe carries both, so that their order is kept.
func NewPipes(stdin, stdout, stderr *os.File) (_ *Pipes, err error) {
	p := &Pipes{}
	defer func() {
		if err != nil {
			p.closeAll()
		}
	}()
	if stdin != nil {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		p.Child[0], p.stdinW = r, w
		p.start = append(p.start, func() {
			// Never waited for: the caller's stdin may stay open long after
			// the container is gone.
			go func() {
				_, _ = io.Copy(w, stdin)
				w.Close()
			}()
		})
	}
	if p.Child[1], err = p.output(stdout); err != nil {
		return nil, err
	}
	if sameFile(stdout, stderr) {
		p.Child[2] = p.Child[1]
	} else if p.Child[2], err = p.output(stderr); err != nil {
		return nil, err
	}
	return p, nil
}

// output makes a pipe whose read end is copied to dst.
func (p *Pipes) output(dst *os.File) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	p.readers = append(p.readers, r)
	p.start = append(p.start, func() {
		p.copies.Add(1)
		go func() {
			defer p.copies.Done()
			_, err := io.Copy(dst, r)
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				// The caller's end is gone (a closed pipe): keep the
				// container from blocking on a full pipe.
				_, _ = io.Copy(io.Discard, r)
			}
		}()
	})
	return w, nil
}

// Start begins copying. Call it once the container process holds its
// ends: Start closes this process's copies of them, so that the output
// ends when the container's last writer is gone.
func (p *Pipes) Start() {
	p.closeChild()
	for _, f := range p.start {
		f()
	}
	p.start = nil
}

// Wait waits for the container's output to be copied to the end. A
// process the container left running may keep a pipe open: after grace,
// what it has not written yet is dropped.
func (p *Pipes) Wait(grace time.Duration) {
	deadline := time.Now().Add(grace)
	for _, r := range p.readers {
		_ = r.SetReadDeadline(deadline)
	}
	p.copies.Wait()
	for _, r := range p.readers {
		r.Close()
	}
}

// Close releases everything when the container never started.
func (p *Pipes) Close() { p.closeAll() }

func (p *Pipes) closeChild() {
	for i, f := range p.Child {
		if f != nil && (i != 2 || f != p.Child[1]) {
			f.Close()
		}
	}
}

func (p *Pipes) closeAll() {
	p.closeChild()
	if p.stdinW != nil {
		p.stdinW.Close()
	}
	for _, r := range p.readers {
		r.Close()
	}
}

// sameFile reports whether a and b are one open file description's
// target: the same inode on the same device.
func sameFile(a, b *os.File) bool {
	if a == nil || b == nil {
		return false
	}
	var sa, sb unix.Stat_t
	if unix.Fstat(int(a.Fd()), &sa) != nil || unix.Fstat(int(b.Fd()), &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
