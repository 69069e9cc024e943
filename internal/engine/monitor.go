package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/selfexe"
	"golang.org/x/sys/unix"
)

// A detached container has a monitor: berth itself, started as
// "berth run --monitor --id ID", in a session of its own, that runs the
// container from its record exactly as a foreground berth run does,
// writes its output to the container's log, records each exit and
// applies the restart policy. It is the only process that stays behind
// (as podman's conmon); there is no daemon. It inherits two files:
const (
	monitorLockFD  = 3 // the container's lifetime lock, held until the monitor exits
	monitorReadyFD = 4 // a pipe: "ok" once the container runs, or "CODE message" if it could not start
)

// Restore is a checkpoint that the monitor's first run restores instead
// of starting the container anew (berth container restore).
type Restore struct {
	Dir            string
	TCPEstablished bool
}

// MonitorArgs are the arguments of berth that make it container id's
// monitor (cmd/berth's hidden run --monitor, which calls Monitor).
func (e *Engine) MonitorArgs(id string, restore *Restore) []string {
	argv := append(e.engineArgs(), "run", "--monitor", "--id", id)
	if restore != nil {
		argv = append(argv, "--restore", restore.Dir)
		if restore.TCPEstablished {
			argv = append(argv, "--restore-tcp-established")
		}
	}
	return argv
}

// RunDetached starts a container created by Create under a monitor and
// returns once it runs; if it could not start, its record is removed.
func (e *Engine) RunDetached(rec managed.Record, owner *managed.Owner) error {
	if err := e.StartMonitor(rec, owner, nil); err != nil {
		_ = e.Containers().Remove(rec)
		return err
	}
	return nil
}

// engineArgs are berth's options that make another berth this engine.
func (e *Engine) engineArgs() []string {
	argv := []string{"--root", e.Root, "--runroot", e.Runroot}
	if e.StorageDriver != "" {
		argv = append(argv, "--storage-driver", e.StorageDriver)
	}
	return argv
}

// ParseMonitorArgs reads a command line MonitorArgs made (without the
// program's name): the engine's directories, the container's ID and the
// checkpoint to restore. ok is false for any other line. berth's main
// calls it before it builds any command: a monitor stays for the
// container's life, and the command tree it would never use again is
// memory it would hold all that time.
func ParseMonitorArgs(args []string) (opts Options, id string, restore *Restore, ok bool) {
	opts, w, ok := parseEngineArgs(args, "--monitor")
	if !ok {
		return Options{}, "", nil, false
	}
	if w.next() != "--id" || !w.value(&id) {
		return Options{}, "", nil, false
	}
	if len(w) > 0 {
		restore = &Restore{}
		if w.next() != "--restore" || !w.value(&restore.Dir) {
			return Options{}, "", nil, false
		}
		if len(w) > 0 {
			if w.next() != "--restore-tcp-established" || len(w) > 0 {
				return Options{}, "", nil, false
			}
			restore.TCPEstablished = true
		}
	}
	return opts, id, restore, true
}

// ParseMonitorExitedArgs reads a command line MonitorExitedArgs made,
// with what berth-monitor appends: the wait status, and --stopped if it
// was told to stop. It returns the engine's directories and what the
// exec brought back. ok is false for any other line: every descriptor
// above the monitor's own (monitorReadyFD) and named once.
func ParseMonitorExitedArgs(args []string) (opts Options, x Exited, ok bool) {
	opts, w, ok := parseEngineArgs(args, "--monitor-exited")
	var lock, st string
	if !ok || w.next() != "--id" || !w.value(&x.ID) || w.next() != "--state-lock" || !w.value(&lock) {
		return Options{}, Exited{}, false
	}
	fds := map[int]bool{}
	fd := func(s string) (int, bool) {
		n, err := strconv.Atoi(s)
		if err != nil || n <= monitorReadyFD || fds[n] || strconv.Itoa(n) != s {
			return 0, false
		}
		fds[n] = true
		return n, true
	}
	if x.StateLock, ok = fd(lock); !ok {
		return Options{}, Exited{}, false
	}
	flag := w.next()
	if flag == "--network" {
		if x.Network, ok = parseHeldNetwork(&w, fd); !ok {
			return Options{}, Exited{}, false
		}
		flag = w.next()
	}
	if flag != "--status" || !w.value(&st) {
		return Options{}, Exited{}, false
	}
	if len(w) > 0 {
		if w.next() != "--stopped" || len(w) > 0 {
			return Options{}, Exited{}, false
		}
		x.Stopped = true
	}
	var err error
	if x.Status, err = strconv.Atoi(st); err != nil {
		return Options{}, Exited{}, false
	}
	return opts, x, true
}

