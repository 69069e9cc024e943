package main

import (
	"errors"
	"os"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/terminal"
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
			return execIn(g, f, args[0], args[1:])
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "pass stdin to the command")
	fl.BoolVarP(&f.tty, "tty", "t", false, "give the command a terminal")
	fl.BoolVarP(&f.detach, "detach", "d", false, "run the command in the background")
	stringArrayVarP(fl, &f.env, "env", "e", "set an environment variable (KEY=VALUE, or KEY to copy berth's)")
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
	env, err := spec.ExpandEnv(f.env, os.LookupEnv)
	if err != nil {
		return err
	}
	o := engine.ExecOptions{Args: args, Env: env, User: f.user, Workdir: f.workdir, TTY: f.tty, Detach: f.detach,
		Stdio: engine.Stdio{Out: os.Stdout, Err: os.Stderr, Relay: true}}
	if f.interactive {
		o.Stdio.In = os.Stdin
	}
	exit, err := g.engine().Exec(rec, o)
	if err != nil {
		return err
	}
	if exit.Code != 0 {
		return exitError{exit.Code}
	}
	return nil
}
