package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/hooks"
	"github.com/berth-runtime/berth/internal/initproc"
	"github.com/berth-runtime/berth/internal/pidfd"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/selfexe"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/terminal"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ForwardedSignals are passed on to the container's PID 1, as docker run
// does; berth-monitor forwards the same (cmd/berth-monitor's forwarded,
// in C) and blocks them across the exec that starts it (engine's
// handoff).
var ForwardedSignals = []os.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2}

// initProcess is the running init stage (and, after exec, the container's
// PID 1, or the program an exec forked) seen from the process that forked
// it.
type initProcess struct {
	pid     int
	proc    *pidfd.Process // pid's pidfd: signals never reach a recycled PID
	signals chan os.Signal // forwarded to pid while in the foreground
	// notified is closed once signals is registered (notify).
	notified chan struct{}
	relay    *terminal.Relay
	pipes    *terminal.Pipes
	null     *os.File // the host's /dev/null, holding fds 0-2 in the init stage only
	// stage is an exec's init stage, which forks the program (pid) and
	// exits; 0 for a container's init stage, which becomes its PID 1.
	stage int
	// cancel, when it closes, kills the process wait waits for.
	cancel <-chan struct{}
	// prepared receives the result of Options.Prepare when it runs
	// alongside the init stage's setup (see prepareEarly); nil when it
	// runs at the hook pause, or has been waited for.
	prepared chan error
	// compact is the config in berth-stage's wire form when the C init
	// stage runs (see useStage); nil when berth-init reads it as JSON.
	compact []byte
}

