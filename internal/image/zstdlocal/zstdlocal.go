// Package zstdlocal decodes zstd in this process, for the binaries that
// link a zstd decoder anyway through go-containerregistry's remote
// (berth-registry, berth-build): importing it sets image.ZstdDecoder.
// berth itself does not link it (internal/image/zstd.go says why), and
// has berth-registry decode for it.
package zstdlocal

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"

	"github.com/berth-runtime/berth/internal/image"
)

func init() { image.ZstdDecoder = NewReader }

// NewReader decodes r with one goroutine, the frame's window bounded
// (image.MaxZstdWindow).
func NewReader(r io.Reader) (io.ReadCloser, error) {
	z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(image.MaxZstdWindow))
	if err != nil {
		return nil, err
	}
	return z.IOReadCloser(), nil
}

// Decompress writes the zstd stream r decompressed to w (berth-registry
// unzstd, for berth).
func Decompress(w io.Writer, r io.Reader) error {
	z, err := NewReader(r)
	if err != nil {
		return fmt.Errorf("zstd: %w", err)
	}
	defer z.Close()
	if _, err := io.Copy(w, z); err != nil {
		return fmt.Errorf("zstd: %w", err)
	}
	return nil
}
