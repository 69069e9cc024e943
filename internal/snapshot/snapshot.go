// Package snapshot gives a container made from an image its own root
// filesystem: a writable layer over the image's read-only layers. With
// overlayfs it only creates the directories; the init stage mounts the
// overlay inside the container's mount namespace (rootfs.Overlay), so
// nothing is ever mounted on the host. Without overlayfs it copies the
// image into a plain directory. A snapshot lives in its container's
// directory and goes with it; preparing it again (a restart) keeps what
// the container wrote.
package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
// Inside a user namespace that is not the host's (rootless berth), an
// overlay needs Linux 5.11, the first to let a user namespace's root
// mount one.
func DefaultDriver() Driver {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil || !strings.Contains(string(b), "\toverlay\n") {
		return Copy
	}
	if !kernelAtLeast(kernelRelease(), 5, 11) && inUserNamespace() {
		return Copy
	}
	return Overlay
}

// inUserNamespace reports whether this process's user namespace is not
// the initial one (whose uid_map maps every ID to itself).
func inUserNamespace() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// kernelAtLeast reports whether release (uname -r, "6.1.0-18-amd64") is
// major.minor or later.
func kernelAtLeast(release string, major, minor int) bool {
	var ma, mi int
	if n, _ := fmt.Sscanf(release, "%d.%d", &ma, &mi); n != 2 {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
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
	// Rootfs is the container's root path: the overlay's mount point
	// (empty on the host) or the copy.
	Rootfs string
	// Overlay is what the init stage mounts at Rootfs; nil for a copy.
	Overlay *rootfs.Overlay
}

// copiedMarker marks a finished copy, so a copy cut short is redone.
const copiedMarker = "rootfs.copied"

// Prepare makes (or finds, for a container run before) the snapshot in
// the container's directory dir, of an image whose layer directories are
// lower (top first). copyImage fills a directory with the image's files,
// for the copy driver. A driver other than the one the snapshot was made
// with is refused rather than losing the container's changes.
func Prepare(dir string, lower []string, d Driver, copyImage func(dst string) error) (*Snapshot, error) {
	if len(lower) == 0 {
		return nil, fmt.Errorf("snapshot: the image has no layers")
	}
	snap := &Snapshot{Rootfs: filepath.Join(dir, "rootfs")}
	if err := os.Mkdir(snap.Rootfs, 0o755); err != nil && !os.IsExist(err) {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	_, copyErr := os.Stat(filepath.Join(dir, copiedMarker))
	_, upperErr := os.Stat(filepath.Join(dir, "upper"))
	switch {
	case d == Copy && upperErr == nil, d == Overlay && copyErr == nil:
		return nil, fmt.Errorf("snapshot: the container was made with the other storage driver: run it with that --storage-driver")
	case d == Copy && copyErr == nil:
		return snap, nil
	case d == Copy:
		if err := copyImage(snap.Rootfs); err != nil {
			return nil, fmt.Errorf("copy image into the container: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, copiedMarker), nil, 0o600); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		return snap, nil
	}
	var err error
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
		if err := os.Mkdir(d, 0o755); err != nil && !os.IsExist(err) {
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

// Made is what a snapshot was made with, recorded in its directory so
// that later runs make it the same way whatever the host says then: a
// container whose overlay sits on a chowned copy (ChownCache, its key)
// keeps it, as one over the image's layers does.
type Made struct {
	Driver Driver `json:"driver"`
	// ChownCache is the key of the chowned copy of the image (package
	// chowncache) that is the overlay's lower layer; empty: the image's
	// own layers.
	ChownCache string `json:"chownCache,omitempty"`
}

const madeFile = "snapshot.json"

// MadeWith reads what the snapshot in dir was made with; ok is false for
// a snapshot not made yet. Of one made by a berth that did not record it,
// a copy is told by its marker; an overlay is as good as new (its writable
// layer sits on an idmapped or a chowned image alike).
func MadeWith(dir string) (m Made, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, madeFile))
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, copiedMarker)); err == nil {
			return Made{Driver: Copy}, true, nil
		}
		return Made{}, false, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return Made{}, false, fmt.Errorf("snapshot: what it was made with: %w", err)
	}
	return m, true, nil
}

// Record writes what the snapshot in dir was made with, whole or not at
// all (written beside, then renamed): a torn record would keep the
// container from ever starting again.
func Record(dir string, m Made) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, madeFile+".new")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, madeFile)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}
