package image

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// ggcrParse is how berth parsed references before it had its own parser:
// Docker's grammar, then go-containerregistry's name package (with
// StrictValidation for a full name), then Docker's limit on the name.
func ggcrParse(s string, full bool) (name.Reference, error) {
	if len(s) > maxReference || !referenceGrammar().MatchString(s) {
		return nil, errRefused
	}
	var opts []name.Option
	if full {
		opts = append(opts, name.StrictValidation)
	}
	r, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, err
	}
	if len(CanonicalName(r.Context().Name())) > maxName {
		return nil, errRefused
	}
	return r, nil
}

var errRefused = errors.New("refused by the grammar or a length")

// sameAsGGCR fails t when berth's parse of s differs from
// go-containerregistry's: one refuses what the other takes, or they
// complete it differently.
func sameAsGGCR(t *testing.T, s string, full bool) {
	t.Helper()
	want, wantErr := ggcrParse(s, full)
	got, err := parseName(s, full)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q (full %v): berth: %v, go-containerregistry: %v", s, full, err, wantErr)
	}
	if err != nil {
		return
	}
	tag, digest := "", ""
	switch r := want.(type) {
	case name.Tag:
		tag = r.TagStr()
	case name.Digest:
		digest = r.DigestStr()
	}
	if got.Name() != CanonicalName(want.Name()) || got.Repo() != CanonicalName(want.Context().Name()) ||
		got.Registry != want.Context().RegistryStr() || got.Repository != want.Context().RepositoryStr() ||
		got.Tag != tag || got.Digest != digest || got.String() != want.String() {
		t.Fatalf("%q (full %v): berth %+v (%s), go-containerregistry %s", s, full, got, got.Name(), want.Name())
	}
}

var referenceSeeds = []string{
	"alpine", "alpine:3.19", "library/alpine", "docker.io/alpine", "docker.io/library/alpine:1",
	"index.docker.io/alpine", "index.docker.io/library/alpine:latest", "user/app:1", "a/b/c/d:e",
	"localhost/x", "localhost:5000/x", "localhost:5000/x:2", "localhost:5000", "localhost",
	"reg.example/x", "reg.example:443/team/app:v1.2", "[::1]:5000/x", "[::1]/x", "127.0.0.1:5000/a",
	"host/x", "Host/x", "UPPER.example.com/x", "a__b", "a---b", "a.b_c-d", "registry-1.docker.io/x",
	"alpine@sha256:" + strings.Repeat("a", 64), "alpine:3@sha256:" + strings.Repeat("b", 64),
	"r.example/a/b:t@sha256:" + strings.Repeat("c", 64), "alpine@sha384:" + strings.Repeat("d", 96),
	"alpine@sha512:" + strings.Repeat("e", 128), "alpine@sha256:" + strings.Repeat("A", 64),
	"alpine@sha256:" + strings.Repeat("a", 63), "alpine@md5:" + strings.Repeat("a", 32),
	"alpine@sha256:" + strings.Repeat("a", 65), "alpine@sha512:" + strings.Repeat("a", 64),
	"a:" + strings.Repeat("t", 128), strings.Repeat("a", 255), "a/" + strings.Repeat("b", 240),
	"r.example:99999/x", "r.example:0/x", "a.b:80/c", "a:b/c", "a:80", "docker.io:5000/x",
}

// TestReferenceMatchesGGCR: berth completes and refuses references as
// go-containerregistry's name package did, plain and full.
func TestReferenceMatchesGGCR(t *testing.T) {
	for _, s := range referenceSeeds {
		sameAsGGCR(t, s, false)
		sameAsGGCR(t, s, true)
	}
	for _, s := range hostileRefs {
		sameAsGGCR(t, s, false)
	}
}

// TestFullNames: a full name names its registry, the whole path and a
// tag or digest.
func TestFullNames(t *testing.T) {
	for _, s := range []string{"docker.io/library/alpine:3", "r.example/x:1", "r.example/x@sha256:" + strings.Repeat("a", 64)} {
		if _, err := ParseFullName(s); err != nil {
			t.Errorf("%q refused: %v", s, err)
		}
	}
	for _, s := range []string{"alpine:3", "docker.io/alpine:3", "r.example/x", "library/alpine:3"} {
		if r, err := ParseFullName(s); err == nil {
			t.Errorf("%q accepted as %s", s, r.Name())
		}
	}
}

// FuzzReferenceMatchesGGCR: on any input, berth's parser agrees with
// go-containerregistry's.
func FuzzReferenceMatchesGGCR(f *testing.F) {
	for _, s := range append(referenceSeeds, hostileRefs...) {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, full bool) { sameAsGGCR(t, s, full) })
}
