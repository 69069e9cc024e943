package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"strings"
)

// Squash writes one OCI layer that, over the same layers below, gives
// the tree that layers (n of them, bottom first, each a tar stream that
// open gives) give applied in order: as docker build --squash and podman
// build --squash merge a build's layers. The path that the highest layer
// names wins; a directory keeps the highest layer's metadata, written
// where the lowest of them had it (before its contents); what a higher
// layer deletes (.wh.NAME) or hides (an opaque directory) is left out,
// and becomes a whiteout or an opaque marker in the result, when the
// layers below could have it (overBase; on scratch there is nothing to
// hide). A directory deleted and then made again is opaque. A hard link
// kept whose target a higher layer changed or removed keeps the contents
// it had (as overlay's copy-up leaves it): it is written as a file with
// the target's contents in its layer. Each layer is read twice: headers
// from the top down to decide, then entries from the bottom up to write.
func Squash(w io.Writer, n int, open func(i int) (io.ReadCloser, error), overBase bool) error {
	sq := &squasher{winners: map[string]*winner{}, deleted: map[string]bool{}, opaque: map[string]bool{},
		whiteouts: map[string]int{}, opaques: map[string]int{}, relinks: map[int]map[string][]string{}, written: map[string]bool{}}
	for i := n - 1; i >= 0; i-- {
		if err := sq.decideLayer(i, open); err != nil {
			return err
		}
	}
	if !overBase {
		sq.whiteouts, sq.opaques = map[string]int{}, map[string]int{}
	}
	tw := tar.NewWriter(w)
	var links []*tar.Header
	for i := 0; i < n; i++ {
		l, err := sq.writeLayer(tw, i, open)
		if err != nil {
			return err
		}
		links = append(links, l...)
	}
	for _, hdr := range links {
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	return tw.Close()
}

// winner is the entry the squashed layer keeps for a path.
type winner struct {
	layer int         // the layer whose entry it is
	dir   bool        // a directory: written at first, with hdr
	first int         // the lowest layer where the directory is seen
	hdr   *tar.Header // a directory's header (the highest layer's)
}

type squasher struct {
	winners map[string]*winner
	// deleted and opaque are what the layers decided so far (higher
	// ones) delete, and the directories whose lower contents they hide.
	deleted, opaque map[string]bool
	// whiteouts and opaques are the markers the result needs, by path,
	// with the layer whose marker they come from.
	whiteouts, opaques map[string]int
	// relinks are, by layer and target, the hard links kept whose target
	// is not that layer's entry in the result: written as a copy of the
	// target where the layer has it.
	relinks map[int]map[string][]string
	written map[string]bool // directories written
}

// entryPath is a tar entry's path, clean and relative ("" the root).
func entryPath(name string) string {
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/")
}

// marker says what a whiteout entry p marks: the path it deletes, or the
// directory it makes opaque; other .wh..wh. names are aufs bookkeeping.
func marker(p string) (target string, opaque, ok bool) {
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	switch {
	case base == opaqueWhiteout:
		return dir, true, true
	case strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix):
		return "", false, true
	case strings.HasPrefix(base, whiteoutPrefix):
		return path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)), false, true
	}
	return "", false, false
}

// hidden says whether a higher layer hides p: deletes it, or hides a
// directory above it.
func (sq *squasher) hidden(p string) bool {
	return sq.deleted[p] || sq.aboveHidden(p)
}

// aboveHidden says whether a higher layer deletes a directory above p,
// makes one opaque, or has a non-directory where one is.
func (sq *squasher) aboveHidden(p string) bool {
	if p == "" {
		return false
	}
	for a := path.Dir(p); a != "." && a != "/"; a = path.Dir(a) {
		if sq.deleted[a] || sq.opaque[a] {
			return true
		}
		if w := sq.winners[a]; w != nil && !w.dir {
			return true
		}
	}
	return sq.opaque[""]
}

func (sq *squasher) decideLayer(i int, open func(int) (io.ReadCloser, error)) error {
	r, err := open(i)
	if err != nil {
		return err
	}
	defer r.Close()
	tr := tar.NewReader(r)
	var marks []*tar.Header
	var del, opq []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("squash: layer %d: %w", i, err)
		}
		p := entryPath(hdr.Name)
		if _, _, ok := marker(p); ok {
			marks = append(marks, hdr)
			continue
		}
		if p == "" || sq.hidden(p) {
			continue
		}
		isDir := hdr.Typeflag == tar.TypeDir
		switch w := sq.winners[p]; {
		case w == nil:
			sq.winners[p] = &winner{layer: i, dir: isDir, first: i, hdr: hdr}
			if hdr.Typeflag == tar.TypeLink {
				sq.relink(i, p, entryPath(hdr.Linkname))
			}
		case w.dir && isDir:
			w.first = i // written where the lowest layer had it
		case w.dir:
			// A file here, a directory above: what was below is gone.
			if _, ok := sq.opaques[p]; !ok {
				sq.opaques[p] = i
			}
			del = append(del, p)
		}
	}
	// Markers apply to the layers below this one: decided after its
	// entries, applied to the state after.
	for _, hdr := range marks {
		target, isOpaque, _ := marker(entryPath(hdr.Name))
		if (target == "" && !isOpaque) || sq.hidden(target) {
			continue
		}
		w := sq.winners[target]
		switch {
		case w != nil && !w.dir: // a file replaces it: nothing below shows
		case w != nil || isOpaque: // a directory whose lower contents go
			if _, ok := sq.opaques[target]; !ok {
				sq.opaques[target] = i
			}
		default:
			sq.whiteouts[target] = i
		}
		if isOpaque {
			opq = append(opq, target)
		} else {
			del = append(del, target)
		}
	}
	for _, p := range del {
		sq.deleted[p] = true
	}
	for _, p := range opq {
		sq.opaque[p] = true
	}
	return nil
}