// parseHeldNetwork reads, after --network, "NAME --net-lock FD [--held
// FD,FD...]"; fd reads a descriptor.
func parseHeldNetwork(w *words, fd func(string) (int, bool)) (*HeldNetwork, bool) {
	var h HeldNetwork
	var lock string
	if !w.value(&h.Name) || w.next() != "--net-lock" || !w.value(&lock) {
		return nil, false
	}
	var ok bool
	if h.Lock, ok = fd(lock); !ok {
		return nil, false
	}
	if len(*w) > 0 && (*w)[0] == "--held" {
		w.next()
		var list string
		if !w.value(&list) {
			return nil, false
		}
		for _, s := range strings.Split(list, ",") {
			p, ok := fd(s)
			if !ok {
				return nil, false
			}
			h.Ports = append(h.Ports, p)
		}
	}
	return &h, true
}

// words are a command line being read.
type words []string

// next takes the next word ("" at the end).
func (w *words) next() string {
	if len(*w) == 0 {
		return ""
	}
	v := (*w)[0]
	*w = (*w)[1:]
	return v
}

// value takes the next word as an option's value, which must be there
// and not look like an option.
func (w *words) value(dst *string) bool {
	*dst = w.next()
	return *dst != "" && !strings.HasPrefix(*dst, "-")
}

// parseEngineArgs reads engineArgs, "run" and then the word mode, and
// returns the words after it.
func parseEngineArgs(args []string, mode string) (Options, words, bool) {
	var opts Options
	w := words(args)
	for {
		var good bool
		switch v := w.next(); v {
		case "--root":
			good = w.value(&opts.Root)
		case "--runroot":
			good = w.value(&opts.Runroot)
		case "--storage-driver":
			good = w.value(&opts.StorageDriver)
		case "run":
			if w.next() != mode || opts.Root == "" || opts.Runroot == "" {
				return Options{}, nil, false
			}
			return opts, w, true
		}
		if !good {
			return Options{}, nil, false
		}
	}
}

// StartMonitor starts a monitor for rec, handing it the lifetime lock
// owner holds, and waits until the container runs or fails to start: a
// *container.StartError then, with the status the run ended with.
func (e *Engine) StartMonitor(rec managed.Record, owner *managed.Owner, restore *Restore) error {
	return e.startMonitor(rec, owner, restore, nil)
}

// startMonitor is StartMonitor, with the ends a foreground client hands
// the monitor (see RunForeground), or nil.
func (e *Engine) startMonitor(rec managed.Record, owner *managed.Owner, restore *Restore, client *clientEnds) error {
	defer owner.Release()
	if _, err := configOf(rec); err != nil {
		return err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start monitor: %w", err)
	}
	defer readyR.Close()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start monitor: %w", err)
	}
	cmd := exec.Command(exe, e.MonitorArgs(rec.ID, restore)...)
	// Nothing of the caller's environment but PATH (pasta, slirp4netns, CRIU):
	// the container's own was resolved into its record. A rootless
	// monitor stays in berth's user namespace, and knows it. One P: the
	// monitor mostly waits, and each P costs memory it holds for the
	// container's life (per-P caches, a GC worker and its thread): 0.3
	// MiB less anonymous memory per monitor, and no slower a start.
	cmd.Env, cmd.Dir = append([]string{"GOMAXPROCS=1", "PATH=" + os.Getenv("PATH")}, rootless.Environ()...), "/"
	if v, ok := os.LookupEnv(NoIDMapEnv); ok {
		cmd.Env = append(cmd.Env, NoIDMapEnv+"="+v)
	}
	if !leanMonitor(rec, restore, client != nil) {
		// It stays for the container's life: on a host whose
		// transparent huge pages are "always", the Go runtime's heap
		// would get one, 2 MiB held all along. The runtime's own
		// switch against them.
		cmd.Env = append(cmd.Env, "GODEBUG=disablethp=1")
	}
	cmd.ExtraFiles = []*os.File{owner.Lock, readyW}
	if client != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, client.conn, client.exit)
		cmd.Env = append(cmd.Env, monitorClientEnv+"="+client.env)
	}
	if rootless.Inside() { // the stages the user's berth vouched for
		stages, vouch := selfexe.Vouch(3 + len(cmd.ExtraFiles))
		for _, f := range stages {
			defer f.Close()
		}
		cmd.ExtraFiles, cmd.Env = append(cmd.ExtraFiles, stages...), append(cmd.Env, vouch)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		readyW.Close()
		return fmt.Errorf("start monitor: %w", err)
	}
	readyW.Close()
	line, _ := bufio.NewReader(readyR).ReadString('\n')
	if err := parseReady(line); err != nil {
		owner.Release()
		_ = cmd.Wait()
		return err
	}
	return cmd.Process.Release()
}

