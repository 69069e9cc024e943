package main

import (
	"fmt"
	"io"
	"os"

	// Also decodes this helper's own pulls in process.
	"github.com/berth-runtime/berth/internal/image/zstdlocal"
)

// unzstd decompresses standard input to standard output for berth, which
// links no zstd decoder; a failure is one line on standard error, which
// berth reports.
func unzstd() int {
	z, err := zstdlocal.NewReader(os.Stdin)
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