// relink notes a hard link p kept in layer i whose target is not kept
// from that layer.
func (sq *squasher) relink(i int, p, target string) {
	if w := sq.winners[target]; w != nil && w.layer == i && !w.dir {
		return
	}
	if sq.relinks[i] == nil {
		sq.relinks[i] = map[string][]string{}
	}
	sq.relinks[i][target] = append(sq.relinks[i][target], p)
}

// writeLayer writes layer i's entries that the result keeps, and returns
// the hard links to write at the end (their target is another layer's).
func (sq *squasher) writeLayer(tw *tar.Writer, i int, open func(int) (io.ReadCloser, error)) ([]*tar.Header, error) {
	r, err := open(i)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	tr := tar.NewReader(r)
	relinks := sq.relinks[i]
	relinked, copied := map[string]bool{}, map[string]bool{}
	for _, names := range relinks {
		for _, n := range names {
			relinked[n] = true
		}
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("squash: layer %d: %w", i, err)
		}
		p := entryPath(hdr.Name)
		if target, isOpaque, ok := marker(p); ok {
			if err := sq.writeMarker(tw, i, target, isOpaque); err != nil {
				return nil, err
			}
			continue
		}
		if names := relinks[p]; len(names) > 0 && hdr.Typeflag != tar.TypeDir && !copied[p] {
			copied[p] = true
			for _, n := range names {
				if err := sq.writeParents(tw, i, n); err != nil {
					return nil, err
				}
			}
			if err := writeCopies(tw, hdr, tr, names); err != nil {
				return nil, err
			}
			continue
		}
		w := sq.winners[p]
		switch {
		case w == nil:
			continue
		case w.dir:
			if w.first == i && hdr.Typeflag == tar.TypeDir {
				if err := sq.writeDir(tw, p, w); err != nil {
					return nil, err
				}
			}
			continue
		case w.layer != i || (hdr.Typeflag == tar.TypeLink && relinked[p]):
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, err
		}
	}
	// Targets the layer did not hold (not an overlay's layer): linked to
	// the result's entry at the end, if it has one.
	var links []*tar.Header
	for target, names := range relinks {
		if copied[target] {
			continue
		}
		if w := sq.winners[target]; w == nil || w.dir {
			return nil, fmt.Errorf("squash: %s is a hard link to %s, which neither its layer nor the result holds", names[0], target)
		}
		for _, n := range names {
			links = append(links, &tar.Header{Name: n, Typeflag: tar.TypeLink, Linkname: target, Format: tar.FormatPAX})
		}
	}
	return links, nil
}

// writeCopies writes a target's contents under the first of names, and
// the others as hard links to it.
func writeCopies(tw *tar.Writer, hdr *tar.Header, r io.Reader, names []string) error {
	first := *hdr
	first.Name = names[0]
	if err := tw.WriteHeader(&first); err != nil {
		return err
	}
	if _, err := io.Copy(tw, r); err != nil {
		return err
	}
	for _, n := range names[1:] {
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeLink, Linkname: names[0], Mode: hdr.Mode, Uid: hdr.Uid, Gid: hdr.Gid, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	return nil
}

// writeDir writes a directory with the highest layer's header, and its
// opaque marker right after when the result needs one.
func (sq *squasher) writeDir(tw *tar.Writer, p string, w *winner) error {
	if sq.written[p] {
		return nil
	}
	sq.written[p] = true
	hdr := *w.hdr
	hdr.Name = p + "/"
	if err := tw.WriteHeader(&hdr); err != nil {
		return err
	}
	if _, ok := sq.opaques[p]; ok {
		delete(sq.opaques, p)
		return writeMarkerEntry(tw, path.Join(p, opaqueWhiteout))
	}
	return nil
}

// writeParents writes the directories above p that layer i writes, if
// not yet written: a copy for a hard link goes where its target was,
// which may come before them.
func (sq *squasher) writeParents(tw *tar.Writer, i int, p string) error {
	var chain []string
	for a := path.Dir(p); a != "." && a != "/"; a = path.Dir(a) {
		chain = append([]string{a}, chain...)
	}
	for _, a := range chain {
		if w := sq.winners[a]; w != nil && w.dir && w.first == i {
			if err := sq.writeDir(tw, a, w); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeMarker writes the whiteout or opaque marker the result needs where
// layer i had the marker it comes from (an opaque one for a directory the
// result writes goes with it instead).
func (sq *squasher) writeMarker(tw *tar.Writer, i int, target string, isOpaque bool) error {
	if l, ok := sq.whiteouts[target]; ok && l == i && !isOpaque {
		delete(sq.whiteouts, target)
		dir, base := path.Split(target)
		return writeMarkerEntry(tw, path.Join(dir, whiteoutPrefix+base))
	}
	if l, ok := sq.opaques[target]; ok && l == i {
		if w := sq.winners[target]; w != nil && w.dir && w.first > i {
			return nil // written with the directory, which comes later
		}
		delete(sq.opaques, target)
		return writeMarkerEntry(tw, path.Join(target, opaqueWhiteout))
	}
	return nil
}

func writeMarkerEntry(tw *tar.Writer, name string) error {
	return tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Format: tar.FormatPAX})
}
