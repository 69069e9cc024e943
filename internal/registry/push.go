package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/progress"
)

// PushOptions tune a push.
type PushOptions struct {
	// Insecure allows plain http and skips TLS certificate checks.
	Insecure bool
	// Progress receives per-layer events, under the layers' short
	// diffIDs as docker push shows them; nil discards them.
	Progress progress.Reporter
	// Keychain finds credentials; nil means keychain.
	Keychain authn.Keychain
}

// Pushed is what a push published.
type Pushed struct {
	Repository string // canonical, e.g. docker.io/library/alpine
	Tag        string
	Digest     string // of the manifest pushed
	Size       int64  // of the manifest pushed
}

// Push uploads the image tagged ref to the registry its name gives, as
// docker push: layers as stored (compressed blobs byte for byte, so a
// pulled image keeps its manifest digest); a layer stored uncompressed (an
// imported docker save archive) is gzip-compressed first, always the same
// way, under a new manifest, the config and so the image ID unchanged.
// The pushed repo@digest is recorded with the image.
func Push(ctx context.Context, s *image.Store, ref string, o PushOptions) (*Pushed, error) {
	p, err := push(ctx, s, ref, o)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", ref, explainPush(err))
	}
	return p, nil
}

func push(ctx context.Context, s *image.Store, ref string, o PushOptions) (*Pushed, error) {
	r, err := parseRef(ref, o.Insecure)
	if err != nil {
		return nil, err
	}
	tag, ok := r.(name.Tag)
	if !ok {
		return nil, fmt.Errorf("%w: push takes NAME[:TAG], not a digest", image.ErrNotTagged)
	}
	up, err := s.PrepareUpload(image.CanonicalName(tag.Name()))
	if err != nil {
		return nil, err
	}
	defer up.Close()

	tr, base, err := newTransport(ctx, tag.Context(), o.Insecure, o.Keychain, transport.PushScope)
	if err != nil {
		return nil, err
	}
	defer base.CloseIdleConnections()
	ropts := []remote.Option{remote.WithTransport(tr)}
	client := &http.Client{Transport: tr}

	reps := make([]*reporter, len(up.Layers))
	for i, l := range up.Layers {
		reps[i] = newReporter(o.Progress, l.DiffID)
		reps[i].Set(progress.Preparing, 0, 0)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i, l := range up.Layers {
		g.Go(func() error { return uploadBlob(gctx, client, tag.Context(), l, reps[i], ropts) })
	}
	g.Go(func() error { return uploadBlob(gctx, client, tag.Context(), up.Config, nil, ropts) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := remote.Put(tag, rawManifest{up.Manifest, types.MediaType(up.MediaType)}, append(ropts, remote.WithContext(ctx))...); err != nil {
		return nil, err
	}
	md := descriptorOf(up.Manifest, up.MediaType)
	repoDigest := image.CanonicalName(tag.Context().Digest(md.Digest.String()).Name())
	if err := s.RecordPushed(up.ID, repoDigest, ref); err != nil {
		return nil, err
	}
	return &Pushed{Repository: image.CanonicalName(tag.Context().Name()), Tag: tag.TagStr(), Digest: md.Digest.String(), Size: md.Size}, nil
}

// explainPush turns a registry's refusal into what to do about it.
func explainPush(err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return image.ErrPushDenied
	}
	return explain(err)
}

// uploadBlob uploads one blob unless the repository has it, reporting as
// docker push does when rep is not nil.
func uploadBlob(ctx context.Context, client *http.Client, repo name.Repository, bf image.UploadBlob, rep *reporter, ropts []remote.Option) error {
	exists, err := hasRemoteBlob(ctx, client, repo, bf.Desc.Digest)
	if err != nil {
		return err
	}
	if exists {
		rep.Set(progress.LayerExists, 0, 0)
		return nil
	}
	rep.Set(progress.Pushing, bf.Desc.Size, 0)
	l, err := partial.CompressedToLayer(fileLayer{bf, rep})
	if err != nil {
		return err
	}
	if err := remote.WriteLayer(repo, l, append(ropts, remote.WithContext(ctx))...); err != nil {
		return err
	}
	rep.Set(progress.Pushed, 0, 0)
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

// parallel is how many blobs are uploaded at once (Docker's default).
const parallel = 3

// descriptorOf describes bytes as a blob of media type mt.
func descriptorOf(b []byte, mt string) v1.Descriptor {
	sum := sha256.Sum256(b)
	return v1.Descriptor{MediaType: types.MediaType(mt), Size: int64(len(b)),
		Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
}

// fileLayer is a stored blob as go-containerregistry's compressed layer;
// its reads are counted into the layer's progress.
type fileLayer struct {
	bf  image.UploadBlob
	rep *reporter
}

func (f fileLayer) Digest() (v1.Hash, error)            { return f.bf.Desc.Digest, nil }
func (f fileLayer) Size() (int64, error)                { return f.bf.Desc.Size, nil }
func (f fileLayer) MediaType() (types.MediaType, error) { return f.bf.Desc.MediaType, nil }

func (f fileLayer) Compressed() (io.ReadCloser, error) {
	file, err := os.Open(f.bf.Path)
	if err != nil {
		return nil, err
	}
	// A retried upload reads again from the start.
	f.rep.Set(progress.Pushing, f.bf.Desc.Size, 0)
	return struct {
		io.Reader
		io.Closer
	}{io.TeeReader(file, f.rep.Counter()), file}, nil
}

// rawManifest is a manifest to put as it is.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// reporter sends one layer's progress (progress.Item).
type reporter = progress.Item

func newReporter(to progress.Reporter, digest string) *reporter {
	return progress.NewItem(to, progress.ShortID(digest))
}
