package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Docker's warnings before each prune.
const (
	pruneContainersWarning = "WARNING! This will remove all stopped containers."
	pruneImagesWarning     = "WARNING! This will remove all dangling images."
	pruneAllImagesWarning  = "WARNING! This will remove all images without at least one container associated to them."
	pruneNetworksWarning   = "WARNING! This will remove all custom networks not used by at least one container."
	pruneVolumesWarning    = "WARNING! This will remove anonymous local volumes not used by at least one container."
	pruneAllVolumesWarning = "WARNING! This will remove all local volumes not used by at least one container."
)

// confirm asks the user, as docker's prune commands do: the warning and
// "[y/N]" on errw (stdout keeps only what was removed), the answer one
// line of in, terminal or not; anything but y or yes, end of input
// included, is no.
func confirm(in io.Reader, errw io.Writer, warning string) bool {
	fmt.Fprintf(errw, "%s\nAre you sure you want to continue? [y/N] ", warning)
	answer, _ := bufio.NewReader(in).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes"
}

// addForce gives a prune command docker's -f/--force.
func addForce(cmd *cobra.Command, force *bool) {
	cmd.Flags().BoolVarP(force, "force", "f", false, "do not ask for confirmation")
}

// confirmed is whether to go on: -f, or the user said yes.
func confirmed(force bool, warning string) bool {
	return force || confirm(os.Stdin, os.Stderr, warning)
}
