package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/specjson"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

type execFlags struct {
	process       string
	tty           bool
	detach        bool
	pidFile       string
	consoleSocket string
	cwd           string
	env           []string
	user          string
	groups        []string
	caps          []string
	noNewPrivs    bool
	preserveFDs   int
	ignorePaused  bool
	cgroups       []string
}

func newExecCommand(g *globals) *cobra.Command {
	f := &execFlags{}
	cmd := &cobra.Command{
		Use:   "exec [flags] CONTAINER_ID [COMMAND [ARG...]]",
		Short: "Run a further process in a running container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Without the lifecycle lock, as runc: an exec changes no
			// record, and must not wait for a foreground run, or keep a
			// resume waiting while its process starts frozen.
			c, err := container.Attach(g.root, args[0])
			if err == nil {
				err = runExec(c, f, args[1:])
			}
			if err != nil && !errors.As(err, new(errdefs.Exit)) {
				// runc compat: exec's own failures exit 255 (exec.bats).
				return errdefs.Exit{Code: 255, Err: fmt.Errorf("exec failed: %w", err)}
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.StringVarP(&f.process, "process", "p", "", "JSON file describing the process (runtime-spec process)")
	fl.BoolVarP(&f.tty, "tty", "t", false, "give the process a terminal")
	fl.BoolVarP(&f.detach, "detach", "d", false, "return once the process has started")
	fl.StringVar(&f.pidFile, "pid-file", "", "write the process's PID to this file")
	fl.StringVar(&f.consoleSocket, "console-socket", "", "unix socket that receives the pty master")
	fl.StringVar(&f.cwd, "cwd", "", "working directory in the container")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable KEY=VALUE")
	fl.StringVarP(&f.user, "user", "u", "", "uid[:gid]")
	fl.StringArrayVarP(&f.groups, "additional-gids", "g", nil, "additional group id")
	fl.StringArrayVarP(&f.caps, "cap", "c", nil, "add a capability")
	fl.BoolVar(&f.noNewPrivs, "no-new-privs", false, "set no_new_privs")
	fl.IntVar(&f.preserveFDs, "preserve-fds", 0, "pass this many extra file descriptors to the process")
	fl.BoolVar(&f.ignorePaused, "ignore-paused", false, "allow exec in a paused container")
	fl.StringArrayVar(&f.cgroups, "cgroup", nil, "run the process in an existing sub-cgroup: [CONTROLLER[,CONTROLLER]:]PATH")
	return cmd
}

func runExec(c *container.Container, f *execFlags, args []string) error {
	p, err := f.processSpec(c, args)
	if err != nil {
		return err
	}
	cgroups, err := subCgroups(f.cgroups)
	if err != nil {
		return err
	}
	exit, err := c.Exec(container.ExecOptions{
		Process: p, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		ConsoleSocket: f.consoleSocket, PidFile: f.pidFile, PreserveFDs: f.preserveFDs, Detach: f.detach,
		IgnorePaused: f.ignorePaused,
		Cgroups:      cgroups,
	})
	if err != nil {
		return err
	}
	if exit.Code != 0 {
		return errdefs.Exit{Code: exit.Code}
	}
	return nil
}

// processSpec is the process to exec: the --process file, or the
// container's own process with the command line and flags applied.
func (f *execFlags) processSpec(c *container.Container, args []string) (*specs.Process, error) {
	if f.process != "" {
		b, err := os.ReadFile(f.process)
		if err != nil {
			return nil, fmt.Errorf("read --process: %w", err)
		}
		var p specs.Process
		if specjson.Unmarshal(b, &p) {
			return &p, nil
		}
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("--process %s: %w", f.process, err)
		}
		return &p, nil
	}
	if len(args) == 0 {
		return nil, errors.New("no command given: name the program to run, or give --process")
	}
	s, err := c.Spec()
	if err != nil {
		return nil, err
	}
	p := *s.Process
	p.Args, p.Terminal, p.ConsoleSize = args, f.tty, nil
	p.Env = append(append([]string(nil), p.Env...), f.env...)
	if f.cwd != "" {
		p.Cwd = f.cwd
	}
	if f.user != "" {
		if err := setUser(&p, f.user); err != nil {
			return nil, err
		}
	}
	for _, g := range f.groups {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("invalid --additional-gids %q: use a number", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
	}
	if len(f.caps) > 0 {
		caps := *p.Capabilities
		for _, name := range f.caps {
			name = strings.ToUpper(name)
			caps.Bounding = append(caps.Bounding, name)
			caps.Effective = append(caps.Effective, name)
			caps.Permitted = append(caps.Permitted, name)
		}
		p.Capabilities = &caps
	}
	if f.noNewPrivs {
		p.NoNewPrivileges = true
	}
	return &p, nil
}

func setUser(p *specs.Process, user string) error {
	uid, gid, hasGID := strings.Cut(user, ":")
	u, err := strconv.ParseUint(uid, 10, 32)
	if err != nil {
		return fmt.Errorf("invalid --user %q: use uid[:gid]", user)
	}
	p.User.UID = uint32(u)
	if hasGID {
		g, err := strconv.ParseUint(gid, 10, 32)
		if err != nil {
			return fmt.Errorf("invalid --user %q: use uid[:gid]", user)
		}
		p.User.GID = uint32(g)
	}
	return nil
}

// subCgroups reads exec's --cgroup values as runc does: PATH alone (only
// once), or CONTROLLER[,CONTROLLER]:PATH, each controller once.
func subCgroups(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	paths := map[string]string{}
	for _, a := range args {
		controllers, path, ok := strings.Cut(a, ":")
		if !ok {
			if len(args) != 1 {
				return nil, fmt.Errorf("--cgroup %s: give CONTROLLER:PATH when --cgroup is given more than once", a)
			}
			paths[""] = a
			continue
		}
		if strings.Contains(path, ":") || controllers == "" {
			return nil, fmt.Errorf("--cgroup %s: want [CONTROLLER[,CONTROLLER]:]PATH", a)
		}
		for _, c := range strings.Split(controllers, ",") {
			paths[c] = path
		}
	}
	return paths, nil
}