// start forks the init stage into its new namespaces, creates the cgroup
// (on v1 while the child's runtime is starting, on v2 before, so that the
// child is born in it), sends the configuration, runs the runtime hooks
// when the init stage pauses for them, and returns once the init stage has
// exec'd the program, or waits on its exec FIFO.
func start(cfg *initproc.Config, cg *cgroups.Cgroup, s *specs.Spec, o Options, st func() specs.State) (_ *initProcess, err error) {
	p := &initProcess{}
	if o.Foreground && !o.background {
		p.notify()
		defer func() {
			if err != nil {
				p.stopSignals()
			}
		}()
	}
	if cfg.Process.Terminal && o.ConsoleSocket == "" && o.TakeTerminal == nil {
		cfg.Process.ConsoleSize = terminal.HostSize(o.Stdin, o.Stdout)
	} else if cfg.Process.Terminal && o.TakeTerminal != nil && o.ConsoleSize != (terminal.Size{}) {
		cfg.Process.ConsoleSize = o.ConsoleSize
	}
	stdio, err := p.stdio(cfg, o)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.closeStdio()
		}
	}()
	// On v2 the init stage is born in its cgroup, and on v1 in a user
	// namespace the parent moves it there: either way with all its
	// threads, so the cgroup is made first (see createForWholeProcess).
	whole := !o.cgroupExists && (cg.Version == cgroups.V2 || cfg.CgroupTasks == nil)
	if cg.Version == cgroups.V1 && !o.cgroupExists {
		// A hybrid host's cgroup2 directory: the child is born in it.
		if err := cg.CreateUnified(); err != nil {
			return nil, err
		}
	}
	// On v1 the init stage joins its cgroups by itself (joinTasks), once it
	// has its config: they are made meanwhile, on a goroutine started this
	// early so that the other CPU has taken it up before this one forks.
	// Started later it sat behind the fork's clone, the longest system
	// call of a start, on this goroutine's P (Go's scheduler slot), and
	// made after the fork the init stage waited for them.
	var cgroupMade func() error
	if cg.Version == cgroups.V1 && !o.cgroupExists && !whole && o.unit == nil {
		cgroupMade = createMeanwhile(cg, withDefaultDeviceRules(s.Linux.Resources))
		defer cgroupMade() // before the caller's release may remove it
	}
	if whole {
		if o.pidsMax, err = createForWholeProcess(cg, cfg, s.Linux.Resources); err != nil {
			return nil, err
		}
		if o.pidsMax != nil {
			defer o.pidsMax.Close()
		}
	}
	if o.nsenter == nil && !o.cgroupExists {
		if o.nsenter, err = createPlan(s); err != nil {
			return nil, err
		}
		defer o.nsenter.Close()
	}
	if o.nsenter != nil && whole {
		// berth-nsenter joins them as the host's root, before the user
		// namespace: no slow move by the parent.
		o.nsenter.tasks = cg.TasksFiles()
	}
	sock, err := p.fork(cfg, cg, o, s, stdio)
	if p.null != nil {
		p.null.Close()
	}
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	p.prepareEarly(o)
	defer func() {
		if perr := p.waitPrepared(); err == nil && perr != nil {
			err = perr
		}
	}()
	// runc compat: runc's debug.bats looks for the words of runc's own
	// debug lines at these steps ("nsexec container setup", "child
	// process in init()", "init: closing the pipe to signal completion").
	slog.Debug("nsexec container setup: the init stage is forked into the container's namespaces", "pid", p.pid)
	if p.pipes != nil {
		// Off the start path: the copies begin while the init stage's
		// runtime starts.
		p.pipes.Start()
	}
	switch {
	case o.unit != nil:
		// systemd's driver: the unit is made now that there is a PID to
		// put in it (systemd refuses an empty scope); the init stage was
		// born in the cgroup the unit adopts, and waits for its config.
		err = startUnit(o.unit, o.ID, p.pid, cg, s.Linux.Resources, o.pidsMax != nil)
	case cg.Version == cgroups.V1 && whole && o.nsenter == nil:
		// The slow path (cgroup.procs), for a child that cannot join by
		// itself: see joinTasks.
		err = cg.AddProcess(p.pid)
	case cgroupMade != nil:
		err = cgroupMade()
	}
	if err == nil && spec.HasNamespace(s, specs.UserNamespace) {
		err = setRlimitsOf(p.pid, cfg.Process.Rlimits)
	}
	if err == nil && o.ConfigReady != nil {
		err = o.ConfigReady()
	}
	if err == nil {
		// The program cannot run before the init stage has its config:
		// from here on, a signal to this process is forwarded to it.
		if p.notified != nil {
			<-p.notified
		}
		cfg.State.Pid = p.pid
		if p.compact != nil {
			err = send(sock, string(p.compact))
		} else {
			err = send(sock, cfg)
		}
		slog.Debug("child process in init(): the init stage has its configuration", "pid", p.pid)
	}
	if err == nil {
		err = p.converse(sock, s, o, st)
	}
	if err == nil {
		slog.Debug("init: closing the pipe to signal completion: the init stage is done", "pid", p.pid)
	}
	if err == nil && p.stage != 0 {
		err = p.forked()
	}
	if err != nil {
		_ = p.kill()
		p.reap()
		if p.stage != 0 && p.pid != p.stage {
			reapPid(p.stage)
		}
		if p.relay != nil {
			p.relay.Close()
		}
		return nil, err
	}
	return p, nil
}

// createMeanwhile creates cg with resources r on a goroutine of its own
// and returns the wait for its result, which may be called any number of
// times and must be called before cg is used or destroyed.
func createMeanwhile(cg *cgroups.Cgroup, r *specs.LinuxResources) func() error {
	done := make(chan error, 1)
	go func() { done <- cg.Create(r) }()
	return sync.OnceValue(func() error { return <-done })
}

// notify subscribes p.signals to the forwarded signals on a goroutine of
// its own, while the init stage is forked; start waits for it before the
// init stage gets its config. The process's first subscription registers
// them with the Go runtime (see forwarding), six round trips with its
// signal goroutine, which the start need not wait for.
func (p *initProcess) notify() {
	p.signals = make(chan os.Signal, 16)
	p.notified = make(chan struct{})
	go func() {
		subscribeSignals(p.signals)
		close(p.notified)
	}()
}

// stopSignals ends the forwarding subscription once notify has made it.
func (p *initProcess) stopSignals() {
	<-p.notified
	unsubscribeSignals(p.signals)
}

