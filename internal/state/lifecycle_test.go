package state

import (
	"errors"
	"testing"
)

func TestLifecycleTable(t *testing.T) {
	all := []Status{Creating, Created, Running, Paused, Stopped}
	want := map[Operation]map[Status]bool{
		OpStart:  {Created: true},
		OpKill:   {Created: true, Running: true, Paused: true},
		OpDelete: {Stopped: true, Creating: true},
		OpPause:  {Running: true},
		OpResume: {Paused: true},
		OpExec:   {Running: true},
		OpUpdate: {Created: true, Running: true, Paused: true},
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
