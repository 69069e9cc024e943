package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berth-runtime/berth/internal/errdefs"
	"golang.org/x/sys/unix"
)

// ErrNotFound means no image matches a reference.
var ErrNotFound = errdefs.Wrap(errdefs.ErrNotFound, errors.New("image not found"))

// notFound says which reference matched nothing, and how to get it.
type notFound struct{ ref string }

func (e notFound) Error() string {
	return fmt.Sprintf("image %q not found: pull it with berth pull %s, or import it with berth image import", e.ref, e.ref)
}

func (e notFound) Is(target error) bool {
	return target == ErrNotFound || target == errdefs.ErrNotFound
}

// Image describes a stored image.
type Image struct {
	ID       string    // the config's digest, as Docker's image ID
	Names    []string  // canonical tags, e.g. docker.io/library/alpine:latest
	Digests  []string  // repo@digest of what was pulled, e.g. docker.io/library/alpine@sha256:…
	Manifest string    // digest of the image manifest
	Layers   []Layer   // bottom first
	Created  time.Time // from the config
	Size     int64     // unpacked bytes of all layers
}

// Layer is one layer of an image.
type Layer struct {
	Digest    string `json:"digest"` // of the blob as stored (compressed or not)
	DiffID    string `json:"diffID"` // of the uncompressed tar, names the unpacked layer
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"` // of the blob
}

// record is an image in images.json.
type record struct {
	ID        string    `json:"id"`
	Manifest  string    `json:"manifest"`
	MediaType string    `json:"mediaType"`
	Layers    []Layer   `json:"layers"`
	Digests   []string  `json:"digests,omitempty"`
	Created   time.Time `json:"created"`
	// Intermediate is a build step's image (the build cache's): listed
	// by no images command, reached by ID only.
	Intermediate bool `json:"intermediate,omitempty"`
}

// meta is images.json: every image by ID, and every tag's image.
type meta struct {
	Images map[string]*record `json:"images"`
	Tags   map[string]string  `json:"tags"`
}

func (s *Store) readMeta() (*meta, error) {
	m := &meta{Images: map[string]*record{}, Tags: map[string]string{}}
	b, err := os.ReadFile(s.path("images.json"))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err == nil {
		err = json.Unmarshal(b, m)
	}
	if err != nil {
		return nil, fmt.Errorf("read image records: %w", err)
	}
	return m, nil
}

// updateMeta applies fn to images.json under the store lock and replaces
// the file by rename, so readers, who take no lock, see the old or the new
// records and never a partial file.
func (s *Store) updateMeta(fn func(*meta) error) error {
	l, err := lockPath(s.path("lock"), unix.LOCK_EX, true)
	if err != nil {
		return err
	}
	defer l.unlock()
	m, err := s.readMeta()
	if err != nil {
		return err
	}
	if err := fn(m); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	tmp := s.path("images.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write image records: %w", err)
	}
	if err := os.Rename(tmp, s.path("images.json")); err != nil {
		return fmt.Errorf("write image records: %w", err)
	}
	return nil
}

// names lists the tags of image id, sorted.
func (m *meta) names(id string) []string {
	var ns []string
	for n, i := range m.Tags {
		if i == id {
			ns = append(ns, n)
		}
	}
	sort.Strings(ns)
	return ns
}

// ParseName parses an image reference the way Docker does: a short name
// is on docker.io, under library/ when it has no slash, tagged latest
// when it has neither tag nor digest. It takes only what Docker's
// reference grammar allows: go-containerregistry alone would take empty
// and ".." path components ("a/../../b", sent as is in registry URLs),
// host names no DNS has, and tags that start with "." or "-".
func ParseName(s string) (Reference, error) { return parseName(s, false) }

// ParseFullName is ParseName for a reference that must name its
// registry, its whole repository path and a tag or digest itself, as a
// name in an image layout's annotations does.
func ParseFullName(s string) (Reference, error) { return parseName(s, true) }

