package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/berth-runtime/berth/internal/cgroups/systemd"
	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// DefaultRoot is where berth-oci keeps container state, beside runc's
// /run/runc.
const DefaultRoot = "/run/berth-oci"

type globals struct {
	root          string
	log           string
	logFormat     string
	debug         bool
	systemdCgroup bool
	logger        *slog.Logger
	criu          string
}

// commands builds each of berth-oci's commands, by name. A command line
// that names one gets only that one: building the whole tree (every
// command's flags) cost about 0.7 ms of each container start. Help and
// an unknown name get them all.
var commands = []struct {
	name  string
	build func(*globals) *cobra.Command
}{
	{"create", newCreateCommand}, {"start", newStartCommand}, {"run", newRunCommand},
	{"state", newStateCommand}, {"kill", newKillCommand}, {"delete", newDeleteCommand},
	{"list", newListCommand}, {"ps", newPsCommand}, {"pause", newPauseCommand},
	{"resume", newResumeCommand}, {"spec", newSpecCommand}, {"features", newFeaturesCommand},
	{"exec", newExecCommand}, {"update", newUpdateCommand}, {"events", newEventsCommand},
	{"checkpoint", newCheckpointCommand}, {"restore", newRestoreCommand},
}

// commandBuilder is the builder of the command called name, or nil.
func commandBuilder(name string) func(*globals) *cobra.Command {
	for _, c := range commands {
		if c.name == name {
			return c.build
		}
	}
	return nil
}

// newRootCommand is berth-oci's command tree for the command line args:
// with only the command args name, when it names one.
func newRootCommand(g *globals, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth-oci",
		Short:         "An OCI runtime with runc's command line, for container engines",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			setupLogging(g)
			slog.Debug("berth-oci "+cmd.Name(), "args", strings.Join(args, " "), "version", version)
			if g.systemdCgroup && !container.SystemdDriver() {
				warn(g, "--systemd-cgroup: "+noSystemdDriver())
			}
			return nil
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&g.root, "root", DefaultRoot, "directory for container state")
	f.StringVar(&g.log, "log", "", "write errors, warnings and debug lines to this file too (default: debug lines to stderr)")
	f.StringVar(&g.logFormat, "log-format", "text", "log format: text or json (logrus's, as runc writes them)")
	f.BoolVar(&g.debug, "debug", false, "log debug lines")
	f.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "manage cgroups through systemd (transient units; where systemd is not PID 1 on cgroup v2, cgroupfs at systemd's paths)")
	f.StringVar(&g.criu, "criu", "criu", "path to the criu binary, for checkpoint and restore")
	f.String("rootless", "auto", "ignored: rootless containers are not supported")
	root.CompletionOptions.DisableDefaultCmd = true
	// -v, --version as runc's, without cobra's version template: a
	// template run anywhere in the binary keeps the linker from dropping
	// unused methods (text/template looks methods up by name). Without
	// it berth-oci is 5.7 MB instead of 7.1, and its peak RSS 0.45 MiB
	// lower (docs/bench.md).
	var showVersion bool
	root.Flags().BoolVarP(&showVersion, "version", "v", false, "print the version")
	root.Run = func(c *cobra.Command, _ []string) {
		if showVersion {
			fmt.Fprint(c.OutOrStdout(), versionText())
			return
		}
		writeHelp(c.OutOrStdout(), c)
	}
	root.SetHelpFunc(func(c *cobra.Command, _ []string) { writeHelp(c.OutOrStdout(), c) })
	if build := commandBuilder(commandName(args)); build != nil {
		root.AddCommand(build(g))
	} else {
		for _, c := range commands {
			root.AddCommand(c.build(g))
		}
	}
	return root
}

func execute(args []string) int {
	g := &globals{}
	cmd := newRootCommand(g, args)
	cmd.SetArgs(args)
	var err error
	if name, unknown := unknownCommand(cmd, args); unknown {
		err = errNoHelpTopic(name)
	} else {
		err = cmd.Execute()
	}
	return reporter(g).Report(err)
}

// reporter is berth-oci's one reporter: an error is one line on stderr
// and, in the engine's format, a line in the --log file, which
// containerd's shim and podman read back; runc's exit statuses
// (errdefs.BerthOCI).
func reporter(g *globals) errdefs.CLI {
	return errdefs.CLI{Prog: "berth-oci", Codes: errdefs.BerthOCI, Stderr: os.Stderr, Log: func(msg string) {
		if g.log != "" {
			loggerOf(g).Error(msg)
		}
	}}
}

// noSystemdDriver says why --systemd-cgroup falls back to cgroupfs.
func noSystemdDriver() string {
	if systemd.Booted() {
		return "systemd manages this host's cgroups in v1 or hybrid mode, which berth's systemd driver does not support; using cgroupfs paths"
	}
	return "systemd is not the init system here; using cgroupfs paths"
}
