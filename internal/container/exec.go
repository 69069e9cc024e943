package container

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"github.com/berth-runtime/berth/internal/initproc"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExecOptions describe a further process to run in a running container.
type ExecOptions struct {
	Process       *specs.Process
	Stdin         *os.File
	Stdout        *os.File
	Stderr        *os.File
	ConsoleSocket string
	PidFile       string
	PreserveFDs   int
	Detach        bool
}

// Exec starts a process inside the running container: in its namespaces
// and cgroup, under the container's seccomp profile and the process's own
// user and capabilities. Without Detach it waits and returns the exit.
func (c *Container) Exec(o ExecOptions) (Exit, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := state.Check(state.OpExec, c.Status()); err != nil {
		return Exit{}, err
	}
	s, err := c.Spec()
	if err != nil {
		return Exit{}, err
	}
	if spec.HasNamespace(s, specs.UserNamespace) {
		return Exit{}, fmt.Errorf("exec into a container with a user namespace is not supported yet: joining it needs a single-threaded process")
	}
	cfg, err := c.execConfig(s, o)
	if err != nil {
		return Exit{}, err
	}
	execSpec := c.execSpec(s)
	opts := Options{
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, ConsoleSocket: o.ConsoleSocket,
		PreserveFDs: o.PreserveFDs, Foreground: !o.Detach, cgroupExists: true,
	}
	p, err := start(cfg, c.cg, execSpec, opts, c.ociState)
	if err != nil {
		return Exit{}, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, p.pid); err != nil {
			return Exit{}, err
		}
	}
	if o.Detach {
		return Exit{}, nil
	}
	// This process does not own the container: release its lock so
	// other commands (kill, state) work while the exec'd process runs.
	c.Close()
	c.handle = nil
	return p.wait(), nil
}

// execConfig is the init stage's config for an exec: the container's
// namespaces by path, its cgroup, and the new process.
func (c *Container) execConfig(s *specs.Spec, o ExecOptions) (*initproc.Config, error) {
	if err := spec.ValidateProcess(o.Process); err != nil {
		return nil, err
	}
	proc, err := processConfig(o.Process)
	if err != nil {
		return nil, err
	}
	if err := compileSeccomp(s.Linux.Seccomp, proc); err != nil {
		return nil, err
	}
	var join []initproc.Namespace
	for _, ns := range []struct {
		flag uintptr
		name string
	}{{unix.CLONE_NEWIPC, "ipc"}, {unix.CLONE_NEWUTS, "uts"}, {unix.CLONE_NEWNET, "net"}, {unix.CLONE_NEWCGROUP, "cgroup"}, {unix.CLONE_NEWNS, "mnt"}} {
		join = append(join, initproc.Namespace{Type: ns.flag, Path: nsPath(c.rec.Pid, ns.name)})
	}
	return &initproc.Config{
		Exec:          true,
		Join:          join,
		CgroupTasks:   c.cg.TasksFiles(),
		Process:       *proc,
		DieWithParent: !o.Detach,
		PreserveFDs:   o.PreserveFDs,
	}, nil
}

// execSpec is what the fork needs to know: no new namespaces, and the
// container's PID namespace to be born in.
func (c *Container) execSpec(s *specs.Spec) *specs.Spec {
	return &specs.Spec{
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace, Path: nsPath(c.rec.Pid, "pid")}},
			Resources:  s.Linux.Resources,
		},
	}
}

func nsPath(pid int, name string) string {
	return "/proc/" + strconv.Itoa(pid) + "/ns/" + name
}
