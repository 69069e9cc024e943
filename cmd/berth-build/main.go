// Command berth-build is berth's builder: berth build runs it with the
// build's request on standard input, and berth commit runs it to apply
// --change instructions. It is a binary of its
// own because it links BuildKit's Dockerfile packages, whose package
// initialization (regular expressions, maps, protobuf registrations:
// about 1 ms) every berth command would otherwise pay, berth run included.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-runtime/berth/internal/dockerfile"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/selfexe"

	// Its pulls' zstd layers are decoded in process: go-containerregistry
	// links the decoder here anyway.
	_ "github.com/berth-runtime/berth/internal/image/zstdlocal"
)

// ChangesRequest is what berth commit sends on standard input.
type ChangesRequest struct {
	Config  v1.Config
	Changes []string
}

func main() {
	// Inside a rootless berth's user namespace: the stages berth vouched
	// for, which RUN's containers start with.
	selfexe.Adopt(rootless.Inside())
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "berth-build: run by berth (berth build, berth commit --change)")
		os.Exit(125)
	}
	switch os.Args[1] {
	case "changes":
		os.Exit(changes())
	case "build":
		os.Exit(runBuild())
	default:
		fmt.Fprintf(os.Stderr, "berth-build: unknown command %q\n", os.Args[1])
		os.Exit(125)
	}
}

// changes applies commit's --change instructions to a config: the
// request on standard input, the new config on standard output, or one
// line on standard error and status 125.
func changes() int {
	var req ChangesRequest
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintf(os.Stderr, "read the request: %v\n", err)
		return 125
	}
	cfg, err := dockerfile.ApplyChanges(req.Config, req.Changes)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	if err := json.NewEncoder(os.Stdout).Encode(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	return 0
}
