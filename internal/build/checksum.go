package build

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/berth-runtime/berth/internal/errdefs"
)

// checksum is ADD --checksum's digest: ALG:HEX, as BuildKit's
// digest.Parse takes it (sha256, sha384 or sha512).
type checksum struct {
	alg, hex string
	newHash  func() hash.Hash
}

func (c checksum) String() string { return c.alg + ":" + c.hex }

// parseChecksum reads --checksum=ALG:HEX.
func parseChecksum(s string) (checksum, error) {
	alg, hx, _ := strings.Cut(s, ":")
	algs := map[string]struct {
		size int
		fn   func() hash.Hash
	}{"sha256": {32, sha256.New}, "sha384": {48, sha512.New384}, "sha512": {64, sha512.New}}
	a, ok := algs[alg]
	if !ok {
		return checksum{}, errdefs.New(errdefs.ErrInvalidArgument, "ADD --checksum=%s: want sha256:HEX (or sha384:, sha512:)", s)
	}
	if b, err := hex.DecodeString(hx); err != nil || len(b) != a.size || strings.ToLower(hx) != hx {
		return checksum{}, errdefs.New(errdefs.ErrInvalidArgument, "ADD --checksum=%s: want %s: and %d lowercase hex digits", s, alg, 2*a.size)
	}
	return checksum{alg: alg, hex: hx, newHash: a.fn}, nil
}

// checkSources refuses --checksum where BuildKit does: on COPY's
// sources, on more than one source, on a local file (BuildKit takes it
// for HTTP(S) and Git sources only).
func checkSources(sum checksum, srcs []string) error {
	if len(srcs) != 1 {
		return errdefs.New(errdefs.ErrInvalidArgument, "ADD --checksum: give one source (it checks that source alone)")
	}
	if !isURL(srcs[0]) {
		return errdefs.New(errdefs.ErrInvalidArgument, "ADD --checksum=%s %s: --checksum checks HTTP(S) sources only, as BuildKit: a local file is the context's", sum, srcs[0])
	}
	return nil
}

// verify reads file and refuses it unless its digest is sum, in one line
// naming both digests.
func (c checksum) verify(src, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h := c.newHash()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("ADD %s: %w", src, err)
	}
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != c.hex {
		return errdefs.New(errdefs.ErrInvalidArgument, "ADD %s: checksum mismatch: expected %s, got %s:%s", src, c, c.alg, got)
	}
	return nil
}

// addChecksum is ADD's --checksum, checked against its sources; nil
// without one.
func addChecksum(c *instructions.AddCommand) (*checksum, error) {
	if c.Checksum == "" {
		return nil, nil
	}
	sum, err := parseChecksum(c.Checksum)
	if err != nil {
		return nil, err
	}
	if err := checkSources(sum, c.SourcePaths); err != nil {
		return nil, err
	}
	return &sum, nil
}
