package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newManCommand writes a man page for every command from the same
// definitions as --help (make man; installed by make install). The roff
// is written here rather than with cobra's doc package, whose markdown
// dependencies cost every berth process, the init stage included, half a
// millisecond of package initialization.
func newManCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:     "gen-man DIR",
		Short:   "Write berth's man pages into DIR",
		Example: "  berth gen-man /usr/local/share/man/man1",
		Args:    cobra.ExactArgs(1),
		Hidden:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return fmt.Errorf("man pages: %w", err)
			}
			return writeManTree(root, args[0])
		},
	}
}

func writeManTree(c *cobra.Command, dir string) error {
	if c.Hidden || c.Name() == "help" {
		return nil
	}
	name := strings.ReplaceAll(c.CommandPath(), " ", "-")
	f, err := os.Create(filepath.Join(dir, name+".1"))
	if err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	w := bufio.NewWriter(f)
	writeMan(w, c, name)
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("man pages: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	for _, sub := range c.Commands() {
		if err := writeManTree(sub, dir); err != nil {
			return err
		}
	}
	return nil
}

func writeMan(w *bufio.Writer, c *cobra.Command, name string) {
	fmt.Fprintf(w, ".TH %q 1 \"\" \"berth %s\" \"berth manual\"\n", strings.ToUpper(name), version)
	fmt.Fprintf(w, ".SH NAME\n%s \\- %s\n", name, roff(c.Short))
	fmt.Fprintf(w, ".SH SYNOPSIS\n.B %s\n", roff(c.UseLine()))
	desc := c.Long
	if desc == "" {
		desc = c.Short
	}
	fmt.Fprintf(w, ".SH DESCRIPTION\n%s\n", roff(desc))
	writeFlags(w, "OPTIONS", c.NonInheritedFlags())
	writeFlags(w, "GLOBAL OPTIONS", c.InheritedFlags())
	if c.Example != "" {
		fmt.Fprintf(w, ".SH EXAMPLES\n.nf\n%s\n.fi\n", roff(c.Example))
	}
	var see []string
	if c.HasParent() {
		see = append(see, strings.ReplaceAll(c.Parent().CommandPath(), " ", "-")+"(1)")
	}
	for _, sub := range c.Commands() {
		if !sub.Hidden && sub.Name() != "help" {
			see = append(see, strings.ReplaceAll(sub.CommandPath(), " ", "-")+"(1)")
		}
	}
	if len(see) > 0 {
		fmt.Fprintf(w, ".SH SEE ALSO\n%s\n", strings.Join(see, ", "))
	}
}

func writeFlags(w *bufio.Writer, title string, flags *pflag.FlagSet) {
	if !flags.HasAvailableFlags() {
		return
	}
	fmt.Fprintf(w, ".SH %s\n", title)
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		head := "\\fB--" + f.Name + "\\fR"
		if f.Shorthand != "" {
			head = "\\fB-" + f.Shorthand + "\\fR, " + head
		}
		if f.Value.Type() != "bool" {
			head += " " + f.Value.Type()
		}
		fmt.Fprintf(w, ".TP\n%s\n%s", head, roff(f.Usage))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" {
			fmt.Fprintf(w, " (default %s)", roff(f.DefValue))
		}
		fmt.Fprintln(w)
	})
}

// roff escapes text for a man page: backslashes, and lines that would
// start with a control character.
func roff(s string) string {
	s = strings.ReplaceAll(s, "\\", "\\e")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = "\\&" + l
		}
	}
	return strings.Join(lines, "\n")
}
