package image

import (
	"fmt"
	"net/url"
	"strings"
)

// Reference is an image reference completed as Docker completes it: a
// short name is on Docker Hub, under library/ when it has no slash, and
// tagged latest when it has neither tag nor digest.
//
// berth parses references itself rather than with go-containerregistry's
// name package, which it parses exactly as (TestReferenceMatchesGGCR):
// that package and go-digest, which it imports, compile seven regular
// expressions as they are initialized, in every process that links them,
// and berth run would pay for them at each start (docs/bench.md). The
// registry client (internal/registry, in berth-registry) still uses
// go-containerregistry's names for the protocol.
type Reference struct {
	// Registry is host[:port]; Docker Hub is index.docker.io, as the
	// registry protocol and go-containerregistry name it.
	Registry string
	// Repository is the path in the registry, library/ included.
	Repository string
	// Tag is "" when the reference has a digest (a tag given with a
	// digest is dropped, as go-containerregistry drops it).
	Tag string
	// Digest is algorithm:hex, or "".
	Digest string

	original string
}

// dockerHub is Docker Hub's registry host as the protocol names it.
const dockerHub = "index.docker.io"

// String is the reference as it was given.
func (r Reference) String() string { return r.original }

// Name is the reference's stored form: docker.io/library/alpine:latest,
// or docker.io/library/alpine@sha256:….
func (r Reference) Name() string {
	if r.Digest != "" {
		return r.Repo() + "@" + r.Digest
	}
	return r.Repo() + ":" + r.Tag
}

// Repo is the repository's stored form: docker.io/library/alpine.
func (r Reference) Repo() string { return CanonicalName(r.Registry + "/" + r.Repository) }

// CanonicalName is a name as berth stores it: Docker Hub's names start
// with docker.io/ (go-containerregistry says index.docker.io).
func CanonicalName(n string) string {
	if rest, ok := strings.CutPrefix(n, dockerHub+"/"); ok {
		return "docker.io/" + rest
	}
	return n
}

// parseReference splits s, which matched referenceGrammar, into a
// Reference. full asks for a reference that names everything itself:
// registry, the whole repository path, and a tag or digest
// (go-containerregistry's StrictValidation).
func parseReference(s string, full bool) (Reference, error) {
	ref := Reference{original: s}
	base := s
	if i := strings.IndexByte(s, '@'); i >= 0 {
		base, ref.Digest = s[:i], s[i+1:]
		if err := checkRefDigest(ref.Digest); err != nil {
			return Reference{}, err
		}
	}
	// A tag follows the last colon, unless a slash does (host:port/path).
	if i := strings.LastIndexByte(base, ':'); i >= 0 && !strings.Contains(base[i+1:], "/") {
		base, ref.Tag = base[:i], base[i+1:]
	}
	if ref.Digest != "" {
		ref.Tag = ""
	} else if ref.Tag == "" {
		if full {
			return Reference{}, fmt.Errorf("no tag: give NAME:TAG")
		}
		ref.Tag = "latest"
	}
	// The first path component is a registry when it looks like a host:
	// localhost, or a name with a dot or a port.
	ref.Repository = base
	if first, rest, ok := strings.Cut(base, "/"); ok && (first == "localhost" || strings.ContainsAny(first, ".:")) {
		ref.Registry, ref.Repository = first, rest
	}
	if err := checkRepository(ref.Repository); err != nil {
		return Reference{}, err
	}
	if err := completeRegistry(&ref, full); err != nil {
		return Reference{}, err
	}
	if !strings.Contains(ref.Repository, "/") && ref.Registry == dockerHub {
		if full {
			return Reference{}, fmt.Errorf("no namespace: give docker.io/library/%s", ref.Repository)
		}
		ref.Repository = "library/" + ref.Repository
	}
	return ref, nil
}

// completeRegistry checks ref's registry and fills in Docker Hub's.
func completeRegistry(ref *Reference, full bool) error {
	switch ref.Registry {
	case "":
		if full {
			return fmt.Errorf("no registry: give REGISTRY/NAME")
		}
		ref.Registry = dockerHub
	case "docker.io":
		ref.Registry = dockerHub
	default:
		return checkAuthority(ref.Registry)
	}
	return nil
}

// checkAuthority refuses a registry that is not a URL's authority as it
// stands: the registry goes into URLs.
func checkAuthority(host string) error {
	if u, err := url.Parse("//" + host); err != nil || u.Host != host {
		return fmt.Errorf("registry %q is not a host[:port]", host)
	}
	return nil
}

// checkRepository is go-containerregistry's check of a repository path:
// 1 to 255 of lowercase letters, digits and _ - . /.
func checkRepository(repo string) error {
	if len(repo) < 1 || len(repo) > 255 {
		return fmt.Errorf("a repository of %d characters: 1 to 255", len(repo))
	}
	if strings.Trim(repo, "abcdefghijklmnopqrstuvwxyz0123456789_-./") != "" {
		return fmt.Errorf("repository %q: only lowercase letters, digits and _ - . / are allowed", repo)
	}
	return nil
}

// digestHexLen is the length of the hex digest of each algorithm berth
// takes: those go-digest knows.
var digestHexLen = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}

// checkRefDigest takes what go-digest's Validate takes: a known algorithm
// and its whole digest in lowercase hex.
func checkRefDigest(d string) error {
	alg, hex, _ := strings.Cut(d, ":")
	n, ok := digestHexLen[alg]
	if !ok {
		return fmt.Errorf("unsupported digest algorithm %q: use sha256", alg)
	}
	if len(hex) != n || strings.Trim(hex, "0123456789abcdef") != "" {
		return fmt.Errorf("digest %q: a %s digest is %d lowercase hex digits", d, alg, n)
	}
	return nil
}
