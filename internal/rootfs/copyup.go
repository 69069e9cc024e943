package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// mountCopyUp mounts a tmpfs whose first contents are a copy of what the
// rootfs has at its destination (tmpcopyup, as runc and crun do it;
// podman asks for it on /run, /tmp and /var/tmp of a --read-only
// container). The directory beneath is opened before the tmpfs covers
// it, and copied from that descriptor: no temporary mount point is
// needed.
func mountCopyUp(root *os.File, m Mount, target *os.File) error {
	below, err := unix.Openat(int(target.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s before covering it: %w", m.Destination, err)
	}
	defer unix.Close(below)
	flags := m.Flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	if err := unix.Mount(m.Source, fdName(target), m.Type, flags&^unix.MS_RDONLY, m.Data); err != nil {
		if errors.Is(err, unix.EINVAL) {
			if why := explainData(m); why != nil {
				return why
			}
		}
		return err
	}
	mounted, err := openInRoot(root, m.Destination)
	if err != nil {
		return err
	}
	defer mounted.Close()
	top, err := unix.Openat(int(mounted.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	err = copyTree(below, top)
	unix.Close(top)
	if err != nil {
		return fmt.Errorf("tmpcopyup: %w", err)
	}
	if flags&unix.MS_RDONLY != 0 {
		return unix.Mount("", fdName(mounted), "", unix.MS_REMOUNT|flags, m.Data)
	}
	return nil
}

// copyTree copies the contents of directory src into directory dst:
// files, directories, symlinks (as links) and device nodes, with their
// owners, modes and times. Names come from the directory itself and
// every lookup is relative to an open directory without following
// symlinks, so an image's links cannot lead the copy outside it.
func copyTree(src, dst int) error {
	// The caller owns src: read the names through a duplicate.
	dup, err := unix.FcntlInt(uintptr(src), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dup), "copyup")
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := copyEntry(src, dst, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func copyEntry(src, dst int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := copyDir(src, dst, name); err != nil {
			return err
		}
	case unix.S_IFREG:
		if err := copyFile(src, dst, name); err != nil {
			return err
		}
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(src, name, buf)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(string(buf[:n]), dst, name); err != nil {
			return err
		}
	default:
		if err := unix.Mknodat(dst, name, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	}
	if err := unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// After chown, which clears the set-id bits.
		if err := unix.Fchmodat(dst, name, st.Mode&0o7777, 0); err != nil {
			return err
		}
	}
	times := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(dst, name, times, unix.AT_SYMLINK_NOFOLLOW)
}

func copyDir(src, dst int, name string) error {
	if err := unix.Mkdirat(dst, name, 0o700); err != nil {
		return err
	}
	from, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(from)
	to, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(to)
	return copyTree(from, to)
}

func copyFile(src, dst int, name string) error {
	from, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	in := os.NewFile(uintptr(from), name)
	defer in.Close()
	to, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(to), name)
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