func parseName(s string, full bool) (Reference, error) {
	if len(s) > maxReference {
		return Reference{}, fmt.Errorf("invalid image reference of %d characters: at most %d", len(s), maxReference)
	}
	if !referenceGrammar().MatchString(s) {
		return Reference{}, fmt.Errorf("invalid image reference %q: the form is [REGISTRY[:PORT]/]NAME[:TAG][@DIGEST], the name in lowercase letters and digits joined by . _ - or /", s)
	}
	ref, err := parseReference(s, full)
	if err != nil {
		// The grammar passed, so there is nothing in s to escape.
		return Reference{}, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	// As Docker, the length of the name as completed (docker.io/library/…).
	if n := len(ref.Repo()); n > maxName {
		return Reference{}, fmt.Errorf("invalid image reference %q: a name of %d characters, at most %d", s, n, maxName)
	}
	return ref, nil
}

// Docker's reference grammar (github.com/distribution/reference): a name
// is an optional registry host[:port] and path components of lowercase
// letters and digits joined by one separator (".", "_", "__" or dashes);
// a tag is at most 128 word characters, dots and dashes, not starting
// with a dot or dash; a digest is algorithm:hex of at least 128 bits.
// Compiled on first use, off the start of every berth command.
var referenceGrammar = sync.OnceValue(func() *regexp.Regexp {
	const (
		alnum     = `[a-z0-9]+`
		separator = `(?:[._]|__|[-]+)`
		component = alnum + `(?:` + separator + alnum + `)*`
		label     = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		host      = `(?:` + label + `(?:\.` + label + `)*|\[[a-fA-F0-9:]+\])`
		registry  = host + `(?::[0-9]+)?`
		path      = component + `(?:/` + component + `)*`
		tag       = `[\w][\w.-]{0,127}`
		digest    = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
	)
	return regexp.MustCompile(`^(?:` + registry + `/)?` + path + `(?::` + tag + `)?(?:@` + digest + `)?$`)
})

// Lengths Docker allows: a name (registry and path, completed) of 255
// characters; a whole reference is bounded too, so a hostile one is
// refused before the pattern reads it.
const (
	maxName      = 255
	maxReference = maxName + 1 + 128 + 1 + 256
)

// FamiliarName shortens a canonical name as docker images shows it:
// docker.io/library/alpine:latest is alpine:latest.
func FamiliarName(s string) string {
	if rest, ok := strings.CutPrefix(s, "docker.io/"); ok {
		return strings.TrimPrefix(rest, "library/")
	}
	return s
}

// SplitName splits a name into repository and tag, as docker images shows
// them: docker.io/library/alpine:latest is alpine and latest.
func SplitName(n string) (repo, tag string) {
	n = FamiliarName(n)
	i := strings.LastIndexByte(n, ':')
	if i < 0 || strings.Contains(n[i:], "/") {
		return n, ""
	}
	return n[:i], n[i+1:]
}

// resolve finds the image s names: a full ID, a tag, a name@digest, or
// a unique ID prefix (as Docker, a name wins over an ID prefix). isName
// reports whether s was a tag.
func (m *meta) resolve(s string) (rec *record, isName bool, err error) {
	if r, ok := m.Images[s]; ok {
		return r, false, nil
	}
	if ref, err := ParseName(s); err == nil {
		c := ref.Name()
		if id, ok := m.Tags[c]; ok && m.Images[id] != nil {
			return m.Images[id], true, nil
		}
		if ref.Digest != "" {
			if r := m.byDigest(c, ref.Digest); r != nil {
				return r, false, nil
			}
		}
	}
	if r, err := m.byPrefix(s); r != nil || err != nil {
		return r, false, err
	}
	return nil, false, notFound{s}
}

func (m *meta) byDigest(repoDigest, digest string) *record {
	for _, r := range m.Images {
		if r.Manifest == digest {
			return r
		}
		for _, d := range r.Digests {
			if d == repoDigest {
				return r
			}
		}
	}
	return nil
}

// byPrefix finds the image whose ID starts with s (at least 4 hex digits).
func (m *meta) byPrefix(s string) (*record, error) {
	hex := strings.TrimPrefix(s, "sha256:")
	if len(hex) < 4 || strings.Trim(hex, "0123456789abcdef") != "" {
		return nil, nil
	}
	var found *record
	for id, r := range m.Images {
		if strings.HasPrefix(id, "sha256:"+hex) {
			if found != nil {
				return nil, fmt.Errorf("image ID prefix %q is ambiguous: give more digits", s)
			}
			found = r
		}
	}
	return found, nil
}

// image turns a record into the public description.
func (s *Store) image(m *meta, r *record) Image {
	img := Image{
		ID: r.ID, Names: m.names(r.ID), Digests: r.Digests, Manifest: r.Manifest,
		Layers: r.Layers, Created: r.Created,
	}
	for _, l := range r.Layers {
		img.Size += s.layerSize(l.DiffID)
	}
	return img
}

// List returns every image, newest first.
func (s *Store) List() ([]Image, error) {
	m, err := s.readMeta()
	if err != nil {
		return nil, err
	}
	imgs := make([]Image, 0, len(m.Images))
	for _, r := range m.Images {
		if r.Intermediate {
			continue
		}
		imgs = append(imgs, s.image(m, r))
	}
	sort.Slice(imgs, func(i, j int) bool {
		if !imgs[i].Created.Equal(imgs[j].Created) {
			return imgs[i].Created.After(imgs[j].Created)
		}
		return imgs[i].ID < imgs[j].ID
	})
	return imgs, nil
}

// Get returns the image a reference (name, name@digest, ID or unique ID
// prefix) resolves to; errors.Is(err, ErrNotFound) when there is none.
func (s *Store) Get(ref string) (*Image, error) {
	m, err := s.readMeta()
	if err != nil {
		return nil, err
	}
	r, _, err := m.resolve(ref)
	if err != nil {
		return nil, err
	}
	img := s.image(m, r)
	return &img, nil
}

// Tag adds the name target to the image ref resolves to, moving it from
// any image that had it.
func (s *Store) tag(ref, target string) error {
	t, err := ParseName(target)
	if err != nil {
		return err
	}
	if t.Digest != "" {
		return fmt.Errorf("tag %s: a tag cannot have a digest", target)
	}
	return s.updateMeta(func(m *meta) error {
		r, _, err := m.resolve(ref)
		if err != nil {
			return err
		}
		m.Tags[t.Name()] = r.ID
		return nil
	})
}
