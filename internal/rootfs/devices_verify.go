package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"

	"github.com/berth-runtime/berth/internal/procfs"
	"golang.org/x/sys/unix"
)

// ErrWrongDevice is returned when a file berth mounts or opens for the
// container (its /dev/null, /dev/pts/ptmx, the pty behind /dev/console)
// is not the device it must be: a symlink, regular file or other device
// put in its place by the config, the image or a racing container.
var ErrWrongDevice = errors.New("unsafe device")

// Device numbers and the devpts layout (linux/major.h, fs/devpts/inode.c).
const (
	nullMajor, nullMinor = 1, 3
	ptmxMajor, ptmxMinor = 5, 2
	ptmxIno              = 2 // devpts creates ptmx second, after its root
	ptySlaveMajor        = 136
	ptySlaveMajors       = 8 // UNIX98_PTY_MAJOR_COUNT
)

// ownPtmx is the ptmx of the devpts that Prepare mounted at /dev/pts, held
// from the moment of the mount: a pty is allocated from exactly that
// instance, whatever is at /dev/pts by the time the terminal is set up.
// It is nil when the config mounts no devpts there, or covers it later.
var ownPtmx *os.File

// openDevNull opens the container's /dev/null, resolved inside root, as
// an O_PATH handle and checks that it is the null device.
func openDevNull(root *os.File) (*os.File, error) {
	f, err := openInRoot(root, "/dev/null")
	if err != nil {
		return nil, fmt.Errorf("open /dev/null: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("stat /dev/null: %w", err)
	}
	if !isCharDevice(&st, nullMajor, nullMinor) {
		f.Close()
		return nil, fmt.Errorf("%w: /dev/null in the container is %s, not the null device (character 1:3); the config's devices, mounts or hooks replaced it", ErrWrongDevice, describe(&st))
	}
	return f, nil
}

// OpenDevNull opens the container's /dev/null with flags, after checking
// that it is the null device.
func OpenDevNull(flags int) (*os.File, error) {
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root: %w", err)
	}
	defer root.Close()
	f, err := openDevNull(root)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return procfs.Reopen(f, flags)
}

func isCharDevice(st *unix.Stat_t, major, minor uint32) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && uint64(st.Rdev) == unix.Mkdev(major, minor)
}

// describe says what kind of file st is, for error messages.
func describe(st *unix.Stat_t) string {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFBLK:
		return fmt.Sprintf("block device %d:%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)))
	case unix.S_IFCHR:
		return fmt.Sprintf("character device %d:%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)))
	}
	return "an unknown kind of file"
}

// checkPtmx checks that f is the ptmx of a devpts instance.
func checkPtmx(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat /dev/pts/ptmx: %w", err)
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &fs); err != nil {
		return fmt.Errorf("statfs /dev/pts/ptmx: %w", err)
	}
	if fs.Type != unix.DEVPTS_SUPER_MAGIC {
		return fmt.Errorf("%w: /dev/pts/ptmx in the container is %s on file system type %#x, not on devpts; a terminal needs a devpts mounted at /dev/pts", ErrWrongDevice, describe(&st), fs.Type)
	}
	if !isCharDevice(&st, ptmxMajor, ptmxMinor) || st.Ino != ptmxIno {
		return fmt.Errorf("%w: /dev/pts/ptmx in the container is %s (inode %d), not devpts's ptmx (character 5:2)", ErrWrongDevice, describe(&st), st.Ino)
	}
	return nil
}

// pinDevpts records the ptmx of a devpts just mounted at /dev/pts, or
// forgets the one recorded when a later mount covers it.
func pinDevpts(root *os.File, m Mount) error {
	dst := path.Clean("/" + m.Destination)
	if dst != "/dev/pts" && dst != "/dev" && dst != "/" {
		return nil
	}
	if ownPtmx != nil {
		ownPtmx.Close()
		ownPtmx = nil
	}
	if dst != "/dev/pts" || m.Type != "devpts" {
		return nil
	}
	pts, err := openInRoot(root, dst)
	if err != nil {
		return fmt.Errorf("open /dev/pts: %w", err)
	}
	defer pts.Close()
	fd, err := unix.Openat(int(pts.Fd()), "ptmx", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/pts/ptmx: %w", err)
	}
	f := os.NewFile(uintptr(fd), "/dev/pts/ptmx")
	if err := checkPtmx(f); err != nil {
		f.Close()
		return err
	}
	ownPtmx = f
	return nil
}

