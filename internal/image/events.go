package image

import (
	"context"
	"io"
	"path/filepath"

	eventlog "github.com/berth-runtime/berth/internal/events"
)

// The store's operations as Docker reports them in its events (pull,
// push, tag, untag, delete, load, save, import): each exported operation
// is its unexported one and, on success, its events, in the journal of
// the berth root the store is in.

func (s *Store) journal() eventlog.Journal { return eventlog.At(filepath.Dir(s.root)) }

func (s *Store) event(action, id, name string) {
	s.journal().Emit(eventlog.Image, action, id, map[string]string{"name": name})
}

func (s *Store) imagesEvent(action string, imgs []*Image) {
	for _, img := range imgs {
		name := ""
		if len(img.Names) > 0 {
			name = FamiliarName(img.Names[0])
		}
		s.event(action, img.ID, name)
	}
}

// Tag names ref's image target too (see tag).
func (s *Store) Tag(ref, target string) error {
	err := s.tag(ref, target)
	if err == nil {
		if img, gerr := s.Get(target); gerr == nil {
			s.event("tag", img.ID, FamiliarName(canonicalOf(target)))
		}
	}
	return err
}

// Remove untags ref and deletes the image once untagged (see remove).
func (s *Store) Remove(ref string, force bool, inUse func(id string) bool) (Removed, error) {
	r, err := s.remove(ref, force, inUse)
	for _, n := range r.Untagged {
		s.event("untag", n, FamiliarName(n))
	}
	for _, id := range r.Deleted {
		s.event("delete", id, "")
	}
	return r, err
}

// Export writes refs as a docker save archive (see export).
func (s *Store) Export(w io.Writer, refs []string) error {
	err := s.export(w, refs)
	if err == nil {
		for _, ref := range refs {
			if img, gerr := s.Get(ref); gerr == nil {
				s.event("save", img.ID, ref)
			}
		}
	}
	return err
}

// Import adds the images of an archive (see importImages).
func (s *Store) Import(ctx context.Context, path string, o ImportOptions) ([]*Image, error) {
	imgs, err := s.importImages(ctx, path, o)
	if err == nil {
		s.imagesEvent("import", imgs)
	}
	return imgs, err
}
