package image

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-runtime/berth/internal/progress"
)

// The store's side of pull, push and login. The network code is in
// internal/registry, linked by the berth-registry and berth-build helpers
// only, so that berth itself links neither net/http nor crypto/tls; what
// it needs of the store is here, and the errors its callers test stay
// here too (berth-registry sends their names back to berth, which
// rebuilds them: internal/registry/client).

// Errors a caller may want to tell the user about in its own words.
var (
	ErrPlainHTTP    = errors.New("registry speaks plain http: add --tls-verify=false")
	ErrUntrustedTLS = errors.New("registry's TLS certificate is not trusted: add --tls-verify=false if you trust it")
	ErrAccessDenied = errors.New("access denied: the repository does not exist or needs credentials: log in with berth login REGISTRY (berth reads docker login's credentials too)")
	ErrNoSuchTag    = errors.New("manifest unknown: no such tag or digest in the repository")
	ErrNoPlatform   = errors.New("no image for this platform in the index")
	// ErrPushDenied means the registry refused the push for its credentials.
	ErrPushDenied = errors.New("denied: requested access to the resource is denied: log in with berth login REGISTRY, with an account that may push to this repository")
	// ErrNotTagged means a push named an image by something else than a tag.
	ErrNotTagged = errors.New("an image does not exist locally with this tag")
	// ErrLoginDenied means the registry refused the credentials.
	ErrLoginDenied = errors.New("unauthorized: incorrect username or password")

	errUnsupportedMT = errors.New("unsupported manifest type")
)

// UnsupportedMediaType refuses a manifest of media type mt; detail, if
// any, says what to do.
func UnsupportedMediaType(mt, detail string) error {
	if detail != "" {
		return fmt.Errorf("%w: %s", errUnsupportedMT, detail)
	}
	return fmt.Errorf("%w %q", errUnsupportedMT, mt)
}

// Transient marks a failure worth another try (a dropped connection, a
// 5xx), without changing its message: the store retries the blob.
func Transient(err error) error { return transient(err) }

// LongerThanDeclared refuses a blob whose stream goes on past the size
// its descriptor declares.
func LongerThanDeclared(d v1.Descriptor) error { return longerThanDeclared(d) }

// CheckManifestSize refuses a manifest or index larger than berth reads.
func CheckManifestSize(what string, b []byte) error { return checkManifestSize(what, b) }

// CheckDeclaredManifest refuses, before it is fetched, a manifest an
// index declares larger than berth reads.
func CheckDeclaredManifest(d v1.Descriptor) error {
	return checkSize("manifest "+d.Digest.String()+" is", d.Size, MaxManifestBytes, "MaxManifestBytes")
}

// Fetched is an image manifest a registry served, for AddFetched.
type Fetched struct {
	Ref       string // as the user gave it, for the store's pull event
	Manifest  []byte // the image manifest, exactly as published
	MediaType string
	Names     []string // canonical tags to give the image
	Digests   []string // canonical repo@digest it was fetched by
	Progress  progress.Reporter
}

// AddFetched stores the image f describes, its blobs from src, as a pull:
// completed blobs and layers are kept, so an addition that fails is
// resumed by the next one.
func (s *Store) AddFetched(ctx context.Context, src BlobSource, f Fetched) (*Image, error) {
	ad, err := s.startAdding()
	if err != nil {
		return nil, err
	}
	img, err := ad.add(ctx, addition{src: src, manifest: f.Manifest, mediaType: f.MediaType,
		names: f.Names, digests: f.Digests, progress: f.Progress})
	ad.done()
	if err != nil {
		return nil, err
	}
	s.event("pull", FamiliarName(canonicalOf(f.Ref)), FamiliarName(canonicalOf(f.Ref)))
	return img, nil
}

// Upload is a stored image ready to push: its manifest and its blobs'
// files. The store keeps them until Close.
type Upload struct {
	ID        string
	Manifest  []byte
	MediaType string
	Config    UploadBlob
	Layers    []UploadBlob
	temps     []string // recompressed layers, removed by Close
	release   func()
}

// UploadBlob is one blob to upload, read from a file.
type UploadBlob struct {
	Path   string
	Desc   v1.Descriptor
	DiffID string // a layer's, for progress as docker push shows it
}

// PrepareUpload readies the image tagged tag (its stored form,
// CanonicalName) for a push (see uploadable) and holds the store's
// content until the Upload is closed.
func (s *Store) PrepareUpload(tag string) (*Upload, error) {
	release, err := s.Hold()
	if err != nil {
		return nil, err
	}
	m, err := s.readMeta()
	if err != nil {
		release()
		return nil, err
	}
	id, ok := m.Tags[tag]
	rec := m.Images[id]
	if !ok || rec == nil {
		release()
		return nil, fmt.Errorf("%w: %s", ErrNotTagged, FamiliarName(tag))
	}
	up, err := s.uploadable(rec)
	if err != nil {
		release()
		return nil, err
	}
	up.release = release
	return up, nil
}

// Close removes the upload's temporary files and drops its hold.
func (u *Upload) Close() {
	u.cleanup()
	if u.release != nil {
		u.release()
	}
}

// RecordPushed records that the image id was pushed as repoDigest
// (canonical repo@digest) by ref, as docker push does.
func (s *Store) RecordPushed(id, repoDigest, ref string) error {
	err := s.updateMeta(func(mt *meta) error {
		if r := mt.Images[id]; r != nil && !slices.Contains(r.Digests, repoDigest) {
			r.Digests = append(r.Digests, repoDigest)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.event("push", FamiliarName(canonicalOf(ref)), FamiliarName(canonicalOf(ref)))
	return nil
}

// RegistryHost is the registry a login names, as the registry protocol
// names it (index.docker.io for Docker Hub): server is a host[:port], a
// URL (https://host/v1/ as Docker Hub's key is written), or "" for Docker
// Hub.
func RegistryHost(server string) (string, error) {
	h := server
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		h = u.Host
	}
	switch h {
	case "", "docker.io", "registry-1.docker.io":
		h = dockerHub
	}
	if len(h) > maxName || !registryGrammar().MatchString(h) {
		return "", fmt.Errorf("invalid registry %q: give HOST[:PORT]", server)
	}
	if err := checkAuthority(h); err != nil {
		return "", fmt.Errorf("invalid registry %q: give HOST[:PORT]", server)
	}
	return h, nil
}

// registryGrammar is the registry part of Docker's reference grammar,
// compiled on first use: berth run never needs it.
var registryGrammar = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
})

// SetRetryDelay sets the wait before a dropped download is resumed
// within a pull: tests of the registry code make it short.
func SetRetryDelay(d time.Duration) { retryDelay = d }

// Retries is how many times a pull tries a dropped download before it
// gives up (the next pull resumes it again).
func Retries() int { return retries }