// createForWholeProcess creates the cgroup for an init stage that will be
// in it with all its threads. Its pids limit is not written: the init
// stage writes it, through the returned pids.max, once its own work is
// done, since a Go runtime's threads must neither use up the container's
// pids nor fail to start under a small limit (runc, too, sets its limits
// when its init is ready to exec). Nil when there is no limit to defer.
func createForWholeProcess(cg *cgroups.Cgroup, cfg *initproc.Config, r *specs.LinuxResources) (*os.File, error) {
	r = withDefaultDeviceRules(r)
	var limit int64
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit > 0 {
		limit = *r.Pids.Limit
		rest := *r
		rest.Pids = nil
		r = &rest
	}
	if err := cg.Create(r); err != nil || limit == 0 {
		return nil, err
	}
	f, err := cg.OpenPidsMax()
	if err != nil {
		return nil, err
	}
	cfg.PidsLimit = &initproc.DeferredLimit{Value: cgroups.PidsValue(limit)}
	return f, nil
}

// forked takes over the program an exec's init stage forked, once the
// stage has reported it and exited: the program is this process's child
// (CLONE_PARENT), so its PID stays its own until it is reaped here.
func (p *initProcess) forked() error {
	reapPid(p.stage)
	if p.pid == p.stage {
		return errors.New("the init stage ended without starting the program")
	}
	if err := isChild(p.pid); err != nil {
		return err
	}
	p.proc.Close()
	p.proc = nil
	if fd, err := unix.PidfdOpen(p.pid, 0); err == nil {
		p.proc = pidfd.FromFD(fd, p.pid)
	}
	return nil
}

// isChild checks that a PID reported over the init stage's socket names a
// child of this process, as the forked program is (CLONE_PARENT): in a
// container with a user namespace its root, with CAP_SYS_PTRACE there,
// may ptrace the program before its execve and write to the socket it
// still holds; a PID it made up must never be signalled or waited for.
func isChild(pid int) error {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	if err != nil {
		return fmt.Errorf("the init stage reported pid %d, which is not its program: %w", pid, err)
	}
	return nil
}

// stdio decides what the init stage gets as fds 0-2: the caller's files
// (berth-oci), pipes that berth relays (RelayStdio), or a host /dev/null
// that the init stage replaces with the container's own. A missing stdin
// is replaced the same way.
func (p *initProcess) stdio(cfg *initproc.Config, o Options) ([3]*os.File, error) {
	tty := cfg.Process.Terminal
	stdin, stdout, stderr := o.Stdin, o.Stdout, o.Stderr
	teed := o.RelayStdio && (o.Tee[0] != nil || o.Tee[1] != nil)
	if stdout == nil && !teed {
		stdout = os.Stdout
	}
	if stderr == nil && !teed {
		stderr = os.Stderr
	}
	switch {
	case o.noStdio:
		null, err := os.OpenFile(os.DevNull, os.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return [3]*os.File{}, err
		}
		p.null = null
		stdin, stdout, stderr = nil, null, null
	case o.RelayStdio:
		if tty {
			stdin = nil // the terminal relay reads it
		}
		pipes, err := terminal.NewPipesTee(stdin, stdout, stderr, o.Tee)
		if err != nil {
			return [3]*os.File{}, fmt.Errorf("create stdio pipes: %w", err)
		}
		p.pipes = pipes
		stdin, stdout, stderr = pipes.Child[0], pipes.Child[1], pipes.Child[2]
	}
	if stdin == nil {
		stdin = stdout // only holds the place
		if !tty {
			cfg.Process.DevNull = []int{0}
			if o.noStdio {
				cfg.Process.DevNull = []int{0, 1, 2}
			}
		}
	}
	return [3]*os.File{stdin, stdout, stderr}, nil
}

// closeStdio releases the relay of a process that did not start.
func (p *initProcess) closeStdio() {
	if p.pipes != nil {
		p.pipes.Close()
	}
}

