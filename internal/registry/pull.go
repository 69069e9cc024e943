// Package registry is berth's registry client: pull, push and the login
// check, over go-containerregistry's transport. It is linked by the
// berth-registry helper (which berth runs for pull, push, login and the
// pulls of run and create, through internal/registry/client) and by
// berth-build, never by berth itself: net/http, crypto/tls and the
// registry client's package initialization cost every berth command
// otherwise (docs/design.md). What it needs of the store is
// internal/image's: AddFetched for a pull, PrepareUpload and
// RecordPushed for a push.
package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/progress"
)

// PullOptions tune a pull.
type PullOptions struct {
	// Insecure allows plain http and skips TLS certificate checks
	// (berth pull --tls-verify=false).
	Insecure bool
	// Platform picks from a multi-platform index, as os/arch[/variant];
	// empty means the host's.
	Platform string
	// Progress receives per-layer events; nil discards them.
	Progress progress.Reporter
	// Keychain finds credentials; nil means those berth login and docker
	// login store (keychain).
	Keychain authn.Keychain
}

// errRefusedHTTP: go-containerregistry would fall back to plain http
// for a localhost registry silently.
var errRefusedHTTP = errors.New("plain http not tried without --tls-verify=false")

// Pull fetches ref from its registry into the store and tags it.
// Completed blobs and layers are kept, so a pull that fails is resumed by
// the next one.
func Pull(ctx context.Context, s *image.Store, ref string, o PullOptions) (*image.Image, error) {
	if _, err := image.ParseName(ref); err != nil {
		return nil, err // it quotes ref, which may hold anything
	}
	img, err := pullImage(ctx, s, ref, o)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, explain(err))
	}
	return img, nil
}

func pullImage(ctx context.Context, s *image.Store, ref string, o PullOptions) (*image.Image, error) {
	r, err := parseRef(ref, o.Insecure)
	if err != nil {
		return nil, err
	}
	plat, err := image.Platform(o.Platform)
	if err != nil {
		return nil, err
	}
	tr, base, err := newTransport(ctx, r.Context(), o.Insecure, o.Keychain, transport.PullScope)
	if err != nil {
		return nil, err
	}
	// The pull's connections end with it: a long-lived caller (a test,
	// an engine) would otherwise keep every pull's idle keep-alive
	// connections open for the pool's 90 s.
	defer base.CloseIdleConnections()
	ropts := []remote.Option{remote.WithTransport(tr), remote.WithContext(ctx)}
	top, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, err
	}
	raw, mt, err := pickManifest(r, top, plat, ropts)
	if err != nil {
		return nil, err
	}
	f := image.Fetched{
		Ref:       ref,
		Manifest:  raw,
		MediaType: string(mt),
		Digests:   []string{image.CanonicalName(r.Context().Digest(top.Digest.String()).Name())},
		Progress:  o.Progress,
	}
	if _, ok := r.(name.Tag); ok {
		f.Names = []string{image.CanonicalName(r.Name())}
	}
	src := remoteSource{client: &http.Client{Transport: tr}, repo: r.Context()}
	return s.AddFetched(ctx, src, f)
}

// pickManifest returns the image manifest for plat: top itself, or the
// matching entry of an index (nested indexes are followed, a few deep).
func pickManifest(r name.Reference, d *remote.Descriptor, plat v1.Platform, ropts []remote.Option) ([]byte, string, error) {
	for depth := 0; depth < 4; depth++ {
		if err := image.CheckManifestSize("manifest "+d.Digest.String(), d.Manifest); err != nil {
			return nil, "", err
		}
		switch {
		case d.MediaType.IsImage():
			return d.Manifest, string(d.MediaType), nil
		case d.MediaType.IsSchema1():
			return nil, "", image.UnsupportedMediaType(string(d.MediaType), "manifest schema 1 is deprecated, ask for the image to be pushed again")
		case !d.MediaType.IsIndex():
			return nil, "", image.UnsupportedMediaType(string(d.MediaType), "")
		}
		idx, err := v1.ParseIndexManifest(strings.NewReader(string(d.Manifest)))
		if err != nil {
			return nil, "", fmt.Errorf("parse index: %w", err)
		}
		child, err := image.MatchPlatform(idx.Manifests, plat)
		if err != nil {
			return nil, "", err
		}
		// Refused on the size the index declares, before it is fetched.
		if err := image.CheckDeclaredManifest(child); err != nil {
			return nil, "", err
		}
		if d, err = remote.Get(r.Context().Digest(child.Digest.String()), ropts...); err != nil {
			return nil, "", err
		}
	}
	return nil, "", fmt.Errorf("indexes nested too deep")
}

