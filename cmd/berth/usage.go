package main

import (
	"fmt"
	"strings"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/spf13/cobra"
)

// usageErrors makes every usage mistake docker's: one line, then "See
// 'berth COMMAND --help'.", exit 125. Cobra would print a group's help and
// exit 0 for an unknown subcommand (berth container nope), and suggests
// commands two edits away (load for logs); unknown records the first.
func usageErrors(root *cobra.Command, unknown *error) {
	root.Args = cobra.ArbitraryArgs // unknown root commands reach the help func too
	root.SuggestionsMinimumDistance = 1
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return seeHelp(c, err) })
	help := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		if err := unknownSubcommand(c); err != nil {
			*unknown = err
			return
		}
		help(c, args)
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Args != nil && c != root {
			check := c.Args
			c.Args = func(c *cobra.Command, args []string) error { return seeHelp(c, check(c, args)) }
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// seeHelp is err in docker's usage form; nil stays nil.
func seeHelp(c *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	return errdefs.New(errdefs.ErrInvalidArgument, "%v\nSee '%s --help'.", err, c.CommandPath())
}

// unknownSubcommand is the refusal of a word a command group (berth,
// berth container, ...) does not know, nil when cobra came to show the
// group's help: no word, --help, or berth help GROUP.
func unknownSubcommand(c *cobra.Command) error {
	if !c.HasSubCommands() || c.Runnable() || !c.Flags().Parsed() {
		return nil
	}
	if h, _ := c.Flags().GetBool("help"); h || len(c.Flags().Args()) == 0 {
		return nil
	}
	word := c.Flags().Arg(0)
	msg := fmt.Sprintf("unknown command: %s %s", c.CommandPath(), word)
	if s := c.SuggestionsFor(word); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s %s?)", c.CommandPath(), strings.Join(s, " or "))
	}
	return seeHelp(c, fmt.Errorf("%s", msg))
}
