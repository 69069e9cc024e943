package engine

import (
	"math"
	"strconv"
	"time"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
	"golang.org/x/sys/unix"
)

// WithOpLock runs fn on the container's record, read afresh while the
// container's operation lock is held: commands on one container run one
// after another, each seeing what the one before did.
func (e *Engine) WithOpLock(id string, fn func(managed.Record) error) error {
	store := e.Containers()
	unlock, err := store.OpLock(id)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := store.Get(id)
	if err != nil {
		return err
	}
	return fn(rec)
}

// Stop ends a running container and waits until its monitor has
// recorded the exit; no restart policy applies afterwards. It sends the
// stop signal and waits up to timeout, then SIGKILL; a zero timeout is
// SIGKILL at once (rm -f, stop -t 0), a negative one waits for ever, and
// ContainerStopTimeout is the container's own.
func (e *Engine) Stop(rec managed.Record, timeout time.Duration) error {
	return e.WithOpLock(rec.ID, func(rec managed.Record) error { return e.stopLocked(rec, timeout) })
}

// stopLocked is Stop under the operation lock.
func (e *Engine) stopLocked(rec managed.Record, timeout time.Duration) error {
	store := e.Containers()
	if err := e.Admits(managed.OpStop, rec); err != nil {
		return err
	}
	// Nothing to stop, as docker stop of a stopped container; but a
	// container between two runs (a restart's back-off) has its monitor.
	if !rec.State.Up() && rec.State.MonitorPid == 0 {
		return nil
	}
	if _, err := store.Update(rec.ID, func(r *managed.Record) { r.State.StopRequested = true }); err != nil {
		return err
	}
	if timeout == ContainerStopTimeout {
		timeout = StopTimeout(rec)
	}
	// Held until the exit is recorded: berth-monitor hands it here.
	exits, err := e.takeExit(rec.ID)
	if err != nil {
		return err
	}
	defer exits.Close()
	e.endProcess(rec, timeout)
	if err := e.recordHandedExit(rec.ID, exits); err != nil {
		return err
	}
	store.Event(rec, "stop")
	return nil
}

// endProcess sends the stop signal, waits up to timeout (negative: for
// ever) for the container's monitor to release it, then sends SIGKILL
// and waits.
func (e *Engine) endProcess(rec managed.Record, timeout time.Duration) {
	released := e.Containers().Released(rec.ID)
	// A paused container is thawed after each signal, so that it acts on
	// it (container.Stop): a frozen one would be waited for in vain.
	if timeout != 0 {
		if err := e.stopProcess(rec, e.StopSignal(rec)); err != nil {
			// Between two runs (a restart's back-off) only the monitor is there.
			signalMonitor(rec)
		}
		// WaitReleased's 0 is for ever (--stop-timeout -1).
		if released.Wait(max(timeout, 0)) {
			return
		}
	}
	if err := e.stopProcess(rec, unix.SIGKILL); err != nil {
		signalMonitor(rec)
	}
	released.Wait(0)
}

// signalMonitor tells a container's monitor to end.
func signalMonitor(rec managed.Record) { _ = rec.State.SignalMonitor(monitorStopSignal) }

// monitorStopSignal is what berth stop sends a monitor between two runs:
// SIGINT, not SIGTERM. With a restart policy the monitor is berth-monitor
// during a run and berth again after it (MonitorExited), exec'd with the
// signals ignored. Go's runtime respects an inherited SIG_IGN for SIGHUP
// and SIGINT alone: it installs its own handler for SIGTERM as it starts,
// which kills the process until signal.Notify asks for the signal, and a
// stop in those milliseconds left the record Running and the container
// "dead". SIGINT there is dropped, and the stop is not lost: it is in the
// record (StopRequested) before the signal is sent, and the monitor reads
// the record after it registered.
const monitorStopSignal = unix.SIGINT

// ContainerStopTimeout asks Stop and Restart for the container's own
// timeout: its --stop-timeout, else DefaultStopTimeout (stop without -t).
const ContainerStopTimeout time.Duration = math.MinInt64

// DefaultStopTimeout is docker stop's.
const DefaultStopTimeout = 10 * time.Second

// StopTimeout is the container's --stop-timeout, negative for ever
// (-1), or DefaultStopTimeout.
func StopTimeout(rec managed.Record) time.Duration {
	if rec.Config == nil || rec.Config.StopTimeout == nil {
		return DefaultStopTimeout
	}
	if t := *rec.Config.StopTimeout; t >= 0 {
		return time.Duration(t) * time.Second
	}
	return -1
}

// StopSignal is the container's --stop-signal, the image's StopSignal,
// or SIGTERM.
func (e *Engine) StopSignal(rec managed.Record) unix.Signal {
	if rec.Config != nil && rec.Config.StopSignal != "" {
		if sig, err := spec.ParseSignal(rec.Config.StopSignal); err == nil {
			return sig
		}
	}
	if rec.ImageID == "" {
		return unix.SIGTERM
	}
	is, err := e.Images()
	if err != nil {
		return unix.SIGTERM
	}
	cfg, err := is.Config(rec.ImageID)
	if err != nil || cfg.StopSignal == "" {
		return unix.SIGTERM
	}
	if sig, err := spec.ParseSignal(cfg.StopSignal); err == nil {
		return sig
	}
	return unix.SIGTERM
}