// Monitor is the monitor of container id (see MonitorArgs): it runs the
// container, again and again as its restart policy says, with its output
// going to its log.
func (e *Engine) Monitor(id string, restore *Restore) error {
	ready := os.NewFile(monitorReadyFD, "ready")
	lock := os.NewFile(monitorLockFD, "lock")
	unix.CloseOnExec(monitorReadyFD)
	unix.CloseOnExec(monitorLockFD)
	defer lock.Close()
	store := e.Containers()
	rec, err := store.Get(id)
	if err != nil {
		reportReady(ready, err)
		return err
	}
	client := takeClient()
	log, err := e.openLog(rec)
	if err != nil {
		reportReady(ready, err)
		return err
	}
	defer log.Close()
	// Off the record when it ends, before the lock is released: the
	// record no longer names a monitor to signal.
	defer store.Update(rec.ID, func(r *managed.Record) {
		if r.State.MonitorPid == os.Getpid() {
			r.State.MonitorPid, r.State.MonitorStart = 0, 0
		}
	})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, unix.SIGTERM, unix.SIGINT)
	lean := leanMonitor(rec, restore, client != nil)
	exit, runErr := e.runLogged(&rec, restore, log, client, lean, func() { reportReady(ready, nil); ready = nil })
	if ready != nil {
		// It never started: berth run -d reports why and removes it.
		reportReady(ready, runErr)
		return runErr
	}
	began := rec.State.StartedAt
	rec = finishRecord(store, rec.ID, exit, runErr, false)
	// The foreground client gets the first run's status, and only that
	// run: a restart goes on without it, as under docker run.
	client.finish(rec.State.ExitCode)
	rec = e.restarts(rec, began, log, lean, stop)
	return removeIfAuto(store, rec, lock)
}

// restarts runs the container again and again as its restart policy
// says, after a run that began at began ended and was recorded, and
// returns its record once the policy, berth stop or the monitor's stop
// signal ends it. lean: a run may be handed to berth-monitor.
func (e *Engine) restarts(rec managed.Record, began time.Time, log logSink, lean bool, stop chan os.Signal) managed.Record {
	store := e.Containers()
	for restartAfter(store, &rec, began, stop) {
		exit, runErr := e.runLogged(&rec, nil, log, nil, lean, func() {})
		began = rec.State.StartedAt
		rec = finishRecord(store, rec.ID, exit, runErr, false)
	}
	return rec
}

// restartAfter reports whether the restart policy runs the container
// again after the run that began at began, once its back-off has passed
// (the restart counted in rec); false if not, or if a stop came
// meanwhile.
func restartAfter(store managed.Store, rec *managed.Record, began time.Time, stop chan os.Signal) bool {
	if !rec.Restart.Restarts(rec.State.ExitCode, rec.State.RestartCount, rec.State.StopRequested || stopped(stop)) {
		return false
	}
	n := rec.State.RestartCount
	if time.Since(began) > 10*time.Second {
		n = 0
	}
	select {
	case <-time.After(managed.Backoff(n)):
	case <-stop:
		return false
	}
	*rec, _ = store.Update(rec.ID, func(r *managed.Record) { r.State.RestartCount++ })
	// berth stop may have come between the exit and the back-off.
	return !rec.State.StopRequested
}

