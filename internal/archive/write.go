package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// WriteOptions says how Write walks a tree.
type WriteOptions struct {
	// Follow follows a symlink as the source's last component (cp -L);
	// symlinks below it are always written as symlinks.
	Follow bool
	// Maps names owners in the headers as the container sees them.
	Maps IDMaps
	// OneMount stays on the source's own mount: what is mounted below it
	// (/proc, volumes, bind-mounted files) is left out, as docker export
	// leaves it out; a directory that is a mount point is written empty.
	OneMount bool
}

// Write writes src, a path in root, to w as a tar stream: the source
// itself as name, and what a directory holds as name/REL; an empty name
// writes only what a directory holds.
func Write(w io.Writer, root Root, src, name string, o WriteOptions) error {
	f, err := root.open(src, unix.O_PATH, o.Follow)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(w)
	wr := &writer{tw: tw, o: o, links: map[[2]uint64]string{}}
	if o.OneMount {
		if wr.mnt, err = mountID(f); err != nil {
			return err
		}
	}
	if err := wr.entry(f, name); err != nil {
		return err
	}
	return tw.Close()
}

type writer struct {
	tw    *tar.Writer
	o     WriteOptions
	links map[[2]uint64]string // dev, inode -> the name first written
	mnt   uint64
}

// entry writes one file, held by its O_PATH descriptor f, as name.
func (wr *writer) entry(f *os.File, name string) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	other := false
	if wr.o.OneMount {
		id, err := mountID(f)
		if err != nil {
			return err
		}
		other = id != wr.mnt
		if other && !isDir {
			return nil
		}
	}
	if name != "" {
		hdr, err := wr.header(f, name, &st)
		if err != nil {
			return err
		}
		if err := wr.tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			if err := wr.contents(f, name, hdr.Size); err != nil {
				return err
			}
		}
	}
	if isDir && !other {
		return wr.children(f, name)
	}
	return nil
}

// header is f's tar header.
func (wr *writer) header(f *os.File, name string, st *unix.Stat_t) (*tar.Header, error) {
	uid, gid := wr.o.Maps.toContainer(int(st.Uid), int(st.Gid))
	hdr := &tar.Header{Name: name, Mode: int64(st.Mode & 0o7777), Uid: uid, Gid: gid,
		ModTime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec), Format: tar.FormatPAX}
	key := [2]uint64{st.Dev, st.Ino}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		return hdr, nil
	case unix.S_IFREG:
		if first, ok := wr.links[key]; ok && st.Nlink > 1 {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			return hdr, nil
		}
		if st.Nlink > 1 {
			wr.links[key] = name
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		if caps := fileCaps(f); caps != nil {
			hdr.PAXRecords = map[string]string{paxCaps: string(caps)}
		}
	case unix.S_IFLNK:
		target, err := readlinkFD(f)
		if err != nil {
			return nil, fmt.Errorf("readlink %s: %w", name, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil, fmt.Errorf("%s: a socket cannot be archived", name)
	}
	return hdr, nil
}

// contents copies a regular file's size bytes, reopened for reading from
// its O_PATH descriptor (the same inode, whatever its name is now).
func (wr *writer) contents(f *os.File, name string, size int64) error {
	r, err := reopen(f, unix.O_RDONLY)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer r.Close()
	// A file that shrank since its stat is padded by tar's writer
	// failing: copy exactly size bytes or fail.
	if _, err := io.CopyN(wr.tw, r, size); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// children writes what directory f holds, sorted by name.
func (wr *writer) children(f *os.File, name string) error {
	d, err := reopen(f, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", name, err)
	}
	sort.Strings(names)
	for _, n := range names {
		fd, err := unix.Openat(int(d.Fd()), n, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOENT {
			continue // removed since the directory was read
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", path.Join(name, n), err)
		}
		child := os.NewFile(uintptr(fd), n)
		err = wr.entry(child, joinName(name, n))
		child.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func joinName(dir, n string) string {
	if dir == "" {
		return n
	}
	return dir + "/" + n
}

// reopen opens the file an O_PATH descriptor holds, through its magic
// link in the host's /proc: that names this inode and no other.
func reopen(f *os.File, flags int) (*os.File, error) {
	return os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), flags|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
}

// readlinkFD reads the symlink an O_PATH|O_NOFOLLOW descriptor holds.
func readlinkFD(f *os.File) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(int(f.Fd()), "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// mountID is the ID of the mount f is on.
func mountID(f *os.File) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, fmt.Errorf("statx %s: %w", f.Name(), err)
	}
	return stx.Mnt_id, nil
}

// paxCaps is the PAX record of a file's capabilities, the one extended
// attribute docker's archives carry (ping's cap_net_raw and the like).
const paxCaps = "SCHILY.xattr.security.capability"

// fileCaps is f's security.capability, nil if it has none.
func fileCaps(f *os.File) []byte {
	p := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	buf := make([]byte, 64)
	n, err := unix.Getxattr(p, "security.capability", buf)
	if err != nil || n <= 0 {
		return nil
	}
	return buf[:n]
}