// fork starts the init stage from a read-only copy of berth's binary, in a
// session of its own: no container process ever belongs to the caller's
// session or process group, or can reach its controlling terminal.
func (p *initProcess) fork(cfg *initproc.Config, cg *cgroups.Cgroup, o Options, s *specs.Spec, stdio [3]*os.File) (*os.File, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create sync socket: %w", err)
	}
	parent, child := os.NewFile(uintptr(pair[0]), "sync"), os.NewFile(uintptr(pair[1]), "sync-child")
	defer child.Close()
	procFD := -1
	sys := &syscall.SysProcAttr{Cloneflags: cloneFlags(s), Setsid: true, PidFD: &procFD}
	if o.nsenter != nil {
		// berth-nsenter makes the new namespaces once it has joined the
		// user namespace, which then owns them.
		sys.Cloneflags = 0
	}
	if spec.NewNamespace(s, specs.UserNamespace) {
		sys.UidMappings, sys.GidMappings = idMappings(s.Linux.UIDMappings), idMappings(s.Linux.GIDMappings)
		sys.GidMappingsEnableSetgroups = true
		// Become the namespace's root before exec, or the exec as an
		// unmapped user would drop every capability.
		sys.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	dir, err := cg.OpenBirthDir()
	if err != nil {
		parent.Close()
		return nil, fmt.Errorf("open cgroup: %w", err)
	}
	if dir != nil {
		defer dir.Close()
		sys.UseCgroupFD, sys.CgroupFD = true, int(dir.Fd())
	}
	files := []uintptr{stdio[0].Fd(), stdio[1].Fd(), stdio[2].Fd()}
	for i := 0; i < o.PreserveFDs; i++ {
		files = append(files, uintptr(3+i))
	}
	syncFD := len(files)
	files = append(files, child.Fd())
	if o.execFifo != nil {
		cfg.ExecFifoFD = len(files)
		files = append(files, o.execFifo.Fd())
	}
	if o.pidsMax != nil {
		cfg.PidsLimit.FD = len(files)
		files = append(files, o.pidsMax.Fd())
	}
	if o.target != nil {
		cfg.Target.PidFD = len(files)
		files = append(files, uintptr(o.target.Fd()))
	}
	if o.NetNS != nil {
		// The network namespace the caller made: the init stage enters
		// it, and clone makes none.
		if o.nsenter != nil || !spec.NewNamespace(s, specs.NetworkNamespace) {
			parent.Close()
			return nil, errors.New("a network namespace made before the fork needs a new one in the config and no user namespace")
		}
		ns, err := o.NetNS()
		if err != nil {
			parent.Close()
			return nil, err
		}
		sys.Cloneflags &^= unix.CLONE_NEWNET
		cfg.NetNSFD = len(files)
		files = append(files, ns.Fd())
		cfg.NewNetNS = false // its maker brought its loopback up
	}
	// Bind trees the parent prepares (idmapped mounts, binds in a user
	// namespace) go to the init stage as descriptors.
	trees, err := rootfs.CloneTrees(cfg.Rootfs.Mounts, spec.HasNamespace(s, specs.UserNamespace))
	if err != nil {
		parent.Close()
		return nil, err
	}
	defer rootfs.CloseTrees(trees)
	for i, t := range trees {
		if t != nil {
			cfg.Rootfs.Mounts[i].TreeFD = len(files)
			files = append(files, t.Fd())
		}
	}
	if ov := cfg.Rootfs.Overlay; ov != nil && (ov.IDMap != nil || ov.Shifted) {
		overlayTree := rootfs.OverlayTree
		if ov.Shifted {
			overlayTree = rootfs.ShiftedOverlayTree
		}
		tree, err := overlayTree(ov)
		if err != nil {
			parent.Close()
			return nil, err
		}
		defer tree.Close()
		ov.TreeFD = len(files)
		files = append(files, tree.Fd())
	}
	// A user namespace may be refused cgroup mounts: the container's own
	// cgroup directories are cloned here, for the init stage to attach.
	if o.target == nil && spec.HasNamespace(s, specs.UserNamespace) {
		cgTrees, err := rootfs.CloneCgroupTrees(&cfg.Rootfs, cg.Path)
		if err != nil {
			parent.Close()
			return nil, fmt.Errorf("mount cgroups: %w", err)
		}
		defer rootfs.CloseTrees(cgTrees)
		for _, t := range cgTrees {
			cfg.Rootfs.CgroupTreeFDs = append(cfg.Rootfs.CgroupTreeFDs, len(files))
			files = append(files, t.Fd())
		}
	}
	exe, argv, env, err := p.initStage(cfg, o, s, syncFD)
	if err != nil {
		parent.Close()
		return nil, err
	}
	defer exe.Close()
	if o.nsenter != nil {
		initFD := len(files)
		files = append(files, exe.Fd())
		var tasks []*os.File
		if argv, tasks, err = o.nsenter.args(&files, initFD, syncFD); err != nil {
			parent.Close()
			return nil, err
		}
		defer closeFiles(tasks)
		if exe, err = selfexe.OpenNsenter(); err != nil {
			parent.Close()
			return nil, err
		}
		defer exe.Close()
	}
	// Above every descriptor ForkExec uses in the child (the files it
	// places, and as many again where it first moves those in the way,
	// and its error pipe): the path must stay valid there until execve.
	exeFD, err := highFD(exe, 2*len(files)+4)
	if err != nil {
		parent.Close()
		return nil, err
	}
	defer unix.Close(exeFD)
	// The init stage's environment is initStage's alone: nothing of the
	// caller's reaches the container's first process.
	attr := &syscall.ProcAttr{Env: env, Files: files, Sys: sys}
	fork := func() (int, error) { return syscall.ForkExec("/proc/self/fd/"+strconv.Itoa(exeFD), argv, attr) }
	var pid int
	o.thread.do(func() {
		if o.nsenter != nil {
			pid, err = fork() // berth-nsenter joins the PID namespace itself
		} else {
			pid, err = forkInPidNamespace(s, fork)
		}
	})
	if err != nil {
		parent.Close()
		return nil, fmt.Errorf("start init stage: %w", err)
	}
	p.pid = pid
	if procFD >= 0 {
		p.proc = pidfd.FromFD(procFD, pid)
	}
	if o.target != nil {
		p.stage = pid
	}
	if o.nsenter != nil && o.nsenter.clones() {
		// Only the children may hold the other end now, or a
		// berth-nsenter that died unreported would never be noticed.
		child.Close()
		err := p.takeClone(parent)
		if err == nil && o.execFifo != nil && len(s.Linux.UIDMappings) == 0 {
			err = ownFifoByRootOf(o.execFifo, p.pid)
		}
		if err != nil {
			parent.Close()
			_ = p.kill()
			p.reap()
			return nil, err
		}
	}
	return parent, nil
}

