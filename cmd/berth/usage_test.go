package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
)

// runCLI is execute with berth's reports captured.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var b bytes.Buffer
	saved := cli.Stderr
	cli.Stderr = &b
	defer func() { cli.Stderr = saved }()
	return execute(args), b.String()
}

// TestUsageErrors: every unknown command or flag, and a wrong number of
// arguments, is docker's two lines and exit 125; cobra printed a group's
// help and exited 0 for an unknown subcommand, and suggested commands
// two edits away (load for logs, tag for top).
func TestUsageErrors(t *testing.T) {
	for args, want := range map[string]string{
		"container nope":    "berth: unknown command: berth container nope\nSee 'berth container --help'.\n",
		"network nope":      "berth: unknown command: berth network nope\nSee 'berth network --help'.\n",
		"image nope":        "berth: unknown command: berth image nope\nSee 'berth image --help'.\n",
		"volume nope":       "berth: unknown command: berth volume nope\nSee 'berth volume --help'.\n",
		"nope":              "berth: unknown command: berth nope\nSee 'berth --help'.\n",
		"lgs":               "berth: unknown command: berth lgs (did you mean berth logs?)\nSee 'berth --help'.\n",
		"ps --bogus":        "berth: unknown flag: --bogus\nSee 'berth ps --help'.\n",
		"container ls -Z":   "berth: unknown shorthand flag: 'Z' in -Z\nSee 'berth container ls --help'.\n",
		"container --bogus": "berth: unknown flag: --bogus\nSee 'berth container --help'.\n",
		"rename a":          "berth: accepts 2 arg(s), received 1\nSee 'berth rename --help'.\n",
	} {
		if code, stderr := runCLI(t, strings.Fields(args)...); code != 125 || stderr != want {
			t.Errorf("berth %s: %d %q, want 125 %q", args, code, stderr, want)
		}
	}
	for _, word := range []string{"lgos", "tge", "tpo"} {
		if _, stderr := runCLI(t, word); strings.Contains(stderr, "did you mean") {
			t.Errorf("berth %s suggests a command two edits away: %q", word, stderr)
		}
	}
	for _, args := range [][]string{{"container"}, {"container", "--help"}, {"help", "image"}, {}} {
		if code, stderr := runCLI(t, args...); code != 0 || stderr != "" {
			t.Errorf("berth %q: %d %q", args, code, stderr)
		}
	}
}

// TestDockerCommandForms: docker's group forms of every command exist:
// berth container COMMAND for each container command, image COMMAND for
// the image ones, volume and network ones.
func TestDockerCommandForms(t *testing.T) {
	root := newRootCommand()
	forms := map[string]string{
		"container ls": "ls", "container list": "ls", "container ps": "ls", "container run": "run", "container rm": "rm",
		"container remove": "rm", "container start": "start", "container stop": "stop", "container restart": "restart",
		"container kill": "kill", "container logs": "logs", "container exec": "exec", "container inspect": "inspect",
		"container wait": "wait", "container pause": "pause", "container unpause": "unpause", "container rename": "rename",
		"container stats": "stats", "container top": "top", "container attach": "attach", "container prune": "prune",
		"image ls": "ls", "image list": "ls", "image rm": "rm", "image remove": "rm", "image tag": "tag", "image push": "push",
		"image pull": "pull", "image inspect": "inspect", "image history": "history", "image save": "save",
		"image load": "load", "image prune": "prune", "image import": "import",
		"volume create": "create", "volume ls": "ls", "volume list": "ls", "volume inspect": "inspect", "volume rm": "rm",
		"volume prune": "prune", "network create": "create", "network ls": "ls", "network inspect": "inspect",
		"network rm": "rm", "network prune": "prune", "network connect": "connect", "network disconnect": "disconnect",
	}
	for form, name := range forms {
		c, rest, err := root.Find(strings.Fields(form))
		if err != nil || len(rest) != 0 || c.Name() != name || !c.Runnable() {
			t.Errorf("berth %s: %v %q %q", form, err, c.CommandPath(), rest)
		}
	}
	// Each top-level container command is also under berth container.
	for _, name := range append([]string{"run", "ps"}, containerCommands...) {
		if sub, _, err := root.Find([]string{"container", name}); err != nil || sub.Parent().Name() != "container" {
			t.Errorf("berth container %s is missing", name)
		}
	}
}

// TestOwnOnly: a rootless user's "no such container" says that berth
// looked among the user's own only; other errors, and root's, are as
// they were.
func TestOwnOnly(t *testing.T) {
	missing := fmt.Errorf("%w: web", managed.ErrNotExist)
	err := ownOnly(missing, true)
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.HasPrefix(err.Error(), "no such container: web (rootless berth sees this user's own") || !strings.Contains(err.Error(), "sudo berth") {
		t.Errorf("rootless: %v", err)
	}
	if err := ownOnly(missing, false); err != missing {
		t.Errorf("root: %v", err)
	}
	other := errors.New("boom")
	if err := ownOnly(other, true); err != other {
		t.Errorf("another error: %v", err)
	}
}
