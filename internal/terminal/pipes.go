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
	tees    []io.WriteCloser // closed by their copies, or by Close if never started
}

// NewPipes makes the pipes for the caller's stdin (nil: the container
// takes no input), stdout and stderr. When stdout and stderr are the same
// file, one pipe carries both, so that their order is kept.
func NewPipes(stdin, stdout, stderr *os.File) (_ *Pipes, err error) {
	return NewPipesTee(stdin, stdout, stderr, [2]io.WriteCloser{})
}

// NewPipesTee is NewPipes that also copies stdout and stderr to tee[0]
// and tee[1] (berth's log of a foreground run), closing each at the end
// of its stream. With a tee the two streams keep their own pipes even to
// one file, so that the log tells them apart; a nil stdout or stderr
// then goes to its tee only (a stream docker run -a leaves out).
func NewPipesTee(stdin, stdout, stderr *os.File, tee [2]io.WriteCloser) (_ *Pipes, err error) {
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
	if p.Child[1], err = p.output(stdout, tee[0]); err != nil {
		return nil, err
	}
	if tee[0] == nil && tee[1] == nil && sameFile(stdout, stderr) {
		p.Child[2] = p.Child[1]
	} else if p.Child[2], err = p.output(stderr, tee[1]); err != nil {
		return nil, err
	}
	return p, nil
}

// output makes a pipe whose read end is copied to dst (and tee).
func (p *Pipes) output(dst *os.File, tee io.WriteCloser) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	p.readers = append(p.readers, r)
	if tee != nil {
		p.tees = append(p.tees, tee)
		p.start = append(p.start, func() {
			p.copies.Add(1)
			go func() {
				defer p.copies.Done()
				copyTee(dst, tee, r)
			}()
		})
		return w, nil
	}
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

// copyTee copies r to dst and tee until r ends, then closes tee. A
// failing dst (the caller's end closed) is dropped: the tee, and the
// container, go on.
func copyTee(dst *os.File, tee io.WriteCloser, r *os.File) {
	defer tee.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if dst != nil {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					dst = nil
				}
			}
			_, _ = tee.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
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
func (p *Pipes) Close() {
	if p.start != nil {
		for _, t := range p.tees {
			t.Close()
		}
	}
	p.closeAll()
}

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
