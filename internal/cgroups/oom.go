package cgroups

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// OOMWatch reports the OOM killer's acts in a cgroup as they happen.
type OOMWatch struct {
	// C receives one value per OOM event, and is closed when the cgroup
	// is removed or the watch is closed.
	C    <-chan struct{}
	wake *os.File
}

// Close stops the watch.
func (w *OOMWatch) Close() error { return w.wake.Close() }

// WatchOOM starts reporting the OOM events of the cgroup: on v1 through an
// eventfd registered for memory.oom_control (cgroup.event_control), which
// the kernel signals at each OOM and when the cgroup is removed; on v2
// through inotify on memory.events, reported when its oom_kill count
// grows.
func (c *Cgroup) WatchOOM() (*OOMWatch, error) {
	if c.IsNone() {
		return nil, fmt.Errorf("watch OOM events: %w", ErrNoCgroup)
	}
	if c.Version == V2 {
		return watchOOMV2(c.Dirs[0])
	}
	dir := c.dirFor("memory")
	if dir == "" {
		return nil, errors.New("watch OOM events: the memory controller is not mounted")
	}
	return watchOOMV1(dir)
}

func watchOOMV1(dir string) (*OOMWatch, error) {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch OOM events: eventfd: %w", err)
	}
	wake := os.NewFile(uintptr(efd), "oom eventfd")
	control, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		wake.Close()
		return nil, fmt.Errorf("watch OOM events: %w", err)
	}
	defer control.Close()
	if err := writeFile(filepath.Join(dir, "cgroup.event_control"), fmt.Sprintf("%d %d", efd, control.Fd())); err != nil {
		wake.Close()
		return nil, fmt.Errorf("watch OOM events: %w", err)
	}
	ch := make(chan struct{}, 16)
	go func() {
		defer close(ch)
		var buf [8]byte
		for {
			if _, err := wake.Read(buf[:]); err != nil {
				return
			}
			// The eventfd is also signalled when the cgroup goes.
			if _, err := os.Stat(filepath.Join(dir, "memory.oom_control")); err != nil {
				return
			}
			ch <- struct{}{}
		}
	}()
	return &OOMWatch{C: ch, wake: wake}, nil
}

func watchOOMV2(dir string) (*OOMWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch OOM events: inotify: %w", err)
	}
	wake := os.NewFile(uintptr(fd), "oom inotify")
	events := filepath.Join(dir, "memory.events")
	if _, err := unix.InotifyAddWatch(fd, events, unix.IN_MODIFY); err != nil {
		wake.Close()
		return nil, fmt.Errorf("watch OOM events: %s: %w", events, err)
	}
	seen, _ := readKey(events, "oom_kill")
	ch := make(chan struct{}, 16)
	go func() {
		defer close(ch)
		buf := make([]byte, 4096)
		for {
			n, err := wake.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				// struct inotify_event: wd, mask, cookie, len, name.
				mask := binary.NativeEndian.Uint32(buf[off+4:])
				if mask&unix.IN_IGNORED != 0 {
					return // the cgroup was removed
				}
				off += unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[off+12:]))
			}
			count, err := readKey(events, "oom_kill")
			if err != nil {
				return
			}
			for ; seen < count; seen++ {
				ch <- struct{}{}
			}
		}
	}()
	return &OOMWatch{C: ch, wake: wake}, nil
}