// OpenPtmx opens a new pty master from the container's devpts: the
// instance Prepare mounted at /dev/pts when there is one, else the ptmx at
// /dev/pts/ptmx of the current root (berth exec joins a running
// container), never /dev/ptmx, which anything may replace with a symlink
// to another instance. The ptmx is checked before it is opened, through
// the verified procfs.
func OpenPtmx() (*os.File, error) {
	ptmx := ownPtmx
	if ptmx == nil {
		root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open root: %w", err)
		}
		defer root.Close()
		pts, err := openInRoot(root, "/dev/pts")
		if err != nil {
			return nil, fmt.Errorf("open /dev/pts: %w", err)
		}
		defer pts.Close()
		fd, err := unix.Openat(int(pts.Fd()), "ptmx", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open /dev/pts/ptmx: %w", err)
		}
		ptmx = os.NewFile(uintptr(fd), "/dev/pts/ptmx")
		defer ptmx.Close()
		if err := checkPtmx(ptmx); err != nil {
			return nil, err
		}
	}
	return procfs.Reopen(ptmx, unix.O_RDWR|unix.O_NOCTTY)
}

// CheckPtyPeer checks that slave is the slave side of a pty of the same
// devpts instance as master.
func CheckPtyPeer(master, slave *os.File) error {
	var mst, sst unix.Stat_t
	if err := unix.Fstat(int(master.Fd()), &mst); err != nil {
		return fmt.Errorf("stat pty master: %w", err)
	}
	if err := unix.Fstat(int(slave.Fd()), &sst); err != nil {
		return fmt.Errorf("stat pty slave: %w", err)
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(slave.Fd()), &fs); err != nil {
		return fmt.Errorf("statfs pty slave: %w", err)
	}
	major := unix.Major(uint64(sst.Rdev))
	if fs.Type != unix.DEVPTS_SUPER_MAGIC || sst.Mode&unix.S_IFMT != unix.S_IFCHR ||
		major < ptySlaveMajor || major >= ptySlaveMajor+ptySlaveMajors || sst.Dev != mst.Dev {
		return fmt.Errorf("%w: the pty slave is %s on file system type %#x, not a pty of the container's devpts", ErrWrongDevice, describe(&sst), fs.Type)
	}
	return nil
}

// BindConsole bind-mounts the pty slave on /dev/console. The target is
// resolved inside the current root and must be a file or device, not a
// symlink; both ends are named by descriptor (CVE-2025-52565).
func BindConsole(slave *os.File) error {
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open root: %w", err)
	}
	defer root.Close()
	target, err := consoleTarget(root)
	if err != nil {
		return fmt.Errorf("/dev/console: %w", err)
	}
	defer target.Close()
	return procfs.InFdDir(func() error {
		if err := unix.Mount(fdName(slave), fdName(target), "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind the pty on /dev/console: %w", err)
		}
		return nil
	})
}

// consoleTarget returns an O_PATH handle of /dev/console, created as an
// empty file if missing.
func consoleTarget(root *os.File) (*os.File, error) {
	dev, err := mkdirInRoot(root, "/dev")
	if err != nil {
		return nil, err
	}
	defer dev.Close()
	fd, err := unix.Openat(int(dev.Fd()), "console", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err == nil {
		unix.Close(fd)
	} else if !errors.Is(err, unix.EEXIST) {
		return nil, err
	}
	fd, err = unix.Openat(int(dev.Fd()), "console", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "/dev/console")
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, err
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFCHR {
		f.Close()
		return nil, fmt.Errorf("%w: it is %s, not a file or device to mount the pty on", ErrWrongDevice, describe(&st))
	}
	return f, nil
}
