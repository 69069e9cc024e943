// Package snapshot gives each container made from an image its own root
// filesystem: a writable layer over the image's read-only layers. With
// overlayfs it only creates the directories; the init stage mounts the
// overlay inside the container's mount namespace (rootfs.Overlay), so
// nothing is ever mounted on the host. Without overlayfs it copies the
// image into a plain directory.
//
// Every snapshot has an owner, the berth that runs its container, which
// holds a lock on it for the container's life; a snapshot whose lock can
// be taken belongs to a berth that is gone and is collected.
package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/rootfs"
	"golang.org/x/sys/unix"
)

// Driver says how a snapshot is made.
type Driver string

const (
	// Overlay stacks a writable layer on the image's layers (overlayfs).
	Overlay Driver = "overlay"
	// Copy copies the image into the container's directory ("vfs" in
	// podman's terms): slow, but needs nothing from the kernel.
	Copy Driver = "vfs"
)

// DefaultDriver is overlay where the kernel has overlayfs, else a copy.
func DefaultDriver() Driver {
	b, err := os.ReadFile("/proc/filesystems")
	if err == nil && strings.Contains(string(b), "\toverlay\n") {
		return Overlay
	}
	return Copy
}

// ParseDriver checks a --storage-driver value.
func ParseDriver(s string) (Driver, error) {
	switch Driver(s) {
	case Overlay, Copy:
		return Driver(s), nil
	case "":
		return DefaultDriver(), nil
	}
	return "", fmt.Errorf("unknown storage driver %q: use overlay or vfs", s)
}

// Snapshot is one container's root filesystem.
type Snapshot struct {
	ID      string
	ImageID string
	// Rootfs is the container's root path: the overlay's mount point
	// (empty on the host) or the copy.
	Rootfs string
	// Overlay is what the init stage mounts at Rootfs; nil for a copy.
	Overlay *rootfs.Overlay
	dir     string
	lock    *os.File
}

// Store keeps snapshots under one directory.
type Store struct{ Dir string }

// Create makes container id's snapshot of an image whose layer
// directories are lower (top first), taking ownership of it. copyImage
// fills a directory with the image's files, for the copy driver. On error
// nothing is left.
func (s Store) Create(id, imageID string, lower []string, d Driver, copyImage func(dst string) error) (_ *Snapshot, err error) {
	if len(lower) == 0 {
		return nil, errors.New("snapshot: the image has no layers")
	}
	dir := filepath.Join(s.Dir, id)
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	snap := &Snapshot{ID: id, ImageID: imageID, Rootfs: filepath.Join(dir, "rootfs"), dir: dir}
	defer func() {
		if err != nil {
			snap.Remove()
		}
	}()
	if snap.lock, err = lockFile(filepath.Join(dir, "lock"), true); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	// The image is recorded before anything else, so that removing the
	// image sees it is in use from now on.
	if err := os.WriteFile(filepath.Join(dir, "image"), []byte(imageID), 0o600); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	if err := os.Mkdir(snap.Rootfs, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	if d == Copy {
		if err := copyImage(snap.Rootfs); err != nil {
			return nil, fmt.Errorf("copy image into snapshot %s: %w", id, err)
		}
		return snap, nil
	}
	snap.Overlay, err = overlayOf(dir, lower)
	return snap, err
}

// overlayOf creates the writable layer's directories and names the lower
// layers relative to their common directory.
func overlayOf(dir string, lower []string) (*rootfs.Overlay, error) {
	o := &rootfs.Overlay{LayersDir: commonDir(lower), Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work")}
	for _, l := range lower {
		rel, err := filepath.Rel(o.LayersDir, l)
		if err != nil || strings.ContainsAny(rel, ":,") {
			return nil, fmt.Errorf("snapshot: layer directory %s cannot be named in an overlay mount", l)
		}
		o.Lower = append(o.Lower, rel)
	}
	for _, d := range []string{o.Upper, o.Work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
	}
	return o, nil
}

// commonDir is the deepest directory that holds all of paths.
func commonDir(paths []string) string {
	common := filepath.Dir(filepath.Clean(paths[0]))
	for _, p := range paths[1:] {
		for common != "/" && !strings.HasPrefix(filepath.Clean(p), common+"/") {
			common = filepath.Dir(common)
		}
	}
	return common
}

// Remove deletes the snapshot and gives up its ownership.
func (snap *Snapshot) Remove() error {
	err := os.RemoveAll(snap.dir)
	if snap.lock != nil {
		snap.lock.Close()
		snap.lock = nil
	}
	if err != nil {
		return fmt.Errorf("remove snapshot %s: %w", snap.ID, err)
	}
	return nil
}

// Collect removes the snapshots whose owner is gone.
func (s Store) Collect() {
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		dir := filepath.Join(s.Dir, e.Name())
		l, err := lockFile(filepath.Join(dir, "lock"), false)
		if err != nil {
			// Held, or a snapshot still being made: its lock comes first,
			// so a directory without one is younger than a moment.
			if errors.Is(err, os.ErrNotExist) {
				removeIfStale(dir)
			}
			continue
		}
		_ = os.RemoveAll(dir)
		l.Close()
	}
}

// removeIfStale removes a snapshot directory that never got its lock,
// once it is old enough that its creator must be gone.
func removeIfStale(dir string) {
	if st, err := os.Stat(dir); err == nil && time.Since(st.ModTime()) > time.Minute {
		_ = os.RemoveAll(dir)
	}
}

// InUse reports whether a live container's snapshot is made from image
// imageID.
func (s Store) InUse(imageID string) bool {
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		dir := filepath.Join(s.Dir, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "image"))
		if err != nil || string(b) != imageID {
			continue
		}
		l, err := lockFile(filepath.Join(dir, "lock"), false)
		if err != nil {
			return true // held by its owner
		}
		l.Close()
	}
	return false
}

// lockFile opens path and takes an exclusive flock without waiting.
func lockFile(path string, create bool) (*os.File, error) {
	flags := os.O_RDWR | unix.O_CLOEXEC
	if create {
		flags |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
