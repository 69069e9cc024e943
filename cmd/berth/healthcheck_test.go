package main

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/health"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/render"
	"github.com/spf13/pflag"
)

func parseHealthFlags(t *testing.T, args ...string) (managed.Config, error) {
	t.Helper()
	fl := pflag.NewFlagSet("run", pflag.ContinueOnError)
	var h healthFlags
	addHealthFlags(fl, &h)
	if err := fl.Parse(args); err != nil {
		t.Fatal(err)
	}
	var cfg managed.Config
	err := h.apply(&cfg, fl)
	return cfg, err
}

// TestHealthFlags: as docker's client builds the check: nothing without
// a flag (the image's applies), CMD-SHELL for --health-cmd, NONE for
// --no-healthcheck, which conflicts with the others.
func TestHealthFlags(t *testing.T) {
	if cfg, err := parseHealthFlags(t); err != nil || cfg.Healthcheck != nil || cfg.Init {
		t.Errorf("no flags: %+v %v", cfg.Healthcheck, err)
	}
	cfg, err := parseHealthFlags(t, "--health-cmd", "test -e /ok", "--health-interval", "2s", "--health-retries", "5", "--init")
	if hc := cfg.Healthcheck; err != nil || hc == nil || strings.Join(hc.Test, "|") != "CMD-SHELL|test -e /ok" || hc.Interval != 2*time.Second || hc.Retries != 5 || !cfg.Init {
		t.Errorf("--health-cmd: %+v %v", hc, err)
	}
	if cfg, err := parseHealthFlags(t, "--health-timeout", "5s"); err != nil || len(cfg.Healthcheck.Test) != 0 || cfg.Healthcheck.Timeout != 5*time.Second {
		t.Errorf("a timeout alone (the image's test): %+v %v", cfg.Healthcheck, err)
	}
	if cfg, err := parseHealthFlags(t, "--no-healthcheck"); err != nil || cfg.Healthcheck.Enabled() || cfg.Healthcheck.Test[0] != "NONE" {
		t.Errorf("--no-healthcheck: %+v %v", cfg.Healthcheck, err)
	}
	if _, err := parseHealthFlags(t, "--no-healthcheck", "--health-interval", "1s"); err == nil {
		t.Error("--no-healthcheck with --health-interval accepted")
	}
	if _, err := parseHealthFlags(t, "--health-retries", "-1"); err == nil {
		t.Error("--health-retries -1 accepted")
	}
}

func TestHealthFiltersAndStatus(t *testing.T) {
	want, rest, err := healthFilters([]string{"name=web", "health=healthy", "health=none"})
	if err != nil || !want["healthy"] || !want["none"] || len(want) != 2 || len(rest) != 1 || rest[0] != "name=web" {
		t.Errorf("filters: %v %v %v", want, rest, err)
	}
	if _, _, err := healthFilters([]string{"health=sick"}); err == nil || !strings.Contains(err.Error(), "health=sick") {
		t.Errorf("bad value: %v", err)
	}
	rec := managed.Record{State: managed.State{Status: managed.Running}}
	for st, suffix := range map[string]string{health.Starting: "(health: starting)", health.Healthy: "(healthy)", health.Unhealthy: "(unhealthy)"} {
		r := withHealth(render.PsRow{Status: "Up 5 seconds"}, rec, func(managed.Record) *health.State { return &health.State{Status: st} })
		if r.Status != "Up 5 seconds "+suffix {
			t.Errorf("%s: %q", st, r.Status)
		}
	}
	rec.State.Status = managed.Exited
	if r := withHealth(render.PsRow{Status: "Exited (0)"}, rec, func(managed.Record) *health.State { return &health.State{Status: health.Unhealthy} }); r.Status != "Exited (0)" {
		t.Errorf("stopped: %q", r.Status)
	}
}
