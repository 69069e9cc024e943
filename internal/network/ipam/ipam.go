// Package ipam hands out the IPv4 addresses of a berth network, one per
// container.
//
// berth has no daemon: every berth command is its own process, many may
// allocate from the same network at once, and any of them may be killed
// with SIGKILL at any moment. So the allocator keeps nothing in memory
// between calls:
//
//   - The state is a file, <dir>/ipam.json, read and written by every
//     call. It is replaced atomically (written to a temporary file, synced,
//     renamed over), so whoever comes next after a SIGKILL finds either
//     the old state or the new one, never a torn file.
//   - Every read-modify-write runs under an exclusive flock on
//     <dir>/ipam.lock. The kernel releases a flock when its holder dies,
//     however it dies, so a killed berth never leaves the pool locked. The
//     lock file is never removed or replaced, since a lock on an unlinked
//     inode would exclude nobody.
//   - Addresses leaked by a process killed between allocating and
//     releasing are reclaimed by the next Allocate: it asks the caller's
//     alive callback about every owner and drops the dead ones.
//
// Addresses are handed out round-robin, like Docker: the search starts
// after the address handed out last and wraps around, so a released
// address is reused only once the rest of the subnet has been used. A
// fresh address does not receive traffic still meant for its previous
// holder (peers' ARP caches, conntrack entries, clients that resolved the
// old container's name).
//
// A state file that cannot be parsed, or that contradicts itself (an
// address outside the subnet, one address for two owners), is an error,
// not something repaired silently: the atomic writes mean it was damaged
// from outside, and starting over empty would hand out the addresses of
// running containers a second time.
package ipam

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrFull means every container address of the subnet is allocated.
var ErrFull = errors.New("no free addresses")

// Pool is one network's address pool, stored in a directory of its own
// (such as /run/berth/networks/<name>). A Pool holds no open files and no
// cached state; it is safe for concurrent use by goroutines and processes.
type Pool struct {
	dir    string
	name   string
	subnet netip.Prefix
}

// Open returns the pool stored in dir, creating dir and an empty state if
// needed. The network's name, used in errors, is the last element of dir.
// subnet must be a canonical IPv4 prefix of at most /30 (see ParseSubnet),
// and match the subnet the state was created with.
func Open(dir string, subnet netip.Prefix) (*Pool, error) {
	p := &Pool{dir: dir, name: filepath.Base(filepath.Clean(dir)), subnet: subnet}
	if err := checkSubnet(subnet); err != nil {
		return nil, p.wrap(fmt.Errorf("invalid subnet %s: %w", subnet, err))
	}
	if err := p.initialize(); err != nil {
		return nil, p.wrap(err)
	}
	return p, nil
}

// Subnet returns the pool's subnet.
func (p *Pool) Subnet() netip.Prefix { return p.subnet }

// Gateway returns the first usable address of the subnet (.1), reserved
// for the bridge and never handed to a container.
func (p *Pool) Gateway() netip.Addr { return p.subnet.Addr().Next() }

// Allocate returns the address of owner (a container ID), allocating one if
// owner has none. An owner that already has an address gets the same one
// back. Before allocating, every other owner for which alive returns false
// is released: it was left behind by a berth that was killed. alive is
// called under the pool's lock, so it should be quick; a nil alive keeps
// every owner.
func (p *Pool) Allocate(owner string, alive func(owner string) bool) (netip.Addr, error) {
	if owner == "" {
		return netip.Addr{}, p.wrap(errors.New("allocate: empty owner"))
	}
	var got netip.Addr
	err := p.update(func(st *state) (bool, error) {
		changed := reclaim(st, owner, alive)
		if a, ok := st.Allocations[owner]; ok {
			got = a
			return changed, nil
		}
		a, ok := p.next(st)
		if !ok {
			return changed, fmt.Errorf("%w in %s", ErrFull, p.subnet)
		}
		st.Allocations[owner], st.Last, got = a, a, a
		return true, nil
	})
	if err != nil {
		return netip.Addr{}, p.wrap(err)
	}
	return got, nil
}

