package state

import (
	"errors"
	"fmt"
)

// Operation is something a command asks of a container.
type Operation string

const (
	OpStart       Operation = "start"
	OpKill        Operation = "kill"
	OpStop        Operation = "stop"
	OpDelete      Operation = "delete"
	OpForceDelete Operation = "delete --force"
	OpPause       Operation = "pause"
	OpResume      Operation = "resume"
	OpExec        Operation = "exec"
	OpExecPaused  Operation = "exec --ignore-paused"
	OpUpdate      Operation = "update"
)

// allowed is the lifecycle of the runtime spec (creating → created →
// running → stopped, with paused beside running) as a table: which
// operation each state admits.
//
// A paused container admits kill, stop, delete --force, resume and
// update. kill thaws it after SIGKILL (runc's rule: a frozen process on
// cgroup v1 does not even die) and leaves other signals pending until
// resume; stop (berth stop, rm -f, restart, and kill with the stop signal)
// thaws it after its signal, as Docker does; delete --force kills and
// thaws. It refuses exec (as runc and Docker do), pause and start;
// exec --ignore-paused starts a process that stays frozen until resume.
// A created container admits exec, as runc's does: its namespaces exist.
//
// A stopped container admits kill: with --all it signals what is left in
// its cgroup, else it fails with "container not running" (runc compat:
// containerd's shim runs kill --all on every exited container and reads
// that text as "already finished"; internal/container decides).
var allowed = map[Operation][]Status{
	OpStart:       {Created},
	OpKill:        {Created, Running, Paused, Stopped},
	OpStop:        {Running, Paused},
	OpDelete:      {Stopped, Creating},
	OpForceDelete: {Creating, Created, Running, Paused, Stopped},
	OpPause:       {Running},
	OpResume:      {Paused},
	OpExec:        {Created, Running},
	OpExecPaused:  {Created, Running, Paused},
	OpUpdate:      {Created, Running, Paused},
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
