package registry

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-runtime/berth/internal/image"
)

// The tests moved here with the code from internal/image, where they
// called the store's Pull and Push and looked into its directories: Store
// is the image store with those, so that they read as they did.

type Store struct{ *image.Store }

func Open(root string) (*Store, error) {
	s, err := image.Open(root)
	if err != nil {
		return nil, err
	}
	return &Store{s}, nil
}

func (s *Store) Pull(ctx context.Context, ref string, o PullOptions) (*image.Image, error) {
	return Pull(ctx, s.Store, ref, o)
}

func (s *Store) Push(ctx context.Context, ref string, o PushOptions) (*Pushed, error) {
	return Push(ctx, s.Store, ref, o)
}

func (s *Store) path(p ...string) string { return filepath.Join(append([]string{s.Root()}, p...)...) }

func (s *Store) blobPath(hex string) string { return s.path("blobs", "sha256", hex) }

type (
	Image         = image.Image
	Limits        = image.Limits
	ImportOptions = image.ImportOptions
)

const (
	MaxLayers         = image.MaxLayers
	MaxImageBytes     = image.MaxImageBytes
	MaxLayerBlobBytes = image.MaxLayerBlobBytes
	MaxManifestBytes  = image.MaxManifestBytes
)

var (
	ErrLimit        = image.ErrLimit
	ErrNotFound     = image.ErrNotFound
	ErrNoPlatform   = image.ErrNoPlatform
	ErrNotTagged    = image.ErrNotTagged
	ErrPlainHTTP    = image.ErrPlainHTTP
	ErrUntrustedTLS = image.ErrUntrustedTLS
	ErrLoginDenied  = image.ErrLoginDenied
	RegistryHost    = image.RegistryHost
	ParseName       = image.ParseName
	FamiliarName    = image.FamiliarName
)
var retries = image.Retries()

func (s *Store) layerPath(hex string) string { return s.path("layers", hex) }

// dockerManifest is an entry of docker save's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func writeFile(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func importOne(t *testing.T, s *Store, path string, o ImportOptions) *Image {
	t.Helper()
	imgs, err := s.Import(context.Background(), path, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 {
		t.Fatalf("%d images", len(imgs))
	}
	return imgs[0]
}
