package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Materialize copies the layers of the image ref resolves to into dst,
// bottom first, applying whiteouts and opaque directories, for when
// overlay cannot be used. dst must be missing or empty. Hardlinks within
// a layer stay hardlinks; nothing is written outside dst, whatever the
// layers hold (no symlink is followed).
func (s *Store) Materialize(ref, dst string) error {
	return s.MaterializeShifted(ref, dst, nil)
}

// Shift gives the owner a file of the image (uid, gid) has in a copy.
type Shift func(uid, gid uint32) (uint32, uint32)

// MaterializeShifted is Materialize with every owner passed through shift
// (nil: kept), in the same pass: the chowned copy that a user namespace's
// container uses where its layers cannot be idmapped. Setuid and setgid
// bits and file capabilities, which a chown clears, are set after it.
func (s *Store) MaterializeShifted(ref, dst string, shift Shift) error {
	release, err := s.Hold()
	if err != nil {
		return err
	}
	defer release()
	dirs, err := s.LowerDirs(ref)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("materialize %s: %w", ref, err)
	}
	if ents, err := os.ReadDir(dst); err != nil || len(ents) > 0 {
		return fmt.Errorf("materialize %s: %s is not an empty directory", ref, dst)
	}
	t, err := openTree(dst)
	if err != nil {
		return err
	}
	defer t.close()
	c := &copier{t: t, shift: shift}
	for i := len(dirs) - 1; i >= 0; i-- {
		c.links = map[uint64]string{}
		if err := filepath.WalkDir(dirs[i], func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := c.entry(dirs[i], p); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("materialize %s: %w", ref, err)
		}
	}
	return c.finishDirs()
}

// copier applies unpacked layers, one after another, onto a tree.
type copier struct {
	t     *tree
	links map[uint64]string // inode → first path copied, in this layer
	dirs  []dirTimes
	shift Shift
}

func (c *copier) entry(layer, p string) error {
	rel, err := filepath.Rel(layer, p)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	m := entryMeta{uid: int(st.Uid), gid: int(st.Gid), mode: st.Mode & 0o7777,
		atime: st.Atim, mtime: st.Mtim, xattrs: readXattrs(p)}
	if c.shift != nil {
		uid, gid := c.shift(st.Uid, st.Gid)
		m.uid, m.gid = int(uid), int(gid)
	}
	if rel == "." {
		return c.root(p, m)
	}
	if isWhiteout(&st) {
		return c.whiteout(rel)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return c.dir(p, rel, m)
	case unix.S_IFREG:
		return c.file(p, rel, m, &st)
	case unix.S_IFLNK:
		return c.symlink(p, rel, m)
	case unix.S_IFIFO:
		return c.at(rel, func(dirfd int, base string) error {
			if err := unix.Mknodat(dirfd, base, unix.S_IFIFO|0o600, 0); err != nil {
				return err
			}
			if err := m.applyAt(dirfd, base, false); err != nil {
				return err
			}
			return m.setTimes(dirfd, base)
		})
	}
	return nil // sockets and devices are never in a layer (see unpack)
}

// at runs fn in rel's parent with rel's old entry removed.
func (c *copier) at(rel string, fn func(dirfd int, base string) error) error {
	dirfd, base, err := c.t.parent(rel, true)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	if err := removeAt(dirfd, base); err != nil {
		return err
	}
	return fn(dirfd, base)
}

func (c *copier) root(p string, m entryMeta) error {
	if isOpaque(p) {
		if err := clearDir(c.t.fd, "."); err != nil {
			return err
		}
	}
	c.dirs = append(c.dirs, dirTimes{"", m})
	return m.apply(c.t.fd)
}

func (c *copier) whiteout(rel string) error {
	dirfd, base, err := c.t.parent(rel, false)
	if errors.Is(err, unix.ENOENT) {
		return nil // nothing below to hide
	}
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	return removeAt(dirfd, base)
}

