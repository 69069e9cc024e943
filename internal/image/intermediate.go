package image

import "sort"

// ListIntermediate returns the build steps' images (the build cache's:
// hidden from List), oldest first.
func (s *Store) ListIntermediate() ([]Image, error) {
	m, err := s.readMeta()
	if err != nil {
		return nil, err
	}
	var imgs []Image
	for _, r := range m.Images {
		if r.Intermediate && len(m.names(r.ID)) == 0 {
			imgs = append(imgs, s.image(m, r))
		}
	}
	sort.Slice(imgs, func(i, j int) bool {
		if !imgs[i].Created.Equal(imgs[j].Created) {
			return imgs[i].Created.Before(imgs[j].Created)
		}
		return imgs[i].ID < imgs[j].ID
	})
	return imgs, nil
}
