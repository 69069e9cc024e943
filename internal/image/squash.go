package image

import (
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ConfigFile is the stored config of the image ref resolves to: its
// runtime config, history and layers' diff IDs (build --squash rewrites
// them).
func (s *Store) ConfigFile(ref string) (*v1.ConfigFile, error) {
	img, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	return s.configFile(img.ID)
}

// OpenLayer opens a stored layer's blob as its uncompressed tar stream
// (gzip and zstd undone, as when it was unpacked). Call it while holding
// the store (Hold), so a prune does not take the blob away.
func (s *Store) OpenLayer(l Layer) (io.ReadCloser, error) {
	h, err := v1.NewHash(l.Digest)
	if err == nil {
		err = checkDigest(h)
	}
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	f, err := os.Open(s.blobPath(h.Hex))
	if err != nil {
		return nil, fmt.Errorf("open layer %s: %w", l.Digest, err)
	}
	r, err := decompress(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open layer %s: %w", l.Digest, err)
	}
	return &layerReader{ReadCloser: r, f: f}, nil
}

// layerReader closes the decompressor and the blob file.
type layerReader struct {
	io.ReadCloser
	f *os.File
}

func (r *layerReader) Close() error {
	err := r.ReadCloser.Close()
	if ferr := r.f.Close(); err == nil {
		err = ferr
	}
	return err
}
