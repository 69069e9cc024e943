package image

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

func (u *Upload) cleanup() {
	for _, t := range u.temps {
		os.Remove(t)
	}
}

// uploadable prepares rec for a push: the stored manifest when its layers
// are all compressed, else a manifest of the same config whose
// uncompressed layers are gzip-compressed into tmp/.
func (s *Store) uploadable(rec *record) (*Upload, error) {
	mh, err := v1.NewHash(rec.Manifest)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(s.blobPath(mh.Hex))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := parseImageManifest(raw, rec.MediaType)
	if err != nil {
		return nil, err
	}
	if len(m.Layers) != len(rec.Layers) {
		return nil, fmt.Errorf("manifest of %s lists %d layers, the image %d", rec.ID, len(m.Layers), len(rec.Layers))
	}
	u := &Upload{ID: rec.ID, Manifest: raw, MediaType: rec.MediaType,
		Config: UploadBlob{Path: s.blobPath(m.Config.Digest.Hex), Desc: m.Config}}
	changed := false
	for i, d := range m.Layers {
		bf := UploadBlob{Path: s.blobPath(d.Digest.Hex), Desc: d, DiffID: rec.Layers[i].DiffID}
		if uncompressed(d.MediaType) {
			if bf, err = s.gzipBlob(bf, m.MediaType); err != nil {
				u.cleanup()
				return nil, err
			}
			u.temps = append(u.temps, bf.Path)
			m.Layers[i] = bf.Desc
			changed = true
		}
		u.Layers = append(u.Layers, bf)
	}
	if changed {
		if u.Manifest, err = json.Marshal(m); err != nil {
			u.cleanup()
			return nil, err
		}
	}
	return u, nil
}

func uncompressed(mt types.MediaType) bool {
	return mt == types.OCIUncompressedLayer || mt == types.DockerUncompressedLayer || mt == types.OCIUncompressedRestrictedLayer
}

// gzipBlob compresses an uncompressed layer blob into tmp/ and describes
// the result, of the gzip media type of the manifest's kind. The
// compression is deterministic (no name, no time in the header, one
// level), so pushing the same image twice uploads the same blob.
func (s *Store) gzipBlob(bf UploadBlob, manifestType types.MediaType) (UploadBlob, error) {
	in, err := os.Open(bf.Path)
	if err != nil {
		return UploadBlob{}, err
	}
	defer in.Close()
	pr, pw := io.Pipe()
	go func() {
		zw, err := gzip.NewWriterLevel(pw, gzip.DefaultCompression)
		if err == nil {
			_, err = io.Copy(zw, in)
			if cerr := zw.Close(); err == nil {
				err = cerr
			}
		}
		pw.CloseWithError(err)
	}()
	f, err := os.CreateTemp(s.path("tmp"), "push-")
	if err != nil {
		pr.Close()
		return UploadBlob{}, err
	}
	d, err := s.writeHashed(f, pr)
	pr.CloseWithError(err)
	if err != nil {
		os.Remove(f.Name())
		return UploadBlob{}, fmt.Errorf("compress layer %s: %w", bf.DiffID, err)
	}
	d.MediaType = types.OCILayer
	if manifestType == types.DockerManifestSchema2 {
		d.MediaType = types.DockerLayer
	}
	return UploadBlob{Path: f.Name(), Desc: d, DiffID: bf.DiffID}, nil
}

// writeHashed copies r into f, closing it, and describes what it wrote.
func (s *Store) writeHashed(f *os.File, r io.Reader) (v1.Descriptor, error) {
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{Size: n, Digest: hashOf(h)}, nil
}
