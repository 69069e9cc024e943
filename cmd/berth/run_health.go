package main

import (
	"errors"
	"time"

	"github.com/berth-runtime/berth/internal/health"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/spf13/pflag"
)

// healthFlags are docker run's health check options and --init.
type healthFlags struct {
	cmd                                   string
	interval, timeout, startPeriod, start time.Duration
	retries                               int
	none, init                            bool
}

func addHealthFlags(fl *pflag.FlagSet, h *healthFlags) {
	fl.StringVar(&h.cmd, "health-cmd", "", "command to run to check health, by /bin/sh -c in the container (exit 0: healthy)")
	fl.DurationVar(&h.interval, "health-interval", 0, "time between running the check (ms|s|m|h) (default 30s)")
	fl.DurationVar(&h.timeout, "health-timeout", 0, "maximum time to allow one check to run (ms|s|m|h) (default 30s)")
	fl.DurationVar(&h.startPeriod, "health-start-period", 0, "start period for the container to initialize before counting retries towards unstable (ms|s|m|h) (default 0s)")
	fl.DurationVar(&h.start, "health-start-interval", 0, "time between running the check during the start period (ms|s|m|h) (default 5s)")
	fl.IntVar(&h.retries, "health-retries", 0, "consecutive failures needed to report unhealthy (default 3)")
	fl.BoolVar(&h.none, "no-healthcheck", false, "disable any container-specified HEALTHCHECK")
	fl.BoolVar(&h.init, "init", false, "run an init inside the container that forwards signals and reaps processes")
}

// apply puts the health check the flags give into cfg, as docker's
// client builds it: nothing unless a flag is set (the image's applies
// then), NONE for --no-healthcheck; the image's is merged in when the
// container is created.
func (h *healthFlags) apply(cfg *managed.Config, fl *pflag.FlagSet) error {
	cfg.Init = h.init
	set := false
	for _, name := range []string{"health-cmd", "health-interval", "health-timeout", "health-start-period", "health-start-interval", "health-retries"} {
		set = set || fl.Changed(name)
	}
	if h.none {
		if set {
			return errors.New("--no-healthcheck conflicts with --health-* options: give one or the other")
		}
		cfg.Healthcheck = &health.Config{Test: []string{"NONE"}}
		return nil
	}
	if !set {
		return nil
	}
	c := &health.Config{Interval: h.interval, Timeout: h.timeout, StartPeriod: h.startPeriod, StartInterval: h.start, Retries: h.retries}
	if h.cmd != "" {
		c.Test = []string{"CMD-SHELL", h.cmd}
	}
	cfg.Healthcheck = c
	return c.Validate()
}
