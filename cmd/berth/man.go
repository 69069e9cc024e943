package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCommand writes a man page for every command from the same
// definitions as --help (make man; installed by make install).
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
			root.DisableAutoGenTag = true
			header := &doc.GenManHeader{Title: "BERTH", Section: "1", Source: "berth " + version, Manual: "berth manual"}
			if err := doc.GenManTree(root, header, args[0]); err != nil {
				return fmt.Errorf("man pages: %w", err)
			}
			return nil
		},
	}
}
