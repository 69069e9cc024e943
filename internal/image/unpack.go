package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Unpack policy, for layers that may be hostile:
//   - names: a leading "/" is dropped (still inside the layer, as Docker
//     does); any ".." component refuses the layer; so does a path longer
//     than 4096 bytes or one whose parent is a symlink or a file.
//   - symlinks are stored verbatim, whatever they point at: they are
//     resolved inside the container, and berth never follows one here.
//   - hardlinks must name a file already unpacked in the same layer
//     (a leading "/" is dropped as for names; ".." refuses the layer).
//   - whiteouts become overlay's: .wh.NAME a 0:0 character device NAME,
//     .wh..wh..opq the xattr trusted.overlay.opaque=y on its directory;
//     other .wh..wh.* (aufs bookkeeping) are skipped.
//   - character and block devices are dropped and counted: /dev is a
//     tmpfs in a container, and a disk's node has no business in a layer.
//     FIFOs are kept.
//   - setuid, setgid and sticky bits are kept; the store root is 0700, so
//     only root on the host can reach those files.
//   - extended attributes: user.* and security.capability are kept,
//     others dropped and counted (trusted.overlay.* would steer overlay).
//   - sparse files (GNU's old type 'S' and PAX sparse 0.0, 0.1, 1.0) stay
//     sparse: their holes are skipped, not written as zeros, so a file
//     that claims a terabyte in a few bytes of tar takes a few bytes of
//     disk. Their size is charged to the image's budget all the same.
//   - limits (limits.go): every byte of the uncompressed stream is
//     charged to the image's budget (MaxImageBytes), shared by its
//     layers; an entry claiming more bytes than remain is refused before
//     anything is written; a layer holds at most MaxLayerEntries entries.
// A refused layer leaves nothing: it is unpacked into a directory of its
// own under tmp/ that the caller removes (see ensureLayer).

// unpackStats counts what an unpack did.
type unpackStats struct {
	Bytes          int64 // of regular files
	Entries        int
	DroppedDevices int
	DroppedXattrs  int
}

// whiteoutPrefix marks a deletion in an OCI layer; opaqueName hides the
// lower layers' contents of its directory.
const (
	whiteoutPrefix = ".wh."
	opaqueName     = ".wh..wh..opq"
	opaqueXattr    = "trusted.overlay.opaque"
)

type unpacker struct {
	t     *tree
	lim   Limits
	b     *budget // the image's, also charged with the stream by the caller
	stats unpackStats
	dirs  []dirTimes
}

type dirTimes struct {
	rel string
	m   entryMeta
}

// unpack extracts the uncompressed tar stream r into dir, which must be an
// empty directory that only the caller writes to. The caller charges r's
// bytes to b (capReader); unpack charges the sparse files.
func unpack(r io.Reader, dir string, lim Limits, b *budget) (unpackStats, error) {
	t, err := openTree(dir)
	if err != nil {
		return unpackStats{}, err
	}
	defer t.close()
	// MkdirTemp made it 0700; a layer without a "./" entry gets Docker's 0755.
	if err := unix.Fchmod(t.fd, 0o755); err != nil {
		return unpackStats{}, err
	}
	u := &unpacker{t: t, lim: lim, b: b}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return u.stats, fmt.Errorf("read tar: %w", err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return u.stats, fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
	return u.stats, u.finishDirs()
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	u.stats.Entries++
	if u.stats.Entries > u.lim.LayerEntries {
		return overLimit("layer has more than %d entries, berth's limit (image.MaxLayerEntries)", u.lim.LayerEntries)
	}
	if err := u.checkSize(hdr); err != nil {
		return err
	}
	if hdr.Uid < 0 || hdr.Gid < 0 {
		return unsafef("negative owner")
	}
	rel, err := cleanPath(hdr.Name)
	if err != nil {
		return err
	}
	m := u.meta(hdr)
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return unsafef("replaces the layer root")
		}
		return u.root(m)
	}
	base := rel[strings.LastIndexByte(rel, '/')+1:]
	switch {
	case base == opaqueName:
		return u.opaque(rel)
	case strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix):
		return nil
	case strings.HasPrefix(base, whiteoutPrefix):
		return u.whiteout(rel, base)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return u.dir(rel, m)
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		return u.file(rel, m, r, hdr.Size, isSparse(hdr))
	case tar.TypeSymlink:
		return u.symlink(rel, hdr.Linkname, m)
	case tar.TypeLink:
		return u.hardlink(rel, hdr.Linkname)
	case tar.TypeFifo:
		return u.fifo(rel, m)
	case tar.TypeChar, tar.TypeBlock:
		u.stats.DroppedDevices++
		return nil
	case tar.TypeXGlobalHeader:
		return nil
	}
	return unsafef("unsupported entry type %q", hdr.Typeflag)
}

