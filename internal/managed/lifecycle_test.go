package managed

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
)

// TestLifecycle covers the whole table: every operation in every state,
// with the class of its refusal (nil: admitted) and that the message
// names the container.
func TestLifecycle(t *testing.T) {
	var (
		ok      error
		stopped = errdefs.ErrNotRunning
		up      = errdefs.ErrRunning
		paused  = errdefs.ErrPaused
	)
	states := []Status{Created, Running, Paused, Exited, Dead}
	want := map[Op][5]error{
		//               created  running  paused  exited   dead
		OpStart:       {ok, ok, paused, ok, ok},
		OpRestart:     {ok, ok, ok, ok, ok},
		OpStop:        {ok, ok, ok, ok, ok},
		OpKill:        {stopped, ok, ok, stopped, stopped},
		OpPause:       {stopped, ok, paused, stopped, stopped},
		OpUnpause:     {stopped, up, ok, stopped, stopped},
		OpExec:        {stopped, ok, paused, stopped, stopped},
		OpAttach:      {stopped, ok, paused, stopped, stopped},
		OpRemove:      {ok, up, paused, ok, ok},
		OpRemoveForce: {ok, ok, ok, ok, ok},
		OpRename:      {ok, ok, ok, ok, ok},
		OpCheckpoint:  {stopped, ok, ok, stopped, stopped},
		OpRestore:     {ok, up, up, ok, ok},
		OpJoin:        {stopped, ok, ok, stopped, stopped},
		OpCopy:        {ok, ok, ok, ok, ok},
		OpDiff:        {ok, ok, ok, ok, ok},
		OpExport:      {ok, ok, ok, ok, ok},
		OpNetwork:     {ok, ok, ok, ok, ok},
	}
	if len(want) != len(lifecycle) {
		t.Errorf("the test covers %d operations, the table has %d", len(want), len(lifecycle))
	}
	for op, row := range want {
		for i, st := range states {
			rec := Record{ID: "0123456789abcdef", Name: "web", State: State{Status: st}}
			err := Check(op, rec)
			switch {
			case row[i] == nil && err != nil:
				t.Errorf("%s of a %s container: %v, want admitted", op, st, err)
			case row[i] != nil && !errors.Is(err, row[i]):
				t.Errorf("%s of a %s container: %v, want %v", op, st, err, row[i])
			case err != nil && !strings.Contains(err.Error(), "container web "):
				t.Errorf("%s of a %s container: %q does not name it", op, st, err)
			}
		}
	}
}

func TestLifecycleWords(t *testing.T) {
	rec := Record{ID: "0123456789abcdef", State: State{Status: Paused}}
	// Without a name, the short ID.
	if err := Check(OpExec, rec); err == nil || err.Error() != "container 0123456789ab is paused, unpause it first (berth unpause 0123456789ab)" {
		t.Errorf("exec of a paused container: %v", err)
	}
	rec.Name, rec.State.Status = "web", Running
	if err := Check(OpRemove, rec); err == nil || err.Error() != "container web is running: stop it first, or use rm -f" {
		t.Errorf("rm of a running container: %v", err)
	}
}

func TestLifecycleRefusesTheUnknown(t *testing.T) {
	rec := Record{Name: "web", State: State{Status: Running}}
	if err := Check(Op("teleport"), rec); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("unknown operation: %v", err)
	}
	rec.State.Status = "restarting"
	if err := Check(OpRemove, rec); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("unknown state: %v", err)
	}
}
