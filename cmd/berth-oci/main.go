// Command berth-oci is berth for container engines: runc's command line
// over an OCI bundle, for containerd, CRI-O and podman.
package main

import (
	"os"

	"github.com/berth-runtime/berth/internal/initproc"

	// One P when the CPUs are all taken as it starts (fifty starts at
	// once): no spinning threads and handoffs taking CPU from the others
	// (docs/design.md, Process model).
	_ "github.com/berth-runtime/berth/internal/cpubusy"
)

func main() {
	// The init stage is the same binary re-executed inside the
	// container's namespaces; it must not pay for the CLI.
	if initproc.IsInitStage() {
		initproc.Main()
	}
	os.Exit(execute(os.Args[1:]))
}
