package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

type createFlags struct {
	bundle        string
	pidFile       string
	consoleSocket string
	noPivot       bool
	noNewKeyring  bool
	preserveFDs   int
	detach        bool
	keep          bool
}

func addCreateFlags(cmd *cobra.Command, f *createFlags) {
	fl := cmd.Flags()
	fl.StringVarP(&f.bundle, "bundle", "b", ".", "path to the bundle directory")
	fl.StringVar(&f.pidFile, "pid-file", "", "write the container's PID to this file")
	fl.StringVar(&f.consoleSocket, "console-socket", "", "unix socket that receives the pty master of a terminal process")
	fl.BoolVar(&f.noPivot, "no-pivot", false, "do not use pivot_root (for a root on the initramfs)")
	fl.BoolVar(&f.noNewKeyring, "no-new-keyring", false, "keep the caller's session keyring")
	fl.IntVar(&f.preserveFDs, "preserve-fds", 0, "pass this many extra file descriptors (after stdio) to the container")
}

// options builds the container options from the bundle and flags.
func (f *createFlags) options(g *globals, id string) (container.Options, error) {
	s, err := spec.LoadBundle(f.bundle)
	if err != nil {
		return container.Options{}, err
	}
	if s.Process != nil && s.Process.Terminal && f.consoleSocket == "" && f.detach {
		return container.Options{}, fmt.Errorf("the process has a terminal: give --console-socket")
	}
	bundle, _ := filepath.Abs(f.bundle)
	return container.Options{
		StateRoot: g.root, ID: id, Bundle: bundle, Spec: s,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		ConsoleSocket: f.consoleSocket, PidFile: f.pidFile, PreserveFDs: f.preserveFDs,
		NoPivot: f.noPivot, NoNewKeyring: f.noNewKeyring, SystemdCgroup: g.systemdCgroup, Keep: f.keep,
		Warn: func(msg string) { warn(g, msg) },
	}, nil
}

func newCreateCommand(g *globals) *cobra.Command {
	f := &createFlags{detach: true}
	cmd := &cobra.Command{
		Use:   "create [flags] CONTAINER_ID",
		Short: "Create a container; its process waits for start",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(g, args[0])
			if err != nil {
				return err
			}
			c, err := container.Create(o)
			if err != nil {
				return err
			}
			c.Close()
			return nil
		},
	}
	addCreateFlags(cmd, f)
	return cmd
}

func newRunCommand(g *globals) *cobra.Command {
	f := &createFlags{}
	cmd := &cobra.Command{
		Use:   "run [flags] CONTAINER_ID",
		Short: "Create and start a container, and wait for it unless --detach",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(g, args[0])
			if err != nil {
				return err
			}
			if f.detach {
				c, err := container.Create(o)
				if err != nil {
					return err
				}
				defer c.Close()
				return c.Start()
			}
			exit, err := container.Run(o)
			if err != nil {
				return err
			}
			if exit.Code != 0 {
				return errdefs.Exit{Code: exit.Code}
			}
			return nil
		},
	}
	addCreateFlags(cmd, f)
	cmd.Flags().BoolVarP(&f.detach, "detach", "d", false, "return once the container has started")
	cmd.Flags().BoolVar(&f.keep, "keep", false, "keep the stopped container for delete, instead of removing it when it exits")
	return cmd
}

// withContainer loads (and locks) a container for one command.
func withContainer(g *globals, id string, do func(*container.Container) error) error {
	c, err := container.Load(g.root, id)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetWarn(func(msg string) { warn(g, msg) })
	return do(c)
}

func newStartCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "start CONTAINER_ID",
		Short: "Start a created container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withContainer(g, args[0], (*container.Container).Start)
		},
	}
}

func newKillCommand(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [flags] CONTAINER_ID [SIGNAL]",
		Short: "Send a signal (default SIGTERM) to the container's init process",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig := unix.SIGTERM
			if len(args) == 2 {
				var err error
				if sig, err = parseKillSignal(args[1]); err != nil {
					return err
				}
			}
			// Without the lifecycle lock, as runc's kill: a foreground run
			// holds it for the container's life, and kill is how an
			// engine ends that run (runc's tty.bats does). Signals go
			// through a pidfd checked against the recorded start time, so
			// a stale record cannot signal a reused PID.
			c, err := container.Attach(g.root, args[0])
			if err != nil {
				return err
			}
			return c.Kill(sig, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "send the signal to every process of the container")
	return cmd
}

// parseKillSignal reads kill's signal, where 0 also counts: it probes
// that the container's processes exist and sends nothing (runc compat:
// runc's kill.bats and engines' liveness checks send it).
func parseKillSignal(s string) (unix.Signal, error) {
	if s == "0" {
		return 0, nil
	}
	return spec.ParseSignal(s)
}

func newDeleteCommand(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete [flags] CONTAINER_ID",
		Short: "Delete a stopped container and its resources",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := withContainer(g, args[0], func(c *container.Container) error { return c.Delete(force) })
			// Engines delete twice (containerd's shim does): a container
			// that is already gone is deleted, when forced.
			if force && isNotExist(err) {
				return nil
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill a running container first; succeed if it does not exist")
	return cmd
}

func newPauseCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER_ID",
		Short: "Freeze every process of the container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withContainer(g, args[0], (*container.Container).Pause)
		},
	}
}

func newResumeCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "resume CONTAINER_ID",
		Short: "Thaw a paused container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withContainer(g, args[0], (*container.Container).Resume)
		},
	}
}