// initStage opens the init stage to exec and gives its argv and
// environment: berth-stage, the C stage, when it is installed and the
// config lies within what it does (useStage); else berth-init.
func (p *initProcess) initStage(cfg *initproc.Config, o Options, s *specs.Spec, syncFD int) (*os.File, []string, []string, error) {
	sync := strconv.Itoa(syncFD)
	if useStage(o, s) {
		if compact, err := initproc.EncodeCompact(cfg); err == nil {
			exe, ok, err := selfexe.OpenStage()
			if err != nil {
				return nil, nil, nil, fmt.Errorf("open %s: %w", selfexe.StageName, err)
			}
			if ok {
				p.compact = compact
				return exe, []string{selfexe.StageName, sync}, nil, nil
			}
		} else if !errors.Is(err, initproc.ErrNotCompact) {
			return nil, nil, nil, err
		} else {
			slog.Debug("the init stage is berth-init", "why", err)
		}
	}
	exe, err := selfexe.Open()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open berth binary: %w", err)
	}
	// The Go stage's environment is only this: it runs one goroutine
	// of work on its locked main thread until it execs, and a runtime
	// sized for every CPU costs it more to start (GOMAXPROCS=1: 0.92 of
	// the CPU time of a berth-oci run, 0.94 of its time back to back).
	return exe, []string{initproc.Argv0, sync}, []string{"GOMAXPROCS=1"}, nil
}

