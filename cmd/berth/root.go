package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/network/nft"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/spf13/cobra"
)

// defaultStorage is where images and networks are kept.
const defaultStorage = "/var/lib/berth"

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// commit and commitTime (RFC 3339) are the commit built, set as version
// is; empty, berth version reads Go's build information.
var commit, commitTime string

// globalOptions name berth's two directories, as podman's --root and
// --runroot: storage that outlives a reboot (images, networks) and the
// state of running containers.
type globalOptions struct {
	root    string
	runroot string
	// storageDriver makes containers' root filesystems from images:
	// overlay, or vfs (a copy).
	storageDriver string
}

// engine is the container engine over these directories.
func (g *globalOptions) engine() *engine.Engine {
	return engine.New(engine.Options{Root: g.root, Runroot: g.runroot, StorageDriver: g.storageDriver, Warn: printWarning})
}

// exitError carries a status for main to exit with; its message, if any,
// has been printed already (printError).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Unwrap makes it the reporter's silent errdefs.Exit.
func (e exitError) Unwrap() error { return errdefs.Exit{Code: e.code} }

// cli is berth's one reporter: every error the user sees is one line
// from it, with docker's exit statuses (errdefs.Berth).
var cli = errdefs.CLI{Prog: "berth", Codes: errdefs.Berth, Stderr: os.Stderr}

// printError tells the user about err in berth's one line, for commands
// that go on after a failure (several names); main reports the rest.
func printError(err error) { cli.Report(ownOnly(err, rootless.Active())) }

// ownOnly says, when a rootless user's berth does not find a container,
// image or volume, that it looks among the user's own only: root's (and
// other users') are elsewhere, and a user who ran sudo berth before would
// think theirs gone.
func ownOnly(err error, rootlessUser bool) error {
	if !rootlessUser || !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	return fmt.Errorf("%w (rootless berth sees this user's own containers, images and volumes only: root's are seen with sudo berth)", err)
}

// printWarning tells the user about what did not fail the command; the
// engine's options take it as their Warn.
func printWarning(msg string) { cli.Warn(msg) }

// containerCommands take container names, also as berth container
// COMMAND.
var containerCommands = []string{"logs", "stop", "kill", "rm", "wait", "inspect", "start", "restart", "pause",
	"unpause", "rename", "exec", "stats", "top", "attach", "diff", "export", "port", "commit", "update"}

func newRootCommand() *cobra.Command {
	root, _ := newRoot(nil)
	return root
}

// topCommand is one of berth's commands, made only when asked for: a
// `berth run` builds run's hundred flags, not every command's (building
// the whole tree cost 0.6 ms of each start).
type topCommand struct {
	name string
	make func(g *globalOptions) *cobra.Command
}

// topCommands are berth's commands in the order help lists them.
// TestTopCommandNames checks each name against the command it makes.
var topCommands = []topCommand{
	{"commit", newCommitCommand}, {"build", newBuildCommand}, {"builder", newBuilderCommand},
	{"run", newRunCommand}, {"create", newCreateCommand}, {"port", newPortCommand},
	{"version", func(*globalOptions) *cobra.Command { return newVersionCommand() }},
	{"info", newInfoCommand}, {"system", newSystemCommand}, {"network", newNetworkCommand}, {"image", newImageCommand},
	{"pull", newPullCommand}, {"images", func(g *globalOptions) *cobra.Command { return newImagesCommand(g, "images") }},
	{"rmi", func(g *globalOptions) *cobra.Command { return newRmiCommand(g, "rmi") }},
	{"container", newContainerCommand}, {"ps", newPsCommand}, {"logs", newLogsCommand}, {"stop", newStopCommand},
	{"kill", newKillCommand}, {"rm", newRmCommand}, {"wait", newWaitCommand}, {"inspect", newInspectCommand},
	{"start", newStartCommand}, {"restart", newRestartCommand},
	{"pause", func(g *globalOptions) *cobra.Command { return newPauseCommand(g, true) }},
	{"unpause", func(g *globalOptions) *cobra.Command { return newPauseCommand(g, false) }},
	{"rename", newRenameCommand}, {"exec", newExecCommand}, {"stats", newStatsCommand}, {"top", newTopCommand},
	{"volume", newVolumeCommand}, {"attach", newAttachCommand}, {"setup-subids", newSetupSubidsCommand},
	{"tag", func(g *globalOptions) *cobra.Command { return newTagCommand(g, "tag") }},
	{"push", func(g *globalOptions) *cobra.Command { return newPushCommand(g, "push") }},
	{"login", newLoginCommand}, {"logout", newLogoutCommand},
	{"save", func(g *globalOptions) *cobra.Command { return newSaveCommand(g, "save") }},
	{"load", func(g *globalOptions) *cobra.Command { return newLoadCommand(g, "load") }},
	{"history", func(g *globalOptions) *cobra.Command { return newHistoryCommand(g, "history") }},
	{"cp", newCpCommand}, {"diff", newDiffCommand}, {"export", newExportCommand}, {"events", newEventsCommand},
	{"healthcheck", newHealthcheckCommand}, {"update", newUpdateCommand},
}

