package image

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/progress"
)

// layerDir is where an unpacked layer's tree lives: the overlay lower dir.
func (s *Store) layerDir(diffID v1.Hash) string {
	return filepath.Join(s.layerPath(diffID.Hex), "diff")
}

func (s *Store) hasLayer(diffID v1.Hash) bool {
	st, err := os.Lstat(s.layerPath(diffID.Hex))
	return err == nil && st.IsDir()
}

// layerSize is the unpacked size recorded with a layer (what its files
// hold), 0 if unknown.
func (s *Store) layerSize(diffID string) int64 {
	h, err := v1.NewHash(diffID)
	if err != nil {
		return 0
	}
	return s.layerNumber(h, "size")
}

// LayerSize is the unpacked size of layer diffID (what its files hold),
// 0 if unknown: what deleting it frees (berth system df).
func (s *Store) LayerSize(diffID string) int64 { return s.layerSize(diffID) }

// layerCharge is what a stored layer was charged to its image's budget
// when it was unpacked (its stream, sparse files at full size), which an
// image that shares it is charged again; its size where the store is
// older than that record.
func (s *Store) layerCharge(diffID v1.Hash) int64 {
	if n := s.layerNumber(diffID, "charged"); n > 0 {
		return n
	}
	return s.layerNumber(diffID, "size")
}

func (s *Store) layerNumber(diffID v1.Hash, file string) int64 {
	b, err := os.ReadFile(filepath.Join(s.layerPath(diffID.Hex), file))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// ensureLayer unpacks the stored blob of l into layers/<diffID hex>
// unless it is there, charging what it unpacks to (or the size recorded
// with the layer already there) to the image's budget. Only one unpack of
// a layer runs at a time (its lock); it happens in a directory of its own
// under tmp/ that is renamed into place only once complete and verified,
// so readers never see a partial layer and a refused one leaves nothing.
func (s *Store) ensureLayer(l Layer, b *budget, rep *reporter) (existed bool, err error) {
	diffID, err := v1.NewHash(l.DiffID)
	if err == nil {
		err = checkDigest(diffID)
	}
	if err != nil {
		return false, fmt.Errorf("layer %s: bad diff ID: %w", l.Digest, err)
	}
	if s.hasLayer(diffID) {
		return true, b.charge(s.layerCharge(diffID))
	}
	lk, err := lockPath(s.path("locks", "layer-"+diffID.Hex), unix.LOCK_EX, true)
	if err != nil {
		return false, err
	}
	defer lk.unlock()
	if s.hasLayer(diffID) {
		return true, b.charge(s.layerCharge(diffID))
	}
	tmp, err := os.MkdirTemp(s.path("tmp"), "layer-"+diffID.Hex[:12]+"-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := s.unpackBlob(l, diffID, tmp, b, rep); err != nil {
		return false, fmt.Errorf("unpack layer %s: %w", l.Digest, err)
	}
	if err := os.Rename(tmp, s.layerPath(diffID.Hex)); err != nil {
		return false, fmt.Errorf("unpack layer %s: %w", l.Digest, err)
	}
	return false, nil
}

// unpackBlob unpacks l's blob into tmp/diff, checks the uncompressed
// stream against diffID and records the size.
func (s *Store) unpackBlob(l Layer, diffID v1.Hash, tmp string, b *budget, rep *reporter) error {
	blob, err := v1.NewHash(l.Digest)
	if err != nil {
		return err
	}
	f, err := os.Open(s.blobPath(blob.Hex))
	if err != nil {
		return err
	}
	defer f.Close()
	rep.Set(progress.Extracting, l.Size, 0)
	r, err := decompress(io.TeeReader(f, rep.Counter()))
	if err != nil {
		return err
	}
	defer r.Close()
	share := b.layerShare()
	h := sha256.New()
	tee := io.TeeReader(&capReader{r: corruptReader{r}, b: share}, h)
	diff := filepath.Join(tmp, "diff")
	if err := os.Mkdir(diff, 0o700); err != nil {
		return err
	}
	st, err := unpack(tee, diff, s.Limits, share)
	if err != nil {
		return err
	}
	// The diff ID covers the whole stream, the tar's end padding too.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return err
	}
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != diffID.Hex {
		return fmt.Errorf("diff ID mismatch: got sha256:%s, want %s", got, diffID)
	}
	if err := os.WriteFile(filepath.Join(tmp, "size"), []byte(strconv.FormatInt(st.Bytes, 10)), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(tmp, "charged"), []byte(strconv.FormatInt(share.used.Load(), 10)), 0o600)
}

// ErrCorruptLayer is a layer blob, its digest verified, whose compressed
// stream does not decompress: the blob is worth nothing, and a load or
// pull that brought it discards it (refused).
var ErrCorruptLayer = errors.New("corrupt layer")

// corruptReader marks the decompressor's errors ErrCorruptLayer.
type corruptReader struct{ r io.Reader }

func (c corruptReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", ErrCorruptLayer, err)
	}
	return n, err
}

// capReader charges every byte read to an image's budget and fails once
// it is spent: a small gzip cannot blow up past the limit.
type capReader struct {
	r io.Reader
	b *budget
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if cerr := c.b.charge(int64(n)); cerr != nil {
		return 0, cerr
	}
	return n, err
}

// decompress recognizes gzip and zstd by their magic numbers (a media
// type may lie; the bytes cannot) and passes anything else through as tar.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorruptLayer, err)
		}
		return z, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return unzstd(br)
	}
	return io.NopCloser(br), nil
}

// LowerDirs returns the unpacked layer directories of the image ref
// resolves to, top layer first, as overlay's lowerdir= wants them. Note
// that the mount data is one page: with this root's path length, about 40
// layers fit.
func (s *Store) LowerDirs(ref string) ([]string, error) {
	img, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	dirs := make([]string, 0, len(img.Layers))
	seen := make(map[string]bool, len(img.Layers))
	for i := len(img.Layers) - 1; i >= 0; i-- {
		h, err := v1.NewHash(img.Layers[i].DiffID)
		if err != nil {
			return nil, err
		}
		// A layer twice in one image (two empty commits, the same step
		// twice) is one directory here, and overlay refuses a lower dir
		// given twice (ELOOP). Its top occurrence alone gives the same
		// tree: everything the lower copy holds, the upper one covers.
		if seen[h.Hex] {
			continue
		}
		seen[h.Hex] = true
		if !s.hasLayer(h) {
			return nil, fmt.Errorf("image %s: layer %s is missing: pull or import the image again", ref, h)
		}
		dirs = append(dirs, s.layerDir(h))
	}
	return dirs, nil
}
