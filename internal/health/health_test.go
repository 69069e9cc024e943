package health

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/errdefs"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func probe(at time.Duration, code int) Result {
	return Result{Start: t0.Add(at), End: t0.Add(at + time.Millisecond), ExitCode: code}
}

// TestStartingHealthyUnhealthy: a success makes it healthy; Retries
// failures in a row make it unhealthy; a success resets the streak.
func TestStartingHealthyUnhealthy(t *testing.T) {
	c := &Config{Test: []string{"CMD", "true"}, Retries: 2}
	var s State
	s.Reset()
	steps := []struct {
		code   int
		status string
		streak int
	}{
		{1, Starting, 1}, {0, Healthy, 0}, {1, Healthy, 1}, {1, Unhealthy, 2}, {1, Unhealthy, 3}, {0, Healthy, 0},
	}
	for i, st := range steps {
		s.Record(probe(time.Duration(i)*time.Second, st.code), c, t0)
		if s.Status != st.status || s.FailingStreak != st.streak {
			t.Fatalf("after probe %d (exit %d): %s streak %d, want %s streak %d", i, st.code, s.Status, s.FailingStreak, st.status, st.streak)
		}
	}
}

// TestDefaultRetries: with Retries 0, three failures (Docker's default).
func TestDefaultRetries(t *testing.T) {
	c := &Config{Test: []string{"CMD-SHELL", "false"}}
	var s State
	s.Reset()
	for i := 0; i < 2; i++ {
		s.Record(probe(time.Duration(i)*time.Second, 1), c, t0)
	}
	if s.Status != Starting {
		t.Fatalf("after 2 failures: %s", s.Status)
	}
	s.Record(probe(3*time.Second, 1), c, t0)
	if s.Status != Unhealthy {
		t.Fatalf("after 3 failures: %s", s.Status)
	}
}

// TestStartPeriod: failures in the start period do not count while
// starting; once a probe succeeded they do, start period or not.
func TestStartPeriod(t *testing.T) {
	c := &Config{Test: []string{"CMD", "x"}, Retries: 1, StartPeriod: 10 * time.Second}
	var s State
	s.Reset()
	s.Record(probe(time.Second, 1), c, t0)
	s.Record(probe(2*time.Second, 1), c, t0)
	if s.Status != Starting || s.FailingStreak != 0 {
		t.Fatalf("failures in start period counted: %+v", s)
	}
	s.Record(probe(3*time.Second, 0), c, t0)
	s.Record(probe(4*time.Second, 1), c, t0)
	if s.Status != Unhealthy {
		t.Fatalf("failure after success within start period: %s", s.Status)
	}
	var late State
	late.Reset()
	late.Record(probe(11*time.Second, 1), c, t0)
	if late.Status != Unhealthy {
		t.Fatalf("failure after start period: %s", late.Status)
	}
}

// TestLogKeepsFive: the log keeps the last five probes; a reset keeps it.
func TestLogKeepsFive(t *testing.T) {
	c := &Config{Test: []string{"CMD", "x"}}
	var s State
	for i := 0; i < 8; i++ {
		s.Record(probe(time.Duration(i)*time.Second, i), c, t0)
	}
	if len(s.Log) != MaxLog || s.Log[0].ExitCode != 3 || s.Log[4].ExitCode != 7 {
		t.Fatalf("log %+v", s.Log)
	}
	s.Reset()
	if s.Status != Starting || s.FailingStreak != 0 || len(s.Log) != MaxLog {
		t.Fatalf("reset: %+v", s)
	}
	s.Stopped()
	if s.Status != Unhealthy {
		t.Fatalf("stopped: %s", s.Status)
	}
}