// useStage reports whether the container may start through berth-stage,
// the C init stage: it does not join or make a user namespace (the Go
// stage, after berth-nsenter, has the fallbacks a user namespace needs),
// and it is a container's init, not an exec.
func useStage(o Options, s *specs.Spec) bool {
	return o.nsenter == nil && o.target == nil && !spec.HasNamespace(s, specs.UserNamespace)
}

// forkInPidNamespace runs fork with the calling thread inside the config's
// PID namespace path, if it names one, so the child is born there. Only
// children enter a PID namespace, so the thread returns to its own after.
func forkInPidNamespace(s *specs.Spec, fork func() (int, error)) (int, error) {
	path := ""
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace {
			path = ns.Path
		}
	}
	if path == "" {
		return fork()
	}
	runtime.LockOSThread()
	restored := false
	defer func() {
		// A thread that could not return to its own PID namespace stays
		// locked, so the runtime discards it with this goroutine.
		if restored {
			runtime.UnlockOSThread()
		}
	}()
	own, err := unix.Open("/proc/thread-self/ns/pid", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(own)
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open pid namespace %s: %w", path, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWPID); err != nil {
		return 0, fmt.Errorf("join pid namespace %s: %w", path, err)
	}
	pid, err := fork()
	if rerr := unix.Setns(own, unix.CLONE_NEWPID); rerr != nil {
		return pid, fmt.Errorf("return to own pid namespace: %w", rerr)
	}
	restored = true
	return pid, err
}

// highFD duplicates f above the descriptors ForkExec rearranges, so that
// the exec path stays valid in the child until execve.
func highFD(f *os.File, min int) (int, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, min)
	if err != nil {
		return 0, fmt.Errorf("dup berth binary: %w", err)
	}
	return fd, nil
}

func send(sock *os.File, v any) error {
	var b []byte
	if s, ok := v.(string); ok {
		b = []byte(s)
	} else {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return fmt.Errorf("encode message: %w", err)
		}
	}
	if err := unix.Sendto(int(sock.Fd()), b, unix.MSG_NOSIGNAL, nil); err != nil {
		return fmt.Errorf("send to init stage: %w", err)
	}
	return nil
}

// converse handles the init stage's reports until it has exec'd (the
// socket closes) or waits on its exec FIFO.
func (p *initProcess) converse(sock *os.File, s *specs.Spec, o Options, st func() specs.State) error {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read from init stage: %w", err)
		}
		if n == 0 && oobn == 0 {
			return nil
		}
		if oobn > 0 {
			if err := p.takeTerminal(oob[:oobn], o); err != nil {
				return err
			}
			continue
		}
		var msg initproc.Message
		if err := json.Unmarshal(buf[:n], &msg); err != nil {
			return fmt.Errorf("bad message from init stage: %w", err)
		}
		switch msg.Type {
		case initproc.MsgCreated:
			return nil
		case initproc.MsgForked:
			if p.stage == 0 || msg.Pid <= 0 {
				return fmt.Errorf("bad message from init stage: %s", buf[:n])
			}
			p.pid = msg.Pid
			// runc compat: exec.bats looks for runc's words at this step.
			slog.Debug("setns_init: about to exec: the program is forked inside the container", "pid", p.pid)
		case initproc.MsgHooks:
			if err := p.runtimeHooks(sock, s, o, st); err != nil {
				return err
			}
		case initproc.MsgSeccomp:
			if err := p.passListener(msg.FD, s.Linux.Seccomp, st); err != nil {
				_ = send(sock, "failed")
				return err
			}
			if err := send(sock, initproc.MsgContinue); err != nil {
				return err
			}
		default:
			return &StartError{Code: msg.Code, Err: errors.New(msg.Error)}
		}
	}
}

