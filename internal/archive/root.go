// Package archive copies files between a container's root filesystem and
// the host as tar streams (berth cp, export) and lists a container's
// changes (berth diff). Every path inside a container is resolved inside
// its root by openat2(RESOLVE_IN_ROOT) from a descriptor of that root,
// and every file is then reached from the descriptor of its directory
// with O_NOFOLLOW: a symlink the container made (/tmp/x -> /etc/shadow,
// ../../..) resolves inside the container, never to a host file, even if
// the container swaps it while berth copies (CVE-2018-15664).
package archive

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Root is a directory tree that paths are resolved in.
type Root struct {
	// F is the tree's root directory.
	F *os.File
	// Contained: paths resolve inside F as if it were "/" (a
	// container's root). Otherwise (the host) they resolve as the host's,
	// relative to F, and what a tar stream writes stays beneath the
	// destination directory.
	Contained bool
}

// HostRoot is the host's file system, for paths the user names: an
// absolute one as it is, a relative one from the working directory.
func HostRoot() (Root, error) {
	f, err := os.OpenFile(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Root{}, fmt.Errorf("open the working directory: %w", err)
	}
	return Root{F: f}, nil
}

// resolveFlags are openat2's for paths in a root.
func (r Root) resolveFlags() uint64 {
	if r.Contained {
		return unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS
	}
	return 0
}

// rel is p as openat2 takes it from the root's descriptor.
func (r Root) rel(p string) string {
	if r.Contained {
		p = path.Clean("/" + p)
		if p == "/" {
			return "."
		}
		return p[1:]
	}
	return p
}

// open opens p in the root; follow says whether a symlink as p's last
// component is followed (inside the root).
func (r Root) open(p string, flags int, follow bool) (*os.File, error) {
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: r.resolveFlags()}
	for {
		fd, err := unix.Openat2(int(r.F.Fd()), r.rel(p), &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: p, Err: err}
		}
		return os.NewFile(uintptr(fd), p), nil
	}
}

// Info is what a path in a root is.
type Info struct {
	Exists bool
	Dir    bool
	Stat   unix.Stat_t
}

// Stat says what p is in the root, following a symlink as its last
// component if follow.
func (r Root) Stat(p string, follow bool) (Info, error) {
	f, err := r.open(p, unix.O_PATH, follow)
	if errors.Is(err, unix.ENOENT) {
		return Info{}, nil
	}
	if err != nil {
		// O_PATH|O_NOFOLLOW opens a symlink itself, so ELOOP means a
		// loop in a directory above it.
		return Info{}, err
	}
	defer f.Close()
	var info Info
	if err := unix.Fstat(int(f.Fd()), &info.Stat); err != nil {
		return Info{}, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	info.Exists = true
	info.Dir = info.Stat.Mode&unix.S_IFMT == unix.S_IFDIR
	return info, nil
}

// splitParent splits p into its parent directory and last component;
// a trailing "/" or "/." is kept out of the name.
func splitParent(p string) (dir, name string) {
	dir, name = path.Split(path.Clean(p))
	if dir == "" {
		dir = "."
	}
	return dir, name
}

// followLink is p, or where p leads if it is a symlink: its target, read
// (a relative one from p's directory), to be resolved in the root again.
func (r Root) followLink(p string) (string, error) {
	if strings.HasSuffix(p, "/") {
		return p, nil
	}
	f, err := r.open(p, unix.O_PATH, false)
	if err != nil {
		return p, nil // missing: Stat says so
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return p, nil
	}
	target, err := readlinkFD(f)
	if err != nil {
		return "", &os.PathError{Op: "readlink", Path: p, Err: err}
	}
	if !path.IsAbs(target) {
		dir, _ := splitParent(p)
		target = path.Join(dir, target)
	}
	return target, nil
}

// ReadHead reads at most max bytes from the start of p, a regular file
// in the root (a symlink as its last component followed inside the root):
// the magic numbers of a build's ADD source, or /etc/passwd for --chown.
func (r Root) ReadHead(p string, max int) ([]byte, error) {
	f, err := r.open(p, unix.O_RDONLY|unix.O_NONBLOCK, true)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &os.PathError{Op: "read", Path: p, Err: unix.EINVAL}
	}
	buf := make([]byte, max)
	n, err := io.ReadFull(f, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return buf[:n], err
}
