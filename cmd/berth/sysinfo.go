package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/berth-runtime/berth/internal/config"
	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/render"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/spf13/cobra"
)

// printObject prints one object as docker version and info do with
// --format: "json" is one line of JSON, anything else a Go template over
// Docker's field names (with docker's json function); empty, text prints
// the default layout.
func printObject(format string, v any, text func()) error {
	if format == "" {
		text()
		return nil
	}
	return render.Object(os.Stdout, format, v)
}

func newVersionCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "version [--format json|TEMPLATE]",
		Short:   "Show berth's version: release, Go version, commit, build",
		Example: "  berth version\n  berth version --format '{{.Client.Version}}'\n  berth version --format json",
		Args:    cobra.NoArgs,
		// Nothing to set up: no rootless namespace, no collection.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			v := engine.VersionOf(version, commit, commitTime)
			return printObject(format, v, func() {
				c := v.Client
				fmt.Printf("Client:\n Version:           %s\n API version:       %s (berth has no daemon)\n Go version:        %s\n Git commit:        %s\n Built:             %s\n OS/Arch:           %s/%s\n",
					c.Version, c.ApiVersion, c.GoVersion, c.GitCommit, c.BuildTime, c.Os, c.Arch)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "json, or a Go template over docker's fields (.Client.Version, .Client.GitCommit...)")
	return cmd
}

func newInfoCommand(g *globalOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "info [--format json|TEMPLATE]",
		Short:   "Show berth's containers, images, storage, cgroups, kernel and security options",
		Example: "  berth info\n  berth info --format '{{.CgroupVersion}}'\n  berth info --format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := usernsDefault()
			if err != nil {
				return err
			}
			in := g.engine().Info(engine.InfoOptions{Version: version, UsernsDefault: def})
			for _, w := range in.Warnings {
				printWarning(w)
			}
			return printObject(format, in, func() { printInfo(in) })
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "json, or a Go template over docker's fields (.CgroupVersion, .Driver, .ContainersRunning...)")
	return cmd
}

// printInfo is docker info's layout, for what berth has.
func printInfo(in engine.Info) {
	yesNo := map[bool]string{true: "yes", false: "no"}
	fmt.Printf("Containers: %d\n Running: %d\n Paused: %d\n Stopped: %d\nImages: %d\n",
		in.Containers, in.ContainersRunning, in.ContainersPaused, in.ContainersStopped, in.Images)
	fmt.Printf("Server Version: %s\nStorage Driver: %s\nCgroup Driver: %s\nCgroup Version: %s\n",
		in.ServerVersion, in.Driver, in.CgroupDriver, in.CgroupVersion)
	fmt.Printf("Rootless: %s\nUserns Default: %s\nSecurity Options:\n", yesNo[in.Rootless], in.UsernsDefault)
	for _, o := range in.SecurityOptions {
		// "name=seccomp,profile=builtin": seccomp, then Profile: builtin.
		fields := strings.Split(o, ",")
		fmt.Printf(" %s\n", strings.TrimPrefix(fields[0], "name="))
		for _, kv := range fields[1:] {
			k, v, _ := strings.Cut(kv, "=")
			fmt.Printf("  %s: %s\n", strings.ToUpper(k[:1])+k[1:], v)
		}
	}
	fmt.Printf("Kernel Version: %s\nOperating System: %s\nOSType: %s\nArchitecture: %s\nCPUs: %d\nTotal Memory: %s\nName: %s\n",
		in.KernelVersion, in.OperatingSystem, in.OSType, in.Architecture, in.NCPU, binarySize(uint64(in.MemTotal)), in.Name)
	fmt.Printf("Berth Root Dir: %s\nBerth Run Root Dir: %s\n", in.DockerRootDir, in.RunRoot)
}

// usernsDefault is --userns of containers that give none: BERTH_OPTS,
// else berth.toml (see applyUsernsDefault).
func usernsDefault() (string, error) {
	def, err := config.UsernsFromOpts(os.Getenv("BERTH_OPTS"))
	if err != nil || def != "" {
		return def, err
	}
	c, err := config.LoadFor(rootless.Active(), os.Getenv)
	if err != nil {
		return "", err
	}
	return c.Containers.Userns, nil
}
