package container

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/initproc"
	"github.com/berth-runtime/berth/internal/pidfd"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExecOptions describe a further process to run in a running container.
type ExecOptions struct {
	Process *specs.Process
	Stdin   *os.File
	Stdout  *os.File
	Stderr  *os.File
	// RelayStdio: as for Options; a detached process then gets the
	// container's /dev/null, since nobody stays to relay.
	RelayStdio    bool
	ConsoleSocket string
	PidFile       string
	PreserveFDs   int
	Detach        bool
	// IgnorePaused execs into a paused container: the process starts
	// frozen and runs once the container is resumed.
	IgnorePaused bool
	// Cgroups, when set, are sub-cgroups of the container's to run the
	// process in (runc's exec --cgroup; see cgroups.Cgroup.Sub).
	Cgroups map[string]string
	// Cancel, when it closes, kills the process (SIGKILL) that Exec
	// waits for; Background forwards it none of this process's signals.
	// Both are for a health probe, which its berth runs beside other work.
	Cancel     <-chan struct{}
	Background bool
}

// ErrPaused means the container is paused and the operation would wait
// for its resumption.
var ErrPaused = errors.New("the container is paused")

// Exec starts a process inside the created or running container (or a
// paused one, with IgnorePaused): in its namespaces
// and cgroup, under the container's seccomp profile and the process's own
// user and capabilities. Without Detach it waits and returns the exit.
func (c *Container) Exec(o ExecOptions) (Exit, error) {
	op := state.OpExec
	if o.IgnorePaused {
		op = state.OpExecPaused
	}
	st := c.Status()
	if st == state.Paused && op == state.OpExec {
		// runc compat: runc's tests (cgroups.bats) match this text.
		return Exit{}, fmt.Errorf("cannot exec in a paused container (use --ignore-paused to override): %w", ErrPaused)
	}
	if err := state.Check(op, st); err != nil {
		return Exit{}, err
	}
	s, err := c.Spec()
	if err != nil {
		return Exit{}, err
	}
	target, err := c.openInit()
	if err != nil {
		return Exit{}, err
	}
	defer target.Close()
	cg := c.cg
	if len(o.Cgroups) > 0 {
		if cg, err = c.cg.Sub(o.Cgroups); err != nil {
			return Exit{}, err
		}
	}
	userns, err := joinsUserNamespace(s, target)
	if err != nil {
		return Exit{}, err
	}
	cfg, err := c.execConfig(s, o, cg, userns)
	if err != nil {
		return Exit{}, err
	}
	opts := Options{
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, ConsoleSocket: o.ConsoleSocket,
		RelayStdio: o.RelayStdio && !o.Detach, noStdio: o.RelayStdio && o.Detach,
		PreserveFDs: o.PreserveFDs, Foreground: !o.Detach, cgroupExists: true, target: target, background: o.Background,
	}
	if !o.Detach {
		// Its parent-death signal watches the thread it is forked on.
		opts.thread = &parentThread{}
		defer opts.thread.release()
	}
	if userns {
		// The user namespace is joined by berth-nsenter (single-threaded),
		// and before it the cgroups, which its root could not join.
		if opts.nsenter, err = execPlan(target); err != nil {
			return Exit{}, err
		}
		defer opts.nsenter.Close()
		opts.nsenter.tasks, cfg.CgroupTasks = cfg.CgroupTasks, nil
	}
	p, err := start(cfg, cg, &specs.Spec{Linux: &specs.Linux{Resources: s.Linux.Resources, Seccomp: s.Linux.Seccomp}}, opts, c.ociState)
	if err != nil {
		return Exit{}, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, p.pid); err != nil {
			// Nobody could find the process to wait for it: end it.
			_ = p.kill()
			p.reap()
			return Exit{}, err
		}
	}
	if o.Detach {
		p.proc.Close()
		return Exit{}, nil
	}
	// This process does not own the container: release its lock so
	// other commands (kill, state) work while the exec'd process runs.
	c.Close()
	c.handle = nil
	p.cancel = o.Cancel
	return p.wait(), nil
}