// Kill sends sig to the container's PID 1. A signal that ends it (KILL,
// TERM, INT) is a stop on purpose: as docker, no restart policy applies.
// As docker, a paused container is thawed to act on SIGKILL or its stop
// signal; others wait for unpause.
func (e *Engine) Kill(rec managed.Record, sig unix.Signal) error {
	if err := e.Admits(managed.OpKill, rec); err != nil {
		return err
	}
	if sig == unix.SIGKILL || sig == unix.SIGTERM || sig == unix.SIGINT {
		_, _ = e.Containers().Update(rec.ID, func(r *managed.Record) { r.State.StopRequested = true })
	}
	if sig == unix.SIGKILL || sig == e.StopSignal(rec) {
		return e.stopProcess(rec, sig)
	}
	return e.signal(rec, sig)
}

// signal sends sig to the container's PID 1; a paused container stays
// paused, and handles it once unpaused.
func (e *Engine) signal(rec managed.Record, sig unix.Signal) error {
	c, err := container.Attach(e.Runroot, rec.ID)
	if err != nil {
		return errNotRunning(rec)
	}
	if err := c.Kill(sig, false); err != nil {
		return err
	}
	e.killed(rec, sig)
	return nil
}

// killed reports a signal sent, as Docker's kill event (its number).
func (e *Engine) killed(rec managed.Record, sig unix.Signal) {
	e.Containers().Event(rec, "kill", "signal", strconv.Itoa(int(sig)))
}

// stopProcess sends sig, meant to end the container, to its PID 1, and
// thaws it if it is paused, as docker stop and kill do.
func (e *Engine) stopProcess(rec managed.Record, sig unix.Signal) error {
	c, err := container.Attach(e.Runroot, rec.ID)
	if err != nil {
		return errNotRunning(rec)
	}
	if err := c.Stop(sig); err != nil {
		return err
	}
	e.killed(rec, sig)
	return nil
}

// Remove removes a container that is not running, or with force one that
// is, after killing it; its user namespace range goes with it.
func (e *Engine) Remove(rec managed.Record, force bool) error {
	return e.WithOpLock(rec.ID, func(rec managed.Record) error {
		op := managed.OpRemove
		if force {
			op = managed.OpRemoveForce
		}
		if err := e.Admits(op, rec); err != nil {
			return err
		}
		// Between two runs (a restart's back-off) the container is not
		// up, but its monitor is there and holds it: rm -f ends it too.
		if rec.State.Up() || (force && rec.State.MonitorPid != 0) {
			if err := e.stopLocked(rec, 0); err != nil {
				return err
			}
		}
		if err := e.Containers().Remove(rec); err != nil {
			return err
		}
		if err := e.IDRanges().Release(rec.ID); err != nil {
			return err
		}
		// The container is gone whatever happens here: a copy not
		// given back now is the next collection's.
		_ = e.collectChownedAfterRemoval(rec)
		return nil
	})
}

// Start runs an existing container again under a new monitor; a running
// container is left as it is, as docker start does.
func (e *Engine) Start(rec managed.Record) error {
	return e.WithOpLock(rec.ID, func(rec managed.Record) error { return e.startLocked(rec, nil) })
}

// StartRestored is Start from the checkpoint in restore, under the
// operation lock the caller holds.
func (e *Engine) StartRestored(rec managed.Record, restore Restore) error {
	return e.startLocked(rec, &restore)
}

// Restart stops and starts a container under one operation lock.
func (e *Engine) Restart(rec managed.Record, timeout time.Duration) error {
	return e.WithOpLock(rec.ID, func(rec managed.Record) error {
		if err := e.Admits(managed.OpRestart, rec); err != nil {
			return err
		}
		if err := e.stopLocked(rec, timeout); err != nil {
			return err
		}
		rec, err := e.Containers().Get(rec.ID)
		if err != nil {
			return err
		}
		if err := e.startLocked(rec, nil); err != nil {
			return err
		}
		e.Containers().Event(rec, "restart")
		return nil
	})
}

// startLocked is Start under the operation lock.
func (e *Engine) startLocked(rec managed.Record, restore *Restore) error {
	store := e.Containers()
	op := managed.OpStart
	if restore != nil {
		op = managed.OpRestore
	}
	if err := e.Admits(op, rec); err != nil {
		return err
	}
	// Already running: left as it is, as docker start does.
	if rec.State.Up() {
		return nil
	}
	if _, err := configOf(rec); err != nil {
		return err
	}
	owner, err := store.Own(rec.ID)
	if err != nil {
		return err
	}
	if _, err := store.Update(rec.ID, func(r *managed.Record) { r.Detached, r.State.StopRequested = true, false }); err != nil {
		owner.Release()
		return err
	}
	rec, err = store.Get(rec.ID)
	if err != nil {
		owner.Release()
		return err
	}
	return e.StartMonitor(rec, owner, restore)
}

// died reports the end of a run that started: oom if the kernel's OOM
// killer ended it, then die with its status, as Docker.
func (e *Engine) died(rec managed.Record, exit container.Exit, runErr error) {
	code := exit.Code
	if runErr != nil {
		code = exitCodeOf(runErr)
	}
	if exit.OOMKilled {
		e.Containers().Event(rec, "oom")
	}
	e.Containers().Event(rec, "die", "exitCode", strconv.Itoa(code))
}

// HealthStatus reports a health check's verdict (healthy, unhealthy), as
// Docker's "health_status: STATUS" event; for the health checks.
func (e *Engine) HealthStatus(rec managed.Record, status string) {
	e.Containers().Event(rec, "health_status: "+status)
}
