package main

import (
	"errors"
	"fmt"
	"github.com/berth-runtime/berth/internal/rootless"
	"os"
	"path/filepath"
	"strconv"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/terminal"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

type execFlags struct {
	interactive, tty, detach bool
	env                      []string
	user, workdir            string
}

func newExecCommand(g *globalOptions) *cobra.Command {
	f := &execFlags{}
	cmd := &cobra.Command{
		Use:   "exec [-it] [-d] [-e KEY=VALUE] [-u USER] [-w DIR] CONTAINER COMMAND [ARG...]",
		Short: "Run a command in a running container: its namespaces, cgroup and security settings",
		Example: `  berth exec web ls /
  berth exec -it web sh
  berth exec -u nobody -w /tmp -e MODE=debug web env`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rootless.Active() {
				return errRootlessExec
			}
			return execIn(g, f, args[0], args[1:])
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "pass stdin to the command")
	fl.BoolVarP(&f.tty, "tty", "t", false, "give the command a terminal")
	fl.BoolVarP(&f.detach, "detach", "d", false, "run the command in the background")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to copy berth's)")
	fl.StringVarP(&f.user, "user", "u", "", "user to run as: uid[:gid] or name[:group] (default: the container's)")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	return cmd
}

func execIn(g *globalOptions, f *execFlags, ref string, args []string) error {
	if f.tty && !f.detach && !terminal.IsTerminal(os.Stdin) {
		return errors.New("the input device is not a TTY: drop -t, or run berth from a terminal")
	}
	rec, err := g.containers().Get(ref)
	if err != nil {
		return err
	}
	if rec.State.Status != managed.Running {
		return fmt.Errorf("container %s is not running: start it first (berth start %s)", rec.Name, rec.Name)
	}
	c, err := container.Attach(g.runroot, rec.ID)
	if err != nil {
		return fmt.Errorf("container %s is not running", rec.Name)
	}
	s, err := c.Spec()
	if err != nil {
		return err
	}
	p, err := execProcess(s.Process, f, rec.State.Pid, args)
	if err != nil {
		return err
	}
	o := container.ExecOptions{Process: p, Stdout: os.Stdout, Stderr: os.Stderr, RelayStdio: true, Detach: f.detach}
	if f.interactive {
		o.Stdin = os.Stdin
	}
	exit, err := c.Exec(o)
	if err != nil {
		return err
	}
	if exit.Code != 0 {
		return exitError{exit.Code}
	}
	return nil
}

// execProcess is the container's own process settings with the exec's
// command and overrides: its capabilities, environment and user unless
// given.
func execProcess(base *specs.Process, f *execFlags, pid int, args []string) (*specs.Process, error) {
	p := *base
	caps := *base.Capabilities
	p.Capabilities = &caps
	p.Args, p.Terminal = args, f.tty
	env, err := spec.ExpandEnv(f.env, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	p.Env = spec.MergeEnv(base.Env, env...)
	if f.workdir != "" {
		if !filepath.IsAbs(f.workdir) {
			return nil, fmt.Errorf("invalid --workdir %q: the working directory must be an absolute path", f.workdir)
		}
		p.Cwd = filepath.Clean(f.workdir)
	}
	if f.user != "" {
		// The container's own files, seen through its root from here.
		u, err := spec.ResolveUser("/proc/"+strconv.Itoa(pid)+"/root", f.user)
		if err != nil {
			return nil, err
		}
		p.User = specs.User{UID: u.UID, GID: u.GID, AdditionalGids: u.AdditionalGids}
		if u.UID != 0 {
			p.Capabilities.Effective, p.Capabilities.Permitted = nil, nil
		} else {
			p.Capabilities.Effective, p.Capabilities.Permitted = caps.Bounding, caps.Bounding
		}
	}
	return &p, nil
}