func (c *copier) dir(p, rel string, m entryMeta) error {
	dirfd, base, err := c.t.parent(rel, true)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	var st unix.Stat_t
	if unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := removeAt(dirfd, base); err != nil {
			return err
		}
	}
	if isOpaque(p) {
		// The walk visits a directory before its contents: clearing it
		// now removes only what lower layers put there.
		if err := clearDir(dirfd, base); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	fd, err := openDirAt(dirfd, base, true)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	c.dirs = append(c.dirs, dirTimes{rel, m})
	return m.apply(fd)
}

func (c *copier) file(p, rel string, m entryMeta, st *unix.Stat_t) error {
	if first, ok := c.links[st.Ino]; ok && st.Nlink > 1 {
		return c.hardlink(first, rel)
	}
	if st.Nlink > 1 {
		c.links[st.Ino] = rel
	}
	src, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	return c.at(rel, func(dirfd int, base string) error {
		fd, err := unix.Openat(dirfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), base)
		defer f.Close()
		if st.Blocks*512 < st.Size {
			err = copyData(f, src, st.Size)
		} else {
			_, err = io.Copy(f, src)
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", rel, err)
		}
		if err := m.apply(fd); err != nil {
			return err
		}
		return m.setTimes(dirfd, base)
	})
}

// copyData copies the sparse file src of size bytes into the new file
// dst, extent by extent of data (SEEK_DATA, SEEK_HOLE), so that its holes
// stay holes: copy_file_range over the whole file writes them as zeros.
func copyData(dst, src *os.File, size int64) error {
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	for off := int64(0); off < size; {
		data, err := unix.Seek(sfd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break // a hole to the end
		}
		if err != nil {
			return err
		}
		hole, err := unix.Seek(sfd, data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		for roff, woff := data, data; roff < hole; {
			n, err := unix.CopyFileRange(sfd, &roff, dfd, &woff, int(hole-roff), 0)
			if err == unix.EXDEV || err == unix.ENOSYS || err == unix.EOPNOTSUPP || err == unix.EINVAL {
				// Kernels before 5.3 copy within one filesystem only.
				_, err = io.Copy(io.NewOffsetWriter(dst, woff), io.NewSectionReader(src, roff, hole-roff))
				if err != nil {
					return err
				}
				break
			}
			if err != nil {
				return err
			}
			if n == 0 {
				return io.ErrUnexpectedEOF
			}
		}
		off = hole
	}
	return dst.Truncate(size)
}

func (c *copier) hardlink(first, rel string) error {
	tdir, tbase, err := c.t.parent(first, false)
	if err != nil {
		return err
	}
	defer unix.Close(tdir)
	return c.at(rel, func(dirfd int, base string) error {
		return unix.Linkat(tdir, tbase, dirfd, base, 0)
	})
}

func (c *copier) symlink(p, rel string, m entryMeta) error {
	target, err := os.Readlink(p)
	if err != nil {
		return err
	}
	return c.at(rel, func(dirfd int, base string) error {
		if err := unix.Symlinkat(target, dirfd, base); err != nil {
			return err
		}
		if err := m.applyAt(dirfd, base, true); err != nil {
			return err
		}
		return m.setTimes(dirfd, base)
	})
}

func (c *copier) finishDirs() error {
	u := unpacker{t: c.t, dirs: c.dirs}
	return u.finishDirs()
}

func isOpaque(p string) bool {
	var b [1]byte
	n, err := unix.Lgetxattr(p, opaqueXattr, b[:])
	return err == nil && n == 1 && b[0] == 'y'
}

// readXattrs reads the extended attributes that unpack keeps.
func readXattrs(p string) map[string]string {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil || sz == 0 {
		return nil
	}
	buf := make([]byte, sz)
	if sz, err = unix.Llistxattr(p, buf); err != nil {
		return nil
	}
	var m map[string]string
	for _, k := range strings.Split(string(bytes.TrimRight(buf[:sz], "\x00")), "\x00") {
		if !strings.HasPrefix(k, "user.") && k != "security.capability" {
			continue
		}
		v := make([]byte, 64<<10)
		n, err := unix.Lgetxattr(p, k, v)
		if err != nil {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[k] = string(v[:n])
	}
	return m
}
