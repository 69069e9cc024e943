package engine

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/selfexe"
	"golang.org/x/sys/unix"
)

// A monitor whose container needs nothing of it but its log and its exit
// hands the running container to berth-monitor (cmd/berth-monitor), a
// small C program, by exec in the same process: the container stays its
// child, the lifetime lock (monitorLockFD) and the runtime record's lock
// stay held, and the record's MonitorPid and MonitorStart stay true.
// berth-monitor copies the output to the log, forwards signals, reaps
// the container and execs berth back (MonitorExitedArgs), which finishes
// what the run left (MonitorExited). An idle Go monitor holds 2.9 MiB;
// berth-monitor a tenth of that.

// forwardedSignals are those berth-monitor forwards to the container,
// as container.Run does (internal/container forwardedSignals).
var forwardedSignals = []os.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2}

// MonitorName is the C monitor, installed beside berth.
const MonitorName = "berth-monitor"

// leanMonitor reports whether a container's monitor may hand it to
// berth-monitor: what berth-monitor does not do stays with the Go
// monitor (a terminal, a foreground client, health checks, a restore,
// log drivers other than json-file, rootless berth), and so
// does it all where berth-monitor is not installed beside berth. What
// runOnce holds for the run (volumes, networks, other containers'
// namespaces) is checked there (handoffAllowed).
func leanMonitor(rec managed.Record, restore *Restore, client *monitorClient) bool {
	cfg := rec.Config
	if cfg == nil || restore != nil || client != nil || rootless.Active() {
		return false
	}
	if cfg.Tty || cfg.OpenStdin || cfg.Healthcheck.Enabled() {
		return false
	}
	if t := cfg.LogConfig.Type; t != "" && t != LogJSONFile {
		return false
	}
	// Not installed (an older install, a bare go build): no warning at
	// every start, the Go monitor does it all.
	_, err := selfexe.Helper(MonitorName)
	return err == nil
}

// handoffAllowed reports whether nothing this run holds for the
// container's life would be lost with berth's Go process: no volume in
// use, no bridge or user-mode network, no other container's namespace.
func handoffAllowed(cfg *managed.Config, mounts *containerMounts, bridged bool, pinned ...string) bool {
	if len(mounts.uses) > 0 || bridged || cfg.UserModeNetwork != "" {
		return false
	}
	for _, p := range pinned {
		if p != "" {
			return false
		}
	}
	return true
}

// handoff is the container.Options.Handoff of a lean monitor: it execs
// berth-monitor with the container's PID, the read ends of its output
// pipes, the log and its rotation, and the command line that brings
// berth back. It returns only if the exec failed, with the files as
// they were, for the Go monitor to go on.
func (e *Engine) handoff(rec managed.Record, out, errs *os.File) func(pid int, alive []*os.File) error {
	return func(pid int, alive []*os.File) error {
		bin, err := selfexe.Helper(MonitorName)
		if err != nil {
			return err
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		o, err := logOptions(rec.Config.LogConfig)
		if err != nil {
			return err
		}
		if len(alive) != 1 {
			return fmt.Errorf("handoff: %d files to keep, want the runtime record's lock", len(alive))
		}
		stateLock := int(alive[0].Fd())
		argv := []string{bin, strconv.Itoa(pid), strconv.Itoa(int(out.Fd())), strconv.Itoa(int(errs.Fd())),
			filepath.Join(e.ContainerDir(rec.ID), "container.log"), strconv.FormatInt(o.MaxSize, 10), strconv.Itoa(max(o.MaxFiles, 1)), self}
		argv = append(argv, e.MonitorExitedArgs(rec.ID, stateLock)...)
		// Open across the exec, and only these: every other descriptor
		// of berth is close-on-exec.
		fds := []int{monitorLockFD, stateLock, int(out.Fd()), int(errs.Fd())}
		for _, fd := range fds {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
				return err
			}
		}
		// Blocked on this thread across the exec, and so kept pending
		// for berth-monitor's signalfd: from the exec until berth-monitor
		// blocks them, berth stop's SIGTERM would otherwise kill it.
		var set, old unix.Sigset_t
		for _, sig := range append([]os.Signal{unix.SIGCHLD}, forwardedSignals...) {
			n := sig.(unix.Signal) - 1
			set.Val[n/64] |= 1 << (n % 64)
		}
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old); err != nil {
			return err
		}
		err = syscall.Exec(bin, argv, os.Environ())
		_ = unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
		for _, fd := range fds {
			unix.CloseOnExec(fd)
		}
		return fmt.Errorf("exec %s: %w", bin, err)
	}
}

// MonitorExitedArgs are the arguments (without the program's name) that
// bring berth back as container id's monitor once its container exited
// under berth-monitor, which appends the wait status: stateLock is the
// runtime record's lock, inherited.
func (e *Engine) MonitorExitedArgs(id string, stateLock int) []string {
	return append(e.engineArgs(), "run", "--monitor-exited", "--id", id, "--state-lock", strconv.Itoa(stateLock), "--status")
}

// MonitorExited is container id's monitor again, once berth-monitor saw
// the container exit with wait status status (stopped: berth-monitor
// was sent SIGTERM or SIGINT, which ends a Go monitor's restarts): what
// runOnce and Monitor do after container.Run returns, restarts included.
func (e *Engine) MonitorExited(id string, stateLock, status int, stopped bool) error {
	// As Monitor: SIGTERM or SIGINT stop the restarts. The others have no
	// one to go to, the container being gone; berth-monitor ignored them
	// all until its exec.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, unix.SIGTERM, unix.SIGINT)
	signal.Ignore(unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	if stopped {
		stop <- unix.SIGTERM
	}
	lock := os.NewFile(monitorLockFD, "lock")
	unix.CloseOnExec(monitorLockFD)
	unix.CloseOnExec(stateLock)
	defer lock.Close()
	store := e.Containers()
	defer store.Update(id, func(r *managed.Record) {
		if r.State.MonitorPid == os.Getpid() {
			r.State.MonitorPid, r.State.MonitorStart = 0, 0
		}
	})
	exit, reclaimErr := container.Reclaim(e.Runroot, id, os.NewFile(uintptr(stateLock), "state lock"), unix.WaitStatus(status))
	rec, err := store.Get(id)
	if err != nil {
		return err
	}
	if rec.State.Status == managed.Running {
		e.died(rec, exit, nil)
	}
	began := rec.State.StartedAt
	rec = finishRecord(store, rec.ID, exit, nil, false)
	if rec.Restart.Restarts(rec.State.ExitCode, rec.State.RestartCount, rec.State.StopRequested || stopped) {
		log, err := e.openLog(rec)
		if err != nil {
			return err
		}
		defer log.Close()
		rec = e.restarts(rec, began, log, leanMonitor(rec, nil, nil), stop)
	}
	if err := removeIfAuto(store, rec, lock); err != nil {
		return err
	}
	return reclaimErr
}
