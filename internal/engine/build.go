package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/archive"
	"github.com/berth-runtime/berth/internal/buildcache"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/flock"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/snapshot"
)

// A build step (berth build's RUN and COPY) is a container as berth run
// makes one, of the stage's image so far: its changes become the step's
// layer, and the container is removed at the end whatever happens.

// Step is a build step's container.
type Step struct {
	e     *Engine
	rec   managed.Record
	owner *managed.Owner
}

// NewStep creates the container of a build step on image with cfg (its
// command, the build's environment), not started.
func (e *Engine) NewStep(img string, cfg managed.Config) (*Step, error) {
	rec, owner, err := e.Create(cfg, CreateOptions{Image: img, BuildLock: e.BuildLock})
	if err != nil {
		return nil, err
	}
	return &Step{e: e, rec: rec, owner: owner}, nil
}

// Run runs the step's command in the foreground, its output to out,
// with no standard input, as Engine.Run does; it returns the command's
// exit status. ctx ending kills the command, even one that was still
// starting.
func (s *Step) Run(ctx context.Context, out *os.File) (int, error) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	owner := s.owner
	s.owner = nil
	defer owner.Release()
	var mu sync.Mutex
	started, cancelled := false, false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if cancelled = true; started {
			_ = s.Kill()
		}
	})
	defer stop()
	exit, _, err := s.e.runOnce(&s.rec, Stdio{In: devnull, Out: out, Err: out, Relay: true}, nil, func(int) {
		mu.Lock()
		defer mu.Unlock()
		if started = true; cancelled {
			go func() { _ = s.Kill() }()
		}
	}, nil)
	if err != nil {
		return exit.Code, err
	}
	finishRecord(s.e.Containers(), s.rec.ID, exit, nil, true)
	return exit.Code, nil
}

// Kill ends the step's command (an interrupted build). Sent before the
// container is up, it finds nothing to kill: the build checks for the
// interruption again once the step ends.
func (s *Step) Kill() error {
	rec, err := s.e.Containers().Get(s.rec.ID)
	if err != nil {
		return err
	}
	return s.e.stopProcess(rec, unix.SIGKILL)
}

// WithRoot runs fn on the step container's root file system (its overlay
// mounted detached, made on first use), for COPY.
func (s *Step) WithRoot(fn func(archive.Root) error) error {
	if s.owner != nil {
		// Create's lifetime lock: let go, so the root can be mounted as
		// a stopped container's.
		s.owner.Release()
		s.owner = nil
	}
	return s.e.withRoot(s.rec, managed.OpCopy, func(root archive.Root, _ bool) error { return fn(root) })
}

// MountRoot attaches the step container's root file system (its overlay,
// made on first use) at a directory of its own, for another step's RUN to
// bind (RUN --mount=type=bind,from=): what that RUN writes lands in this
// container's writable layer, thrown away with it. It returns the
// directory and the function that detaches and removes it. The directory
// is owned by a lock the build holds while it is attached, so that what
// a killed build leaves is detached by the next berth command
// (collectBuildRoots).
func (s *Step) MountRoot() (string, func(), error) {
	lock, path, err := newBuildLock(filepath.Join(s.e.Root, buildRootsDir), "root-")
	if err != nil {
		return "", nil, err
	}
	dir := strings.TrimSuffix(path, ".lock")
	release := func() {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		_ = os.Remove(dir)
		_ = os.Remove(path)
		lock.Close()
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		release()
		return "", nil, err
	}
	// The step keeps its lifetime lock (unlike WithRoot): a killed
	// build's step is then collected as a dead owner's, not left behind
	// as a stopped container.
	err = s.e.WithOpLock(s.rec.ID, func(rec managed.Record) error {
		f, err := s.e.stoppedRoot(&rec)
		if err != nil {
			return err
		}
		defer f.Close()
		return attachRoot(f, dir)
	})
	if err != nil {
		release()
		return "", nil, err
	}
	return dir, release, nil
}

// HoldBuild makes and locks the file a builder holds for its life, for
// Options.BuildLock: a step's layer is read after its run, so a step
// cannot be a --rm container, and a build killed with SIGKILL would
// otherwise leave its steps as stopped containers.
func HoldBuild(root string) (path string, release func(), err error) {
	lock, path, err := newBuildLock(filepath.Join(root, buildOwnersDir), "")
	if err != nil {
		return "", nil, err
	}
	return path, func() { os.Remove(path); lock.Close() }, nil
}

// newBuildLock makes a lock file in base, PREFIX+random+".lock", held by
// this process until the file returned is closed. It is locked under a
// name collection passes over (newLockPrefix), then renamed: there is
// never a *.lock that no one holds but a live build (collectBuildLocks).
func newBuildLock(base, prefix string) (*os.File, string, error) {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, "", err
	}
	lock, err := os.CreateTemp(base, newLockPrefix+"*")
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(base, prefix+strings.TrimPrefix(filepath.Base(lock.Name()), newLockPrefix)+".lock")
	if err := flock.Lock(lock, unix.LOCK_EX); err == nil {
		err = os.Rename(lock.Name(), path)
	}
	if err != nil {
		os.Remove(lock.Name())
		lock.Close()
		return nil, "", err
	}
	return lock, path, nil
}

