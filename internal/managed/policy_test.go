package managed

import (
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]Policy{
		"": {Name: "no"}, "no": {Name: "no"}, "always": {Name: "always"}, "unless-stopped": {Name: "unless-stopped"},
		"on-failure": {Name: "on-failure"}, "on-failure:3": {Name: "on-failure", MaxRetries: 3},
	} {
		if got, err := ParsePolicy(in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"sometimes", "on-failure:x", "on-failure:-1", "always:3"} {
		if _, err := ParsePolicy(bad); err == nil {
			t.Errorf("ParsePolicy(%q) accepted", bad)
		}
	}
}

func TestRestarts(t *testing.T) {
	for _, c := range []struct {
		policy            string
		code, restarts    int
		stopped, expected bool
	}{
		{"no", 1, 0, false, false},
		{"always", 0, 5, false, true},
		{"always", 1, 0, true, false},
		{"unless-stopped", 0, 0, false, true},
		{"on-failure", 0, 0, false, false},
		{"on-failure", 3, 100, false, true},
		{"on-failure:2", 1, 1, false, true},
		{"on-failure:2", 1, 2, false, false},
	} {
		p, _ := ParsePolicy(c.policy)
		if got := p.Restarts(c.code, c.restarts, c.stopped); got != c.expected {
			t.Errorf("%s exit %d after %d restarts (stopped %v): %v", c.policy, c.code, c.restarts, c.stopped, got)
		}
	}
}

func TestBackoff(t *testing.T) {
	if Backoff(0) != 100*time.Millisecond || Backoff(3) != 800*time.Millisecond || Backoff(30) != time.Minute {
		t.Errorf("backoff: %v %v %v", Backoff(0), Backoff(3), Backoff(30))
	}
}
