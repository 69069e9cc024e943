package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"

	"golang.org/x/sys/unix"
)

// ExtractOptions says whose files Extract makes.
type ExtractOptions struct {
	// Owner, if set, owns every file made (host IDs): the container's
	// root, for cp into a container without -a.
	Owner *[2]int
	// KeepOwners gives files the owners their headers name, mapped
	// through Maps (cp -a). Without it or Owner, files belong to whoever
	// runs berth, as docker cp's do on the host.
	KeepOwners bool
	Maps       IDMaps
}

// Extract writes the tar stream r into dir, a directory in root. In a
// contained root every entry's path, and every symlink on it, resolves
// inside the root; on the host, entries must stay beneath dir: a stream
// whose symlink leads out of dir fails rather than writing there.
func Extract(r io.Reader, root Root, dir string, o ExtractOptions) error {
	t, err := newTree(root, dir)
	if err != nil {
		return err
	}
	if t.implicitOwner, err = implicitOwner(o); err != nil {
		return err
	}
	defer t.base.Close()
	tr := tar.NewReader(r)
	var dirs []dirTimes
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read the tar stream: %w", err)
		}
		name := cleanName(hdr.Name)
		if name == "" {
			continue // the destination itself
		}
		if err := t.extract(tr, hdr, name, o); err != nil {
			return fmt.Errorf("extract %s: %w", name, err)
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTimes{name, hdr})
		}
	}
	// A directory's times are set last: what was made in it changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		if f, err := t.open(dirs[i].name, unix.O_PATH|unix.O_DIRECTORY, false); err == nil {
			_ = setTimes(f, dirs[i].hdr)
			f.Close()
		}
	}
	return nil
}

type dirTimes struct {
	name string
	hdr  *tar.Header
}

// tree is where entries are made: a descriptor and how names resolve
// from it.
type tree struct {
	base    *os.File
	prefix  string
	resolve uint64
	// implicitOwner owns the directories a stream does not list but
	// needs (host IDs); nil: whoever runs berth.
	implicitOwner *[2]int
}

// implicitOwner is who owns the directories Extract makes unasked: the
// container's root in a container, whoever runs berth on the host.
func implicitOwner(o ExtractOptions) (*[2]int, error) {
	switch {
	case o.Owner != nil:
		return o.Owner, nil
	case o.KeepOwners:
		uid, gid, err := o.Maps.toHost(0, 0)
		return &[2]int{uid, gid}, err
	}
	return nil, nil
}

func newTree(root Root, dir string) (*tree, error) {
	if root.Contained {
		f, err := root.open(dir, unix.O_PATH|unix.O_DIRECTORY, true)
		if err != nil {
			return nil, err
		}
		f.Close()
		base, err := reopen(root.F, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return nil, err
		}
		return &tree{base: base, prefix: root.rel(dir), resolve: root.resolveFlags()}, nil
	}
	base, err := root.open(dir, unix.O_PATH|unix.O_DIRECTORY, true)
	if err != nil {
		return nil, err
	}
	return &tree{base: base, prefix: ".", resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}, nil
}

// cleanName is a header's name relative to the destination, with no way
// above it: "../x" is "x".
func cleanName(n string) string {
	c := path.Clean("/" + n)
	if c == "/" {
		return ""
	}
	return c[1:]
}

