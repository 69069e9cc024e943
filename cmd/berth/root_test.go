package main

import (
	"bytes"
	"strings"
	"testing"
)

// A command made lazily must be the one its word names, or berth would
// run another command (or none) for that word.
func TestTopCommandNames(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range topCommands {
		if seen[c.name] {
			t.Errorf("%s listed twice", c.name)
		}
		seen[c.name] = true
		if got := c.make(&globalOptions{}).Name(); got != c.name {
			t.Errorf("topCommands entry %q makes command %q", c.name, got)
		}
	}
}

// The tree built for one command line has that command with all its
// flags; the tree for no command has every command.
func TestNewRootBuildsTheNamedCommand(t *testing.T) {
	root, _ := newRoot([]string{"--root", "/x", "run", "--rm", "busybox"})
	if len(root.Commands()) != 1 || root.Commands()[0].Name() != "run" {
		t.Fatalf("tree for berth run: %v", root.Commands())
	}
	if root.Commands()[0].Flags().Lookup("publish") == nil {
		t.Fatal("berth run lost its --publish flag")
	}
	full := newRootCommand()
	for _, c := range topCommands {
		if found, _, err := full.Find([]string{c.name}); err != nil || found.Name() != c.name {
			t.Errorf("full tree lacks %s", c.name)
		}
	}
	if found, _, err := full.Find([]string{"gen-man"}); err != nil || found.Name() != "gen-man" {
		t.Error("full tree lacks gen-man")
	}
}

func TestCommandWord(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"run", "-d", "x"}, "run"},
		{[]string{"--root", "/a", "--runroot=/b", "ps"}, "ps"},
		{[]string{"--storage-driver", "vfs", "images"}, "images"},
		{[]string{"--help", "run"}, ""},
		{[]string{"--debug", "run"}, ""}, // unknown option: build everything, cobra reports it
		{[]string{"--root"}, ""},
		{[]string{"help", "run"}, "help"},
	} {
		if got := commandWord(tc.args); got != tc.want {
			t.Errorf("commandWord(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestCompletionCommandOnlyWhenNamed: berth completion, cobra's default
// command, still prints its script; a tree made for another command
// skips making it.
func TestCompletionCommandOnlyWhenNamed(t *testing.T) {
	args := []string{"completion", "bash"}
	root, _ := newRoot(args)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs(args)
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "bash completion") {
		t.Fatalf("berth completion bash: %v, %.80q", err, out.String())
	}
	if run, _ := newRoot([]string{"run", "busybox"}); !run.CompletionOptions.DisableDefaultCmd {
		t.Error("the tree for berth run makes the completion command")
	}
}