// execConfig is the init stage's config for an exec: the container's
// namespaces by path, its cgroup, and the new process.
func (c *Container) execConfig(s *specs.Spec, o ExecOptions, cg *cgroups.Cgroup, userns bool) (*initproc.Config, error) {
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
	return &initproc.Config{
		Exec: true,
		Target: &initproc.Target{Pid: c.rec.Pid, Namespaces: joinedOnExec(s, userns), Chroot: c.rec.SharedMounts,
			UserNamespace: userns},
		CgroupTasks:   cg.TasksFiles(),
		Process:       *proc,
		DieWithParent: !o.Detach,
		PreserveFDs:   o.PreserveFDs,
	}, nil
}

// execNamespaces are the namespaces an exec'd process shares with the
// container, besides a user namespace (joined by berth-nsenter). Joining
// one the caller already shares, as with --network host, changes nothing.
const execNamespaces = unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP |
	unix.CLONE_NEWPID | unix.CLONE_NEWNS

// joinsUserNamespace says whether an exec must join the container's user
// namespace: the config gives it one, or the container shares the user
// namespace of the berth that started it, which is not this process's.
// The latter is rootless berth: its containers live in the user namespace
// its re-exec made (rootless.Enter), which a later berth exec, run as the
// user, joins from outside, as the namespace's owner may.
func joinsUserNamespace(s *specs.Spec, target *pidfd.Process) (bool, error) {
	if spec.HasNamespace(s, specs.UserNamespace) {
		return true, nil
	}
	var own, theirs unix.Stat_t
	if err := unix.Stat("/proc/self/ns/user", &own); err != nil {
		return false, fmt.Errorf("stat own user namespace: %w", err)
	}
	if err := unix.Stat("/proc/"+strconv.Itoa(target.Pid)+"/ns/user", &theirs); err != nil {
		return false, fmt.Errorf("stat the container's user namespace: %w", err)
	}
	if target.Wait(0) {
		return false, fmt.Errorf("container: %w", ErrNotRunning)
	}
	return own.Dev != theirs.Dev || own.Ino != theirs.Ino, nil
}

// joinedOnExec are the namespaces the init stage joins for an exec. In a
// container with a user namespace (userns: one not this process's) it
// joins them as that namespace's root, which may not enter a namespace the
// container shares with the host (nor needs to: it is in it already), so
// only the config's own are joined.
func joinedOnExec(s *specs.Spec, userns bool) uintptr {
	if !userns {
		return execNamespaces
	}
	var flags uintptr
	for _, ns := range s.Linux.Namespaces {
		flags |= namespaceFlags[ns.Type] | joinFlags[ns.Type]
	}
	return flags & execNamespaces
}

// PinNamespace pins one namespace of the running container (kind is a
// file name under /proc/PID/ns: "net", "ipc"...) for another container to
// join: it returns a path that names that namespace, and no other, until
// release, whatever becomes of the container's PID meanwhile.
func (c *Container) PinNamespace(kind string) (path string, release func(), err error) {
	f, err := c.OpenProcFile("ns/" + kind)
	if err != nil {
		return "", nil, err
	}
	return "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(int(f.Fd())), func() { f.Close() }, nil
}

// OpenProcFile opens /proc/PID/rel of the container's PID 1 (its
// net/dev, a namespace file), and only if that PID still names it once
// the file is open: a pidfd, checked against the recorded start time,
// outlives the open.
func (c *Container) OpenProcFile(rel string) (*os.File, error) {
	proc, err := c.openInit()
	if err != nil {
		return nil, err
	}
	defer proc.Close()
	f, err := os.Open("/proc/" + strconv.Itoa(proc.Pid) + "/" + rel)
	if err != nil {
		return nil, fmt.Errorf("container %s: open %s: %w", c.rec.ID, rel, err)
	}
	if proc.Wait(0) {
		f.Close()
		return nil, fmt.Errorf("container %s: %w", c.rec.ID, ErrNotRunning)
	}
	return f, nil
}
