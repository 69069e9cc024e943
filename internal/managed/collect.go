package managed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-runtime/berth/internal/atomicdir"
	"github.com/berth-runtime/berth/internal/flock"
	"github.com/berth-runtime/berth/internal/pidfd"
	"golang.org/x/sys/unix"
)

// Collection looks only at the containers hinted in <dir>/.collect/: one
// file per container whose owner, if killed, could leave something
// behind (a half-made or half-removed directory, a --rm container, a
// user-mode network stack). Every berth command collects, and reading
// every container there made each start cost more with every stopped
// container kept; a stopped container has no hint once collection has
// looked at it, so the work is one directory read and, per hint, a few
// stats and one lock try: O(running).
//
// A hint is made before what it covers, by Create, Remove and Watch, and
// names the process that made it: its PID (in Create's, the PID names the
// temporary directory) and start time (a PID is soon reused on a busy
// machine). It is dropped by collection only while holding the
// container's lifetime lock with nothing left to collect, or, when no
// directory of that container exists, once the process it names is gone
// or the hint is older than any creation in progress could be (one that
// names nobody is kept that long: see writeHint). Hints are made holding
// that lock, or before the container's directory exists, so collection
// never drops one that is still needed.
const (
	collectDir = ".collect"
	// scannedMark, in collectDir, says that the store was read whole
	// once: a store made before the hints were has containers without
	// one, hinted then.
	scannedMark = ".scanned"
)

// youngHint is how long a hint with no directory behind it is kept: its
// creator hints before making anything.
const youngHint = time.Minute

func (s Store) hintPath(id string) string { return filepath.Join(s.Dir, collectDir, id) }

// Watch hints container id to collection, for something its owner is
// about to start that would outlive a kill (a user-mode network stack).
// Call it holding the container's lifetime lock: collection then visits
// the container once the lock is free, and drops the hint after that.
func (s Store) Watch(id string) error { return s.hint(id) }

// maker is this process as hints name it: "PID START", START its start
// time in clock ticks since boot.
var maker = sync.OnceValue(func() string {
	return strconv.Itoa(os.Getpid()) + " " + strconv.FormatUint(pidfd.SelfStart(), 10)
})

// hint makes id's hint, naming this process; an existing hint is kept as
// it is.
func (s Store) hint(id string) error {
	if err := os.MkdirAll(filepath.Join(s.Dir, collectDir), 0o700); err != nil {
		return fmt.Errorf("container store: %w", err)
	}
	if exists(s.hintPath(id)) {
		return nil // made by the container's creator, or its owner
	}
	err := writeHint(filepath.Join(s.Dir, collectDir), s.hintPath(id))
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("container %s: hint collection: %w", shortID(id), err)
	}
	return nil
}

// writeHint makes the hint at path, in dir, whole in one step: written
// as an O_TMPFILE and linked in, so that no collection sees it empty (a
// berth killed between creating and writing it would leave one naming
// nobody, kept a minute). Where O_TMPFILE is not supported, it is made
// and then written. It fails with os.ErrExist if path exists.
func writeHint(dir, path string) error {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		_, err = f.WriteString(maker())
		return errors.Join(err, f.Close())
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(maker())); err != nil {
		return err
	}
	return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
}

// Hinted lists the containers collection looks at (for tests and
// diagnostics).
func (s Store) Hinted() []string {
	entries, _ := os.ReadDir(filepath.Join(s.Dir, collectDir))
	var ids []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// Collect removes what owners that are gone left: --rm containers whose
// berth was killed, directories whose creation never finished, and
// removals that were interrupted. visit(id) is called first for each
// hinted container whose lifetime lock it could take, holding that lock,
// for what the engine collects (a user-mode network stack).
func (s Store) Collect(visit func(id string)) {
	if !exists(filepath.Join(s.Dir, collectDir, scannedMark)) {
		s.scan()
	}
	for _, id := range s.Hinted() {
		s.collectHinted(id, visit)
	}
}

// scan hints every container of a store that was never scanned, and
// collects its interrupted creations and removals, which have no hint
// then. It runs once per store.
func (s Store) scan() {
	if _, err := os.Stat(s.Dir); err != nil {
		return // no store yet: nothing to scan, and nothing made for it
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, collectDir), 0o700); err != nil {
		return
	}
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		name := e.Name()
		switch {
		case !e.IsDir() || name == collectDir || name == ".names":
		case atomicdir.IsRemoving(name):
			os.RemoveAll(filepath.Join(s.Dir, name))
		case atomicdir.IsCreating(name):
			s.collectCreation(filepath.Join(s.Dir, name))
		case strings.HasPrefix(name, "."):
		default:
			// Naming this process: should the container be removed
			// meanwhile, the hint goes once this process is gone.
			if s.hint(name) != nil {
				return // not marked scanned: the next collection tries again
			}
		}
	}
	_ = os.WriteFile(filepath.Join(s.Dir, collectDir, scannedMark), nil, 0o600)
}

