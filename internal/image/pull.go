package image

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth-runtime/berth/internal/credentials"
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
	// login store (credentials.Keychain).
	Keychain authn.Keychain
}

// Errors a caller may want to tell the user about in its own words.
var (
	ErrPlainHTTP     = errors.New("registry speaks plain http: add --tls-verify=false")
	ErrUntrustedTLS  = errors.New("registry's TLS certificate is not trusted: add --tls-verify=false if you trust it")
	ErrAccessDenied  = errors.New("access denied: the repository does not exist or needs credentials: log in with berth login REGISTRY (berth reads docker login's credentials too)")
	ErrNoSuchTag     = errors.New("manifest unknown: no such tag or digest in the repository")
	ErrNoPlatform    = errors.New("no image for this platform in the index")
	errRefusedHTTP   = errors.New("plain http not tried without --tls-verify=false")
	errUnsupportedMT = errors.New("unsupported manifest type")
)

// Pull fetches ref from its registry into the store and tags it.
// Completed blobs and layers are kept, so a pull that fails is resumed by
// the next one.
func (s *Store) Pull(ctx context.Context, ref string, o PullOptions) (*Image, error) {
	if _, err := ParseName(ref); err != nil {
		return nil, err // it quotes ref, which may hold anything
	}
	img, err := s.pull(ctx, ref, o)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, explain(err))
	}
	s.event("pull", FamiliarName(canonicalOf(ref)), FamiliarName(canonicalOf(ref)))
	return img, nil
}

func (s *Store) pull(ctx context.Context, ref string, o PullOptions) (*Image, error) {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := ParseName(ref, nopts...)
	if err != nil {
		return nil, err
	}
	plat, err := platform(o.Platform)
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
	a := addition{
		src:       remoteSource{client: &http.Client{Transport: tr}, repo: r.Context()},
		manifest:  raw,
		mediaType: string(mt),
		digests:   []string{canonical(r.Context().Digest(top.Digest.String()))},
		progress:  o.Progress,
	}
	if _, ok := r.(name.Tag); ok {
		a.names = []string{canonical(r)}
	}
	ad, err := s.startAdding()
	if err != nil {
		return nil, err
	}
	defer ad.done()
	return ad.add(ctx, a)
}

// pickManifest returns the image manifest for plat: top itself, or the
// matching entry of an index (nested indexes are followed, a few deep).
func pickManifest(r name.Reference, d *remote.Descriptor, plat v1.Platform, ropts []remote.Option) ([]byte, string, error) {
	for depth := 0; depth < 4; depth++ {
		if err := checkManifestSize("manifest "+d.Digest.String(), d.Manifest); err != nil {
			return nil, "", err
		}
		switch {
		case d.MediaType.IsImage():
			return d.Manifest, string(d.MediaType), nil
		case d.MediaType.IsSchema1():
			return nil, "", fmt.Errorf("%w: manifest schema 1 is deprecated, ask for the image to be pushed again", errUnsupportedMT)
		case !d.MediaType.IsIndex():
			return nil, "", fmt.Errorf("%w %q", errUnsupportedMT, d.MediaType)
		}
		idx, err := v1.ParseIndexManifest(strings.NewReader(string(d.Manifest)))
		if err != nil {
			return nil, "", fmt.Errorf("parse index: %w", err)
		}
		child, err := matchPlatform(idx.Manifests, plat)
		if err != nil {
			return nil, "", err
		}
		// Refused on the size the index declares, before it is fetched.
		if err := checkSize("manifest "+child.Digest.String()+" is", child.Size, MaxManifestBytes, "MaxManifestBytes"); err != nil {
			return nil, "", err
		}
		if d, err = remote.Get(r.Context().Digest(child.Digest.String()), ropts...); err != nil {
			return nil, "", err
		}
	}
	return nil, "", fmt.Errorf("indexes nested too deep")
}

