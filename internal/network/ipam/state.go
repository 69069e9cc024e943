package ipam

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/flock"
	"github.com/berth-runtime/berth/internal/statefile"
	"golang.org/x/sys/unix"
)

// Files in a pool's directory. The lock is a file of its own, never
// replaced or removed: the state file is replaced by rename on every
// change, and a lock on a replaced inode would exclude nobody.
const (
	lockName  = "ipam.lock"
	stateName = "ipam.json"
)

// formatVersion is the version of the state file this package writes.
const formatVersion = 1

// state is the content of ipam.json.
type state struct {
	Version int          `json:"version"`
	Subnet  netip.Prefix `json:"subnet"`
	// Last is the address handed out most recently; the next search
	// starts after it.
	Last        netip.Addr            `json:"last,omitzero"`
	Allocations map[string]netip.Addr `json:"allocations"`
}

func newState(subnet netip.Prefix) *state {
	return &state{Version: formatVersion, Subnet: subnet, Allocations: map[string]netip.Addr{}}
}

// lock opens the lock file and takes a flock of kind how (LOCK_EX or
// LOCK_SH). The kernel drops the lock when the returned file is closed or
// its process dies, however it dies.
func (p *Pool) lock(how int, create bool) (*os.File, error) {
	flags := 0
	if create {
		flags = os.O_CREATE
	}
	path := filepath.Join(p.dir, lockName)
	f, err := flock.Open(path, flags, how)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// load reads and checks the state file. A missing file is returned as an
// error that matches fs.ErrNotExist.
func (p *Pool) load() (*state, error) {
	path := filepath.Join(p.dir, stateName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read address state: %w", err)
	}
	st := &state{}
	if len(b) == 0 {
		// What a machine crash can leave of a file renamed into place
		// without fsync: nothing survived the crash, so nothing is
		// allocated.
		return newState(p.subnet), nil
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, corrupt(path, err)
	}
	if err := p.check(st); err != nil {
		return nil, corrupt(path, err)
	}
	return st, nil
}

func corrupt(path string, err error) error {
	return fmt.Errorf("corrupt address state %s: %w (stop the network's containers, then remove that file to reset it)", path, err)
}

// check verifies what the allocator relies on: the file is for this
// subnet, and every allocation is a distinct container address in it.
func (p *Pool) check(st *state) error {
	if st.Version != formatVersion {
		return fmt.Errorf("unknown version %d", st.Version)
	}
	if st.Subnet != p.subnet {
		return fmt.Errorf("it is for subnet %s, not %s", st.Subnet, p.subnet)
	}
	if st.Allocations == nil {
		st.Allocations = map[string]netip.Addr{}
	}
	seen := make(map[netip.Addr]string, len(st.Allocations))
	for owner, a := range st.Allocations {
		if owner == "" || !p.usable(a) {
			return fmt.Errorf("bad allocation %q: %s", owner, a)
		}
		if other, dup := seen[a]; dup {
			return fmt.Errorf("%s allocated to both %q and %q", a, other, owner)
		}
		seen[a] = owner
	}
	return nil
}

// save replaces the state file atomically (statefile.WriteJSON), under
// the pool's lock.
func (p *Pool) save(st *state) error {
	if err := statefile.WriteJSON(p.dir, stateName, st); err != nil {
		return fmt.Errorf("write address state: %w", err)
	}
	return nil
}

// update runs fn on the state under the exclusive lock and saves the
// state if fn reports a change.
func (p *Pool) update(fn func(st *state) (changed bool, err error)) error {
	lock, err := p.lock(unix.LOCK_EX, false)
	if err != nil {
		return err
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

// initialize creates the directory, the lock file and an empty state if
// there is none, and checks an existing one.
func (p *Pool) initialize() error {
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", p.dir, err)
	}
	lock, err := p.lock(unix.LOCK_EX, true)
	if err != nil {
		return err
	}
	defer lock.Close()
	_, err = p.load()
	if errors.Is(err, fs.ErrNotExist) {
		return p.save(newState(p.subnet))
	}
	return err
}
