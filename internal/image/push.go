package image

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/berth-runtime/berth/internal/progress"
)

// PushOptions tune a push.
type PushOptions struct {
	// Insecure allows plain http and skips TLS certificate checks.
	Insecure bool
	// Progress receives per-layer events, under the layers' short
	// diffIDs as docker push shows them; nil discards them.
	Progress progress.Reporter
	// Keychain finds credentials; nil means credentials.Keychain.
	Keychain authn.Keychain
}

// Pushed is what a push published.
type Pushed struct {
	Repository string // canonical, e.g. docker.io/library/alpine
	Tag        string
	Digest     string // of the manifest pushed
	Size       int64  // of the manifest pushed
}

// ErrPushDenied means the registry refused the push for its credentials.
var ErrPushDenied = errors.New("denied: requested access to the resource is denied: log in with berth login REGISTRY, with an account that may push to this repository")

// ErrNotTagged means a push named an image by something else than a tag.
var ErrNotTagged = errors.New("an image does not exist locally with this tag")

// Push uploads the image tagged ref to the registry its name gives, as
// docker push: layers as stored (compressed blobs byte for byte, so a
// pulled image keeps its manifest digest); a layer stored uncompressed (an
// imported docker save archive) is gzip-compressed first, always the same
// way, under a new manifest, the config and so the image ID unchanged.
// The pushed repo@digest is recorded with the image.
func (s *Store) Push(ctx context.Context, ref string, o PushOptions) (*Pushed, error) {
	p, err := s.push(ctx, ref, o)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", ref, explainPush(err))
	}
	s.event("push", FamiliarName(canonicalOf(ref)), FamiliarName(canonicalOf(ref)))
	return p, nil
}

