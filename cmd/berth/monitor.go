package main

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/berth-runtime/berth/internal/rootless"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/logs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// A detached container has a monitor: berth itself, started as
// "berth run --monitor --id ID ARGS...", in a session of its own, that
// runs the container exactly as a foreground berth run does, writes its
// output to the container's log, records each exit and applies the
// restart policy. It is the only process that stays behind (as podman's
// conmon); there is no daemon. It inherits two files:
const (
	monitorLockFD  = 3 // the container's lifetime lock, held until the monitor exits
	monitorReadyFD = 4 // a pipe: "ok" once the container runs, or "CODE message" if it could not start
)

// runDetached starts the container under a monitor and prints its ID
// once it runs.
func runDetached(g *globalOptions, f *runFlags, fl *pflag.FlagSet, args []string) error {
	if f.opts.Interactive && !f.opts.TTY {
		return errors.New("-i with -d needs -t: berth attach joins a detached container's terminal (-dit), not a bare stdin")
	}
	store := g.containers()
	if f.opts.Rootfs == "" && len(args) > 0 {
		// Pulled here, with progress on this terminal; the monitor finds it.
		is, err := g.imageStore()
		if err != nil {
			return err
		}
		if _, err := findOrPull(is, f, args[0]); err != nil {
			return err
		}
	}
	rec, err := newRecord(f, fl, args)
	if err != nil {
		return err
	}
	owner, err := store.Create(rec)
	if err != nil {
		return err
	}
	err = startMonitor(g, rec, owner)
	if err != nil {
		_ = store.Remove(rec)
		return err
	}
	fmt.Println(rec.ID)
	return nil
}

// startMonitor starts a monitor for rec, handing it the lifetime lock
// owner holds, and waits until the container runs or fails to start.
// monitorArgs are more flags for the monitor (--restore DIR).
func startMonitor(g *globalOptions, rec managed.Record, owner *managed.Owner, monitorArgs ...string) error {
	defer owner.Release()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start monitor: %w", err)
	}
	defer readyR.Close()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start monitor: %w", err)
	}
	argv := []string{"--root", g.root, "--runroot", g.runroot}
	if g.storageDriver != "" {
		argv = append(argv, "--storage-driver", g.storageDriver)
	}
	argv = append(append(argv, "run", "--monitor", "--id", rec.ID), monitorArgs...)
	argv = append(append(argv, rec.Args...), rec.Command...)
	cmd := exec.Command(exe, argv...)
	// A rootless monitor stays in berth's user namespace, and knows it.
	cmd.Env, cmd.Dir = append(rec.Env, rootless.Environ()...), rec.Dir
	if _, err := os.Stat(cmd.Dir); err != nil {
		cmd.Dir = "/"
	}
	cmd.ExtraFiles = []*os.File{owner.Lock, readyW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		readyW.Close()
		return fmt.Errorf("start monitor: %w", err)
	}
	readyW.Close()
	line, _ := bufio.NewReader(readyR).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "ok" {
		return cmd.Process.Release()
	}
	owner.Release()
	_ = cmd.Wait()
	code, msg, ok := strings.Cut(line, " ")
	n, err := strconv.Atoi(code)
	if !ok || err != nil {
		return errors.New("the container's monitor ended before the container started")
	}
	fmt.Fprintf(os.Stderr, "berth: %s\n", msg)
	return exitError{n}
}

// runMonitor is the monitor: it runs the container, again and again as
// its restart policy says, with its output going to its log.
func runMonitor(g *globalOptions, f *runFlags, args []string) error {
	ready := os.NewFile(monitorReadyFD, "ready")
	lock := os.NewFile(monitorLockFD, "lock")
	unix.CloseOnExec(monitorReadyFD)
	unix.CloseOnExec(monitorLockFD)
	defer lock.Close()
	store := g.containers()
	rec, err := store.Get(f.id)
	if err != nil {
		reportReady(ready, err)
		return err
	}
	log, err := logs.Open(filepath.Join(g.containerDir(rec.ID), "container.log"), logs.DefaultOptions())
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
	for {
		exit, runErr := runLogged(g, f, &rec, args, log, func() { reportReady(ready, nil); ready = nil })
		if ready != nil {
			// It never started: berth run -d reports why and removes it.
			reportReady(ready, runErr)
			return runErr
		}
		began := rec.State.StartedAt
		rec = finishRecord(store, rec.ID, exit, runErr, false)
		if !rec.Restart.Restarts(rec.State.ExitCode, rec.State.RestartCount, rec.State.StopRequested || stopped(stop)) {
			break
		}
		n := rec.State.RestartCount
		if time.Since(began) > 10*time.Second {
			n = 0
		}
		select {
		case <-time.After(managed.Backoff(n)):
		case <-stop:
			return removeIfAuto(store, rec, lock)
		}
		rec, _ = store.Update(rec.ID, func(r *managed.Record) { r.State.RestartCount++ })
		if rec.State.StopRequested {
			break // berth stop came between the exit and the back-off
		}
	}
	return removeIfAuto(store, rec, lock)
}

// runLogged is one run of the container with its output in the log: two
// pipes, or with -t the pty, which the monitor also serves to berth attach.
func runLogged(g *globalOptions, f *runFlags, rec *managed.Record, args []string, log *logs.Writer, started func()) (container.Exit, error) {
	var copies sync.WaitGroup
	copyTo := func(stream string, r io.ReadCloser) {
		copies.Add(1)
		go func() {
			defer copies.Done()
			defer r.Close()
			_ = log.Copy(stream, r)
		}()
	}
	if f.opts.TTY {
		pr, pw := io.Pipe()
		copyTo("stdout", pr)
		var drained func()
		tty := stdio{takeTerminal: func(master *os.File) {
			wait, err := serveTerminal(g.containerDir(rec.ID), master, pw)
			if err != nil {
				master.Close()
				return
			}
			drained = wait
		}}
		exit, runErr := runOnce(g, f, rec, args, tty, func(int) { started() })
		if drained != nil {
			drained()
		}
		pw.Close()
		copies.Wait()
		return exit, runErr
	}
	pipe := func(stream string) (*os.File, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		copyTo(stream, r)
		return w, nil
	}
	out, err := pipe("stdout")
	if err != nil {
		return container.Exit{}, err
	}
	errw, err := pipe("stderr")
	if err != nil {
		out.Close()
		copies.Wait()
		return container.Exit{}, err
	}
	exit, runErr := runOnce(g, f, rec, args, stdio{out: out, err: errw}, func(int) { started() })
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
		lock.Close()
		return store.Remove(rec)
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
	if err == nil {
		_, _ = io.WriteString(ready, "ok\n")
		return
	}
	code := exitRuntimeError
	var se *container.StartError
	if errors.As(err, &se) && se.Code != 0 {
		code = se.Code
	}
	fmt.Fprintf(ready, "%d %s\n", code, strings.ReplaceAll(err.Error(), "\n", " "))
}
