package engine

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/flock"
)

// A build's scratch directories under <root>/build (a git checkout, the
// SSH agents' sockets) are each locked, flock on the directory, by the
// build that made it for as long as it runs: the kernel drops the lock
// however the build dies, and the next berth command's collection
// removes what no one holds (sweepScratch, in Collect).

// scratchPrefixes are the scratch directories' names.
var scratchPrefixes = []string{"git-", "ssh-"}

// scratchGrace spares a directory made a moment ago, before its maker
// could lock it.
const scratchGrace = time.Minute

// Scratch makes a scratch directory prefix* under <root>/build, held until
// release, which removes it.
func Scratch(root, prefix string) (string, func(), error) {
	parent := filepath.Join(root, "build")
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", nil, err
	}
	f, err := os.OpenFile(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		if err = flock.Lock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, func() {
		os.RemoveAll(dir)
		f.Close()
	}, nil
}

// sweepScratch removes the scratch directories of builds that died: no
// lock held, made more than scratchGrace ago.
func sweepScratch(root string) {
	parent := filepath.Join(root, "build")
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !isScratch(e.Name()) {
			continue
		}
		if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < scratchGrace {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		f, err := os.OpenFile(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		if flock.Lock(f, unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.RemoveAll(dir)
		}
		f.Close()
	}
}

func isScratch(name string) bool {
	for _, p := range scratchPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