func (s *Store) push(ctx context.Context, ref string, o PushOptions) (*Pushed, error) {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := ParseName(ref, nopts...)
	if err != nil {
		return nil, err
	}
	tag, ok := r.(name.Tag)
	if !ok {
		return nil, fmt.Errorf("%w: push takes NAME[:TAG], not a digest", ErrNotTagged)
	}
	release, err := s.Hold()
	if err != nil {
		return nil, err
	}
	defer release()
	m, err := s.readMeta()
	if err != nil {
		return nil, err
	}
	id, ok := m.Tags[canonical(tag)]
	rec := m.Images[id]
	if !ok || rec == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotTagged, FamiliarName(canonical(tag)))
	}
	up, err := s.uploadable(rec)
	if err != nil {
		return nil, err
	}
	defer up.cleanup()

	tr, base, err := newTransport(ctx, tag.Context(), o.Insecure, o.Keychain, transport.PushScope)
	if err != nil {
		return nil, err
	}
	defer base.CloseIdleConnections()
	ropts := []remote.Option{remote.WithTransport(tr)}
	client := &http.Client{Transport: tr}

	reps := make([]*reporter, len(up.layers))
	for i, l := range up.layers {
		reps[i] = newReporter(o.Progress, l.diffID)
		reps[i].set(progress.Preparing, 0, 0)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i, l := range up.layers {
		g.Go(func() error { return uploadBlob(gctx, client, tag.Context(), l, reps[i], ropts) })
	}
	g.Go(func() error { return uploadBlob(gctx, client, tag.Context(), up.config, nil, ropts) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := remote.Put(tag, rawManifest{up.manifest, types.MediaType(up.mediaType)}, append(ropts, remote.WithContext(ctx))...); err != nil {
		return nil, err
	}
	md := descriptorOf(up.manifest, up.mediaType)
	repoDigest := canonical(tag.Context().Digest(md.Digest.String()))
	err = s.updateMeta(func(mt *meta) error {
		if r := mt.Images[rec.ID]; r != nil && !slices.Contains(r.Digests, repoDigest) {
			r.Digests = append(r.Digests, repoDigest)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Pushed{Repository: canonicalRepo(tag.Context()), Tag: tag.TagStr(), Digest: md.Digest.String(), Size: md.Size}, nil
}

// explainPush turns a registry's refusal into what to do about it.
func explainPush(err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return ErrPushDenied
	}
	return explain(err)
}

// upload is an image ready to push: its manifest and its blobs' files.
type upload struct {
	manifest  []byte
	mediaType string
	config    blobFile
	layers    []blobFile
	temps     []string // recompressed layers, removed after the push
}

func (u *upload) cleanup() {
	for _, t := range u.temps {
		os.Remove(t)
	}
}

// blobFile is one blob to upload, read from a file.
type blobFile struct {
	path   string
	desc   v1.Descriptor
	diffID string
}

// uploadable prepares rec for a push: the stored manifest when its layers
// are all compressed, else a manifest of the same config whose
// uncompressed layers are gzip-compressed into tmp/.
func (s *Store) uploadable(rec *record) (*upload, error) {
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
	u := &upload{manifest: raw, mediaType: rec.MediaType,
		config: blobFile{path: s.blobPath(m.Config.Digest.Hex), desc: m.Config}}
	changed := false
	for i, d := range m.Layers {
		bf := blobFile{path: s.blobPath(d.Digest.Hex), desc: d, diffID: rec.Layers[i].DiffID}
		if uncompressed(d.MediaType) {
			if bf, err = s.gzipBlob(bf, m.MediaType); err != nil {
				u.cleanup()
				return nil, err
			}
			u.temps = append(u.temps, bf.path)
			m.Layers[i] = bf.desc
			changed = true
		}
		u.layers = append(u.layers, bf)
	}
	if changed {
		if u.manifest, err = json.Marshal(m); err != nil {
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
func (s *Store) gzipBlob(bf blobFile, manifestType types.MediaType) (blobFile, error) {
	in, err := os.Open(bf.path)
	if err != nil {
		return blobFile{}, err
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
		return blobFile{}, err
	}
	d, err := s.writeHashed(f, pr)
	pr.CloseWithError(err)
	if err != nil {
		os.Remove(f.Name())
		return blobFile{}, fmt.Errorf("compress layer %s: %w", bf.diffID, err)
	}
	d.MediaType = types.OCILayer
	if manifestType == types.DockerManifestSchema2 {
		d.MediaType = types.DockerLayer
	}
	return blobFile{path: f.Name(), desc: d, diffID: bf.diffID}, nil
}

// uploadBlob uploads one blob unless the repository has it, reporting as
// docker push does when rep is not nil.
func uploadBlob(ctx context.Context, client *http.Client, repo name.Repository, bf blobFile, rep *reporter, ropts []remote.Option) error {
	exists, err := hasRemoteBlob(ctx, client, repo, bf.desc.Digest)
	if err != nil {
		return err
	}
	if exists {
		rep.set(progress.LayerExists, 0, 0)
		return nil
	}
	rep.set(progress.Pushing, bf.desc.Size, 0)
	l, err := partial.CompressedToLayer(fileLayer{bf, rep})
	if err != nil {
		return err
	}
	if err := remote.WriteLayer(repo, l, append(ropts, remote.WithContext(ctx))...); err != nil {
		return err
	}
	rep.set(progress.Pushed, 0, 0)
	return nil
}

// hasRemoteBlob asks the registry whether repo has the blob (HEAD).
func hasRemoteBlob(ctx context.Context, client *http.Client, repo name.Repository, h v1.Hash) (bool, error) {
	// The transport rewrites the scheme to what the registry answered on.
	u := url.URL{Scheme: "https", Host: repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/blobs/%s", repo.RepositoryStr(), h)}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, transport.CheckError(resp, http.StatusOK)
}

// fileLayer is a stored blob as go-containerregistry's compressed layer;
// its reads are counted into the layer's progress.
type fileLayer struct {
	bf  blobFile
	rep *reporter
}

func (f fileLayer) Digest() (v1.Hash, error)            { return f.bf.desc.Digest, nil }
func (f fileLayer) Size() (int64, error)                { return f.bf.desc.Size, nil }
func (f fileLayer) MediaType() (types.MediaType, error) { return f.bf.desc.MediaType, nil }

func (f fileLayer) Compressed() (io.ReadCloser, error) {
	file, err := os.Open(f.bf.path)
	if err != nil {
		return nil, err
	}
	// A retried upload reads again from the start.
	f.rep.set(progress.Pushing, f.bf.desc.Size, 0)
	return struct {
		io.Reader
		io.Closer
	}{io.TeeReader(file, f.rep.counter()), file}, nil
}

// rawManifest is a manifest to put as it is.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

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
