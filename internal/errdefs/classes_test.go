package errdefs_test

import (
	"errors"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/volume"
)

// TestLookupsAreNotFound: a volume, network or image that does not exist
// is errdefs.ErrNotFound, besides its package's own sentinel.
func TestLookupsAreNotFound(t *testing.T) {
	dir := t.TempDir()
	vErr := volume.Store{Dir: dir}.Remove("nope", false)
	_, nErr := network.Load(dir, "nope")
	is, err := image.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, iErr := is.Get("nope")
	for name, c := range map[string]struct{ err, own error }{
		"volume": {vErr, volume.ErrNotFound}, "network": {nErr, network.ErrNotFound}, "image": {iErr, image.ErrNotFound},
	} {
		if !errors.Is(c.err, errdefs.ErrNotFound) || !errors.Is(c.err, c.own) {
			t.Errorf("missing %s: %v, want errdefs.ErrNotFound and its own sentinel", name, c.err)
		}
	}
}
