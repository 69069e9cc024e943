package engine

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOptions are a command run in a running container (berth exec).
type ExecOptions struct {
	Args []string
	// Env is KEY=VALUE entries over the container's own.
	Env []string
	// User (uid[:gid] or name[:group], looked up in the container) and
	// Workdir (absolute) replace the container's when set.
	User, Workdir string
	TTY, Detach   bool
	Stdio         Stdio
	// Cancel and Background are container.ExecOptions' (a health probe).
	Cancel     <-chan struct{}
	Background bool
}

// Exec runs a command in the running container's namespaces, cgroup and
// security settings, and waits for it unless detached.
func (e *Engine) Exec(rec managed.Record, o ExecOptions) (container.Exit, error) {
	if err := e.Admits(managed.OpExec, rec); err != nil {
		return container.Exit{}, err
	}
	c, err := container.Attach(e.Runroot, rec.ID)
	if err != nil {
		return container.Exit{}, errNotRunning(rec)
	}
	s, err := c.Spec()
	if err != nil {
		return container.Exit{}, err
	}
	// The container's own files, seen through its root from here.
	p, err := execProcess(s.Process, o, "/proc/"+strconv.Itoa(rec.State.Pid)+"/root")
	if err != nil {
		return container.Exit{}, err
	}
	// Docker's exec events name the command run.
	cmd := strings.Join(p.Args, " ")
	e.Containers().Event(rec, "exec_create: "+cmd)
	e.Containers().Event(rec, "exec_start: "+cmd)
	return c.Exec(container.ExecOptions{Process: p, Stdin: o.Stdio.In, Stdout: o.Stdio.Out, Stderr: o.Stdio.Err,
		RelayStdio: o.Stdio.Relay, Detach: o.Detach, Cancel: o.Cancel, Background: o.Background})
}

// execEnv is an exec's environment: the container's, TERM=xterm with a
// terminal unless the container has a TERM (docker exec -t), then the
// exec's -e on top.
func execEnv(env []string, o ExecOptions) []string {
	if o.TTY && !spec.HasEnv(env, "TERM") {
		env = append(append([]string(nil), env...), "TERM=xterm")
	}
	return spec.MergeEnv(env, o.Env...)
}

// execProcess is the container's own process settings with the exec's
// command and overrides: its capabilities, environment and user unless
// given; root is where its users are looked up.
func execProcess(base *specs.Process, o ExecOptions, root string) (*specs.Process, error) {
	p := *base
	caps := *base.Capabilities
	p.Capabilities = &caps
	p.Args, p.Terminal = o.Args, o.TTY
	p.Env = execEnv(base.Env, o)
	if o.Workdir != "" {
		if !filepath.IsAbs(o.Workdir) {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid --workdir %q: the working directory must be an absolute path", o.Workdir)
		}
		p.Cwd = filepath.Clean(o.Workdir)
	}
	if o.User != "" {
		u, err := spec.ResolveUser(root, o.User)
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