// prepareEarly starts Options.Prepare (berth's networking: a veth into
// the new network namespace) as soon as the init stage exists, when its
// namespaces are born with it: the work then overlaps the init stage's
// runtime start and mounts instead of following them. With berth-nsenter
// the namespaces come later, and Prepare waits for the hook pause.
func (p *initProcess) prepareEarly(o Options) {
	if o.Prepare == nil || o.nsenter != nil {
		return
	}
	p.prepared = make(chan error, 1)
	go func() { p.prepared <- o.Prepare(p.pid) }()
}

// waitPrepared is the result of an early Prepare, once it has returned:
// nothing may tear the container down while it still adds to it.
func (p *initProcess) waitPrepared() error {
	if p.prepared == nil {
		return nil
	}
	err := <-p.prepared
	p.prepared = nil
	return err
}

// runtimeHooks runs the prestart and createRuntime hooks while the init
// stage waits, with the namespaces and mounts in place, after Prepare.
func (p *initProcess) runtimeHooks(sock *os.File, s *specs.Spec, o Options, st func() specs.State) error {
	if p.prepared != nil {
		if err := p.waitPrepared(); err != nil {
			_ = send(sock, "failed")
			return err
		}
	} else if o.Prepare != nil {
		if err := o.Prepare(p.pid); err != nil {
			_ = send(sock, "failed")
			return err
		}
	}
	state := st()
	state.Pid = p.pid
	// Prestart hooks were once run after start; engines' hooks expect the
	// state they saw then ("created"), as crun gives it.
	prestart := state
	prestart.Status = specs.StateCreated
	h := hooksOf(s)
	err := hooks.Run("prestart", h.Prestart, prestart)
	if err == nil {
		err = hooks.Run("createRuntime", h.CreateRuntime, state)
	}
	if err != nil {
		_ = send(sock, "failed")
		return err
	}
	return send(sock, initproc.MsgContinue)
}

// passListener takes the seccomp listener the init stage reports (fd in
// its table) with pidfd_getfd and sends it to the profile's agent, with
// runc's message: a specs.ContainerProcessState naming the descriptor
// "seccompFd". The state is the container's: "creating" with the init's
// pid for a new container, "running" for an exec, whose pid is its init
// stage's, which holds the filter the program inherits.
func (p *initProcess) passListener(fd int, profile *specs.LinuxSeccomp, st func() specs.State) error {
	if profile == nil || profile.ListenerPath == "" {
		// runc compat: runc's words when a profile notifies without an agent.
		return errors.New("seccomp: listenerPath is not set")
	}
	listener, err := takeFD(p.pid, fd)
	if err != nil {
		return err
	}
	defer listener.Close()
	state := st()
	if p.stage == 0 {
		state.Pid, state.Status = p.pid, specs.StateCreating
	}
	msg, err := json.Marshal(specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{specs.SeccompFdName},
		Pid:      p.pid,
		Metadata: profile.ListenerMetadata,
		State:    state,
	})
	if err != nil {
		return fmt.Errorf("encode seccomp state: %w", err)
	}
	return sendToAgent(profile.ListenerPath, msg, listener)
}

// takeFD copies descriptor fd of process pid (a child not yet reaped, so
// its PID is its own) into this process.
func takeFD(pid, fd int) (*os.File, error) {
	pidFD, err := unix.PidfdOpen(pid, 0)
	if err == nil {
		defer unix.Close(pidFD)
		var got int
		if got, err = unix.PidfdGetfd(pidFD, fd, 0); err == nil {
			return os.NewFile(uintptr(got), "seccomp-listener"), nil
		}
	}
	if errors.Is(err, unix.ENOSYS) {
		// runc compat: its words on kernels that cannot pass the listener.
		return nil, fmt.Errorf("seccomp notify unsupported: pidfd_getfd needs Linux 5.6: %w", err)
	}
	return nil, fmt.Errorf("take seccomp listener: %w", err)
}

