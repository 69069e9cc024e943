// Package image is berth's image store: pulling from OCI and Docker v2
// registries, importing and exporting archives, and the unpacked layers a
// container's root filesystem is made of.
//
// Layout under the root (created 0700, so no host user reaches the
// setuid files and device-free but otherwise verbatim layer trees):
//
//	lock                   flock'ed exclusively to update images.json
//	gc.lock                shared by whoever adds or uses content not yet
//	                       referenced (pull, import, a container starting);
//	                       exclusive to delete content (remove, prune)
//	images.json            image records and tags, replaced by rename
//	blobs/sha256/<hex>     manifests, configs and layer blobs as fetched, so
//	                       an export is byte-exact
//	layers/<diffID hex>/   one unpacked layer: diff/ (an overlay lower dir,
//	                       whiteouts in overlay's format) and size; present
//	                       only when complete (renamed into place)
//	locks/                 one flock file per blob and per layer, so two
//	                       pulls never fetch or unpack the same thing twice
//	tmp/                   partial-<hex>: resumable downloads; anything else
//	                       is work in progress, collected by the next Open
//	                       that finds no one working
//
// The package knows nothing of containers: callers pass a function saying
// whether an image is in use.
package image

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultRoot is where berth keeps images unless told otherwise.
const DefaultRoot = "/var/lib/berth"

// Store is an image store under one root directory. Its methods are safe
// for concurrent use, by goroutines and by processes sharing the root.
type Store struct {
	root string
	// Limits apply to every image added; set before use.
	Limits Limits
}

// Open opens (creating if needed) the store at root and collects what
// crashed operations left in tmp/.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open image store %s: %w", root, err)
	}
	s := &Store{root: abs, Limits: DefaultLimits}
	for _, d := range []string{"", "blobs/sha256", "layers", "locks", "tmp"} {
		if err := os.MkdirAll(s.path(d), 0o700); err != nil {
			return nil, fmt.Errorf("open image store %s: %w", root, err)
		}
	}
	// The root keeps host users away from setuid binaries and the layers'
	// contents: enforce it even on a root someone else created.
	if err := os.Chmod(abs, 0o700); err != nil {
		return nil, fmt.Errorf("open image store %s: %w", root, err)
	}
	if err := s.collectTemp(); err != nil {
		return nil, err
	}
	return s, nil
}

// Root is the store's root directory.
func (s *Store) Root() string { return s.root }

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.root}, elem...)...)
}

func (s *Store) blobPath(hex string) string  { return s.path("blobs", "sha256", hex) }
func (s *Store) layerPath(hex string) string { return s.path("layers", hex) }

// Hold keeps remove and prune from deleting any content until release is
// called. Take it before resolving an image for a new container and
// release it once the container's record names the image (from then on
// the inUse callbacks protect it). Remove and Prune wait for every hold,
// so never call them while holding one.
func (s *Store) Hold() (release func(), err error) {
	l, err := lockPath(s.path("gc.lock"), unix.LOCK_SH, true)
	if err != nil {
		return nil, err
	}
	return l.unlock, nil
}

// collectTemp removes leftovers of operations that died, keeping partial
// downloads for resumption unless they are larger than any blob berth
// fetches. It only runs when it can take gc.lock exclusively: then no
// pull, import or removal is under way, and everything else in tmp/ is
// dead.
func (s *Store) collectTemp() error {
	l, err := lockPath(s.path("gc.lock"), unix.LOCK_EX, false)
	if err == errBusy {
		return nil
	}
	if err != nil {
		return err
	}
	defer l.unlock()
	return s.removeTemp(func(name string) bool {
		if !strings.HasPrefix(name, "partial-") {
			return true
		}
		st, err := os.Lstat(s.path("tmp", name))
		return err == nil && (!st.Mode().IsRegular() || st.Size() > s.Limits.LayerBlobBytes)
	})
}

// removeTemp removes the entries of tmp/ that match.
func (s *Store) removeTemp(match func(name string) bool) error {
	ents, err := os.ReadDir(s.path("tmp"))
	if err != nil {
		return fmt.Errorf("collect image store temp: %w", err)
	}
	for _, e := range ents {
		if match(e.Name()) {
			if err := os.RemoveAll(s.path("tmp", e.Name())); err != nil {
				return fmt.Errorf("collect image store temp: %w", err)
			}
		}
	}
	return nil
}

// lockShared takes gc.lock shared for an operation that adds content.
func (s *Store) lockShared() (*fileLock, error) {
	return lockPath(s.path("gc.lock"), unix.LOCK_SH, true)
}
