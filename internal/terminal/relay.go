package terminal

import (
	"io"
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// Relay copies between the user's terminal and a container's pty master:
// stdin in raw mode to the master, the master to stdout, and window size
// changes (SIGWINCH) on to the master.
type Relay struct {
	master  *os.File
	restore func()
	winch   chan os.Signal
	output  sync.WaitGroup
}

// StartRelay begins relaying. stdin may be nil when the container takes no
// input.
func StartRelay(master, stdin, stdout *os.File) *Relay {
	r := &Relay{master: master, winch: make(chan os.Signal, 1)}
	if stdin != nil {
		if IsTerminal(stdin) {
			if restore, err := MakeRaw(stdin); err == nil {
				r.restore = restore
			}
		}
		go func() { _, _ = io.Copy(master, stdin) }()
	}
	r.output.Add(1)
	go func() {
		defer r.output.Done()
		_, _ = io.Copy(stdout, master)
	}()
	if sizeSource := terminalOf(stdin, stdout); sizeSource != nil {
		signal.Notify(r.winch, unix.SIGWINCH)
		go func() {
			for range r.winch {
				if s, err := GetSize(sizeSource); err == nil {
					_ = SetSize(master, s)
				}
			}
		}()
	}
	return r
}

// Close waits for the container's output to drain (the master reads EIO
// once every slave is closed), restores the terminal and stops relaying.
func (r *Relay) Close() {
	r.output.Wait()
	signal.Stop(r.winch)
	close(r.winch)
	if r.restore != nil {
		r.restore()
	}
	r.master.Close()
}

func terminalOf(files ...*os.File) *os.File {
	for _, f := range files {
		if f != nil && IsTerminal(f) {
			return f
		}
	}
	return nil
}

// HostSize is the window size of the user's terminal, if there is one.
func HostSize(files ...*os.File) Size {
	if f := terminalOf(files...); f != nil {
		if s, err := GetSize(f); err == nil {
			return s
		}
	}
	return Size{}
}
