package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// LayerOptions says how WriteLayer writes an overlay's upper layer.
type LayerOptions struct {
	// Maps names owners as the container saw them: the upper layer holds
	// host IDs when the container ran in a user namespace.
	Maps IDMaps
	// ModTime, if set, is every entry's modification time (a build's
	// SOURCE_DATE_EPOCH), so the same steps make the same layer digest.
	ModTime *time.Time
}

// OCI whiteouts: a file named .wh.NAME deletes NAME from the layers
// below; .wh..wh..opq in a directory hides everything they hold in it.
const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// WriteLayer writes changes (Diff's list, less what is not to be kept:
// WithoutMountPoints) of the overlay upper directory upper as an OCI
// layer tar: an added or changed path as it is in upper, a deleted one
// (overlay's 0:0 character device) as .wh.NAME, and an opaque directory
// (trusted.overlay.opaque) with .wh..wh..opq in it. Entries come sorted
// by path, parents first, so the same tree gives the same bytes. Files
// are reached inside upper only (openat2 RESOLVE_IN_ROOT, O_NOFOLLOW): a
// symlink the container made never leads to a host file.
func WriteLayer(w io.Writer, upper string, changes []Change, o LayerOptions) error {
	tw := tar.NewWriter(w)
	if len(changes) == 0 {
		return tw.Close() // an empty layer, as docker commit makes of no changes
	}
	rf, err := os.OpenFile(upper, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the upper layer: %w", err)
	}
	defer rf.Close()
	root := Root{F: rf, Contained: true}
	wr := &writer{tw: tw, o: WriteOptions{Maps: o.Maps}, links: map[[2]uint64]string{}}
	for _, c := range changes {
		if err := wr.layerEntry(root, c, o); err != nil {
			return err
		}
	}
	return tw.Close()
}

// layerEntry writes one change.
func (wr *writer) layerEntry(root Root, c Change, o LayerOptions) error {
	name := strings.TrimPrefix(path.Clean("/"+c.Path), "/")
	if name == "" {
		return nil // the root itself: its metadata is the image's
	}
	if c.Kind == Deleted {
		dir, base := path.Split(name)
		return wr.marker(dir+whiteoutPrefix+base, o)
	}
	f, err := root.open(c.Path, unix.O_PATH, false)
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	hdr, err := wr.header(f, name, &st)
	if err != nil {
		return err
	}
	if o.ModTime != nil {
		hdr.ModTime = *o.ModTime
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if isDir || hdr.Typeflag == tar.TypeReg {
		addXattrs(f, hdr)
	}
	if err := wr.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		if err := wr.contents(f, name, hdr.Size); err != nil {
			return err
		}
	}
	if isDir && c.Kind == Changed && opaqueFD(f) {
		return wr.marker(name+"/"+opaqueWhiteout, o)
	}
	return nil
}

// marker writes an empty whiteout file, owned by root, as Docker does.
func (wr *writer) marker(name string, o LayerOptions) error {
	hdr := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX}
	if o.ModTime != nil {
		hdr.ModTime = *o.ModTime
	}
	if err := wr.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// addXattrs records f's extended attributes as PAX records, leaving out
// overlay's own (opaque, redirect, origin...), which describe the upper
// layer, not the file.
func addXattrs(f *os.File, hdr *tar.Header) {
	p := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	buf := make([]byte, 4096)
	n, err := unix.Listxattr(p, buf)
	if err != nil || n <= 0 {
		return
	}
	for _, k := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if k == "" || strings.HasPrefix(k, "trusted.overlay.") || strings.HasPrefix(k, "user.overlay.") {
			continue
		}
		v := make([]byte, 64<<10)
		m, err := unix.Getxattr(p, k, v)
		if err != nil {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = string(v[:m])
	}
}

// opaqueFD says whether overlay hides the lower layers' copy of the
// directory f holds.
func opaqueFD(f *os.File) bool {
	// Getxattr, not isOpaque's Lgetxattr: the magic link is followed.
	p := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	buf := make([]byte, 1)
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		n, err := unix.Getxattr(p, name, buf)
		if err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}
