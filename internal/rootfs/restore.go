package rootfs

import (
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// CreateMountpoints makes the destinations of mounts inside the directory
// root, as Prepare makes them before it mounts, for a restore: CRIU
// mounts the checkpointed tree itself but needs every mountpoint to
// exist, and a restore may get a fresh root (podman's `restore --import`
// has no /run/.containerenv). runc compat: runc's restore does the same.
// Nothing is made below a tmpfs of the list, whose contents CRIU
// restores, nor for a cgroup mount, whose mountpoint comes with /sys.
func CreateMountpoints(root string, mounts []Mount) error {
	dir, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer dir.Close()
	for _, m := range mounts {
		if m.Type == "cgroup" || m.Type == "cgroup2" || underTmpfs(m.Destination, mounts) {
			continue
		}
		if err := createMountpoint(dir, m); err != nil {
			return fmt.Errorf("mountpoint %s: %w", m.Destination, err)
		}
	}
	return nil
}

// createMountpoint makes m's destination in root, or, for copy-symlink,
// the symlink a start would make in its place.
func createMountpoint(root *os.File, m Mount) error {
	if m.CopySymlink {
		if done, err := copySymlink(root, m); done || err != nil {
			return err
		}
	}
	target, err := mountTarget(root, m)
	if err != nil {
		return err
	}
	return target.Close()
}

// underTmpfs reports whether dest lies strictly below the destination of
// a tmpfs in mounts.
func underTmpfs(dest string, mounts []Mount) bool {
	dest = path.Clean("/" + dest)
	for _, m := range mounts {
		if m.Type != "tmpfs" || m.IsBind() {
			continue
		}
		t := path.Clean("/" + m.Destination)
		if t != dest && strings.HasPrefix(dest, strings.TrimSuffix(t, "/")+"/") {
			return true
		}
	}
	return false
}
