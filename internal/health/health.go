// Package health is a container's health check as Docker has it: the
// configuration (docker run's --health-* options over the image's
// HEALTHCHECK), and the state its probes drive: starting, then healthy
// or unhealthy, with a failing streak and a log of the last probes. The
// state machine here is pure; the engine runs the probes.
package health

import (
	"errors"
	"fmt"
	"time"

	"github.com/berth-runtime/berth/internal/errdefs"
)

// Docker's status words (State.Health.Status, ps --filter health=).
const (
	Starting  = "starting"
	Healthy   = "healthy"
	Unhealthy = "unhealthy"
	// None is ps --filter health=none: a container without a health check.
	None = "none"
)

// Docker's defaults for what the configuration leaves at zero, and its
// limits.
const (
	DefaultInterval      = 30 * time.Second
	DefaultTimeout       = 30 * time.Second
	DefaultStartInterval = 5 * time.Second
	DefaultRetries       = 3
	// MinDuration is the shortest interval, timeout, start period or
	// start interval Docker accepts (0 means the default).
	MinDuration = time.Millisecond
	// MaxLog is how many probes the log keeps.
	MaxLog = 5
	// MaxOutput is how much of a probe's output is kept.
	MaxOutput = 4096
)

// Config is a health check as Docker's HealthConfig (the image config's
// Healthcheck, durations in nanoseconds): Test is ["CMD", args...],
// ["CMD-SHELL", command], ["NONE"] (disabled), or empty (the image's).
// Zero durations and retries mean Docker's defaults.
type Config struct {
	Test          []string      `json:"Test,omitempty"`
	Interval      time.Duration `json:"Interval,omitempty"`
	Timeout       time.Duration `json:"Timeout,omitempty"`
	StartPeriod   time.Duration `json:"StartPeriod,omitempty"`
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// Enabled reports whether c runs a probe: a test that is not NONE.
func (c *Config) Enabled() bool {
	return c != nil && len(c.Test) > 0 && c.Test[0] != "NONE"
}

// Command is the probe's argv: CMD's arguments, or CMD-SHELL's command
// run by /bin/sh -c (Docker's shell on Linux).
func (c *Config) Command() ([]string, error) {
	if !c.Enabled() {
		return nil, errNoTest
	}
	switch c.Test[0] {
	case "CMD":
		if len(c.Test) < 2 {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "health check %q has no command", c.Test)
		}
		return c.Test[1:], nil
	case "CMD-SHELL":
		if len(c.Test) != 2 {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "health check %q: CMD-SHELL takes one command", c.Test)
		}
		return []string{"/bin/sh", "-c", c.Test[1]}, nil
	}
	return nil, errdefs.New(errdefs.ErrInvalidArgument, "health check %q: the test must start with CMD, CMD-SHELL or NONE", c.Test)
}

var errNoTest = errors.New("no health check")

// Validate refuses what Docker's daemon refuses: negative retries, and
// durations that are neither 0 (the default) nor at least 1ms.
func (c *Config) Validate() error {
	if c == nil {
		return nil
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--health-interval", c.Interval}, {"--health-timeout", c.Timeout},
		{"--health-start-period", c.StartPeriod}, {"--health-start-interval", c.StartInterval}} {
		if d.v < 0 {
			return errdefs.New(errdefs.ErrInvalidArgument, "invalid %s %v: it cannot be negative (0 for the default)", d.flag, d.v)
		}
		if d.v != 0 && d.v < MinDuration {
			return errdefs.New(errdefs.ErrInvalidArgument, "invalid %s %v: it cannot be less than %v (0 for the default)", d.flag, d.v, MinDuration)
		}
	}
	if c.Retries < 0 {
		return errdefs.New(errdefs.ErrInvalidArgument, "invalid --health-retries %d: it cannot be negative (0 for the default of %d)", c.Retries, DefaultRetries)
	}
	if c.Enabled() {
		if _, err := c.Command(); err != nil {
			return err
		}
	}
	return nil
}

