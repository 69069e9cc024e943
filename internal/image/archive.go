package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// archive is a set of named files: an OCI layout directory, or a tar
// (docker save, OCI layout) read in place.
type archive interface {
	open(name string) (io.ReadCloser, int64, error)
	has(name string) bool
}

// dirArchive reads files of a directory, resolved inside it
// (RESOLVE_IN_ROOT), so a symlink in the directory cannot make berth
// read a host file.
type dirArchive struct{ root string }

func (d dirArchive) open(name string) (io.ReadCloser, int64, error) {
	h, err := pathrs.OpenInRoot(d.root, name)
	if err != nil {
		return nil, 0, fmt.Errorf("open %q in %s: %w", name, d.root, err)
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil, 0, fmt.Errorf("open %q in %s: %w", name, d.root, err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("open %q in %s: not a regular file", name, d.root)
	}
	return f, st.Size(), nil
}

func (d dirArchive) has(name string) bool {
	rc, _, err := d.open(name)
	if err == nil {
		rc.Close()
	}
	return err == nil
}

// tarArchive is a tar file indexed once, each member then read in place.
type tarArchive struct {
	f    *os.File
	ents map[string]tarEntry
}

type tarEntry struct {
	off, size int64
	typ       byte
	link      string
}

// maxArchiveEntries bounds the index of an archive (a docker save has a
// few files per layer).
const maxArchiveEntries = 100000

// indexTar reads the headers of the tar f. After Next, a tar.Reader over
// a file has read exactly the header blocks, so the file's offset is
// where the member's data starts.
func indexTar(f *os.File) (*tarArchive, error) {
	a := &tarArchive{f: f, ents: map[string]tarEntry{}}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return a, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read archive %s: %w", f.Name(), err)
		}
		if len(a.ents) >= maxArchiveEntries {
			return nil, fmt.Errorf("read archive %s: more than %d entries", f.Name(), maxArchiveEntries)
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		a.ents[archivePath(hdr.Name)] = tarEntry{off: off, size: hdr.Size, typ: hdr.Typeflag, link: hdr.Linkname}
	}
}

// archivePath names a member: cleaned, relative, "" for the root.
func archivePath(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

func (a *tarArchive) has(name string) bool {
	_, err := a.lookup(name)
	return err == nil
}

// lookup finds a regular member, following symlinks and hardlinks inside
// the archive (old docker save archives link repeated layers).
func (a *tarArchive) lookup(name string) (tarEntry, error) {
	p := archivePath(name)
	for hops := 0; hops < 16; hops++ {
		e, ok := a.ents[p]
		if !ok {
			return e, fmt.Errorf("%q: %w", name, os.ErrNotExist)
		}
		switch e.typ {
		case tar.TypeReg, tar.TypeRegA:
			return e, nil
		case tar.TypeLink:
			p = archivePath(e.link)
		case tar.TypeSymlink:
			p = archivePath(path.Join(path.Dir(p), e.link))
		default:
			return e, fmt.Errorf("%q: not a regular file", name)
		}
	}
	return tarEntry{}, fmt.Errorf("%q: too many links", name)
}

func (a *tarArchive) open(name string) (io.ReadCloser, int64, error) {
	e, err := a.lookup(name)
	if err != nil {
		return nil, 0, fmt.Errorf("open %q in archive: %w", name, err)
	}
	return io.NopCloser(io.NewSectionReader(a.f, e.off, e.size)), e.size, nil
}

// readJSONFile reads a JSON file of an archive whole: an index, a
// manifest or a config, at most MaxManifestBytes.
func readJSONFile(a archive, name string) ([]byte, error) {
	rc, size, err := a.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if err := checkSize(strconv.Quote(name)+" is", size, MaxManifestBytes, "MaxManifestBytes"); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(rc, MaxManifestBytes))
}

var errNotArchive = errors.New("not an image archive")
