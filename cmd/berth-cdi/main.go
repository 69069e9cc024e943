// berth-cdi applies CDI devices to a container's OCI config: berth runs
// it only for containers given CDI devices or --gpus, so that the CDI
// library's init costs nothing to every other berth command. It reads the
// config as JSON on stdin and writes the edited one to stdout; an error is
// one line on stderr, exit status 2.
//
//	berth-cdi [--spec-dir DIR]... [--gpus VALUE] [--] [NAME...]
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/berth-runtime/berth/internal/cdidev"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

func run(args []string) error {
	var dirs, names []string
	gpus := ""
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case (a == "--spec-dir" || a == "--gpus") && i+1 < len(args):
			if a == "--gpus" {
				gpus = args[i+1]
			} else {
				dirs = append(dirs, args[i+1])
			}
			i++
		case a == "--":
			names = append(names, args[i+1:]...)
			i = len(args)
		default:
			names = append(names, a)
		}
	}
	var s specs.Spec
	if err := json.NewDecoder(os.Stdin).Decode(&s); err != nil {
		return fmt.Errorf("berth-cdi: read the OCI config: %v", err)
	}
	if err := cdidev.Inject(&s, dirs, names, gpus); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(&s)
}