// collectHinted collects what container id's owner left, if it is gone,
// and drops the hint once nothing is left.
func (s Store) collectHinted(id string, visit func(id string)) {
	hint := s.hintPath(id)
	st, err := os.Stat(hint)
	if err != nil {
		return
	}
	b, _ := os.ReadFile(hint)
	madeBy := string(b)
	if pid, _, _ := strings.Cut(madeBy, " "); pid != "" {
		creating := atomicdir.CreatingBy(s.Dir, pid, id)
		if s.collectCreation(creating); exists(creating) {
			return // its creator is at work
		}
	}
	dir := filepath.Join(s.Dir, id)
	removing := atomicdir.Removing(dir)
	if exists(removing) {
		os.RemoveAll(removing)
	}
	if !exists(dir) {
		// Removed (unless a removal renamed it meanwhile, which its
		// remover or the next collection finishes), or not made yet by
		// a creator at work, which hinted first. A young hint naming
		// nobody is kept too: its maker may not have written its PID
		// yet.
		if !exists(removing) && (gone(madeBy) || time.Since(st.ModTime()) > youngHint) {
			os.Remove(hint)
		}
		return
	}
	// A command at work on the container (its operation lock held: a
	// stop, start or restart) decides what becomes of it. Its start takes
	// the lifetime lock without waiting, and would find it held by this
	// collection for a moment and say the container is already running
	// (four concurrent berth restarts did). The next collection looks.
	if op, err := s.opLock(id, unix.LOCK_EX|unix.LOCK_NB); err == nil {
		defer op.Close()
	} else if errors.Is(err, unix.EWOULDBLOCK) {
		return
	}
	l, err := lockFile(filepath.Join(dir, "lock"), false)
	if err != nil {
		// Running (the lock is held), or a directory without a lock,
		// left by an older berth.
		if errors.Is(err, os.ErrNotExist) && atomicdir.Stale(dir) {
			atomicdir.Remove(dir)
		}
		return
	}
	defer l.Close()
	visit(id)
	if s.collectOwnerless(dir) {
		os.Remove(hint)
	}
}

// gone reports whether the process a hint names ("PID START") has ended:
// no such PID, a zombie, or another process that reused the PID. A hint
// that names nobody (yet) is not gone.
func gone(madeBy string) bool {
	pidField, startField, _ := strings.Cut(madeBy, " ")
	pid, err := strconv.Atoi(pidField)
	if err != nil || pid <= 0 {
		return false
	}
	start, _ := strconv.ParseUint(startField, 10, 64)
	now, state, err := pidfd.Stat(pid)
	return err != nil || state == "Z" || state == "X" || start != 0 && now != start
}

// collectOwnerless removes container dir, whose lifetime lock the caller
// holds, if it is a --rm container whose run ended; it reports whether
// nothing is left to collect. A container of berth create --rm is kept
// until its run ends.
func (s Store) collectOwnerless(dir string) bool {
	rec, err := readRecord(dir)
	switch {
	case err != nil:
		// No record: a directory an older berth's creation left.
		if !atomicdir.Stale(dir) {
			return false
		}
	case rec.BuildLock != "":
		if flock.Held(rec.BuildLock) {
			return false // its build goes on
		}
	case !rec.AutoRemove:
		return true
	case rec.awaitsStart():
		return false
	}
	s.releaseName(rec)
	return atomicdir.Remove(dir) == nil
}

// awaitsStart reports whether the container was made by berth create
// and waits for berth start: with --rm, it goes when a run ends, not
// before its first one.
func (rec Record) awaitsStart() bool { return rec.State.Status == Created && rec.Detached }

// collectCreation removes a container directory whose creator is gone
// before renaming it into place (atomicdir.Abandoned), and releases the
// name it claimed.
func (s Store) collectCreation(dir string) {
	if !exists(dir) || !atomicdir.Abandoned(dir) {
		return
	}
	l, err := lockFile(filepath.Join(dir, "lock"), false)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return
	}
	if l != nil {
		defer l.Close()
	}
	// The name is claimed after the record is written: its record
	// names it. Without one, the names are read (an older berth's).
	if rec, err := readRecord(dir); err == nil {
		s.releaseName(rec)
	} else {
		s.releaseNamesOf(atomicdir.CreatingSuffix(filepath.Base(dir)))
	}
	os.RemoveAll(dir)
}

// releaseNamesOf releases the names that point to container id.
func (s Store) releaseNamesOf(id string) {
	names, _ := os.ReadDir(filepath.Join(s.Dir, ".names"))
	for _, n := range names {
		if target, err := os.Readlink(s.namePath(n.Name())); err == nil && target == id {
			os.Remove(s.namePath(n.Name()))
		}
	}
}
