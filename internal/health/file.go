package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/flock"
	"github.com/berth-runtime/berth/internal/statefile"
	"golang.org/x/sys/unix"
)

// The state lives in the container's directory, in a file of its own
// beside the record, not in it: probes write it every interval, from the
// monitor and from berth healthcheck run, and the record is the
// monitor's (and every command's) to rewrite; a small file under a lock
// of its own keeps them from waiting on, or overwriting, each other.
const (
	stateFile = "health.json"
	lockFile  = "health.lock"
)

// Load reads the health state in a container's directory: nil, without
// error, if it has none (no health check, or it never started).
func Load(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read health state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("health state %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

// Update changes the health state in a container's directory under its
// lock, and replaces the file atomically (a reader sees the old state or
// the new one); the directory must exist.
func Update(dir string, change func(*State)) (State, error) {
	l, err := flock.Open(filepath.Join(dir, lockFile), os.O_CREATE|unix.O_NOFOLLOW, unix.LOCK_EX)
	if err != nil {
		return State{}, fmt.Errorf("lock health state: %w", err)
	}
	defer l.Close()
	s, err := Load(dir)
	if err != nil {
		return State{}, err
	}
	if s == nil {
		s = &State{}
	}
	change(s)
	if err := statefile.WriteJSON(dir, stateFile, s); err != nil {
		return State{}, fmt.Errorf("write health state: %w", err)
	}
	return *s, nil
}