// newTransport authenticates to repo's registry with the keychain's
// credentials, for the action (transport.PullScope or PushScope). Plain
// http is refused unless insecure: go-containerregistry would otherwise
// fall back to it silently for localhost. The base transport is returned
// too, for closing its idle connections.
func newTransport(ctx context.Context, repo name.Repository, insecure bool, kc authn.Keychain, action string) (http.RoundTripper, *http.Transport, error) {
	if kc == nil {
		kc = keychain{}
	}
	auth, err := kc.Resolve(repo)
	if err != nil {
		return nil, nil, fmt.Errorf("read credentials: %w", err)
	}
	base, g := baseTransport(insecure)
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, g, []string{repo.Scope(action)})
	return rt, base, err
}

// baseTransport is a fresh connection pool behind the guard.
func baseTransport(insecure bool) (*http.Transport, *guard) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		base.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return base, &guard{inner: base, insecure: insecure}
}

// guard refuses plain http unless allowed and names the usual TLS
// failures, so the user gets the fix rather than a Go error.
type guard struct {
	inner    http.RoundTripper
	insecure bool
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.insecure {
		return nil, errRefusedHTTP
	}
	req.Header.Set("User-Agent", "berth")
	resp, err := g.inner.RoundTrip(req)
	if err == nil {
		return resp, nil
	}
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/":
		return nil, image.ErrPlainHTTP
	case errors.As(err, &cv):
		return nil, fmt.Errorf("%w (%v)", image.ErrUntrustedTLS, cv.Err)
	}
	return nil, err
}

// explain turns a registry's error into one that says what to do.
func explain(err error) error {
	for _, e := range []error{image.ErrPlainHTTP, image.ErrUntrustedTLS} {
		if errors.Is(err, e) {
			return e
		}
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
			return image.ErrAccessDenied
		case te.StatusCode == http.StatusNotFound:
			return image.ErrNoSuchTag
		}
	}
	return err
}

// remoteSource fetches blobs from a repository with Range requests, so a
// download cut short is resumed where it stopped.
type remoteSource struct {
	client *http.Client
	repo   name.Repository
}

func (r remoteSource) OpenBlob(ctx context.Context, d v1.Descriptor, offset int64) (io.ReadCloser, int64, error) {
	if offset == d.Size && offset > 0 {
		return io.NopCloser(strings.NewReader("")), offset, nil
	}
	// The transport rewrites the scheme to what the registry answered on.
	u := url.URL{Scheme: "https", Host: r.repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/blobs/%s", r.repo.RepositoryStr(), d.Digest)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, d.Size-1))
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, 0, image.Transient(err)
	}
	// A body the registry says is longer than the rest of the blob is
	// refused unread; one that does not say is cut by the caller.
	switch {
	case resp.StatusCode == http.StatusOK:
		if resp.ContentLength > d.Size {
			resp.Body.Close()
			return nil, 0, image.LongerThanDeclared(d)
		}
		return resp.Body, 0, nil
	case resp.StatusCode == http.StatusPartialContent && strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", offset)):
		if resp.ContentLength > d.Size-offset {
			resp.Body.Close()
			return nil, 0, image.LongerThanDeclared(d)
		}
		return resp.Body, offset, nil
	}
	defer resp.Body.Close()
	if offset > 0 && (resp.StatusCode == http.StatusPartialContent || resp.StatusCode == http.StatusRequestedRangeNotSatisfiable) {
		// A range we did not ask for, or refused: fetch it whole.
		return r.OpenBlob(ctx, d, 0)
	}
	// %v, not %w: a missing blob is not explain's missing tag.
	err = fmt.Errorf("%v", transport.CheckError(resp, http.StatusOK))
	if resp.StatusCode >= 500 {
		err = image.Transient(err)
	}
	return nil, 0, err
}

// parseRef parses ref for go-containerregistry's remote calls, after
// berth's own check (image.ParseName), which takes less than it does
// and completes names the same way.
func parseRef(ref string, insecure bool) (name.Reference, error) {
	if _, err := image.ParseName(ref); err != nil {
		return nil, err
	}
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	return r, nil
}