// meta takes an entry's metadata, keeping only the extended attributes
// the policy allows.
func (u *unpacker) meta(hdr *tar.Header) entryMeta {
	m := entryMeta{uid: hdr.Uid, gid: hdr.Gid, mode: uint32(hdr.Mode) & 0o7777,
		mtime: unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	m.atime = m.mtime
	if !hdr.AccessTime.IsZero() {
		m.atime = unix.NsecToTimespec(hdr.AccessTime.UnixNano())
	}
	for k, v := range hdr.PAXRecords {
		x, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		if !strings.HasPrefix(x, "user.") && x != "security.capability" {
			u.stats.DroppedXattrs++
			continue
		}
		if m.xattrs == nil {
			m.xattrs = map[string]string{}
		}
		m.xattrs[x] = v
	}
	return m
}

// at runs fn with rel's parent directory (created if missing) and base name.
func (u *unpacker) at(rel string, fn func(dirfd int, base string) error) error {
	dirfd, base, err := u.t.parent(rel, true)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	return fn(dirfd, base)
}

func (u *unpacker) root(m entryMeta) error {
	if err := m.apply(u.t.fd); err != nil {
		return err
	}
	u.dirs = append(u.dirs, dirTimes{"", m})
	return nil
}

func (u *unpacker) dir(rel string, m entryMeta) error {
	u.dirs = append(u.dirs, dirTimes{rel, m})
	return u.at(rel, func(dirfd int, base string) error {
		var st unix.Stat_t
		err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
		replacesWhiteout := err == nil && isWhiteout(&st)
		if err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := removeAt(dirfd, base); err != nil {
				return err
			}
		}
		fd, err := openDirAt(dirfd, base, true)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if replacesWhiteout {
			// The layer deleted the directory below and made a new one:
			// the lower contents must stay hidden.
			if err := unix.Fsetxattr(fd, opaqueXattr, []byte("y"), 0); err != nil {
				return fmt.Errorf("mark %s opaque: %w", rel, err)
			}
		}
		return m.apply(fd)
	})
}

// checkSize charges a sparse file's size to the image's budget, since its
// holes are not in the stream, and refuses any other entry that could not
// fit before it is created; its bytes are charged as they are read.
func (u *unpacker) checkSize(hdr *tar.Header) error {
	switch {
	case hdr.Size < 0:
		return unsafef("negative size")
	case isSparse(hdr):
		if err := u.b.charge(hdr.Size); err != nil {
			return fmt.Errorf("sparse file of %s: %w", sizeString(hdr.Size), err)
		}
	case !u.b.fits(hdr.Size):
		return fmt.Errorf("file of %s: %w", sizeString(hdr.Size), u.b.exceeded())
	}
	return nil
}

// isSparse reports whether hdr is a sparse file, in any of GNU's formats;
// tar.Reader expands them, holes as zeros.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