// sendToAgent passes the listener to the seccomp agent at path (a leading
// @ names an abstract socket, as in Go's package net, which runc uses).
// Raw system calls for the reason sendToConsoleSocket gives.
func sendToAgent(path string, msg []byte, listener *os.File) error {
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("seccomp agent socket: %w", err)
	}
	defer unix.Close(sock)
	if err := unix.Connect(sock, &unix.SockaddrUnix{Name: path}); err != nil {
		// runc compat: runc's tests and users match these words.
		return fmt.Errorf("failed to connect with seccomp agent specified in the seccomp profile: dial %s: %w", path, err)
	}
	if err := unix.Sendmsg(sock, msg, unix.UnixRights(int(listener.Fd())), nil, 0); err != nil {
		return fmt.Errorf("cannot send seccomp fd to %s: %w", path, err)
	}
	return nil
}

// takeTerminal receives the pty master: berth relays it, berth-oci passes
// it on to the engine's console socket.
func (p *initProcess) takeTerminal(oob []byte, o Options) error {
	master, err := receivedFile(oob)
	if err != nil {
		return err
	}
	if o.TakeTerminal != nil {
		o.TakeTerminal(master)
		return nil
	}
	if o.ConsoleSocket == "" {
		p.relay = terminal.StartRelay(master, o.Stdin, o.Stdout)
		return nil
	}
	defer master.Close()
	return sendToConsoleSocket(o.ConsoleSocket, master)
}

// sendToConsoleSocket passes the pty master to the engine's socket. Raw
// system calls, not package net: net would make the binary depend on libc
// wherever cgo is enabled, and the init stage must run in any rootfs.
func sendToConsoleSocket(path string, master *os.File) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("connect to console socket %s: %w", path, err)
	}
	if err := unix.Sendmsg(fd, []byte("/dev/ptmx"), unix.UnixRights(int(master.Fd())), nil, 0); err != nil {
		return fmt.Errorf("send pty to console socket: %w", err)
	}
	return nil
}

func receivedFile(oob []byte) (*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("bad control message from init stage: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("bad file from init stage: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// wait forwards signals until PID 1 exits and returns how it ended.
func (p *initProcess) wait() Exit {
	done := make(chan unix.WaitStatus, 1)
	go func() { done <- p.reap() }()
	if p.signals != nil {
		defer p.stopSignals()
	}
	for {
		select {
		case sig := <-p.signals:
			_ = p.signal(sig.(unix.Signal))
		case <-p.cancel:
			// Here, not in a goroutine of its own: the pidfd is closed
			// below, and a late signal must never reach another
			// process's pidfd that took its number.
			_ = p.kill()
			p.cancel = nil
		case ws := <-done:
			if p.relay != nil {
				p.relay.Close()
			}
			if p.pipes != nil {
				// A container's processes all die with its PID 1; an exec'd
				// program may leave children holding its output.
				grace := 5 * time.Second
				if p.stage != 0 {
					grace = 100 * time.Millisecond
				}
				p.pipes.Wait(grace)
			}
			p.proc.Close()
			return exitOf(ws)
		}
	}
}

// signal sends sig to the process through its pidfd, which a recycled PID
// cannot redirect (the PID itself only where the kernel gave no pidfd).
func (p *initProcess) signal(sig unix.Signal) error {
	if p.proc != nil {
		return p.proc.Signal(sig)
	}
	if p.pid <= 0 {
		return nil
	}
	return unix.Kill(p.pid, sig)
}

func (p *initProcess) kill() error { return p.signal(unix.SIGKILL) }

func (p *initProcess) reap() unix.WaitStatus {
	if p.proc != nil {
		if ws, err := p.proc.Reap(); err == nil {
			return ws
		}
	}
	return reapPid(p.pid)
}

func reapPid(pid int) unix.WaitStatus {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, unix.EINTR) {
			return ws
		}
	}
}

func exitOf(ws unix.WaitStatus) Exit {
	if ws.Signaled() {
		return Exit{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
	}
	return Exit{Code: ws.ExitStatus()}
}
