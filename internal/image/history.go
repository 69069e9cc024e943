package image

import (
	"fmt"
	"time"
)

// HistoryEntry is one step of an image's build, as docker history shows
// it: newest first.
type HistoryEntry struct {
	// ID is the image's ID on the newest step and "<missing>" on the
	// others: berth, as Docker for pulled images, has no image for them.
	ID        string
	Created   time.Time
	CreatedBy string
	// Size is what the step's layer unpacks to; 0 for a step that made
	// no layer (ENV, CMD...).
	Size    int64
	Comment string
}

// Missing is the ID of a history step that is no image of its own.
const Missing = "<missing>"

// History returns the build steps of the image ref resolves to, from its
// config's history: each step that made a layer (empty_layer unset) is
// matched to the next layer, bottom up, as Docker does. An image whose
// config has no history gets one step per layer.
func (s *Store) History(ref string) ([]HistoryEntry, error) {
	img, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	cf, err := s.configFile(img.ID)
	if err != nil {
		return nil, err
	}
	var out []HistoryEntry
	layer := 0
	for _, h := range cf.History {
		e := HistoryEntry{ID: Missing, Created: h.Created.Time, CreatedBy: h.CreatedBy, Comment: h.Comment}
		if !h.EmptyLayer {
			if layer >= len(img.Layers) {
				// Docker's refusal, in its words.
				return nil, fmt.Errorf("history of image %s: too many non-empty layers in History section", img.ID)
			}
			e.Size = s.layerSize(img.Layers[layer].DiffID)
			layer++
		}
		out = append(out, e)
	}
	if len(cf.History) == 0 {
		for _, l := range img.Layers {
			out = append(out, HistoryEntry{ID: Missing, Created: cf.Created.Time, Size: s.layerSize(l.DiffID)})
		}
	}
	// Newest first.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) > 0 {
		out[0].ID = img.ID
	}
	return out, nil
}
