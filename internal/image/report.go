package image

import "github.com/berth-runtime/berth/internal/progress"

// reporter sends one layer's progress (progress.Item).
type reporter = progress.Item

// newReporter reports a layer under its short digest, as Docker does.
func newReporter(to progress.Reporter, digest string) *reporter {
	return progress.NewItem(to, progress.ShortID(digest))
}

func shortID(digest string) string { return progress.ShortID(digest) }