// TestNext: the start interval while starting in the start period, the
// interval otherwise; Docker's defaults for zeros.
func TestNext(t *testing.T) {
	c := &Config{StartPeriod: time.Minute, StartInterval: time.Second, Interval: 10 * time.Second}
	if d := c.Next(t0, t0.Add(time.Second), Starting); d != time.Second {
		t.Errorf("starting in start period: %v", d)
	}
	if d := c.Next(t0, t0.Add(time.Second), Healthy); d != 10*time.Second {
		t.Errorf("healthy in start period: %v", d)
	}
	if d := c.Next(t0, t0.Add(2*time.Minute), Starting); d != 10*time.Second {
		t.Errorf("starting after start period: %v", d)
	}
	var zero Config
	if d := zero.Next(t0, t0, Starting); d != DefaultInterval {
		t.Errorf("defaults, no start period: %v", d)
	}
	if zero.ProbeTimeout() != DefaultTimeout {
		t.Errorf("default timeout %v", zero.ProbeTimeout())
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Interval: -time.Second}, "--health-interval -1s: it cannot be negative"},
		{Config{Interval: 500 * time.Microsecond}, "cannot be less than 1ms"},
		{Config{Timeout: -1}, "--health-timeout"},
		{Config{StartPeriod: -1}, "--health-start-period"},
		{Config{StartInterval: 10}, "--health-start-interval"},
		{Config{Retries: -1}, "--health-retries -1"},
		{Config{Test: []string{"BOGUS"}}, "must start with CMD"},
		{Config{Test: []string{"CMD"}}, "no command"},
		{Config{Test: []string{"CMD-SHELL", "a", "b"}}, "one command"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	for _, ok := range []Config{{}, {Test: []string{"NONE"}}, {Test: []string{"CMD-SHELL", "true"}, Interval: time.Millisecond}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}

func TestCommandAndEnabled(t *testing.T) {
	shell := &Config{Test: []string{"CMD-SHELL", "test -e /ok"}}
	if argv, _ := shell.Command(); strings.Join(argv, "|") != "/bin/sh|-c|test -e /ok" {
		t.Errorf("CMD-SHELL: %q", argv)
	}
	exe := &Config{Test: []string{"CMD", "/bin/true", "x"}}
	if argv, _ := exe.Command(); strings.Join(argv, "|") != "/bin/true|x" {
		t.Errorf("CMD: %q", argv)
	}
	var none *Config
	for _, c := range []*Config{none, {}, {Test: []string{"NONE"}}} {
		if c.Enabled() {
			t.Errorf("%+v enabled", c)
		}
	}
}

// TestMerge: the container's options over the image's, field by field.
func TestMerge(t *testing.T) {
	img := &Config{Test: []string{"CMD", "img"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3, StartInterval: 4, Retries: 5}
	got := Merge(img, &Config{Interval: time.Minute})
	if got.Test[1] != "img" || got.Interval != time.Minute || got.Timeout != 2*time.Second || got.StartPeriod != 3 || got.StartInterval != 4 || got.Retries != 5 {
		t.Errorf("merged %+v", got)
	}
	if Merge(img, &Config{Test: []string{"NONE"}}).Enabled() {
		t.Error("--no-healthcheck over an image's HEALTHCHECK still enabled")
	}
	if Merge(nil, nil) != nil || Merge(img, nil) != img {
		t.Error("merge with nil")
	}
}

func TestOutputKeeps4KiB(t *testing.T) {
	var o Output
	o.Write([]byte(strings.Repeat("a", 4000)))
	o.Write([]byte(strings.Repeat("b", 200)))
	s := o.String()
	if len(s) != MaxOutput+3 || !strings.HasSuffix(s, "bbb...") {
		t.Errorf("kept %d bytes, ends %q", len(s), s[len(s)-6:])
	}
	var short Output
	short.Write([]byte("ok\n"))
	if short.String() != "ok\n" {
		t.Errorf("short %q", short.String())
	}
}

func TestUpdateAndLoad(t *testing.T) {
	dir := t.TempDir()
	if s, err := Load(dir); s != nil || err != nil {
		t.Fatalf("empty dir: %v %v", s, err)
	}
	c := &Config{Test: []string{"CMD", "x"}, Retries: 1}
	if _, err := Update(dir, func(s *State) { s.Reset() }); err != nil {
		t.Fatal(err)
	}
	if _, err := Update(dir, func(s *State) { s.Record(probe(0, 1), c, t0) }); err != nil {
		t.Fatal(err)
	}
	s, err := Load(dir)
	if err != nil || s.Status != Unhealthy || s.FailingStreak != 1 || len(s.Log) != 1 {
		t.Fatalf("loaded %+v %v", s, err)
	}
}
