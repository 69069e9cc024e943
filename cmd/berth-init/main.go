// Command berth-init is the init stage of berth and berth-oci on its own:
// the process that sets a container up inside its new namespaces and
// execs its program. berth and berth-oci exec it (from a read-only handle)
// when it is installed beside them, and otherwise run their own built-in
// copy; it is a separate binary only because it starts faster, linking
// nothing but the init stage.
package main

import (
	"fmt"
	"os"

	"github.com/berth-runtime/berth/internal/initproc"
)

func main() {
	if !initproc.IsInitStage() {
		fmt.Fprintln(os.Stderr, "berth-init: this is the init stage of berth and berth-oci, which start it; it is not run by hand")
		os.Exit(2)
	}
	initproc.Main()
}
