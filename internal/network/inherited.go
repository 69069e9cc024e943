package network

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/flock"
	"github.com/berth-runtime/berth/internal/network/nft"
	"golang.org/x/sys/unix"
)

// Kept is what the attachment holds open for its container's life: its
// lock and a socket on each published host port. A process that hands
// the running container to another program by exec (berth's monitor to
// berth-monitor) keeps them open across the exec, and the process that
// is exec'd back releases them with ReleaseInherited.
func (a *Attachment) Kept() (network string, lock *os.File, ports []int) {
	return a.net.Name, a.lock, a.held
}

// Published is what a process that did not publish a container's ports
// knows of them: the address and mappings (nft.Port's strings) its record
// gives, and Any, that it had some even where the record names none (its
// run held host ports).
type Published struct {
	Any   bool
	Addr  string
	Ports []string
}

// remover removes container id's mappings: by their keys when the record
// gives them all, without listing the maps (the listing is a dump per
// map and chain, a millisecond or more, on the path of every stop of a
// container with published ports); else, or if that fails, every
// element and rule tagged with id, as a collection does.
func (p Published) remover(id string) func(*nft.Rules) error {
	if !p.Any && len(p.Ports) == 0 {
		return nil
	}
	addr, err := netip.ParseAddr(p.Addr)
	ports := make([]nft.Port, 0, len(p.Ports))
	for _, s := range p.Ports {
		port, perr := nft.ParsePort(s)
		if perr != nil {
			err = perr
			break
		}
		ports = append(ports, port)
	}
	if err != nil || len(ports) == 0 {
		return removeOwner(id)
	}
	return func(r *nft.Rules) error { return r.RemovePorts(id, addr, ports) }
}

// ReleaseInherited is Release in a process that inherited container id's
// attachment to n across an exec: its lock, open as lock, and its
// host-port sockets, held (Kept); pub are its published ports. The
// rules, address, files and the disconnect event go under the inherited
// lock, then the ports and the lock are closed. If lock is no longer the
// attachment's lock file (berth network disconnect released it
// meanwhile, and another may have taken its place), only the inherited
// files are closed.
func (n *Network) ReleaseInherited(id string, lock *os.File, held []int, pub Published) error {
	defer lock.Close()
	defer closePorts(held) // after the rules, as Release
	if !flock.Is(lock, filepath.Join(n.dir, "files", id, "lock")) {
		return nil
	}
	err := n.release(id, pub.remover(id))
	n.event("disconnect", id)
	return err
}

// ReleaseLeft is ReleaseInherited in a process that did not inherit the
// attachment: the one holding it (berth-monitor, handing the exit to
// berth stop) exited, and its lock is taken here, waiting for the
// kernel to drop it; its host-port sockets went with that process. An
// attachment already gone was collected meanwhile.
func (n *Network) ReleaseLeft(id string, pub Published) error {
	lock, err := flock.Open(filepath.Join(n.dir, "files", id, "lock"), 0, unix.LOCK_EX)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return n.ReleaseInherited(id, lock, nil, pub)
}
