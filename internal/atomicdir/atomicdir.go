// Package atomicdir makes and removes the directories that records of
// ownership live in (a container's runtime state, berth's container
// records) so that a process killed at any moment leaves something the
// next collection recognizes: a directory is made complete under a
// temporary name that carries its creator's PID, then renamed into place;
// it is removed by renaming it aside first, since os.RemoveAll unlinks the
// lock before the rest and a kill half-way would leave a lockless
// remainder that looks like nobody's and everybody's.
package atomicdir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/flock"
	"golang.org/x/sys/unix"
)

const (
	creatingPrefix = ".new-"
	removingPrefix = ".rm-"
)

// Creating is the temporary name, under root, of a directory this process
// makes for suffix (an ID; "" lets MkdirTemp pick).
func Creating(root, suffix string) string {
	return CreatingBy(root, strconv.Itoa(os.Getpid()), suffix)
}

// CreatingBy is the temporary name, under root, of the directory process
// pid (in decimal) makes for suffix: what Creating named in that process.
func CreatingBy(root, pid, suffix string) string {
	return filepath.Join(root, creatingPrefix+pid+"-"+suffix)
}

// Removing is the name dir has while Remove deletes it.
func Removing(dir string) string {
	return filepath.Join(filepath.Dir(dir), removingPrefix+filepath.Base(dir))
}

// IsCreating and IsRemoving tell the temporary names apart from records.
func IsCreating(name string) bool { return strings.HasPrefix(name, creatingPrefix) }
func IsRemoving(name string) bool { return strings.HasPrefix(name, removingPrefix) }

// CreatingSuffix is the suffix a temporary name was made for.
func CreatingSuffix(name string) string {
	_, suffix, _ := strings.Cut(strings.TrimPrefix(name, creatingPrefix), "-")
	return suffix
}

// Remove deletes dir, renamed aside first. A removal of the same name that
// was killed (IDs come back) is finished first.
func Remove(dir string) error {
	gone := Removing(dir)
	err := os.Rename(dir, gone)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		os.RemoveAll(gone)
		err = os.Rename(dir, gone)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.RemoveAll(gone)
}

// Abandoned reports whether a directory being created (dir, named as
// Creating names it) has lost its creator: the PID in its name has exited
// and nothing holds dir/lock (a creator in another PID namespace still
// does), or it is older than any creation still in progress could be.
func Abandoned(dir string) bool {
	digits, _, named := strings.Cut(strings.TrimPrefix(filepath.Base(dir), creatingPrefix), "-")
	if pid, err := strconv.Atoi(digits); named && err == nil && pid > 0 && errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
		return !flock.Held(filepath.Join(dir, "lock"))
	}
	return Stale(dir)
}

// Stale reports whether dir is older than any creation in progress could
// be (a minute).
func Stale(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && time.Since(st.ModTime()) > time.Minute
}
