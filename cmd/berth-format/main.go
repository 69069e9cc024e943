// Command berth-format runs berth's --format templates that berth does
// not run itself, with text/template (internal/render/gotemplate): berth
// links no text/template, whose method lookups by name would keep every
// method of every type in berth's binary. It speaks render's protocol on
// stdin and stdout; berth starts it, one per template.
package main

import (
	"fmt"
	"os"

	"github.com/berth-runtime/berth/internal/render/gotemplate"
)

func main() {
	if err := gotemplate.Serve(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "berth-format: %v\n", err)
		os.Exit(1)
	}
}