// Merge is the container's health check: its own options over the
// image's, field by field, as Docker's daemon merges them (an empty test
// or a zero value takes the image's).
func Merge(image, own *Config) *Config {
	if own == nil || image == nil {
		if own == nil {
			return image
		}
		return own
	}
	c := *own
	if len(c.Test) == 0 {
		c.Test = image.Test
	}
	if c.Interval == 0 {
		c.Interval = image.Interval
	}
	if c.Timeout == 0 {
		c.Timeout = image.Timeout
	}
	if c.StartPeriod == 0 {
		c.StartPeriod = image.StartPeriod
	}
	if c.StartInterval == 0 {
		c.StartInterval = image.StartInterval
	}
	if c.Retries == 0 {
		c.Retries = image.Retries
	}
	return &c
}

func orDefault(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// ProbeTimeout is how long a probe may run before it is killed.
func (c *Config) ProbeTimeout() time.Duration { return orDefault(c.Timeout, DefaultTimeout) }

func (c *Config) retries() int {
	if c.Retries <= 0 {
		return DefaultRetries
	}
	return c.Retries
}

// Next is the wait before the next probe, as Docker's monitor decides
// it: the start interval while the container is starting within its
// start period, the interval otherwise.
func (c *Config) Next(startedAt, now time.Time, status string) time.Duration {
	if status == Starting && now.Sub(startedAt) < c.StartPeriod {
		return orDefault(c.StartInterval, DefaultStartInterval)
	}
	return orDefault(c.Interval, DefaultInterval)
}

// Result is one probe, as Docker's log entry.
type Result struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// TimedOut is the result of a probe killed after timeout, as Docker's.
func TimedOut(start, end time.Time, timeout time.Duration) Result {
	return Result{Start: start, End: end, ExitCode: -1, Output: fmt.Sprintf("Health check exceeded timeout (%v)", timeout)}
}

// State is Docker's State.Health.
type State struct {
	Status        string   `json:"Status"`
	FailingStreak int      `json:"FailingStreak"`
	Log           []Result `json:"Log"`
}

// Reset is the state of a container that (re)starts: starting again, no
// failures; the log is kept, as Docker's.
func (s *State) Reset() {
	s.Status, s.FailingStreak = Starting, 0
	if s.Log == nil {
		s.Log = []Result{}
	}
}

// Record applies one probe's result, as Docker does: success makes the
// container healthy; a failure counts towards Retries, except while it
// is still starting within its start period (startedAt is when the
// container started).
func (s *State) Record(r Result, c *Config, startedAt time.Time) {
	if s.Status == "" {
		s.Reset()
	}
	s.Log = append(s.Log, r)
	if len(s.Log) > MaxLog {
		s.Log = append([]Result(nil), s.Log[len(s.Log)-MaxLog:]...)
	}
	if r.ExitCode == 0 {
		s.Status, s.FailingStreak = Healthy, 0
		return
	}
	if s.Status == Starting && r.Start.Sub(startedAt) < c.StartPeriod {
		return
	}
	s.FailingStreak++
	if s.FailingStreak >= c.retries() {
		s.Status = Unhealthy
	}
}

// Stopped is the state once the container's probes stop (it exited):
// unhealthy, as Docker's monitor leaves it.
func (s *State) Stopped() { s.Status = Unhealthy }

// Text is the health part of docker ps's STATUS: "health: starting",
// "healthy", "unhealthy".
func (s *State) Text() string {
	if s.Status == Starting {
		return "health: starting"
	}
	return s.Status
}

// Output is a probe's output as Docker keeps it: the first MaxOutput
// bytes, "..." after them if there was more.
type Output struct {
	buf       []byte
	truncated bool
}

func (o *Output) Write(p []byte) (int, error) {
	keep := min(MaxOutput-len(o.buf), len(p))
	if keep > 0 {
		o.buf = append(o.buf, p[:keep]...)
	}
	if keep < len(p) {
		o.truncated = true
	}
	return len(p), nil
}

func (o *Output) String() string {
	if o.truncated {
		return string(o.buf) + "..."
	}
	return string(o.buf)
}
