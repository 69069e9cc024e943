// Package errdefs is berth's one error vocabulary: a few sentinel
// classes that libraries wrap their errors in, so that callers decide by
// errors.Is and never by an error's text, and the one place that turns an
// error into what a user sees: one line on stderr and an exit status,
// shared by berth and berth-oci (CLI.Report).
package errdefs

import (
	"errors"
	"fmt"
)

// The classes of error. A library's error says which it is by wrapping one
// (New), and keeps its own words: the class's text never shows.
var (
	// ErrNotFound: no container, image, volume or network of that name.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: the name is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrNotRunning: the operation needs a running container.
	ErrNotRunning = errors.New("not running")
	// ErrRunning: the operation needs a container that is not running.
	ErrRunning = errors.New("running")
	// ErrPaused: the operation is refused while the container is paused.
	ErrPaused = errors.New("paused")
	// ErrInUse: something still uses the object (a volume mounted by a
	// container, a network with members, an image a container is made of).
	ErrInUse = errors.New("in use")
	// ErrInvalidArgument: the request itself is wrong, whatever the state.
	ErrInvalidArgument = errors.New("invalid argument")
)

// classified is an error of a class: its message is the error's own, and
// errors.Is finds both the class and whatever the error wraps.
type classified struct {
	class error
	err   error
}

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.class, e.err} }

// New is an error of class whose message is format's (fmt.Errorf's, so %w
// wraps a cause too).
func New(class error, format string, args ...any) error {
	return &classified{class: class, err: fmt.Errorf(format, args...)}
}

// Wrap puts err in class, keeping its message; nil stays nil.
func Wrap(class error, err error) error {
	if err == nil {
		return nil
	}
	return &classified{class: class, err: err}
}

// Is reports whether err is of any of the classes.
func Is(err error, classes ...error) bool {
	for _, c := range classes {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// Exit is a process's exit status that a command passes on as its own:
// the container's program exited Code (berth run, exec, start -a, attach)
// or failed to start with a status of its own (126 cannot invoke, 127 not
// found). Err, if any, is what the user is told; without it the command
// ends silently with Code, as docker run does when its container fails.
type Exit struct {
	Code int
	Err  error
}

func (e Exit) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func (e Exit) Unwrap() error { return e.Err }

// ExitStatus is the status the command exits with.
func (e Exit) ExitStatus() int { return e.Code }

// exitStatuser is an error that carries the status to exit with: Exit, and
// the runtime's start errors (internal/container.StartError), which
// errdefs cannot import.
type exitStatuser interface{ ExitStatus() int }

// exitStatus is the status err carries, 0 if none.
func exitStatus(err error) int {
	var es exitStatuser
	if errors.As(err, &es) {
		return es.ExitStatus()
	}
	return 0
}
