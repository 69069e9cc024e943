package integration

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// healthImage loads busybox with a HEALTHCHECK (a file /tmp/ok must
// exist; every 500ms, unhealthy after 2 failures) and the command sleep
// 1000, as health-busybox:1.
func healthImage(t *testing.T) string {
	t.Helper()
	img := busyboxImage(t)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Cmd = []string{"sleep", "1000"}
	cf.Config.Healthcheck = &v1.HealthConfig{Test: []string{"CMD-SHELL", "test -e /tmp/ok"}, Interval: 500 * time.Millisecond, Retries: 2}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	const ref = "health-busybox:1"
	tag, _ := name.NewTag(ref)
	archive := filepath.Join(t.TempDir(), "health.tar")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	mustBerth(t, "load", "-q", "-i", archive)
	t.Cleanup(func() { berth(t, "", "rmi", "-f", ref) })
	return ref
}

type inspectedHealth struct {
	State struct {
		Health *struct {
			Status        string
			FailingStreak int
			Log           []struct {
				ExitCode int
				Output   string
			}
		}
	}
	CreateConfig struct {
		Healthcheck *struct {
			Test          []string
			Interval      time.Duration
			StartPeriod   time.Duration
			StartInterval time.Duration
			Retries       int
		}
	}
}

func inspectHealth(t *testing.T, ref string) inspectedHealth {
	t.Helper()
	var out []inspectedHealth
	if err := json.Unmarshal([]byte(mustBerth(t, "inspect", ref)), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	return out[0]
}

// waitHealth waits until inspect shows the container's health status
// as want.
func waitHealth(t *testing.T, ref, want string) inspectedHealth {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		h := inspectHealth(t, ref)
		if h.State.Health != nil && h.State.Health.Status == want {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: health %+v, want %s", ref, h.State.Health, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// psStatus is berth ps's STATUS of the container, with a filter.
func psStatus(t *testing.T, ref string, filter ...string) string {
	t.Helper()
	args := []string{"ps", "-a", "--filter", "name=" + ref, "--format", "{{.Status}}"}
	for _, f := range filter {
		args = append(args, "--filter", f)
	}
	return strings.TrimSpace(mustBerth(t, args...))
}

// TestHealthCheck: --health-cmd takes a container from starting to
// healthy (the file its check wants is made by exec) to unhealthy (the
// file removed); ps shows it and filters by it, inspect shows the log,
// healthcheck run probes now, a restart starts again, a stop leaves it
// unhealthy. The flags are merged over the image's HEALTHCHECK.
func TestHealthCheck(t *testing.T) {
	needRoot(t)
	ref := healthImage(t)
	const c = "health-flags"
	// Failures in the start period do not count while it starts, so it
	// stays starting, however slow the machine, until the file exists.
	mustBerth(t, "run", "-d", "--name", c, "--network", "none", "--health-cmd", "echo probing; test -e /tmp/ready",
		"--health-interval", "1s", "--health-start-period", "10m", "--health-start-interval", "300ms", ref)
	t.Cleanup(func() { berth(t, "", "rm", "-f", c) })
	h := inspectHealth(t, c)
	if hc := h.CreateConfig.Healthcheck; hc == nil || hc.Test[1] != "echo probing; test -e /tmp/ready" || hc.Interval != time.Second ||
		hc.StartPeriod != 10*time.Minute || hc.StartInterval != 300*time.Millisecond || hc.Retries != 2 {
		t.Errorf("health check of flags over the image's: %+v", hc)
	}
	if st := psStatus(t, c); !strings.HasSuffix(st, "(health: starting)") {
		t.Errorf("ps status %q, want (health: starting)", st)
	}
	if r := berth(t, "", "healthcheck", "run", c); r.code != 1 || r.stdout != "starting\n" {
		t.Errorf("healthcheck run while failing: %+v", r)
	}
	if h := inspectHealth(t, c); h.State.Health == nil || h.State.Health.FailingStreak != 0 || len(h.State.Health.Log) == 0 {
		t.Errorf("failures in the start period counted, or none logged: %+v", h.State.Health)
	}
	mustBerth(t, "exec", c, "touch", "/tmp/ready")
	h = waitHealth(t, c, "healthy")
	if last := h.State.Health.Log[len(h.State.Health.Log)-1]; last.ExitCode != 0 || last.Output != "probing\n" {
		t.Errorf("last probe %+v, want exit 0 and its output", last)
	}
	if st := psStatus(t, c); !strings.HasPrefix(st, "Up ") || !strings.HasSuffix(st, "(healthy)") {
		t.Errorf("ps status %q, want Up ... (healthy)", st)
	}
	if st := psStatus(t, c, "health=healthy"); st == "" {
		t.Error("ps --filter health=healthy left it out")
	}
	if st := psStatus(t, c, "health=none"); st != "" {
		t.Errorf("ps --filter health=none listed it: %q", st)
	}
	if r := berth(t, "", "healthcheck", "run", c); r.code != 0 || r.stdout != "" {
		t.Errorf("healthcheck run while healthy: %+v", r)
	}
	mustBerth(t, "exec", c, "rm", "/tmp/ready")
	h = waitHealth(t, c, "unhealthy")
	if h.State.Health.FailingStreak < 2 || len(h.State.Health.Log) > 5 {
		t.Errorf("unhealthy: streak %d, %d probes logged", h.State.Health.FailingStreak, len(h.State.Health.Log))
	}
	if st := psStatus(t, c, "health=unhealthy"); !strings.HasSuffix(st, "(unhealthy)") {
		t.Errorf("ps --filter health=unhealthy: %q", st)
	}
	if r := berth(t, "", "ps", "--filter", "health=sick"); r.code != 125 || !strings.Contains(r.stderr, "health=sick") {
		t.Errorf("bad health filter: %+v", r)
	}
	// -t 0: with a timeout that passes, restart can find the lifetime
	// lock still held by its own first wait (managed.WaitReleased), a
	// race of restart's, not of health checks.
	mustBerth(t, "restart", "-t", "0", c)
	if h := inspectHealth(t, c); h.State.Health == nil || h.State.Health.Status != "starting" || h.State.Health.FailingStreak != 0 {
		t.Errorf("after restart: %+v, want starting again", h.State.Health)
	}
	mustBerth(t, "stop", "-t", "1", c)
	if h := inspectHealth(t, c); h.State.Health == nil || h.State.Health.Status != "unhealthy" {
		t.Errorf("after stop: %+v, want unhealthy (Docker's)", h.State.Health)
	}
	if r := berth(t, "", "healthcheck", "run", c); r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("healthcheck run of a stopped container: %+v", r)
	}
}

// TestHealthCheckImage: the image's HEALTHCHECK runs without any flag
// (unhealthy, then healthy once its file exists); --no-healthcheck
// disables it; a container without one has health none.
func TestHealthCheckImage(t *testing.T) {
	needRoot(t)
	ref := healthImage(t)
	const c, off = "health-image", "health-off"
	mustBerth(t, "run", "-d", "--name", c, "--network", "none", ref)
	t.Cleanup(func() { berth(t, "", "rm", "-f", c) })
	mustBerth(t, "run", "-d", "--name", off, "--network", "none", "--no-healthcheck", ref)
	t.Cleanup(func() { berth(t, "", "rm", "-f", off) })
	waitHealth(t, c, "unhealthy")
	mustBerth(t, "exec", c, "touch", "/tmp/ok")
	waitHealth(t, c, "healthy")
	h := inspectHealth(t, off)
	if h.State.Health != nil || h.CreateConfig.Healthcheck == nil || h.CreateConfig.Healthcheck.Test[0] != "NONE" {
		t.Errorf("--no-healthcheck: health %+v, config %+v", h.State.Health, h.CreateConfig.Healthcheck)
	}
	if st := psStatus(t, off); strings.Contains(st, "(") {
		t.Errorf("--no-healthcheck: ps status %q", st)
	}
	if st := psStatus(t, off, "health=none"); st == "" {
		t.Error("ps --filter health=none left out a container without a health check")
	}
	if r := berth(t, "", "healthcheck", "run", off); r.code != 125 || !strings.Contains(r.stderr, "has no health check") {
		t.Errorf("healthcheck run without one: %+v", r)
	}
}

// TestHealthCheckTimeout: a probe that outlives --health-timeout is
// killed and counts as a failure, with Docker's words.
func TestHealthCheckTimeout(t *testing.T) {
	needRoot(t)
	const c = "health-timeout"
	mustBerth(t, "run", "-d", "--name", c, "--network", "none", "--health-cmd", "sleep 30", "--health-timeout", "200ms",
		"--health-interval", "1h", "--rootfs", rootfsDir, "sleep", "1000")
	t.Cleanup(func() { berth(t, "", "rm", "-f", c) })
	began := time.Now()
	r := berth(t, "", "healthcheck", "run", c)
	if took := time.Since(began); r.code != 1 || took > 5*time.Second {
		t.Errorf("healthcheck run of a hanging probe: %+v after %v", r, took)
	}
	h := inspectHealth(t, c)
	if h.State.Health == nil || len(h.State.Health.Log) != 1 || h.State.Health.Log[0].ExitCode != -1 ||
		h.State.Health.Log[0].Output != "Health check exceeded timeout (200ms)" {
		t.Errorf("timed out probe: %+v", h.State.Health)
	}
	if out := mustBerth(t, "exec", c, "ps", "-o", "comm"); strings.Count(out, "sleep") != 1 {
		t.Errorf("the probe's sleep still runs:\n%s", out)
	}
}

// TestHealthCheckBadInput: bad values are refused in one line, exit 125,
// with nothing left.
func TestHealthCheckBadInput(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--health-interval", "-1s"}, "invalid --health-interval -1s: it cannot be negative"},
		{[]string{"--health-retries", "-1"}, "invalid --health-retries -1"},
		{[]string{"--health-interval", "100us"}, "cannot be less than 1ms"},
		{[]string{"--health-timeout", "-5s"}, "invalid --health-timeout"},
		{[]string{"--no-healthcheck", "--health-cmd", "true"}, "--no-healthcheck conflicts with --health-* options"},
	} {
		for _, cmd := range []string{"run", "create"} {
			r := berth(t, "", append(append([]string{cmd, "--name", "health-bad", "--network", "none"}, c.args...), "--rootfs", rootfsDir, "true")...)
			if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("%s %v: %+v, want one line naming %q", cmd, c.args, r, c.want)
			}
		}
	}
	if r := berth(t, "", "inspect", "health-bad"); r.code == 0 {
		t.Error("a refused container was left behind")
	}
	checkNoLeaks(t, before)
}