// runLogged is one run of the container with its output in the log: two
// pipes, or with -t the pty, which the monitor also serves to berth attach.
// With lean, the pipes are not read here until the handoff to
// berth-monitor has failed (see handoff).
func (e *Engine) runLogged(rec *managed.Record, restore *Restore, log logSink, client *monitorClient, lean bool, started func()) (container.Exit, error) {
	var copies sync.WaitGroup
	copyTo := func(stream string, r io.ReadCloser) {
		copies.Add(1)
		go func() {
			defer copies.Done()
			defer r.Close()
			_ = log.Copy(stream, client.tee(stream, r))
		}()
	}
	if rec.Config != nil && rec.Config.Tty {
		pr, pw := io.Pipe()
		copies.Add(1)
		go func() { // the client has the terminal itself, not tagged output
			defer copies.Done()
			_ = log.Copy("stdout", pr)
		}()
		var drained func()
		tty := Stdio{ConsoleSize: client.consoleSize(), TakeTerminal: func(master *os.File) {
			// Without its socket the terminal still goes to the log
			// and the foreground client; attach cannot reach it.
			drained, _ = serveTerminal(e.ContainerDir(rec.ID), master, pw, client.terminal())
		}}
		exit, _, runErr := e.runOnce(rec, tty, restore, func(int) { started() }, nil)
		if drained != nil {
			drained()
		}
		pw.Close()
		copies.Wait()
		return exit, runErr
	}
	var readers [2]*os.File
	pipe := func(i int, stream string) (*os.File, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		readers[i] = r
		if !lean {
			copyTo(stream, r)
		}
		return w, nil
	}
	out, err := pipe(0, "stdout")
	if err != nil {
		return container.Exit{}, err
	}
	errw, err := pipe(1, "stderr")
	if err != nil {
		out.Close()
		if lean {
			readers[0].Close()
		}
		copies.Wait()
		return container.Exit{}, err
	}
	stdio := Stdio{Out: out, Err: errw}
	// The pipes are read here unless berth-monitor reads them.
	copying := !lean
	copyBoth := func() {
		if !copying {
			copying = true
			copyTo("stdout", readers[0])
			copyTo("stderr", readers[1])
		}
	}
	if lean {
		handoff := e.handoff(*rec, readers[0], readers[1])
		stdio.Handoff = func(pid int, stateLock *os.File, attached *network.Attachment) error {
			err := handoff(pid, stateLock, attached)
			copyBoth() // still here: the Go monitor goes on
			return err
		}
		stdio.Declined = copyBoth
	}
	// A monitor has no one to show warnings to: the log is the
	// container's own output.
	exit, _, runErr := e.runOnce(rec, stdio, restore, func(int) { started() }, nil)
	copyBoth() // a run that failed before the handoff
	out.Close()
	errw.Close()
	copies.Wait()
	return exit, runErr
}

// stopped reports, without waiting, whether the monitor was told to stop.
func stopped(stop chan os.Signal) bool {
	select {
	case sig := <-stop:
		stop <- sig // for the back-off wait to see too
		return true
	default:
		return false
	}
}

func removeIfAuto(store managed.Store, rec managed.Record, lock *os.File) error {
	if rec.AutoRemove {
		return store.RemoveOwned(rec, lock)
	}
	return nil
}

// reportReady tells berth run -d (or berth start) whether the container
// started: "ok", or its exit status and the error in one line.
func reportReady(ready *os.File, err error) {
	if ready == nil {
		return
	}
	defer ready.Close()
	_, _ = io.WriteString(ready, readyLine(err))
}

func readyLine(err error) string {
	if err == nil {
		return "ok\n"
	}
	return fmt.Sprintf("%d %s\n", exitCodeOf(err), strings.ReplaceAll(err.Error(), "\n", " "))
}

// errMonitorEnded: the monitor ended without saying whether the
// container started.
var errMonitorEnded = errors.New("the container's monitor ended before the container started")

// parseReady reads the monitor's line: nil for "ok", else the start
// error with its status.
func parseReady(line string) error {
	line = strings.TrimSpace(line)
	if line == "ok" {
		return nil
	}
	code, msg, ok := strings.Cut(line, " ")
	n, err := strconv.Atoi(code)
	if !ok || err != nil {
		return errMonitorEnded
	}
	return &container.StartError{Code: n, Err: errors.New(msg)}
}
