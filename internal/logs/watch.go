package logs

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// wakeEvery bounds how long a follower sleeps without news, so that it
// notices stop() (the container has exited) and a cancelled context.
const wakeEvery = 250 * time.Millisecond

// watcher wakes a follower when the log's directory changes. It watches
// the directory rather than the file to see the new file a rotation
// creates.
type watcher struct{ fd int }

func watchDir(dir string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	mask := uint32(unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE)
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	return &watcher{fd: fd}, nil
}

// wait returns once the directory has changed since the last wait, or
// after wakeEvery. Which event it was does not matter: the follower
// rechecks the file either way.
func (w *watcher) wait() error {
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	_, err := unix.Poll(fds, int(wakeEvery/time.Millisecond))
	if err != nil && !errors.Is(err, unix.EINTR) {
		return fmt.Errorf("poll inotify: %w", err)
	}
	var buf [4096]byte
	for {
		// Drain the queue so the next poll sleeps; EAGAIN ends it.
		if n, err := unix.Read(w.fd, buf[:]); n <= 0 || err != nil {
			return nil
		}
	}
}

func (w *watcher) close() { unix.Close(w.fd) }

// Watcher is watchDir's watcher for other followers of a growing,
// rotated file (berth events' journal).
type Watcher struct{ w *watcher }

// WatchDir watches dir for a file written, created or renamed into it.
func WatchDir(dir string) (*Watcher, error) {
	w, err := watchDir(dir)
	if err != nil {
		return nil, err
	}
	return &Watcher{w}, nil
}

// Wait returns once dir has changed since the last Wait, or after a
// quarter second, so the follower rechecks its end conditions.
func (w *Watcher) Wait() error { return w.w.wait() }

// Close stops watching.
func (w *Watcher) Close() { w.w.close() }
