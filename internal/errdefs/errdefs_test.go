package errdefs

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestNewIsClassAndCause(t *testing.T) {
	cause := errors.New("disk on fire")
	err := New(ErrNotFound, "no such volume: %s: %w", "data", cause)
	if err.Error() != "no such volume: data: disk on fire" {
		t.Errorf("message %q: the class's text must not show", err)
	}
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, cause) {
		t.Errorf("%v: not ErrNotFound and its cause", err)
	}
	if errors.Is(err, ErrAlreadyExists) {
		t.Error("ErrNotFound is ErrAlreadyExists")
	}
	wrapped := fmt.Errorf("rm: %w", err)
	if !errors.Is(wrapped, ErrNotFound) {
		t.Error("the class is lost under context")
	}
	if !Is(wrapped, ErrInUse, ErrNotFound) || Is(wrapped, ErrInUse, ErrRunning) {
		t.Error("Is over several classes")
	}
}

func TestWrap(t *testing.T) {
	if Wrap(ErrInUse, nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
	cause := errors.New("busy")
	err := Wrap(ErrInUse, cause)
	if err.Error() != "busy" || !errors.Is(err, ErrInUse) || !errors.Is(err, cause) {
		t.Errorf("Wrap: %v", err)
	}
}

func TestSentinelsDistinct(t *testing.T) {
	all := []error{ErrNotFound, ErrAlreadyExists, ErrNotRunning, ErrRunning, ErrPaused, ErrInUse, ErrInvalidArgument}
	for i, a := range all {
		for j, b := range all {
			if (i == j) != errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, !(i == j))
			}
		}
	}
}

// startError stands for internal/container.StartError: a status of its own.
type startError struct{ code int }

func (e startError) Error() string   { return "exec: no such file" }
func (e startError) ExitStatus() int { return e.code }

func TestStatus(t *testing.T) {
	cases := []struct {
		err             error
		berth, berthOCI int
	}{
		{nil, 0, 0},
		{errors.New("boom"), 125, 1},
		{New(ErrNotFound, "no such container: x"), 125, 1},
		{Exit{Code: 3}, 3, 3},
		{fmt.Errorf("exec: %w", Exit{Code: 137}), 137, 137},
		{fmt.Errorf("run: %w", startError{127}), 127, 127},
		{startError{126}, 126, 126},
		// A status of 0 carried by an error is no status: the command failed.
		{Exit{Code: 0, Err: errors.New("odd")}, 125, 1},
	}
	for _, c := range cases {
		if got := Berth.Status(c.err); got != c.berth {
			t.Errorf("Berth.Status(%v) = %d, want %d", c.err, got, c.berth)
		}
		if got := BerthOCI.Status(c.err); got != c.berthOCI {
			t.Errorf("BerthOCI.Status(%v) = %d, want %d", c.err, got, c.berthOCI)
		}
	}
	classes := Codes{Default: 1, Classes: map[error]int{ErrNotFound: 2}}
	if got := classes.Status(fmt.Errorf("x: %w", New(ErrNotFound, "gone"))); got != 2 {
		t.Errorf("class status %d, want 2", got)
	}
}

func TestReport(t *testing.T) {
	var out bytes.Buffer
	var logged []string
	cli := CLI{Prog: "berth", Codes: Berth, Stderr: &out, Log: func(m string) { logged = append(logged, m) }}
	if code := cli.Report(nil); code != 0 || out.Len() != 0 {
		t.Errorf("nil: %d %q", code, out.String())
	}
	if code := cli.Report(New(ErrNotFound, "no such container: web")); code != 125 || out.String() != "berth: no such container: web\n" {
		t.Errorf("not found: %d %q", code, out.String())
	}
	if len(logged) != 1 || logged[0] != "no such container: web" {
		t.Errorf("log got %q", logged)
	}
	out.Reset()
	if code := cli.Report(Exit{Code: 42}); code != 42 || out.Len() != 0 {
		t.Errorf("a bare exit status is silent: %d %q", code, out.String())
	}
	if code := cli.Report(Exit{Code: 127, Err: errors.New("exec: \"nope\": not found")}); code != 127 || out.String() != "berth: exec: \"nope\": not found\n" {
		t.Errorf("exit with message: %d %q", code, out.String())
	}
	out.Reset()
	oci := CLI{Prog: "berth-oci", Codes: BerthOCI, Stderr: &out}
	if code := oci.Report(New(ErrNotRunning, "container not running")); code != 1 || out.String() != "berth-oci: container not running\n" {
		t.Errorf("berth-oci: %d %q", code, out.String())
	}
	out.Reset()
	cli.Warn("resolv.conf has no nameserver")
	if out.String() != "berth: warning: resolv.conf has no nameserver\n" {
		t.Errorf("warning %q", out.String())
	}
}
