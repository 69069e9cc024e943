package main

import (
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"

	"github.com/berth-runtime/berth/internal/image"
)

// zstd streams are decoded here, for berth (`berth-registry unzstd`) and
// for this helper's own pulls (image.ZstdDecoder): berth links no zstd
// decoder (internal/image/zstd.go says why).
func init() { image.ZstdDecoder = newZstdReader }

// newZstdReader decodes r in this process, one goroutine, the window
// bounded.
func newZstdReader(r io.Reader) (io.ReadCloser, error) {
	z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(image.MaxZstdWindow))
	if err != nil {
		return nil, err
	}
	return z.IOReadCloser(), nil
}

// unzstd decompresses standard input to standard output; a failure is
// one line on standard error, which berth reports.
func unzstd() int {
	z, err := newZstdReader(os.Stdin)
	if err == nil {
		defer z.Close()
		_, err = io.Copy(os.Stdout, z)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "zstd: %v\n", err)
		return 1
	}
	return 0
}
