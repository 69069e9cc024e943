// Command berth-oci is berth for container engines: runc's command line
// over an OCI bundle, for containerd, CRI-O and podman.
package main

import (
	"os"

	"github.com/berth-runtime/berth/internal/initproc"

	// Its init maps the heap with one huge page: a start with a few
	// hundred fewer page faults (docs/design.md, Process model).
	_ "github.com/berth-runtime/berth/internal/hugeheap"
)

func main() {
	// The init stage is the same binary re-executed inside the
	// container's namespaces; it must not pay for the CLI.
	if initproc.IsInitStage() {
		initproc.Main()
	}
	os.Exit(execute(os.Args[1:]))
}
