// Command berth-oci is berth for container engines: runc's command line
// over an OCI bundle, for containerd, CRI-O and podman.
package main

import (
	"os"

	"github.com/berth-runtime/berth/internal/initproc"

	// One P when the CPUs are all taken as it starts (fifty starts at
	// once): no spinning threads and handoffs taking CPU from the others.
	// berth gets it through internal/hugeheap, which berth-oci does not
	// import: its heap faults come almost all before any package's init,
	// in the Go runtime's own, and the huge page saved it no time (0.99
	// to 1.00 of its start without) for 2 MiB more peak RSS
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
