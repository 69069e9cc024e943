package image

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Removed says what Remove or Prune did.
type Removed struct {
	Untagged []string // canonical names
	Deleted  []string // image IDs
	Blobs    int      // blobs deleted
	Layers   int      // unpacked layers deleted
	Bytes    int64    // freed, blobs and layers together
}

// Remove removes the name or image ref resolves to, as docker rmi does: a
// name of an image with other names is only untagged; the last name, or
// an ID, removes the image, unless inUse(ID) says a container uses it.
// force removes an image with several names given by ID, and one in use
// too, except that an image in use stays in the store, untagged, until no
// container uses it (its layers are under that container's root). Content
// no image references any more is deleted.
func (s *Store) remove(ref string, force bool, inUse func(id string) bool) (Removed, error) {
	var out Removed
	gl, err := lockPath(s.path("gc.lock"), unix.LOCK_EX, true)
	if err != nil {
		return out, err
	}
	defer gl.unlock()
	err = s.updateMeta(func(m *meta) error {
		r, isName, err := m.resolve(ref)
		if err != nil {
			return err
		}
		names := m.names(r.ID)
		if isName && len(names) > 1 {
			n := canonicalOf(ref)
			delete(m.Tags, n)
			out.Untagged = []string{n}
			return nil
		}
		if !isName && len(names) > 1 && !force {
			return fmt.Errorf("image %s has several names (%s): remove them by name, or use -f", shortID(r.ID), strings.Join(names, ", "))
		}
		busy := inUse != nil && inUse(r.ID)
		if busy && !force {
			return errdefs.New(errdefs.ErrInUse, "image %s is in use by a container: remove the container first, or use -f to untag it", ref)
		}
		for _, n := range names {
			delete(m.Tags, n)
		}
		out.Untagged = names
		if !busy {
			delete(m.Images, r.ID)
			out.Deleted = []string{r.ID}
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	return out, s.collectContent(&out, false)
}

// canonicalOf is the canonical form of a name that resolved as a tag.
func canonicalOf(ref string) string {
	r, err := ParseName(ref)
	if err != nil {
		return ref
	}
	return r.Name()
}

// Prune deletes images without a name (all images when all is set) that
// no container uses, then every blob and layer no image references, and
// interrupted downloads.
func (s *Store) Prune(all bool, inUse func(id string) bool) (Removed, error) {
	var out Removed
	gl, err := lockPath(s.path("gc.lock"), unix.LOCK_EX, true)
	if err != nil {
		return out, err
	}
	defer gl.unlock()
	err = s.updateMeta(func(m *meta) error {
		for id := range m.Images {
			names := m.names(id)
			if (len(names) > 0 && !all) || (inUse != nil && inUse(id)) {
				continue
			}
			for _, n := range names {
				delete(m.Tags, n)
			}
			delete(m.Images, id)
			out.Untagged = append(out.Untagged, names...)
			out.Deleted = append(out.Deleted, id)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	return out, s.collectContent(&out, true)
}

// collectContent deletes blobs and layers that no image references, and
// the lock files of things gone. The caller holds gc.lock exclusively, so
// no pull or import is adding content that is not referenced yet.
func (s *Store) collectContent(out *Removed, partials bool) error {
	m, err := s.readMeta()
	if err != nil {
		return err
	}
	blobs, layers := m.referenced()
	if err := s.deleteUnreferenced(s.path("blobs", "sha256"), blobs, out, &out.Blobs); err != nil {
		return err
	}
	if err := s.deleteUnreferenced(s.path("layers"), layers, out, &out.Layers); err != nil {
		return err
	}
	if partials {
		if err := s.removeTemp(func(string) bool { return true }); err != nil {
			return err
		}
	}
	return s.collectLocks()
}

// referenced lists, by hex digest, the blobs and layers that images use.
func (m *meta) referenced() (blobs, layers map[string]bool) {
	blobs, layers = map[string]bool{}, map[string]bool{}
	for _, r := range m.Images {
		for _, d := range []string{r.ID, r.Manifest} {
			blobs[hexOf(d)] = true
		}
		for _, l := range r.Layers {
			blobs[hexOf(l.Digest)] = true
			layers[hexOf(l.DiffID)] = true
		}
	}
	return blobs, layers
}

// discard deletes what an image refused for its content brought into the
// store and no image uses: its blobs, their partial downloads, its
// unpacked layers and their locks. It needs gc.lock exclusively, so that
// no pull or import is about to use them, and does nothing if someone
// holds it (a pull, a container starting): what it would delete is
// unreferenced, and the next prune collects it.
func (s *Store) discard(a addition) {
	gl, err := lockPath(s.path("gc.lock"), unix.LOCK_EX, false)
	if err != nil {
		return
	}
	defer gl.unlock()
	m, err := parseImageManifest(a.manifest, a.mediaType)
	if err != nil {
		return
	}
	mt, err := s.readMeta()
	if err != nil {
		return
	}
	usedBlobs, usedLayers := mt.referenced()
	blobs := []v1.Hash{descriptorOf(a.manifest, "").Digest, m.Config.Digest}
	for _, l := range m.Layers {
		blobs = append(blobs, l.Digest)
	}
	var layers []v1.Hash
	if checkDigest(m.Config.Digest) == nil {
		if cf, err := s.configFile(m.Config.Digest.String()); err == nil {
			layers = cf.RootFS.DiffIDs
		}
	}
	for _, h := range blobs {
		if checkDigest(h) == nil && !usedBlobs[h.Hex] {
			os.Remove(s.blobPath(h.Hex))
			os.Remove(s.path("tmp", "partial-"+h.Hex))
		}
	}
	for _, h := range layers {
		if checkDigest(h) == nil && !usedLayers[h.Hex] && s.hasLayer(h) {
			s.removeDir(s.layerPath(h.Hex))
		}
	}
	s.collectLocks()
}

func hexOf(digest string) string {
	h, err := v1.NewHash(digest)
	if err != nil {
		return ""
	}
	return h.Hex
}

// deleteUnreferenced deletes the entries of dir not in keep.
func (s *Store) deleteUnreferenced(dir string, keep map[string]bool, out *Removed, count *int) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("collect %s: %w", dir, err)
	}
	for _, e := range ents {
		if keep[e.Name()] {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			out.Bytes += s.layerSize("sha256:" + e.Name())
			if err := s.removeDir(p); err != nil {
				return err
			}
		} else {
			if st, err := e.Info(); err == nil {
				out.Bytes += st.Size()
			}
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("delete %s: %w", p, err)
			}
		}
		*count++
	}
	return nil
}

// removeDir deletes a directory of the store (an unpacked layer), first
// renamed into tmp/, so no reader finds half of one in place.
func (s *Store) removeDir(p string) error {
	trash, err := os.MkdirTemp(s.path("tmp"), "trash-")
	if err != nil {
		return err
	}
	if err := os.Rename(p, filepath.Join(trash, "layer")); err != nil {
		os.Remove(trash)
		return fmt.Errorf("delete %s: %w", p, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("delete %s: %w", p, err)
	}
	return nil
}

// collectLocks deletes lock files of blobs and layers that are gone,
// each while holding it (see lockPath).
func (s *Store) collectLocks() error {
	ents, err := os.ReadDir(s.path("locks"))
	if err != nil {
		return fmt.Errorf("collect locks: %w", err)
	}
	for _, e := range ents {
		kind, hex, _ := strings.Cut(e.Name(), "-")
		var item string
		switch kind {
		case "blob":
			item = s.blobPath(hex)
		case "layer":
			item = s.layerPath(hex)
		default:
			continue
		}
		if _, err := os.Lstat(item); err == nil {
			continue
		}
		l, err := lockPath(s.path("locks", e.Name()), unix.LOCK_EX, false)
		if err != nil {
			continue
		}
		l.removeAndUnlock()
	}
	return nil
}
