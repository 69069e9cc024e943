// Command berth runs containers for people, the way docker run does,
// without a daemon.
package main

import (
	"os"

	"github.com/berth-runtime/berth/internal/initproc"
)

func main() {
	// The init stage is berth re-executed inside the container's
	// namespaces; it must not pay for the command-line machinery.
	if initproc.IsInitStage() {
		initproc.Main()
	}
	os.Exit(execute(os.Args[1:]))
}
