package errdefs

import (
	"errors"
	"fmt"
	"io"
)

// Codes is a command line's table of exit statuses: the status an error
// carries (Exit, a start error) is passed through; a class may have its
// own; anything else is Default.
type Codes struct {
	Default int
	Classes map[error]int
}

// Berth is docker's table, which berth follows: 125 for berth's own
// failures (docker run's "the error is with the daemon"), 126 the program
// cannot be invoked, 127 it is not found (both carried by the start
// error), and a container's exit status passed through.
var Berth = Codes{Default: 125}

// BerthOCI is runc's: 1 for every failure of the runtime; a container's
// or its start's status is passed through (runc run exits with the
// container's status).
var BerthOCI = Codes{Default: 1}

// Status is the exit status for err: 0 for nil.
func (c Codes) Status(err error) int {
	if err == nil {
		return 0
	}
	if code := exitStatus(err); code != 0 {
		return code
	}
	for class, code := range c.Classes {
		if errors.Is(err, class) {
			return code
		}
	}
	return c.Default
}

// CLI reports errors to a command line's user.
type CLI struct {
	// Prog prefixes the line: "berth: no such container: web".
	Prog  string
	Codes Codes
	// Stderr is where the line goes.
	Stderr io.Writer
	// Log, if set, also gets the message (berth-oci's --log file, which
	// containerd's shim and podman read back).
	Log func(msg string)
}

// Report tells the user about err in one line and returns the status to
// exit with: 0 for nil; an Exit without a message ends silently.
func (c CLI) Report(err error) int {
	if err == nil {
		return 0
	}
	if msg := Message(err); msg != "" {
		fmt.Fprintf(c.Stderr, "%s: %s\n", c.Prog, msg)
		if c.Log != nil {
			c.Log(msg)
		}
	}
	return c.Codes.Status(err)
}

// Warn tells the user about a problem that did not fail the command.
func (c CLI) Warn(msg string) {
	fmt.Fprintf(c.Stderr, "%s: warning: %s\n", c.Prog, msg)
}

// Message is err's line for the user, "" for an Exit that carries no
// message of its own: its status says it all.
func Message(err error) string {
	var ex Exit
	if errors.As(err, &ex) && ex.Err == nil {
		return ""
	}
	return err.Error()
}
