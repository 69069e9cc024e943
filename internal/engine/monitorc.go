package engine

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/flock"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/network"
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
// what the run left (MonitorExited); or, if berth stop (or rm -f) is
// waiting for it, hands the exit to the stop and just exits
// (recordHandedExit): a berth started anew costs the stop 15 ms. An idle Go monitor holds 2.9 MiB;
// berth-monitor a tenth of that.

// MonitorName is the C monitor, installed beside berth.
const MonitorName = "berth-monitor"

// leanMonitor reports whether a container's monitor may hand it to
// berth-monitor: what berth-monitor does not do stays with the Go
// monitor (a terminal, a foreground client, health checks, a restore,
// log drivers other than json-file, rootless berth), and so
// does it all where berth-monitor is not installed beside berth. What
// runOnce holds for the run (volumes, networks, other containers'
// namespaces) is checked there (handoffAllowed).
func leanMonitor(rec managed.Record, restore *Restore, hasClient bool) bool {
	cfg := rec.Config
	if cfg == nil || restore != nil || hasClient || rootless.Active() {
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
// use, no user-mode network, no other container's namespace, and of
// bridge networks one at most, whose attachment (attached) the handoff
// keeps open across the exec (HeldNetwork). More networks (berth network
// connect's) stay with the Go monitor.
func handoffAllowed(cfg *managed.Config, mounts *containerMounts, bridged bool, attached *network.Attachment, pinned ...string) bool {
	if len(mounts.uses) > 0 || cfg.UserModeNetwork != "" {
		return false
	}
	if bridged && (attached == nil || len(cfg.Networks) > 0) {
		return false
	}
	for _, p := range pinned {
		if p != "" {
			return false
		}
	}
	return true
}

// HeldNetwork is the one bridge network a handed-off run is on, as the
// exec keeps it: the attachment's lock and its host-port sockets
// (network.Attachment.Kept), by descriptor, and the network's name.
// berth-monitor leaves them open, unknown to it; the berth it execs back
// releases them (network.ReleaseInherited).
type HeldNetwork struct {
	Name  string
	Lock  int
	Ports []int
}

// heldNetwork is what the handoff keeps of attachment a (nil: none).
func heldNetwork(a *network.Attachment) *HeldNetwork {
	if a == nil {
		return nil
	}
	name, lock, ports := a.Kept()
	if lock == nil {
		return nil
	}
	return &HeldNetwork{Name: name, Lock: int(lock.Fd()), Ports: ports}
}

// fds are the descriptors h holds.
func (h *HeldNetwork) fds() []int {
	if h == nil {
		return nil
	}
	return append([]int{h.Lock}, h.Ports...)
}

// handoff is the container.Options.Handoff of a lean monitor: it execs
// berth-monitor with the container's PID, the read ends of its output
// pipes, the log and its rotation, and the command line that brings
// berth back. It returns only if the exec failed, with the files as
// they were, for the Go monitor to go on.
func (e *Engine) handoff(rec managed.Record, out, errs *os.File) func(pid int, stateLockFile *os.File, attached *network.Attachment) error {
	return func(pid int, stateLockFile *os.File, attached *network.Attachment) error {
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
		stateLock := int(stateLockFile.Fd())
		held := heldNetwork(attached)
		if attached != nil && held == nil {
			return fmt.Errorf("handoff: the network attachment holds no lock")
		}
		argv := []string{bin, strconv.Itoa(pid), strconv.Itoa(int(out.Fd())), strconv.Itoa(int(errs.Fd())),
			filepath.Join(e.ContainerDir(rec.ID), "container.log"), strconv.FormatInt(o.MaxSize, 10), strconv.Itoa(max(o.MaxFiles, 1)),
			"--stop-lock=" + e.stopLockPath(rec.ID), self}
		argv = append(argv, e.MonitorExitedArgs(rec.ID, stateLock, held)...)
		// Open across the exec, and only these: every other descriptor
		// of berth is close-on-exec.
		fds := append([]int{monitorLockFD, stateLock, int(out.Fd()), int(errs.Fd())}, held.fds()...)
		for _, fd := range fds {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
				return err
			}
		}
		// Blocked on this thread across the exec, and so kept pending
		// for berth-monitor's signalfd: from the exec until berth-monitor
		// blocks them, a stop signal (berth stop's SIGINT) would otherwise kill it.
		var set, old unix.Sigset_t
		for _, sig := range append([]os.Signal{unix.SIGCHLD}, container.ForwardedSignals...) {
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
// runtime record's lock, inherited, and held the network attachment's
// files, inherited too (nil: none).
func (e *Engine) MonitorExitedArgs(id string, stateLock int, held *HeldNetwork) []string {
	argv := append(e.engineArgs(), "run", "--monitor-exited", "--id", id, "--state-lock", strconv.Itoa(stateLock))
	if held != nil {
		argv = append(argv, "--network", held.Name, "--net-lock", strconv.Itoa(held.Lock))
		if len(held.Ports) > 0 {
			ports := make([]string, len(held.Ports))
			for i, fd := range held.Ports {
				ports[i] = strconv.Itoa(fd)
			}
			argv = append(argv, "--held", strings.Join(ports, ","))
		}
	}
	return append(argv, "--status")
}

// Exited is what berth-monitor's exec back brings (ParseMonitorExitedArgs).
type Exited struct {
	ID        string
	StateLock int          // the runtime record's lock
	Network   *HeldNetwork // nil: none
	Status    int          // the container's wait status
	Stopped   bool         // berth-monitor got SIGTERM or SIGINT
}

// MonitorExited is container x.ID's monitor again, once berth-monitor
// saw the container exit with wait status x.Status (x.Stopped:
// berth-monitor was sent SIGTERM or SIGINT, which ends a Go monitor's
// restarts): what runOnce and Monitor do after container.Run returns,
// the network's release and restarts included.
func (e *Engine) MonitorExited(x Exited) error {
	id := x.ID
	// As Monitor: SIGTERM or SIGINT stop the restarts. The others have no
	// one to go to, the container being gone; berth-monitor ignored them
	// all until its exec.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, unix.SIGTERM, unix.SIGINT)
	signal.Ignore(unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	if x.Stopped {
		stop <- unix.SIGTERM
	}
	lock := os.NewFile(monitorLockFD, "lock")
	for _, fd := range append([]int{monitorLockFD, x.StateLock}, x.Network.fds()...) {
		unix.CloseOnExec(fd)
	}
	defer lock.Close()
	store := e.Containers()
	defer store.Update(id, func(r *managed.Record) {
		if r.State.MonitorPid == os.Getpid() {
			r.State.MonitorPid, r.State.MonitorStart = 0, 0
		}
	})
	// The network alongside the cgroup and the record, as runOnce
	// releases it once PID 1 is reaped; before a restart attaches again.
	netDone := make(chan error, 1)
	go func() { netDone <- e.releaseHeldNetwork(id, x.Network) }()
	exit, reclaimErr := container.Reclaim(e.Runroot, id, os.NewFile(uintptr(x.StateLock), "state lock"), unix.WaitStatus(x.Status))
	netErr := <-netDone
	rec, err := store.Get(id)
	if err != nil {
		return errors.Join(err, netErr)
	}
	if rec.State.Status == managed.Running {
		e.died(rec, exit, nil)
	}
	began := rec.State.StartedAt
	rec = finishRecord(store, rec.ID, exit, nil, false)
	if rec.Restart.Restarts(rec.State.ExitCode, rec.State.RestartCount, rec.State.StopRequested || x.Stopped) {
		log, err := e.openLog(rec)
		if err != nil {
			return errors.Join(err, netErr)
		}
		defer log.Close()
		rec = e.restarts(rec, began, log, leanMonitor(rec, nil, false), stop)
	}
	if err := removeIfAuto(store, rec, lock); err != nil {
		return errors.Join(err, netErr)
	}
	return errors.Join(reclaimErr, netErr)
}

// releaseHeldNetwork releases the attachment whose files berth-monitor
// passed on (none: nothing), as its run would have on the container's
// exit. Its published ports are in the record the run wrote.
func (e *Engine) releaseHeldNetwork(id string, h *HeldNetwork) error {
	if h == nil {
		return nil
	}
	lock := os.NewFile(uintptr(h.Lock), "network lock")
	n, err := network.Load(e.Root, h.Name)
	if err != nil {
		// Gone with the network (berth network rm -f): only the files.
		lock.Close()
		for _, fd := range h.Ports {
			unix.Close(fd)
		}
		return nil
	}
	pub := network.Published{Any: len(h.Ports) > 0}
	if rec, err := e.Containers().Get(id); err == nil {
		pub = publishedOf(rec, pub.Any)
	}
	return n.ReleaseInherited(id, lock, h.Ports, pub)
}

// stopLockName, in a container's directory, is the stop lock: berth stop
// (and rm -f, restart) holds it while it stops the container, and
// berth-monitor, finding it held once the container is reaped, writes
// the wait status into it and exits instead of exec'ing berth back.
const stopLockName = "stop.lock"

func (e *Engine) stopLockPath(id string) string {
	return filepath.Join(e.ContainerDir(id), stopLockName)
}

// takeExit takes container id's stop lock, emptied first: what it holds
// afterwards berth-monitor wrote while it was held. Emptied before it is
// locked, never after: berth-monitor writes as soon as it sees it held.
// Nothing else writes it while it is free (the operation lock, held,
// keeps other stops out).
func (e *Engine) takeExit(id string) (*os.File, error) {
	f, err := os.OpenFile(e.stopLockPath(id), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("stop %s: %w", managed.ShortID(id), err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("stop %s: %w", managed.ShortID(id), err)
	}
	if err := flock.Lock(f, unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("stop %s: %w", managed.ShortID(id), err)
	}
	return f, nil
}

// handedStatus is the wait status berth-monitor wrote into the stop
// lock exits; ok is false if it wrote none: it exec'd berth back
// (MonitorExited recorded the exit), or the Go monitor ran the container.
func handedStatus(exits *os.File) (status int, ok bool) {
	b := make([]byte, 16)
	n, _ := exits.ReadAt(b, 0)
	status, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	return status, err == nil
}

// recordHandedExit does, in berth stop, what MonitorExited does once
// berth-monitor handed it the container's exit through the stop lock
// (exits): it records the exit and releases the runtime record, cgroups
// and the network, with no restart (a stop). The locks berth-monitor
// held went with it; each is taken again here, waiting for the kernel
// to drop it, so that a collection in another berth meanwhile releases
// each thing once at most: whoever has the lock releases it, the other
// finds it gone. The operation lock, held, keeps any new run out.
func (e *Engine) recordHandedExit(id string, exits *os.File) error {
	status, ok := handedStatus(exits)
	if !ok {
		return nil
	}
	store := e.Containers()
	owner, err := store.Reown(id)
	if errors.Is(err, os.ErrNotExist) {
		return e.collectHandedExit(id, status)
	}
	if err != nil {
		return err
	}
	defer owner.Release()
	rec, err := store.Get(id)
	if err != nil {
		return err
	}
	netDone := make(chan error, 1)
	go func() { netDone <- e.releaseLeftNetwork(rec) }()
	exit, reclaimErr := container.ReclaimLeft(e.Runroot, id, unix.WaitStatus(status))
	netErr := <-netDone
	if rec.State.Status == managed.Running {
		e.died(rec, exit, nil)
	}
	rec = finishRecord(store, id, exit, nil, true)
	if err := removeIfAuto(store, rec, owner.Lock); err != nil {
		return errors.Join(err, reclaimErr, netErr)
	}
	return errors.Join(reclaimErr, netErr)
}

// collectHandedExit is recordHandedExit for a --rm container that a
// collection in another berth removed as soon as berth-monitor's
// lifetime lock was free: no record is left to write, but the stop
// returns with the runtime record and the network released all the
// same (a collection has them, or they are taken here).
func (e *Engine) collectHandedExit(id string, status int) error {
	_, err := container.ReclaimLeft(e.Runroot, id, unix.WaitStatus(status))
	network.CollectAll(e.Root)
	return err
}

// releaseLeftNetwork releases the bridge network a run that berth-monitor
// held is on (handoffAllowed: one at most, its first), as
// releaseHeldNetwork does with the files inherited.
func (e *Engine) releaseLeftNetwork(rec managed.Record) error {
	if rec.Config == nil || rec.Network == nil || len(rec.Network.Networks) == 0 {
		return nil
	}
	n, err := network.Load(e.Root, rec.Config.NetworkMode)
	if err != nil {
		return nil // gone with the network (berth network rm -f), or none
	}
	return n.ReleaseLeft(rec.ID, publishedOf(rec, false))
}

// publishedOf is what rec says of its published ports; held says its run
// held host ports, so it had some whatever the record says.
func publishedOf(rec managed.Record, held bool) network.Published {
	pub := network.Published{Any: held}
	if rec.Network != nil {
		pub.Addr, pub.Ports = rec.Network.IPAddress, rec.Network.Ports
	}
	return pub
}