func (u *unpacker) file(rel string, m entryMeta, r io.Reader, size int64, sparse bool) error {
	u.stats.Bytes += size
	return u.at(rel, func(dirfd int, base string) error {
		if err := removeAt(dirfd, base); err != nil {
			return err
		}
		fd, err := unix.Openat(dirfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		f := os.NewFile(uintptr(fd), base)
		defer f.Close()
		var n int64
		if sparse {
			n, err = copySparse(f, r)
		} else {
			n, err = io.Copy(f, r)
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if n != size {
			return fmt.Errorf("short file: %d of %d bytes", n, size)
		}
		if err := m.apply(fd); err != nil {
			return err
		}
		return m.setTimes(dirfd, base)
	})
}

// holeBlock is the unit copySparse skips when it is all zeros: the
// filesystem block of ext4, xfs, btrfs and tmpfs.
const holeBlock = 4096

var zeroBlock [holeBlock]byte

// copySparse copies r to the new, empty file f, leaving a hole wherever a
// block of r is all zeros, then sets the file's size: the holes of a
// sparse tar entry, which tar.Reader hands out as zeros, take no disk.
func copySparse(f *os.File, r io.Reader) (int64, error) {
	buf := make([]byte, 64<<10)
	var off int64
	for {
		n, rerr := r.Read(buf)
		for b := 0; b < n; b += holeBlock {
			chunk := buf[b:min(b+holeBlock, n)]
			if bytes.Equal(chunk, zeroBlock[:len(chunk)]) {
				continue
			}
			if _, err := f.WriteAt(chunk, off+int64(b)); err != nil {
				return off, err
			}
		}
		off += int64(n)
		if rerr == io.EOF {
			return off, f.Truncate(off)
		}
		if rerr != nil {
			return off, rerr
		}
	}
}

func (u *unpacker) symlink(rel, target string, m entryMeta) error {
	return u.at(rel, func(dirfd int, base string) error {
		if err := removeAt(dirfd, base); err != nil {
			return err
		}
		if err := unix.Symlinkat(target, dirfd, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
		if err := m.applyAt(dirfd, base, true); err != nil {
			return err
		}
		return m.setTimes(dirfd, base)
	})
}

// hardlink links rel to a file unpacked earlier in this layer.
func (u *unpacker) hardlink(rel, target string) error {
	trel, err := cleanPath(target)
	if err != nil {
		return err
	}
	if trel == "" {
		return unsafef("hardlink to the layer root")
	}
	if trel == rel {
		return nil
	}
	tdir, tbase, err := u.t.parent(trel, false)
	if err != nil {
		return unsafef("hardlink to %q, not in this layer (%v)", target, err)
	}
	defer unix.Close(tdir)
	var st unix.Stat_t
	if err := unix.Fstatat(tdir, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return unsafef("hardlink to %q, not in this layer", target)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unsafef("hardlink to directory %q", target)
	}
	return u.at(rel, func(dirfd int, base string) error {
		if err := removeAt(dirfd, base); err != nil {
			return err
		}
		// Flags 0: a link to a symlink links the symlink, never its target.
		if err := unix.Linkat(tdir, tbase, dirfd, base, 0); err != nil {
			return fmt.Errorf("hardlink to %q: %w", target, err)
		}
		return nil
	})
}

func (u *unpacker) fifo(rel string, m entryMeta) error {
	return u.at(rel, func(dirfd int, base string) error {
		if err := removeAt(dirfd, base); err != nil {
			return err
		}
		if err := unix.Mknodat(dirfd, base, unix.S_IFIFO|0o600, 0); err != nil {
			return fmt.Errorf("mkfifo: %w", err)
		}
		if err := m.applyAt(dirfd, base, false); err != nil {
			return err
		}
		return m.setTimes(dirfd, base)
	})
}

// whiteout turns .wh.NAME into overlay's whiteout for NAME.
func (u *unpacker) whiteout(rel, base string) error {
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return unsafef("whiteout of %q", name)
	}
	target := strings.TrimSuffix(rel, base) + name
	return u.at(target, func(dirfd int, base string) error {
		if err := removeAt(dirfd, base); err != nil {
			return err
		}
		if err := unix.Mknodat(dirfd, base, unix.S_IFCHR|0o600, 0); err != nil {
			return fmt.Errorf("make whiteout: %w", err)
		}
		return nil
	})
}

// opaque marks rel's directory as hiding the lower layers' contents.
func (u *unpacker) opaque(rel string) error {
	return u.at(rel, func(dirfd int, _ string) error {
		if err := unix.Fsetxattr(dirfd, opaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("mark opaque: %w", err)
		}
		return nil
	})
}

// finishDirs sets directory times last, since creating their entries
// changed them. A directory a later entry removed is passed over.
func (u *unpacker) finishDirs() error {
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		if d.rel == "" {
			if err := unix.UtimesNanoAt(u.t.fd, ".", []unix.Timespec{d.m.atime, d.m.mtime}, 0); err != nil {
				return err
			}
			continue
		}
		dirfd, base, err := u.t.parent(d.rel, false)
		if err != nil {
			if errors.Is(err, ErrUnsafeLayer) || errors.Is(err, unix.ENOENT) {
				continue
			}
			return err
		}
		err = d.m.setTimes(dirfd, base)
		unix.Close(dirfd)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	return nil
}
