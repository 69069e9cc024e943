package main

import (
	"fmt"
	"os"

	// Also decodes this helper's own pulls in process.
	"github.com/berth-runtime/berth/internal/image/zstdlocal"
)

// unzstd decompresses standard input to standard output for berth, which
// links no zstd decoder; a failure is one line on standard error, which
// berth reports.
func unzstd() int {
	if err := zstdlocal.Decompress(os.Stdout, os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
