package archive

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"

	"golang.org/x/sys/unix"
)

// Kind is a change's letter in docker diff: C, A or D.
type Kind string

const (
	Changed Kind = "C"
	Added   Kind = "A"
	Deleted Kind = "D"
)

// Change is one line of docker diff.
type Change struct {
	Kind Kind
	Path string
}

func (c Change) String() string { return string(c.Kind) + " " + c.Path }

// Diff lists a container's changes from its overlay's upper layer: a
// whiteout (a 0:0 character device) is a deletion, a name the image's
// layers (lower, top first) have is a change, any other an addition; an
// opaque directory (trusted.overlay.opaque) hides what the layers have
// below it, so what it holds is added. Directories above a change are
// changed, as Docker lists them; the list is sorted by path.
func Diff(upper string, lower []string) ([]Change, error) {
	var changes []Change
	err := diffDir(upper, "/", lower, false, &changes)
	if err != nil {
		return nil, err
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes, nil
}

func diffDir(upper, rel string, lower []string, opaque bool, out *[]Change) error {
	entries, err := os.ReadDir(path.Join(upper, rel))
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	for _, e := range entries {
		p := path.Join(rel, e.Name())
		full := path.Join(upper, p)
		var st unix.Stat_t
		if err := unix.Lstat(full, &st); err != nil {
			return fmt.Errorf("diff: %w", err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			*out = append(*out, Change{Deleted, p})
			continue
		}
		inLower := !opaque && existsIn(lower, p)
		kind := Added
		if inLower {
			kind = Changed
		}
		*out = append(*out, Change{kind, p})
		if e.IsDir() {
			childOpaque := opaque || !inLower || isOpaque(full)
			if err := diffDir(upper, p, lower, childOpaque, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// existsIn says whether a layer has p (without following symlinks).
// A whiteout in a higher layer hides it; image layers unpacked for
// overlay carry them the same way.
func existsIn(lower []string, p string) bool {
	for _, l := range lower {
		var st unix.Stat_t
		err := unix.Lstat(path.Join(l, p), &st)
		if err == nil {
			return !(st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0)
		}
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			return true
		}
		if isOpaque(path.Join(l, path.Dir(p))) && path.Dir(p) != "/" {
			return false
		}
	}
	return false
}

// isOpaque says whether overlay hides the lower layers' copy of dir.
func isOpaque(dir string) bool {
	buf := make([]byte, 1)
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		n, err := unix.Lgetxattr(dir, name, buf)
		if err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}