// ErrInUse means the address asked for belongs to another container.
var ErrInUse = errors.New("address in use")

// AllocateAddr gives owner the address want (--ip), which must be a
// container address of the subnet that no live owner has. An owner that
// has another address is refused: it has one place on a network.
func (p *Pool) AllocateAddr(owner string, want netip.Addr, alive func(owner string) bool) error {
	if owner == "" {
		return p.wrap(errors.New("allocate: empty owner"))
	}
	if !p.usable(want) {
		return p.wrap(fmt.Errorf("address %s is not a container address of subnet %s (not the network address, the gateway %s or the broadcast): give another --ip", want, p.subnet, p.Gateway()))
	}
	err := p.update(func(st *state) (bool, error) {
		changed := reclaim(st, owner, alive)
		for o, a := range st.Allocations {
			if a == want && o != owner {
				return changed, fmt.Errorf("%w: %s belongs to container %.12s: give another --ip", ErrInUse, want, o)
			}
		}
		if a, ok := st.Allocations[owner]; ok && a != want {
			return changed, fmt.Errorf("allocate %s: %.12s has address %s already", want, owner, a)
		}
		st.Allocations[owner] = want
		return true, nil
	})
	if err != nil {
		return p.wrap(err)
	}
	return nil
}

// Release frees owner's address. Releasing an owner without an address, or
// in a network whose directory is gone, does nothing.
func (p *Pool) Release(owner string) error {
	err := p.update(func(st *state) (bool, error) {
		_, ok := st.Allocations[owner]
		delete(st.Allocations, owner)
		return ok, nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return p.wrap(fmt.Errorf("release %q: %w", owner, err))
	}
	return nil
}

// Owners returns every owner and its address, as stored: owners that are
// no longer alive are included until the next Allocate reclaims them, or
// until the caller releases them.
func (p *Pool) Owners() (map[string]netip.Addr, error) {
	lock, err := p.lock(unix.LOCK_SH, false)
	if err != nil {
		return nil, p.wrap(err)
	}
	defer lock.Close()
	st, err := p.load()
	if err != nil {
		return nil, p.wrap(err)
	}
	return maps.Clone(st.Allocations), nil
}

func (p *Pool) wrap(err error) error { return fmt.Errorf("network %s: %w", p.name, err) }

// reclaim drops the owners other than self that alive reports dead, and
// says whether it dropped any. self is asking, so it is alive.
func reclaim(st *state, self string, alive func(string) bool) bool {
	if alive == nil {
		return false
	}
	n := len(st.Allocations)
	maps.DeleteFunc(st.Allocations, func(owner string, _ netip.Addr) bool {
		return owner != self && !alive(owner)
	})
	return len(st.Allocations) != n
}

// next returns the first free container address after st.Last, wrapping
// around to the start of the subnet.
func (p *Pool) next(st *state) (netip.Addr, bool) {
	used := make(map[uint32]bool, len(st.Allocations))
	for _, a := range st.Allocations {
		used[toU32(a)] = true
	}
	first, last := hostRange(p.subnet)
	start := first
	if p.usable(st.Last) {
		start = toU32(st.Last) + 1
	}
	for n := uint64(last-first) + 1; n > 0; n-- {
		if start > last || start < first {
			start = first
		}
		if !used[start] {
			return fromU32(start), true
		}
		start++
	}
	return netip.Addr{}, false
}

// usable reports whether a may be handed to a container: an IPv4 address
// in the subnet other than the network address, gateway and broadcast.
func (p *Pool) usable(a netip.Addr) bool {
	if !a.Is4() || !p.subnet.Contains(a) {
		return false
	}
	first, last := hostRange(p.subnet)
	u := toU32(a)
	return u >= first && u <= last
}
