package userns

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/berth-runtime/berth/internal/flock"
	"github.com/berth-runtime/berth/internal/statefile"
	"golang.org/x/sys/unix"
)

// The allocator follows the pattern of berth's address allocator
// (internal/network/ipam): no daemon, so nothing is kept in memory
// between calls; every change is a read-modify-write of one JSON file
// under an exclusive flock on a lock file that is never replaced; the
// file is replaced by rename, so a SIGKILL leaves the old state or the
// new one; and owners that are gone (their container's record was
// removed, or never finished being made) are reclaimed through the
// caller's alive callback by the next Allocate or Collect.

// ErrFull means berth's subordinate IDs have no free range of the size
// asked for.
var ErrFull = errors.New("no free range of IDs")

const (
	lockName      = "ranges.lock"
	stateName     = "ranges.json"
	formatVersion = 1
)

// Allocation is one container's host IDs: Size UIDs from UID, Size GIDs
// from GID.
type Allocation struct {
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	Size uint32 `json:"size"`
}

type state struct {
	Version     int                   `json:"version"`
	Allocations map[string]Allocation `json:"allocations"`
}

// Pool hands out ranges of berth's subordinate IDs. It keeps its state in
// Dir (created on first use); SubUID and SubGID are the subordinate ID
// files (/etc/subuid, /etc/subgid), to which a berth line is added if
// they have none. A Pool holds nothing open and is safe for concurrent
// use by goroutines and processes.
type Pool struct {
	Dir            string
	SubUID, SubGID string
}

// Allocate returns owner's range, allocating size IDs of each kind if it
// has none (an owner keeps its range, whatever size it asks for later:
// its files are owned by those IDs). Owners other than owner for which
// alive returns false are released first. alive runs under the lock.
func (p Pool) Allocate(owner string, size uint32, alive func(string) bool) (Allocation, error) {
	if owner == "" || size == 0 {
		return Allocation{}, errors.New("user namespace ranges: allocate needs an owner and a size")
	}
	var got Allocation
	err := p.update(true, func(st *state) (bool, error) {
		changed := reclaim(st, owner, alive)
		if a, ok := st.Allocations[owner]; ok {
			got = a
			return changed, nil
		}
		uids, err := EnsureSpans(p.SubUID)
		if err != nil {
			return changed, err
		}
		gids, err := EnsureSpans(p.SubGID)
		if err != nil {
			return changed, err
		}
		used := slices.Collect(maps.Values(st.Allocations))
		uid, ok := firstFit(uids, used, size, func(a Allocation) uint32 { return a.UID })
		if !ok {
			return changed, fmt.Errorf("%w of %d in berth's lines of %s (%s): remove containers, ask for a smaller size=, or give berth a larger range", ErrFull, size, p.SubUID, spansText(uids))
		}
		gid, ok := firstFit(gids, used, size, func(a Allocation) uint32 { return a.GID })
		if !ok {
			return changed, fmt.Errorf("%w of %d in berth's lines of %s (%s): remove containers, ask for a smaller size=, or give berth a larger range", ErrFull, size, p.SubGID, spansText(gids))
		}
		got = Allocation{UID: uid, GID: gid, Size: size}
		st.Allocations[owner] = got
		return true, nil
	})
	return got, err
}

