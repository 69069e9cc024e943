package image

import (
	"errors"
	"fmt"
	"github.com/berth-runtime/berth/internal/flock"
	"os"

	"golang.org/x/sys/unix"
)

// fileLock is an flock on a file of its own. flock belongs to the open file
// description, so two goroutines of one process exclude each other as two
// processes do.
type fileLock struct{ f *os.File }

// errBusy is returned by tryLock when someone else holds the lock.
var errBusy = errors.New("lock busy")

// lockPath takes an flock (unix.LOCK_SH or unix.LOCK_EX) on path, creating
// it. Lock files of blobs and layers may be deleted by a collection that
// holds them, so after locking the descriptor must still be the file at
// path; otherwise the lock is on an orphan and is taken again.
func lockPath(path string, how int, wait bool) (*fileLock, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !wait {
			how |= unix.LOCK_NB
		}
		if err := flock.Lock(f, how); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, errBusy
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if flock.Is(f, path) {
			return &fileLock{f}, nil
		}
		f.Close()
	}
}

// unlock releases the lock; nil is allowed.
func (l *fileLock) unlock() {
	if l != nil {
		l.f.Close()
	}
}

// removeAndUnlock deletes the lock file while still holding it, so that
// anyone who opened it meanwhile sees it is gone (sameFile) and retries.
func (l *fileLock) removeAndUnlock() {
	os.Remove(l.f.Name())
	l.f.Close()
}
