package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/berth-runtime/berth/internal/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runcVersion is the runc release whose command line berth-oci follows.
// runc compat: engines and runc's version.bats parse the first line of
// -v as "runc version X.Y.Z" to tell what the runtime supports.
const runcVersion = "1.1.5"

// versionText is -v's output in runc's layout, with berth-oci's own name
// and version on a line of its own.
func versionText() string {
	return fmt.Sprintf("runc version %s\ncommit: %s\nspec: %s\ngo: %s\nberth-oci version %s (runc %s's command line)\n",
		runcVersion, version, specs.Version, runtime.Version(), version, runcVersion)
}

// rootUsage is the root command's description, after runc's.
const rootUsage = `berth-oci is berth's runtime for container engines: it runs containers
packaged according to the Open Container Initiative (OCI) format, with the
command line of runc ` + runcVersion + `, so that an engine can use it in runc's place.

Containers are configured using bundles. A bundle for a container is a directory
that includes a specification file named "config.json" and a root filesystem.

To start a new instance of a container:

    # berth-oci run [ -b bundle ] <container-id>`

// writeHelp prints a command's help in the layout of runc's (urfave/cli):
// runc compat: runc's help.bats matches "NAME:" on the first line and
// "runc COMMAND" on the second.
func writeHelp(w io.Writer, cmd *cobra.Command) {
	bin := cmd.Root().Name()
	if !cmd.HasParent() {
		fmt.Fprintf(w, "NAME:\n   %s: runc - Open Container Initiative runtime\n\n%s\n\n", bin, rootUsage)
		fmt.Fprintf(w, "USAGE:\n   %s [global options] command [command options] [arguments...]\n\n", bin)
		fmt.Fprintf(w, "VERSION:\n   %s\n", indentRest(versionText()))
		fmt.Fprintf(w, "COMMANDS:\n")
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() {
				fmt.Fprintf(w, "     %-12s%s\n", c.Name(), c.Short)
			}
		}
		fmt.Fprintf(w, "\nGLOBAL OPTIONS:\n")
		writeFlags(w, cmd.PersistentFlags())
		return
	}
	use := strings.TrimPrefix(cmd.Use, cmd.Name())
	fmt.Fprintf(w, "NAME:\n   %s: runc %s - %s\n\n", bin, cmd.Name(), cmd.Short)
	fmt.Fprintf(w, "USAGE:\n   %s %s%s\n", bin, cmd.Name(), strings.Replace(use, "[flags]", "[command options]", 1))
	if cmd.Long != "" {
		fmt.Fprintf(w, "\n%s\n", cmd.Long)
	}
	if cmd.HasAvailableLocalFlags() {
		fmt.Fprintf(w, "\nOPTIONS:\n")
		writeFlags(w, cmd.LocalFlags())
	}
}

// indentRest indents every line of s but the first, as urfave/cli does.
func indentRest(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n   ") + "\n"
}

func writeFlags(w io.Writer, fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		name := "--" + f.Name
		if f.Shorthand != "" {
			name += ", -" + f.Shorthand
		}
		if f.Value.Type() != "bool" {
			name += " value"
		}
		fmt.Fprintf(w, "   %-32s%s\n", name, f.Usage)
	})
}

// errNoHelpTopic is an unknown command's error, in runc's words and with
// its status (runc compat: help.bats matches "No help topic for 'foo'").
func errNoHelpTopic(name string) error {
	return errdefs.Exit{Code: 3, Err: fmt.Errorf("No help topic for '%s'", name)}
}

// globalValueFlags are the global flags that take a value, to find the
// command name on a command line before cobra parses it.
var globalValueFlags = map[string]bool{"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true}

// commandIndex is the index of the first word of args that is not a
// global flag or its value: the command they name; -1 when there is none.
func commandIndex(args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case globalValueFlags[a]:
			i++
		case !strings.HasPrefix(a, "-"):
			return i
		}
	}
	return -1
}

// commandName is the command args name, or "".
func commandName(args []string) string {
	if i := commandIndex(args); i >= 0 {
		return args[i]
	}
	return ""
}

// unknownCommand returns the command that args name, if root has none of
// that name ("help NAME" names NAME).
func unknownCommand(root *cobra.Command, args []string) (string, bool) {
	i := commandIndex(args)
	if i < 0 {
		return "", false
	}
	a := args[i]
	if a == "help" && i+1 < len(args) {
		a = args[i+1]
	}
	for _, c := range root.Commands() {
		if c.Name() == a || c.HasAlias(a) {
			return "", false
		}
	}
	return a, a != "help"
}
