package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/health"
	"github.com/berth-runtime/berth/internal/managed"
)

// startHealth starts the health check of rec's container, which has
// just started (its record running, with its PID and start time): a loop
// on a timer in this process (the monitor, or a foreground berth run)
// that probes it as berth exec would, until stop. stop waits for a probe
// under way (killing it) and leaves the state unhealthy, as Docker's
// monitor does when a container stops. A start resets the state to
// starting. A container without a health check costs nothing.
func (e *Engine) startHealth(rec managed.Record) (stop func()) {
	if rec.Config == nil || !rec.Config.Healthcheck.Enabled() {
		return func() {}
	}
	dir := e.ContainerDir(rec.ID)
	if _, err := health.Update(dir, (*health.State).Reset); err != nil {
		e.warn(fmt.Sprintf("container %s: no health checks: %v", rec.Name, err))
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		e.healthLoop(rec, quit)
	}()
	return func() {
		close(quit)
		<-done
		_, _ = health.Update(dir, (*health.State).Stopped)
	}
}

// healthLoop probes the container at the health check's intervals
// (Docker's: the start interval while starting in the start period)
// until quit closes.
func (e *Engine) healthLoop(rec managed.Record, quit <-chan struct{}) {
	hc := rec.Config.Healthcheck
	status := health.Starting
	timer := time.NewTimer(hc.Next(rec.State.StartedAt, time.Now(), status))
	defer timer.Stop()
	for {
		select {
		case <-quit:
			return
		case <-timer.C:
		}
		// A paused container is not probed (its probe would wait for it).
		if !container.Paused(e.Runroot, rec.ID) {
			r := e.probe(rec, quit)
			select {
			case <-quit:
				return // the container stopped under the probe: no result
			default:
			}
			st, err := health.Update(e.ContainerDir(rec.ID), func(s *health.State) { s.Record(r, hc, rec.State.StartedAt) })
			if err == nil {
				if st.Status != status {
					e.HealthStatus(rec, st.Status) // Docker's event at each change
				}
				status = st.Status
			}
		}
		timer.Reset(hc.Next(rec.State.StartedAt, time.Now(), status))
	}
}

// probe runs the health check's command once in the container, through
// exec's code path, with its output (stdout and stderr, the first 4 KiB)
// captured; it is killed after the check's timeout, or when quit closes.
func (e *Engine) probe(rec managed.Record, quit <-chan struct{}) health.Result {
	hc := rec.Config.Healthcheck
	start := time.Now()
	argv, err := hc.Command()
	if err != nil {
		return failedProbe(start, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return failedProbe(start, err)
	}
	var out health.Output
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		defer r.Close()
		_, _ = io.Copy(&out, r)
	}()
	kill, finished, watched := make(chan struct{}), make(chan struct{}), make(chan struct{})
	timedOut := false
	go func() {
		defer close(watched)
		t := time.NewTimer(hc.ProbeTimeout())
		defer t.Stop()
		select {
		case <-finished:
			return
		case <-quit:
		case <-t.C:
			timedOut = true
		}
		close(kill)
	}()
	exit, err := e.Exec(rec, ExecOptions{Args: argv, Stdio: Stdio{Out: w, Err: w, Relay: true}, Cancel: kill, Background: true})
	close(finished)
	<-watched
	w.Close()
	<-copied
	switch {
	case timedOut:
		return health.TimedOut(start, time.Now(), hc.ProbeTimeout())
	case err != nil:
		return failedProbe(start, err)
	}
	return health.Result{Start: start, End: time.Now(), ExitCode: exit.Code, Output: out.String()}
}

// failedProbe is a probe that could not run: exit -1 (or the start's
// 126 or 127) and why, as Docker records it.
func failedProbe(start time.Time, err error) health.Result {
	code := -1
	var se *container.StartError
	if errors.As(err, &se) {
		code = se.Code
	}
	return health.Result{Start: start, End: time.Now(), ExitCode: code, Output: err.Error()}
}

// ErrNoHealthcheck: berth healthcheck run on a container without one.
var ErrNoHealthcheck = errdefs.New(errdefs.ErrInvalidArgument, "has no health check: create it with --health-cmd, or from an image with a HEALTHCHECK")

// HealthcheckRun is podman's healthcheck run: one probe of the running
// container now, recorded as the monitor's probes are. It returns the
// probe and the state after it.
func (e *Engine) HealthcheckRun(rec managed.Record) (health.Result, health.State, error) {
	if rec.Config == nil || !rec.Config.Healthcheck.Enabled() {
		return health.Result{}, health.State{}, fmt.Errorf("container %s %w", rec.Name, ErrNoHealthcheck)
	}
	if err := e.Admits(managed.OpExec, rec); err != nil {
		return health.Result{}, health.State{}, err
	}
	r := e.probe(rec, nil)
	hc := rec.Config.Healthcheck
	st, err := health.Update(e.ContainerDir(rec.ID), func(s *health.State) { s.Record(r, hc, rec.State.StartedAt) })
	return r, st, err
}

// Health is the container's health state, for ps and inspect: nil if it
// has no health check (no file is read then) or never started with one.
func (e *Engine) Health(rec managed.Record) *health.State {
	if rec.Config == nil || !rec.Config.Healthcheck.Enabled() {
		return nil
	}
	s, _ := health.Load(e.ContainerDir(rec.ID))
	return s
}
