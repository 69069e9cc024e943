package image

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Export writes the images refs name to w as one tar that is both an OCI
// image layout (oci-layout, index.json, blobs/) and a docker save archive
// (manifest.json pointing into blobs/, and the legacy repositories file),
// as docker save does since Docker 25: docker load, podman load and berth image import all read it. Blobs
// are written as stored, so digests and image IDs are unchanged.
func (s *Store) export(w io.Writer, refs []string) error {
	release, err := s.Hold()
	if err != nil {
		return err
	}
	defer release()
	m, err := s.readMeta()
	if err != nil {
		return err
	}
	e := &exporter{s: s, tw: tar.NewWriter(w), seen: map[string]bool{}}
	for _, ref := range refs {
		r, isName, err := m.resolve(ref)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		tag := ""
		if isName {
			tag = canonicalOf(ref)
		}
		if err := e.image(r, tag); err != nil {
			return fmt.Errorf("export %s: %w", ref, err)
		}
	}
	if err := e.finish(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

type exporter struct {
	s      *Store
	tw     *tar.Writer
	seen   map[string]bool // blobs written
	index  v1.IndexManifest
	docker []dockerManifest
	// repos is the legacy repositories file: repository, tag, and the
	// top layer's hex, as Docker 25 still writes it.
	repos map[string]map[string]string
}

func (e *exporter) image(r *record, tag string) error {
	md, err := v1.NewHash(r.Manifest)
	if err != nil {
		return err
	}
	st, err := os.Stat(e.s.blobPath(md.Hex))
	if err != nil {
		return err
	}
	d := v1.Descriptor{MediaType: types.MediaType(r.MediaType), Digest: md, Size: st.Size()}
	dm := dockerManifest{Config: blobName(r.ID)}
	if tag != "" {
		d.Annotations = map[string]string{annotationName: tag}
		if t, err := ParseName(tag); err == nil && t.Digest == "" {
			d.Annotations[annotationRefName] = t.Tag
		}
		dm.RepoTags = []string{FamiliarName(tag)}
		if repo, t := SplitName(tag); t != "" && len(r.Layers) > 0 {
			if e.repos == nil {
				e.repos = map[string]map[string]string{}
			}
			if e.repos[repo] == nil {
				e.repos[repo] = map[string]string{}
			}
			e.repos[repo][t] = hexOf(r.Layers[len(r.Layers)-1].Digest)
		}
	}
	e.index.Manifests = append(e.index.Manifests, d)
	for _, b := range []string{r.Manifest, r.ID} {
		if err := e.blob(b); err != nil {
			return err
		}
	}
	for _, l := range r.Layers {
		if err := e.blob(l.Digest); err != nil {
			return err
		}
		dm.Layers = append(dm.Layers, blobName(l.Digest))
	}
	e.docker = append(e.docker, dm)
	return nil
}

func blobName(digest string) string { return "blobs/sha256/" + hexOf(digest) }

// blob copies a stored blob into the archive once.
func (e *exporter) blob(digest string) error {
	if e.seen[digest] {
		return nil
	}
	e.seen[digest] = true
	f, err := os.Open(e.s.blobPath(hexOf(digest)))
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := e.tw.WriteHeader(fileHeader(blobName(digest), st.Size())); err != nil {
		return err
	}
	_, err = io.Copy(e.tw, f)
	return err
}

func fileHeader(name string, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: time.Unix(0, 0)}
}

func (e *exporter) file(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := e.tw.WriteHeader(fileHeader(name, int64(len(b)))); err != nil {
		return err
	}
	_, err = e.tw.Write(b)
	return err
}

func (e *exporter) finish() error {
	e.index.SchemaVersion = 2
	e.index.MediaType = types.OCIImageIndex
	if err := e.file("oci-layout", map[string]string{"imageLayoutVersion": "1.0.0"}); err != nil {
		return err
	}
	if err := e.file("index.json", e.index); err != nil {
		return err
	}
	if err := e.file("manifest.json", e.docker); err != nil {
		return err
	}
	if e.repos != nil {
		if err := e.file("repositories", e.repos); err != nil {
			return err
		}
	}
	return e.tw.Close()
}
