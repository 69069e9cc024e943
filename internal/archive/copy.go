package archive

import (
	"errors"
	"io"
	"path"
	"strings"

	"github.com/berth-runtime/berth/internal/errdefs"
)

// Endpoint is one side of a copy: a path in a root, and the mapping of
// its owners (a container's user namespace).
type Endpoint struct {
	Root Root
	Path string
	Maps IDMaps
	// Name names the side in errors: "container web", or "" for the host.
	Name string
	// Named is the path as the user named it, when Path is another root's
	// (a stopped container's volume, whose Root is the volume's
	// directory): for messages, and the name a copy gets.
	Named string
}

// named is the path as the user named it.
func (e Endpoint) named() string {
	if e.Named != "" {
		return e.Named
	}
	return e.Path
}

// notFound is Docker's line for a path missing in a container.
func notFound(e Endpoint, p string) error {
	if e.Name == "" {
		return errdefs.New(errdefs.ErrNotFound, "lstat %s: no such file or directory", p)
	}
	return errdefs.New(errdefs.ErrNotFound, "Could not find the file %s in %s", p, e.Name)
}

// Source is what Copy reads: where its path leads, whether it is a
// directory, and the name its entries get in a tar stream.
type Source struct {
	Info Info
	// Contents: the path ends in "/.": a directory's contents are copied,
	// not the directory.
	Contents bool
	// Follow: a symlink as the path's last component is followed (-L,
	// or a path ending in "/").
	Follow bool
}

// StatSource checks that src exists (following a symlink as its last
// component with follow, or when it ends in "/").
func StatSource(src Endpoint, follow bool) (Source, error) {
	follow = follow || strings.HasSuffix(src.Path, "/") || strings.HasSuffix(src.Path, "/.")
	info, err := src.Root.Stat(src.Path, follow)
	if err != nil {
		return Source{}, err
	}
	if !info.Exists {
		return Source{}, notFound(src, src.named())
	}
	s := Source{Info: info, Follow: follow, Contents: info.Dir && (strings.HasSuffix(src.Path, "/.") || src.Path == ".")}
	if !info.Dir && strings.HasSuffix(src.Path, "/") {
		return Source{}, errdefs.New(errdefs.ErrInvalidArgument, "%s: not a directory", src.Path)
	}
	return s, nil
}

// StreamName is the name a source's entries get in a tar stream it is
// written to alone (cp SRC -): its base name, or none for its contents.
func StreamName(src string, s Source) string {
	if s.Contents {
		return ""
	}
	base := path.Base(path.Clean(src))
	if base == "/" || base == "." {
		return ""
	}
	return base
}

// Plan applies docker cp's rules to a source and a destination: it
// returns the directory of dst to extract into, and the name the source
// gets there ("" for a directory's contents).
//   - dst is a directory: the source goes into it under its own name
//     (its contents with SRC/.);
//   - dst does not exist: the source is made as dst (a directory's
//     contents go into the new directory), whose parent must exist;
//     "dst/" must exist;
//   - dst is a file: a file replaces it; a directory is refused.
//
// A symlink as dst's last component is followed once, as docker cp
// follows it: to a missing target, the target is made.
func Plan(src string, s Source, dst Endpoint) (dir, name string, err error) {
	if dst.Path, err = dst.Root.followLink(dst.Path); err != nil {
		return "", "", err
	}
	info, err := dst.Root.Stat(dst.Path, true)
	if err != nil {
		return "", "", err
	}
	switch {
	case info.Dir:
		return dst.Path, StreamName(src, s), nil
	case info.Exists && s.Info.Dir:
		return "", "", errdefs.New(errdefs.ErrInvalidArgument, "cannot copy a directory to a file: %s is not a directory", dst.Path)
	case info.Exists:
		dir, name := splitParent(dst.Path)
		return dir, name, nil
	case strings.HasSuffix(dst.Path, "/"):
		return "", "", notFound(dst, dst.Path)
	}
	dir, name = splitParent(dst.Path)
	parent, err := dst.Root.Stat(dir, true)
	if err != nil {
		return "", "", err
	}
	if !parent.Dir {
		return "", "", notFound(dst, dir)
	}
	return dir, name, nil
}

// Copy copies src into dst with docker cp's rules (Plan); follow is -L.
func Copy(src, dst Endpoint, follow bool, o ExtractOptions) error {
	s, err := StatSource(src, follow)
	if err != nil {
		return err
	}
	dir, name, err := Plan(src.named(), s, dst)
	if err != nil {
		return err
	}
	o.Maps = dst.Maps
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := Write(pw, src.Root, src.Path, name, WriteOptions{Follow: s.Follow, Maps: src.Maps})
		pw.CloseWithError(err)
		done <- err
	}()
	err = Extract(pr, dst.Root, dir, o)
	pr.CloseWithError(errors.New("extraction ended"))
	if werr := <-done; werr != nil && err == nil || werr != nil && errors.Is(err, io.ErrClosedPipe) {
		return werr
	}
	return err
}