// newRoot is berth's command tree, and where it records an unknown
// subcommand, which cobra would only have shown help for. Given the
// command line, it holds only the command the line names, when it names
// one of topCommands; help, completion, man pages and a word berth does
// not know (whose error suggests the nearest command) get every command.
func newRoot(args []string) (*cobra.Command, *error) {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:           "berth",
		Short:         "Run fully isolated Linux containers, without a daemon",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := enterRootless(g, cmd, args); err != nil {
				return err
			}
			collectGarbage(g, cmd)
			return nil
		},
	}
	dirs := defaultDirs()
	root.PersistentFlags().StringVar(&g.root, "root", dirs.Data, "storage directory: images and networks (rootless: $XDG_DATA_HOME/berth)")
	root.PersistentFlags().StringVar(&g.runroot, "runroot", dirs.Run, "state directory of running containers (rootless: $XDG_RUNTIME_DIR/berth)")
	root.PersistentFlags().StringVar(&g.storageDriver, "storage-driver", "", "how containers get their root filesystem from an image: overlay, or vfs (a copy) (default: overlay where the kernel has it)")
	if i := slices.IndexFunc(topCommands, func(c topCommand) bool { return c.name == commandWord(args) }); i >= 0 {
		root.AddCommand(topCommands[i].make(g))
		// cobra's completion command, four subcommands with their flags
		// and texts, is made at each Execute; a line naming another
		// command cannot run it.
		root.CompletionOptions.DisableDefaultCmd = true
	} else {
		for _, c := range topCommands {
			root.AddCommand(c.make(g))
		}
		root.AddCommand(newManCommand(root))
	}
	for _, c := range append(root.Commands(), containerGroup(root).Commands()...) {
		if slices.Contains(containerCommands, c.Name()) {
			c.ValidArgsFunction = completeContainers(g)
		}
	}
	addCompletions(g, root)
	unknown := new(error)
	usageErrors(root, unknown)
	return root, unknown
}

// commandWord is the first word of a berth command line that is not a
// global option or its value: the command's name, or "" when there is
// none. A word it cannot be sure of (an option it does not know) is "",
// which builds every command.
func commandWord(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--root" || a == "--runroot" || a == "--storage-driver":
			i++ // the option's value
		case strings.HasPrefix(a, "--root=") || strings.HasPrefix(a, "--runroot=") || strings.HasPrefix(a, "--storage-driver="):
		case strings.HasPrefix(a, "-"):
			return ""
		default:
			return a
		}
	}
	return ""
}

func execute(args []string) int {
	cmd, unknown := newRoot(args)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		err = *unknown
	}
	// The kernel's release of the sockets that changed a port mapping
	// would delay this process's exit (nft.HandOff).
	_ = nft.HandOff()
	return cli.Report(ownOnly(err, rootless.Active()))
}

// containerGroup is berth container, whose commands complete container
// names as the top-level ones do.
func containerGroup(root *cobra.Command) *cobra.Command {
	if c := subcommand(root, "container"); c != nil {
		return c
	}
	return &cobra.Command{}
}