// buildOwnersDir, under the engine's root, holds the builders' locks.
const buildOwnersDir = "build/owners"

// buildRootsDir, under the engine's root, holds the step roots MountRoot
// attaches, each beside its lock: root-X and root-X.lock.
const buildRootsDir = "build/roots"

// newLockPrefix names a build's lock before it is locked and named.
const newLockPrefix = ".new-"

// collectBuildRoots detaches and removes the step roots whose builds are
// gone (their locks free): a build killed during a RUN that binds another
// stage leaves one attached on the host. Dead builders' locks go too
// (their steps are collected as containers, managed.Record.BuildLock).
func (e *Engine) collectBuildRoots() {
	collectBuildLocks(filepath.Join(e.Root, buildOwnersDir), nil)
	collectBuildLocks(filepath.Join(e.Root, buildRootsDir), func(lock string) {
		dir := strings.TrimSuffix(lock, ".lock")
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		_ = os.Remove(dir)
	})
}

// collectBuildLocks removes the locks in base that no live build holds,
// after undo (when given) has removed what each owned.
func collectBuildLocks(base string, undo func(lock string)) {
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, ent := range ents {
		name := ent.Name()
		path := filepath.Join(base, name)
		switch {
		case strings.HasSuffix(name, ".lock"):
			lock, err := flock.Open(path, unix.O_RDWR, unix.LOCK_EX|unix.LOCK_NB)
			if err != nil {
				continue // a live build's, or not ours to read
			}
			if undo != nil {
				undo(path)
			}
			_ = os.Remove(path)
			lock.Close()
		case strings.HasPrefix(name, newLockPrefix):
			// Killed between its creation and its naming; only an old
			// one, so as never to race a build that is making it.
			if info, err := ent.Info(); err == nil && time.Since(info.ModTime()) > time.Minute && !flock.Held(path) {
				_ = os.Remove(path)
			}
		}
	}
}

// attachRoot attaches f's tree, the detached overlay, at dir. (A build
// runs on the overlay driver: a vfs copy has no layer to diff.)
func attachRoot(f *os.File, dir string) error {
	if err := unix.MoveMount(int(f.Fd()), "", unix.AT_FDCWD, dir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount the root at %s: %w", dir, err)
	}
	return nil
}

// Layer stores the step's changes as a layer (StoreLayer), every entry
// timed modTime when given; a step that changed nothing gets none (a zero
// Layer), as BuildKit gives it an empty-layer history entry instead.
func (s *Step) Layer(modTime *time.Time) (image.Layer, error) {
	store, err := s.e.Images()
	if err != nil {
		return image.Layer{}, err
	}
	if made, ok, err := snapshot.MadeWith(s.e.ContainerDir(s.rec.ID)); err == nil && ok && made.Driver != snapshot.Overlay {
		return image.Layer{}, errdefs.New(errdefs.ErrInvalidArgument, "a RUN's layer is what its overlay's upper directory holds, and this storage copies images (storage driver %s): build with --storage-driver overlay", made.Driver)
	}
	changes, upper, err := s.e.changesOf(s.rec)
	if err != nil || len(changes) == 0 {
		return image.Layer{}, err
	}
	return store.StoreLayer(func(w io.Writer) error {
		return archive.WriteLayer(w, upper, changes, archive.LayerOptions{Maps: mapsOf(s.rec), ModTime: modTime})
	})
}

// Remove removes the step's container, its writable layer with it.
func (s *Step) Remove() error {
	if s.owner != nil {
		s.owner.Release()
		s.owner = nil
	}
	return s.e.Remove(s.rec, true)
}

// PruneBuildCache removes the build cache that no live build and no
// container uses (berth builder prune): the step images and the content
// only they held, the cached steps they were, and the cache mounts no RUN
// has mounted now, as BuildKit's prune. Deleted lists the step images'
// IDs, then the cache mounts' names; Bytes is what all of it freed.
func (e *Engine) PruneBuildCache() (image.Removed, error) {
	store, err := e.Images()
	if err != nil {
		return image.Removed{}, err
	}
	var out image.Removed
	var mountBytes int64
	pruned, err := buildcache.Prune(e.Root, func(used map[string]bool) error {
		var err error
		out, err = store.PruneIntermediate(func(id string) bool { return used[id] || e.Containers().Uses(id) })
		return err
	}, func(id string) bool {
		_, err := store.Get(id)
		return err == nil
	}, func(path string) { mountBytes += dirSize(path) })
	for _, p := range pruned.Mounts {
		out.Deleted = append(out.Deleted, filepath.Base(p))
	}
	out.Bytes += mountBytes
	if err != nil {
		return out, fmt.Errorf("prune the build cache: %w", err)
	}
	return out, nil
}
