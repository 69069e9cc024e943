package archive

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

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

// WithoutMountPoints drops from changes what berth made for the
// container's mounts (the empty files and directories it mounts /etc/hosts
// or a volume on), which Docker keeps in a layer of its own and never
// lists, and then the directories listed only because they were made in
// them: changed, with nothing listed below them, and their owner and mode
// as the image's.
// The image's owners are mapped through lowerMaps first when its layers
// are shown through an idmapped mount.
func WithoutMountPoints(changes []Change, points []string, upper string, lower []string, lowerMaps IDMaps) []Change {
	drop := map[string]bool{}
	parents := map[string]bool{}
	for _, p := range points {
		p = path.Clean("/" + p)
		drop[p] = true
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			parents[d] = true
		}
	}
	var kept []Change
	for _, c := range changes {
		if !(c.Kind == Added && drop[c.Path]) {
			kept = append(kept, c)
		}
	}
	kept = withoutMountParents(kept, parents)
	// Sorted by path, what lies below a directory follows it.
	var out []Change
	for i, c := range kept {
		below := i+1 < len(kept) && strings.HasPrefix(kept[i+1].Path, c.Path+"/")
		if c.Kind == Changed && !below && sameAsLower(upper, lower, c.Path, lowerMaps) {
			continue
		}
		out = append(out, c)
	}
	if len(out) == len(kept) {
		return out
	}
	return WithoutMountPoints(out, nil, upper, lower, lowerMaps)
}

// sameAsLower says whether p is a directory whose owner and mode in the
// upper layer are those the image gives it.
func sameAsLower(upper string, lower []string, p string, m IDMaps) bool {
	var up unix.Stat_t
	if unix.Lstat(path.Join(upper, p), &up) != nil || up.Mode&unix.S_IFMT != unix.S_IFDIR {
		return false
	}
	for _, l := range lower {
		var st unix.Stat_t
		if unix.Lstat(path.Join(l, p), &st) == nil {
			uid, gid, err := m.toHost(int(st.Uid), int(st.Gid))
			return err == nil && st.Mode == up.Mode && uint32(uid) == up.Uid && uint32(gid) == up.Gid
		}
	}
	return false
}

// withoutMountParents drops the directories that were made only to hold
// a mount point (a volume at /new/dir makes /new, a build's secret
// /run/secrets): added, above a mount point, and with nothing listed
// below them once the mount points are gone; deepest first, so /a/b then
// /a.
func withoutMountParents(changes []Change, parents map[string]bool) []Change {
	for len(parents) > 0 {
		var out []Change
		for i, c := range changes {
			below := i+1 < len(changes) && strings.HasPrefix(changes[i+1].Path, c.Path+"/")
			if c.Kind == Added && !below && parents[c.Path] {
				continue
			}
			out = append(out, c)
		}
		if len(out) == len(changes) {
			return out
		}
		changes = out
	}
	return changes
}
