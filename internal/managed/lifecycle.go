package managed

import (
	"github.com/berth-runtime/berth/internal/errdefs"
)

// Op is something a command asks of one of berth's containers.
type Op string

const (
	OpStart       Op = "start"
	OpRestart     Op = "restart"
	OpStop        Op = "stop"
	OpKill        Op = "kill"
	OpPause       Op = "pause"
	OpUnpause     Op = "unpause"
	OpExec        Op = "exec"
	OpAttach      Op = "attach"
	OpRemove      Op = "remove"
	OpRemoveForce Op = "remove --force"
	OpRename      Op = "rename"
	OpCheckpoint  Op = "checkpoint"
	OpRestore     Op = "restore"
	// OpJoin is --network container:NAME: another container joins its
	// network namespace.
	OpJoin Op = "join"
	// OpCopy, OpDiff and OpExport read or write the container's files,
	// running or not (docker cp, diff, export).
	OpCopy   Op = "cp"
	OpDiff   Op = "diff"
	OpExport Op = "export"
	// OpNetwork is berth network connect and disconnect, in every state:
	// a running container's interfaces change at once, a stopped one's
	// at its next start.
	OpNetwork Op = "network connect"
)

// refusal is why a state does not admit an operation: the class of error
// and Docker's words for it (%[1]s is the container's name).
type refusal struct {
	class error
	text  string
}

var (
	notRunning     = refusal{errdefs.ErrNotRunning, "container %[1]s is not running"}
	pausedUnpause  = refusal{errdefs.ErrPaused, "container %[1]s is paused, unpause it first (berth unpause %[1]s)"}
	runningStopRm  = refusal{errdefs.ErrRunning, "container %[1]s is running: stop it first, or use rm -f"}
	pausedStopRm   = refusal{errdefs.ErrPaused, "container %[1]s is paused: unpause and stop it first, or use rm -f"}
	runningRestore = refusal{errdefs.ErrRunning, "container %[1]s is running: stop it, or restore its checkpoint into another container"}
)

// lifecycle is the table of which state admits which operation, as
// internal/state's is for berth-oci, but for berth's containers and with
// Docker's rules: a state absent from an operation's row admits it; one
// present refuses it with its refusal.
//
// Paused is the runtime's word (WithPause in internal/engine), never
// stored: a record read from the store says running. Stop, restart, kill
// and rm -f admit a paused container and thaw it so that it acts on its
// signal (as Docker does); exec, attach, start, pause and rm without -f
// refuse it. Stop and start of a container already in the state they
// lead to do nothing, as docker's do, and restart admits every state.
// Dead is a container whose berth was killed: it died with it, and is
// treated as exited.
var lifecycle = map[Op]map[Status]refusal{
	OpStart:   {Paused: {errdefs.ErrPaused, "container %[1]s is paused: unpause it instead of starting it (berth unpause %[1]s)"}},
	OpRestart: {},
	OpStop:    {},
	OpKill:    {Created: notRunning, Exited: notRunning, Dead: notRunning},
	OpPause: {Paused: {errdefs.ErrPaused, "container %[1]s is already paused"},
		Created: notRunning, Exited: notRunning, Dead: notRunning},
	OpUnpause: {Running: {errdefs.ErrRunning, "container %[1]s is not paused"},
		Created: notRunning, Exited: notRunning, Dead: notRunning},
	OpExec: {Paused: pausedUnpause,
		Created: {errdefs.ErrNotRunning, "container %[1]s is not running: start it first (berth start %[1]s)"},
		Exited:  {errdefs.ErrNotRunning, "container %[1]s is not running: start it first (berth start %[1]s)"},
		Dead:    {errdefs.ErrNotRunning, "container %[1]s is not running: start it first (berth start %[1]s)"}},
	OpAttach: {Paused: {errdefs.ErrPaused, "container %[1]s is paused, unpause it before attaching (berth unpause %[1]s)"},
		Created: {errdefs.ErrNotRunning, "container %[1]s is not running: start it with berth start -a %[1]s"},
		Exited:  {errdefs.ErrNotRunning, "container %[1]s is not running: start it with berth start -a %[1]s"},
		Dead:    {errdefs.ErrNotRunning, "container %[1]s is not running: start it with berth start -a %[1]s"}},
	OpRemove:      {Running: runningStopRm, Paused: pausedStopRm},
	OpRemoveForce: {},
	OpRename:      {},
	OpCheckpoint: {Created: {errdefs.ErrNotRunning, "container %[1]s is not running: only a running container can be checkpointed"},
		Exited: {errdefs.ErrNotRunning, "container %[1]s is not running: only a running container can be checkpointed"},
		Dead:   {errdefs.ErrNotRunning, "container %[1]s is not running: only a running container can be checkpointed"}},
	OpRestore: {Running: runningRestore, Paused: runningRestore},
	OpJoin:    {Created: notRunning, Exited: notRunning, Dead: notRunning},
	OpCopy:    {},
	OpDiff:    {},
	OpExport:  {},
	OpNetwork: {},
}

// Check says whether the container's state admits op: nil, or an error of
// an errdefs class (ErrNotRunning, ErrRunning, ErrPaused) in Docker's
// words. rec's status must tell paused from running (engine.WithPause).
// An operation the table does not know is refused: a new command must
// say what it admits.
func Check(op Op, rec Record) error {
	row, ok := lifecycle[op]
	if !ok {
		return errdefs.New(errdefs.ErrInvalidArgument, "container %s: unknown operation %q", rec.Name, op)
	}
	switch rec.State.Status {
	case Created, Running, Paused, Exited, Dead:
	default:
		return errdefs.New(errdefs.ErrInvalidArgument, "container %s is in a state berth does not know: %q", nameOf(rec), rec.State.Status)
	}
	r, refused := row[rec.State.Status]
	if !refused {
		return nil
	}
	return errdefs.New(r.class, r.text, nameOf(rec))
}

// nameOf names a container in a message: its name, else its short ID.
func nameOf(rec Record) string {
	if rec.Name != "" {
		return rec.Name
	}
	return shortID(rec.ID)
}
