package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/berth-runtime/berth/internal/container"
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
	criu          string
}

// exitCode makes main exit with a status without printing an error.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth-oci",
		Short:         "An OCI runtime with runc's command line, for container engines",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if g.systemdCgroup {
				warn(g, "--systemd-cgroup: systemd is not the init system here; using cgroupfs paths")
			}
			return nil
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&g.root, "root", DefaultRoot, "directory for container state")
	f.StringVar(&g.log, "log", "", "write errors and warnings to this file")
	f.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&g.debug, "debug", false, "log more")
	f.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "use systemd cgroup paths (cgroupfs is used where systemd is not running)")
	f.StringVar(&g.criu, "criu", "criu", "path to the criu binary, for checkpoint and restore")
	f.String("rootless", "auto", "ignored: rootless containers are not supported")
	root.SetVersionTemplate(fmt.Sprintf("berth-oci version {{.Version}}\nspec: %s\n", specVersion()))
	root.AddCommand(
		newCreateCommand(g), newStartCommand(g), newRunCommand(g), newStateCommand(g),
		newKillCommand(g), newDeleteCommand(g), newListCommand(g), newPsCommand(g),
		newPauseCommand(g), newResumeCommand(g), newSpecCommand(g), newFeaturesCommand(g),
		newExecCommand(g), newUpdateCommand(g), newEventsCommand(g),
		newCheckpointCommand(g), newRestoreCommand(g),
	)
	return root
}

func execute(args []string) int {
	g := &globals{}
	cmd := newRootCommand(g)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	var ec exitCode
	if errors.As(err, &ec) {
		return int(ec)
	}
	logError(g, err)
	var se *container.StartError
	if errors.As(err, &se) && se.Code != 0 {
		return se.Code
	}
	return 1
}

// logError writes the error to stderr and, in the engine's format, to the
// --log file: containerd's shim and podman read it back from there.
func logError(g *globals, err error) {
	fmt.Fprintf(os.Stderr, "berth-oci: %v\n", err)
	writeLog(g, "error", err.Error())
}

func warn(g *globals, msg string) {
	fmt.Fprintf(os.Stderr, "berth-oci: warning: %s\n", msg)
	writeLog(g, "warning", msg)
}

func writeLog(g *globals, level, msg string) {
	if g.log == "" {
		return
	}
	f, err := os.OpenFile(g.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	writeLogLine(f, g.logFormat, level, msg)
}

func writeLogLine(w io.Writer, format, level, msg string) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if format == "json" {
		b, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": now})
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "time=%q level=%s msg=%q\n", now, level, msg)
}