func (t *tree) open(name string, flags int, follow bool) (*os.File, error) {
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: t.resolve}
	p := path.Join(t.prefix, name)
	for {
		fd, err := unix.Openat2(int(t.base.Fd()), p, &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}

// dir opens directory name (symlinks on it followed inside the tree),
// making it and its parents if they are missing, as tar does.
func (t *tree) dir(name string) (*os.File, error) {
	f, err := t.open(name, unix.O_PATH|unix.O_DIRECTORY, true)
	if !errors.Is(err, unix.ENOENT) || name == "." {
		return f, err
	}
	parent, err := t.dir(path.Dir(name))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	err = unix.Mkdirat(int(parent.Fd()), path.Base(name), 0o755)
	if err != nil && err != unix.EEXIST {
		return nil, &os.PathError{Op: "mkdir", Path: name, Err: err}
	}
	if err == nil && t.implicitOwner != nil {
		// By name in its parent, not followed: what is there now is the
		// directory just made or a symlink a racing container put there.
		if err := unix.Fchownat(int(parent.Fd()), path.Base(name), t.implicitOwner[0], t.implicitOwner[1], unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, &os.PathError{Op: "chown", Path: name, Err: err}
		}
	}
	return t.open(name, unix.O_PATH|unix.O_DIRECTORY, true)
}

// extract makes one entry.
func (t *tree) extract(r io.Reader, hdr *tar.Header, name string, o ExtractOptions) error {
	parent, err := t.dir(path.Dir(name))
	if err != nil {
		return err
	}
	defer parent.Close()
	pfd, base := int(parent.Fd()), path.Base(name)
	uid, gid, chown, err := ownerOf(hdr, o)
	if err != nil {
		return err
	}
	if err := clear(pfd, base, hdr.Typeflag == tar.TypeDir); err != nil {
		return err
	}
	var made *os.File
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && err != unix.EEXIST {
			return err
		}
		made, err = openAt(pfd, base, unix.O_PATH|unix.O_DIRECTORY)
	case tar.TypeReg, tar.TypeRegA:
		made, err = writeFile(pfd, base, r)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return err
		}
		if chown {
			if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return err
			}
		}
		ts := timespecs(hdr)
		return unix.UtimesNanoAt(pfd, base, ts[:], unix.AT_SYMLINK_NOFOLLOW)
	case tar.TypeLink:
		return t.link(hdr.Linkname, pfd, base)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		made, err = mknod(pfd, base, hdr)
	default:
		return nil // pax globals and the like: nothing to make
	}
	if err != nil {
		return err
	}
	defer made.Close()
	return setAttrs(made, hdr, uid, gid, chown)
}

// clear removes what is at base before an entry is made there: a
// directory stays for a directory entry, and is never replaced by a file.
func clear(pfd int, base string, isDir bool) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return err
	}
	existingDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case existingDir && isDir:
		return nil
	case existingDir:
		return fmt.Errorf("cannot overwrite directory with non-directory")
	case isDir:
		return fmt.Errorf("cannot overwrite non-directory with directory")
	}
	return unix.Unlinkat(pfd, base, 0)
}

func openAt(pfd int, base string, flags int) (*os.File, error) {
	fd, err := unix.Openat(pfd, base, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), base), nil
}

func writeFile(pfd int, base string, r io.Reader) (*os.File, error) {
	f, err := openAt(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func mknod(pfd int, base string, hdr *tar.Header) (*os.File, error) {
	mode := uint32(unix.S_IFIFO)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode = unix.S_IFCHR
	case tar.TypeBlock:
		mode = unix.S_IFBLK
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknodat(pfd, base, mode|0o600, int(dev)); err != nil {
		return nil, err
	}
	return openAt(pfd, base, unix.O_PATH)
}

// link makes a hard link to target, an earlier entry of the stream.
func (t *tree) link(target string, pfd int, base string) error {
	target = cleanName(target)
	tdir, err := t.open(path.Dir(target), unix.O_PATH|unix.O_DIRECTORY, true)
	if err != nil {
		return err
	}
	defer tdir.Close()
	return unix.Linkat(int(tdir.Fd()), path.Base(target), pfd, base, 0)
}

// ownerOf is who owns an entry made (host IDs), and whether to chown.
func ownerOf(hdr *tar.Header, o ExtractOptions) (uid, gid int, chown bool, err error) {
	switch {
	case o.Owner != nil:
		return o.Owner[0], o.Owner[1], true, nil
	case o.KeepOwners:
		uid, gid, err = o.Maps.toHost(hdr.Uid, hdr.Gid)
		return uid, gid, err == nil, err
	}
	return 0, 0, false, nil
}

// setAttrs sets owner, mode and times on the file made, through its
// descriptor: chown first, since it clears the set-ID bits.
func setAttrs(f *os.File, hdr *tar.Header, uid, gid int, chown bool) error {
	p := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		// Made, then replaced by a symlink before berth opened it.
		return fmt.Errorf("replaced by a symlink while it was copied")
	}
	if chown {
		if err := unix.Fchownat(int(f.Fd()), "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, p, uint32(hdr.Mode&0o7777), 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if caps, ok := hdr.PAXRecords[paxCaps]; ok && st.Mode&unix.S_IFMT == unix.S_IFREG {
		// After chown, which drops them.
		if err := unix.Setxattr(p, "security.capability", []byte(caps), 0); err != nil {
			return fmt.Errorf("set file capabilities: %w", err)
		}
	}
	return setTimes(f, hdr)
}

func setTimes(f *os.File, hdr *tar.Header) error {
	ts := timespecs(hdr)
	return unix.UtimesNanoAt(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), ts[:], 0)
}

func timespecs(hdr *tar.Header) [2]unix.Timespec {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	return [2]unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
}
