package state

import (
	"errors"
	"testing"
)

func TestLifecycleTable(t *testing.T) {
	all := []Status{Creating, Created, Running, Paused, Stopped}
	want := map[Operation]map[Status]bool{
		OpStart:       {Created: true},
		OpKill:        {Created: true, Running: true, Paused: true, Stopped: true},
		OpStop:        {Running: true, Paused: true},
		OpDelete:      {Stopped: true, Creating: true},
		OpForceDelete: {Creating: true, Created: true, Running: true, Paused: true, Stopped: true},
		OpPause:       {Running: true},
		OpResume:      {Paused: true},
		OpExec:        {Created: true, Running: true},
		OpExecPaused:  {Created: true, Running: true, Paused: true},
		OpUpdate:      {Created: true, Running: true, Paused: true},
	}
	if len(want) != len(allowed) {
		t.Errorf("the table has %d operations, the test %d", len(allowed), len(want))
	}
	for op, ok := range want {
		for _, st := range all {
			err := Check(op, st)
			if ok[st] && err != nil {
				t.Errorf("%s in %s refused: %v", op, st, err)
			}
			if !ok[st] && !errors.Is(err, ErrWrongState) {
				t.Errorf("%s in %s allowed", op, st)
			}
		}
	}
}

// TestPausedAdmits: what a paused container admits, as design.md says.
func TestPausedAdmits(t *testing.T) {
	for op, ok := range map[Operation]bool{
		OpKill: true, OpStop: true, OpForceDelete: true, OpResume: true, OpUpdate: true,
		OpExec: false, OpExecPaused: true, OpPause: false, OpStart: false, OpDelete: false,
	} {
		if err := Check(op, Paused); (err == nil) != ok {
			t.Errorf("%s of a paused container: %v, want admitted %v", op, err, ok)
		}
	}
}
