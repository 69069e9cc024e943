package image

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/progress"
)

// BlobSource yields the blobs of one image being added: a registry's
// (internal/registry), an archive's.
type BlobSource interface {
	// OpenBlob returns d's bytes from offset when it can (resuming a
	// download), else from 0; start says which.
	OpenBlob(ctx context.Context, d v1.Descriptor, offset int64) (rc io.ReadCloser, start int64, err error)
}

// transientError marks a failure worth another try (a dropped
// connection, a 5xx), without changing its message.
type transientError struct{ err error }

func (e transientError) Error() string { return e.err.Error() }
func (e transientError) Unwrap() error { return e.err }

func transient(err error) error { return transientError{err} }

func isTransient(err error) bool {
	var t transientError
	return errors.As(err, &t)
}

// retries and retryDelay govern how often a dropped download is resumed
// within one pull before giving up (a later pull resumes it again).
var (
	retries    = 3
	retryDelay = time.Second
)

// checkDigest refuses what the store cannot name: only sha256 is used.
func checkDigest(h v1.Hash) error {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return fmt.Errorf("unsupported digest %q", h)
	}
	return nil
}

func (s *Store) hasBlob(h v1.Hash) bool {
	st, err := os.Lstat(s.blobPath(h.Hex))
	return err == nil && st.Mode().IsRegular()
}

// ensureBlob makes blobs/sha256/<hex> hold d, fetched from src unless it is
// there. Only one fetch of a blob runs at a time (its lock). A fetch cut
// short keeps what it received in tmp/partial-<hex> and the next one
// resumes from there; the digest is checked over the whole blob before it
// is renamed into place, and a blob that fails the check is dropped.
func (s *Store) ensureBlob(ctx context.Context, src BlobSource, d v1.Descriptor, rep *reporter) (existed bool, err error) {
	if err := checkDigest(d.Digest); err != nil {
		return false, err
	}
	if d.Size < 0 {
		return false, fmt.Errorf("blob %s: negative size", d.Digest)
	}
	if s.hasBlob(d.Digest) {
		return true, nil
	}
	l, err := lockPath(s.path("locks", "blob-"+d.Digest.Hex), unix.LOCK_EX, true)
	if err != nil {
		return false, err
	}
	defer l.unlock()
	if s.hasBlob(d.Digest) {
		return true, nil
	}
	for attempt := 1; ; attempt++ {
		err = s.fetchBlob(ctx, src, d, rep)
		if err == nil || !isTransient(err) || attempt >= retries || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(retryDelay * time.Duration(attempt)):
		case <-ctx.Done():
		}
	}
	if err != nil {
		return false, fmt.Errorf("fetch blob %s: %w", d.Digest, err)
	}
	return false, nil
}

// fetchBlob downloads d into its partial file, resuming it, verifies the
// digest and renames it into place. The caller holds the blob's lock.
func (s *Store) fetchBlob(ctx context.Context, src BlobSource, d v1.Descriptor, rep *reporter) error {
	partial := s.path("tmp", "partial-"+d.Digest.Hex)
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	have, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if have > d.Size {
		have, h = 0, sha256.New()
	}
	rc, start, err := src.OpenBlob(ctx, d, have)
	if err != nil {
		if refused(err) {
			os.Remove(partial)
		}
		return err
	}
	defer rc.Close()
	if start != have {
		if start != 0 {
			return fmt.Errorf("source resumed at %d, asked %d", start, have)
		}
		h = sha256.New()
	}
	if err := f.Truncate(start); err != nil {
		return err
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	rep.Set(progress.Downloading, d.Size, start)
	// One byte more than expected is read so that an oversized blob is
	// caught rather than cut to size.
	n, err := io.Copy(io.MultiWriter(f, h, rep.Counter()), io.LimitReader(rc, d.Size-start+1))
	if err != nil {
		return transient(err)
	}
	rep.Set(progress.Verifying, d.Size, d.Size)
	if start+n > d.Size {
		os.Remove(partial)
		return longerThanDeclared(d)
	}
	if got := "sha256:" + fmt.Sprintf("%x", h.Sum(nil)); start+n != d.Size || got != d.Digest.String() {
		// Corrupt, not incomplete: start over next time.
		os.Remove(partial)
		return fmt.Errorf("digest mismatch: got %s (%d bytes), want %s (%d bytes)", got, start+n, d.Digest, d.Size)
	}
	if err := os.Rename(partial, s.blobPath(d.Digest.Hex)); err != nil {
		return err
	}
	return nil
}

// longerThanDeclared refuses a blob whose stream goes on past the size
// its manifest declares; the stream is not read further.
func longerThanDeclared(d v1.Descriptor) error {
	return overLimit("longer than the %d bytes its manifest declares", d.Size)
}

// putBlob stores bytes already in memory (a manifest or config), checking
// them against their descriptor.
func (s *Store) putBlob(d v1.Descriptor, b []byte) error {
	if err := checkDigest(d.Digest); err != nil {
		return err
	}
	if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != d.Digest.Hex || int64(len(b)) != d.Size {
		return fmt.Errorf("blob %s: digest mismatch: got sha256:%s (%d bytes)", d.Digest, got, len(b))
	}
	if s.hasBlob(d.Digest) {
		return nil
	}
	f, err := os.CreateTemp(s.path("tmp"), "put-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), s.blobPath(d.Digest.Hex))
	}
	if err != nil {
		return fmt.Errorf("store blob %s: %w", d.Digest, err)
	}
	return nil
}

// descriptorOf describes bytes as a blob of media type mt.
func descriptorOf(b []byte, mt string) v1.Descriptor {
	return v1.Descriptor{
		MediaType: types.MediaType(mt),
		Size:      int64(len(b)),
		Digest:    v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))},
	}
}
