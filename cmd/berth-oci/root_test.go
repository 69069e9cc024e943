package main

import (
	"strings"
	"testing"
)

// Each builder makes the command its entry names, so a command line that
// names it gets it, and the full tree has every command once.
func TestCommandsTable(t *testing.T) {
	full := newRootCommand(&globals{}, nil)
	if len(full.Commands()) != len(commands) {
		t.Fatalf("the full tree has %d commands, the table %d", len(full.Commands()), len(commands))
	}
	for _, c := range commands {
		cmd := c.build(&globals{})
		if cmd.Name() != c.name || len(cmd.Aliases) != 0 {
			t.Errorf("entry %q builds command %q (aliases %v)", c.name, cmd.Name(), cmd.Aliases)
		}
		only := newRootCommand(&globals{}, []string{"--root", "/r", c.name, "x"})
		if got := only.Commands(); len(got) != 1 || got[0].Name() != c.name {
			t.Errorf("a command line naming %q built %d commands", c.name, len(got))
		}
	}
}

func TestCommandName(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"run", "x"}, "run"},
		{[]string{"--root", "run", "state", "x"}, "state"},
		{[]string{"--debug", "--log", "/l", "--log-format", "json", "delete", "--force", "x"}, "delete"},
		{[]string{"--root=/r", "kill", "x"}, "kill"},
		{[]string{"--version"}, ""},
		{[]string{"help", "run"}, "help"},
	} {
		if got := commandName(tc.args); got != tc.want {
			t.Errorf("commandName(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// Help and unknown names still see every command.
func TestUnknownCommand(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		name    string
		unknown bool
	}{
		{[]string{"run", "x"}, "", false},
		{[]string{"frobnicate"}, "frobnicate", true},
		{[]string{"help", "state"}, "", false},
		{[]string{"help", "frobnicate"}, "frobnicate", true},
		{[]string{"help"}, "help", false},
		{[]string{"--root", "/r"}, "", false},
	} {
		root := newRootCommand(&globals{}, tc.args)
		name, unknown := unknownCommand(root, tc.args)
		if name != tc.name || unknown != tc.unknown {
			t.Errorf("unknownCommand(%q) = %q, %v; want %q, %v", tc.args, name, unknown, tc.name, tc.unknown)
		}
	}
}

// -v and --version print runc's version lines; no arguments, the help.
func TestVersionFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--version"}, versionText()},
		{[]string{"-v"}, versionText()},
	} {
		root := newRootCommand(&globals{}, tc.args)
		var out strings.Builder
		root.SetOut(&out)
		root.SetArgs(tc.args)
		if err := root.Execute(); err != nil || out.String() != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.args, out.String(), err, tc.want)
		}
	}
	root := newRootCommand(&globals{}, nil)
	var out strings.Builder
	root.SetOut(&out)
	root.SetArgs(nil)
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "USAGE:") {
		t.Errorf("no arguments: %q, %v; want the help", out.String(), err)
	}
}
