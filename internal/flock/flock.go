// Package flock takes the file locks berth's ownership model rests on: a
// process holds a lock for as long as it owns something (a container, an
// address, a volume use), and the kernel drops it when the process dies,
// however it dies, so the next command can tell what has no owner left.
package flock

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Lock takes flock how (LOCK_EX or LOCK_SH, with LOCK_NB not to wait) on
// f, starting again when a signal interrupts the wait.
func Lock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

// Open opens path read-write and close-on-exec, with the extra open flags
// given (os.O_CREATE, os.O_EXCL, unix.O_NOFOLLOW; created files are 0600),
// and takes flock how on it. Closing the file releases the lock. On error
// nothing stays open.
func Open(path string, flags, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC|flags, 0o600)
	if err != nil {
		return nil, err
	}
	if err := Lock(f, how); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Held reports whether some process holds a lock on the file at path, as
// an owner holds its lifetime lock: a missing file, or one whose lock can
// be taken, has no owner.
func Held(path string) bool {
	f, err := Open(path, 0, unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		f.Close()
	}
	return errors.Is(err, unix.EWOULDBLOCK)
}

// Is reports whether the open file f is the file at path now (not
// following a symlink there): a lock held on a file that was since
// removed or replaced guards nothing, so an owner that takes a lock, or
// inherits one across exec, checks that it is still the path's.
func Is(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}
