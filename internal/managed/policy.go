package managed

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Policy is --restart: when the monitor runs an ended container again.
type Policy struct {
	Name       string `json:"Name"` // no, on-failure, always, unless-stopped
	MaxRetries int    `json:"MaximumRetryCount,omitempty"`
}

// ParsePolicy reads --restart no|on-failure[:N]|always|unless-stopped.
func ParsePolicy(s string) (Policy, error) {
	name, max, hasMax := strings.Cut(s, ":")
	p := Policy{Name: name}
	switch name {
	case "", "no":
		p.Name = "no"
	case "always", "unless-stopped":
	case "on-failure":
		if hasMax {
			n, err := strconv.Atoi(max)
			if err != nil || n < 0 {
				return Policy{}, fmt.Errorf("invalid --restart %q: the retry count must be a number of at least 0", s)
			}
			p.MaxRetries = n
		}
		return p, nil
	default:
		return Policy{}, fmt.Errorf("invalid --restart %q: use no, on-failure[:N], always or unless-stopped", s)
	}
	if hasMax {
		return Policy{}, fmt.Errorf("invalid --restart %q: only on-failure takes a retry count", s)
	}
	return p, nil
}

// Restarts reports whether a run that ended with exitCode is followed by
// another, after restarts so far; a container stopped by berth stop is
// never restarted.
func (p Policy) Restarts(exitCode, restarts int, stopped bool) bool {
	if stopped {
		return false
	}
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return exitCode != 0 && (p.MaxRetries == 0 || restarts < p.MaxRetries)
	}
	return false
}

// Backoff is how long the monitor waits before restart number n (from
// 0), as Docker: 100 ms doubling up to a minute. A run that lasted more
// than ten seconds starts the count again.
func Backoff(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 0; i < n && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}