// Release frees owner's range; an owner without one is no error.
func (p Pool) Release(owner string) error {
	err := p.update(false, func(st *state) (bool, error) {
		_, ok := st.Allocations[owner]
		delete(st.Allocations, owner)
		return ok, nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Collect releases every owner for which alive returns false. Without a
// state file (no container ever had a range) it does nothing.
func (p Pool) Collect(alive func(string) bool) error {
	err := p.update(false, func(st *state) (bool, error) {
		return reclaim(st, "", alive), nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Owners returns every allocation, as stored.
func (p Pool) Owners() (map[string]Allocation, error) {
	lock, err := flock.Open(filepath.Join(p.Dir, lockName), 0, unix.LOCK_SH)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]Allocation{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("user namespace ranges: %w", err)
	}
	defer lock.Close()
	st, err := p.load()
	if err != nil {
		return nil, err
	}
	return st.Allocations, nil
}

func reclaim(st *state, self string, alive func(string) bool) bool {
	if alive == nil {
		return false
	}
	n := len(st.Allocations)
	maps.DeleteFunc(st.Allocations, func(owner string, _ Allocation) bool {
		return owner != self && !alive(owner)
	})
	return len(st.Allocations) != n
}

// firstFit is the lowest start in spans of size free IDs, none of them
// used by an allocation (whose start of this kind key gives).
func firstFit(spans []Span, used []Allocation, size uint32, key func(Allocation) uint32) (uint32, bool) {
	slices.SortFunc(used, func(a, b Allocation) int { return int(int64(key(a)) - int64(key(b))) })
	for _, s := range spans {
		start := uint64(s.Start)
		for _, a := range used {
			if uint64(key(a))+uint64(a.Size) <= start {
				continue
			}
			if uint64(key(a)) >= start+uint64(size) {
				break
			}
			start = uint64(key(a)) + uint64(a.Size)
		}
		if start+uint64(size) <= s.end() {
			return uint32(start), true
		}
	}
	return 0, false
}

func spansText(spans []Span) string {
	out := ""
	for i, s := range spans {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%d:%d", s.Start, s.Count)
	}
	return out
}

// update runs fn on the state under the exclusive lock, saving it if fn
// reports a change. create makes the directory and lock file if missing;
// otherwise their absence is an error matching os.ErrNotExist.
func (p Pool) update(create bool, fn func(*state) (bool, error)) error {
	flags := 0
	if create {
		if err := os.MkdirAll(p.Dir, 0o700); err != nil {
			return fmt.Errorf("user namespace ranges: %w", err)
		}
		flags = os.O_CREATE
	}
	lock, err := flock.Open(filepath.Join(p.Dir, lockName), flags, unix.LOCK_EX)
	if err != nil {
		return fmt.Errorf("user namespace ranges: lock: %w", err)
	}
	defer lock.Close()
	st, err := p.load()
	if err != nil {
		return err
	}
	changed, err := fn(st)
	if err != nil || !changed {
		return err
	}
	return p.save(st)
}

// load reads the state; a missing or empty file is an empty state (an
// empty one is what a machine crash can leave of a rename not synced).
func (p Pool) load() (*state, error) {
	path := filepath.Join(p.Dir, stateName)
	st := &state{Version: formatVersion, Allocations: map[string]Allocation{}}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) || (err == nil && len(b) == 0) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("user namespace ranges: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, corrupt(path, err)
	}
	if st.Version != formatVersion {
		return nil, corrupt(path, fmt.Errorf("unknown version %d", st.Version))
	}
	if st.Allocations == nil {
		st.Allocations = map[string]Allocation{}
	}
	if err := checkDisjoint(st.Allocations); err != nil {
		return nil, corrupt(path, err)
	}
	return st, nil
}

// checkDisjoint refuses a state in which two owners share IDs: handing
// out more from it could give two containers the same host IDs.
func checkDisjoint(all map[string]Allocation) error {
	owners := slices.Sorted(maps.Keys(all))
	for i, a := range owners {
		if all[a].Size == 0 {
			return fmt.Errorf("%s has an empty range", a)
		}
		for _, b := range owners[:i] {
			x, y := all[a], all[b]
			if overlaps(x.UID, x.Size, y.UID, y.Size) || overlaps(x.GID, x.Size, y.GID, y.Size) {
				return fmt.Errorf("%s and %s share IDs", b, a)
			}
		}
	}
	return nil
}

func corrupt(path string, err error) error {
	return fmt.Errorf("corrupt user namespace ranges %s: %w (remove the containers that use --userns=auto, then that file, to reset it)", path, err)
}

func (p Pool) save(st *state) error {
	if err := statefile.WriteJSON(p.Dir, stateName, st); err != nil {
		return fmt.Errorf("user namespace ranges: %w", err)
	}
	return nil
}