// platform parses an os/arch[/variant] or returns the host's, with the
// variant Go was built for (GOARM) on arm, and v8 on arm64 as Docker does.
func platform(s string) (v1.Platform, error) {
	if s != "" {
		return ParsePlatform(s)
	}
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	switch runtime.GOARCH {
	case "arm64":
		p.Variant = "v8"
	case "arm":
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, kv := range bi.Settings {
				if kv.Key == "GOARM" {
					p.Variant = "v" + strings.SplitN(kv.Value, ",", 2)[0]
				}
			}
		}
	}
	return p, nil
}

// matchPlatform picks the index entry for want: same OS and architecture,
// the same variant preferred, then one without a variant.
func matchPlatform(ds []v1.Descriptor, want v1.Platform) (v1.Descriptor, error) {
	variant := func(p *v1.Platform) string {
		if p.Architecture == "arm64" && p.Variant == "" {
			return "v8"
		}
		return p.Variant
	}
	var loose *v1.Descriptor
	var seen []string
	for i, d := range ds {
		p := d.Platform
		if p == nil {
			continue
		}
		seen = append(seen, strconv.Quote(p.String()))
		if p.OS != want.OS || p.Architecture != want.Architecture {
			continue
		}
		if variant(p) == variant(&want) {
			return d, nil
		}
		if loose == nil && (p.Variant == "" || want.Variant == "") {
			loose = &ds[i]
		}
	}
	if loose != nil {
		return *loose, nil
	}
	if seen == nil {
		seen = []string{"none"}
	}
	return v1.Descriptor{}, fmt.Errorf("%w: want %s, have %s", ErrNoPlatform, want.String(), strings.Join(seen, ", "))
}

// newTransport authenticates to repo's registry with the keychain's
// credentials, for the action (transport.PullScope or PushScope). Plain
// http is refused unless insecure: go-containerregistry would otherwise
// fall back to it silently for localhost. The base transport is returned
// too, for closing its idle connections.
func newTransport(ctx context.Context, repo name.Repository, insecure bool, kc authn.Keychain, action string) (http.RoundTripper, *http.Transport, error) {
	if kc == nil {
		kc = credentials.Keychain
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
		return nil, ErrPlainHTTP
	case errors.As(err, &cv):
		return nil, fmt.Errorf("%w (%v)", ErrUntrustedTLS, cv.Err)
	}
	return nil, err
}

// explain turns a registry's error into one that says what to do.
func explain(err error) error {
	for _, e := range []error{ErrPlainHTTP, ErrUntrustedTLS} {
		if errors.Is(err, e) {
			return e
		}
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
			return ErrAccessDenied
		case te.StatusCode == http.StatusNotFound:
			return ErrNoSuchTag
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

func (r remoteSource) open(ctx context.Context, d v1.Descriptor, offset int64) (io.ReadCloser, int64, error) {
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
		return nil, 0, transient(err)
	}
	// A body the registry says is longer than the rest of the blob is
	// refused unread; one that does not say is cut by the caller.
	switch {
	case resp.StatusCode == http.StatusOK:
		if resp.ContentLength > d.Size {
			resp.Body.Close()
			return nil, 0, longerThanDeclared(d)
		}
		return resp.Body, 0, nil
	case resp.StatusCode == http.StatusPartialContent && strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", offset)):
		if resp.ContentLength > d.Size-offset {
			resp.Body.Close()
			return nil, 0, longerThanDeclared(d)
		}
		return resp.Body, offset, nil
	}
	defer resp.Body.Close()
	if offset > 0 && (resp.StatusCode == http.StatusPartialContent || resp.StatusCode == http.StatusRequestedRangeNotSatisfiable) {
		// A range we did not ask for, or refused: fetch it whole.
		return r.open(ctx, d, 0)
	}
	// %v, not %w: a missing blob is not explain's missing tag.
	err = fmt.Errorf("%v", transport.CheckError(resp, http.StatusOK))
	if resp.StatusCode >= 500 {
		err = transient(err)
	}
	return nil, 0, err
}
