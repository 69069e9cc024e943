package state

import (
	"errors"
	"fmt"
)

// Operation is something a command asks of a container.
type Operation string

const (
	OpStart  Operation = "start"
	OpKill   Operation = "kill"
	OpDelete Operation = "delete"
	OpPause  Operation = "pause"
	OpResume Operation = "resume"
	OpExec   Operation = "exec"
	OpUpdate Operation = "update"
)

// allowed is the lifecycle of the runtime spec (creating → created →
// running → stopped, with paused beside running) as a table: which
// operation each state admits.
var allowed = map[Operation][]Status{
	OpStart:  {Created},
	OpKill:   {Created, Running, Paused},
	OpDelete: {Stopped, Creating},
	OpPause:  {Running},
	OpResume: {Paused},
	OpExec:   {Running},
	OpUpdate: {Created, Running, Paused},
}

// ErrWrongState means the container's state does not admit the operation.
var ErrWrongState = errors.New("not allowed in this state")

// Check says whether op may be applied to a container in state st.
func Check(op Operation, st Status) error {
	for _, s := range allowed[op] {
		if s == st {
			return nil
		}
	}
	return fmt.Errorf("cannot %s a container that is %s: %w", op, st, ErrWrongState)
}
