package network

import (
	"errors"
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

// ReleaseInherited is Release in a process that inherited container id's
// attachment to n across an exec: its lock, open as lock, and its
// host-port sockets, ports (Kept). published says the container had
// published ports, whose mappings are looked up as a collection does.
// The rules, address, files and the disconnect event go under the
// inherited lock, then the ports and the lock are closed. If lock is no
// longer the attachment's lock file (berth network disconnect released
// it meanwhile, and another may have taken its place), only the
// inherited files are closed.
func (n *Network) ReleaseInherited(id string, lock *os.File, ports []int, published bool) error {
	defer lock.Close()
	defer closePorts(ports) // after the rules, as Release
	if !flock.Is(lock, filepath.Join(n.dir, "files", id, "lock")) {
		return nil
	}
	var rules func(*nft.Rules) error
	if published {
		rules = removeOwner(id)
	}
	err := n.release(id, rules)
	n.event("disconnect", id)
	return err
}

// ReleaseLeft is ReleaseInherited in a process that did not inherit the
// attachment: the one holding it (berth-monitor, handing the exit to
// berth stop) exited, and its lock is taken here, waiting for the
// kernel to drop it; its host-port sockets went with that process. An
// attachment already gone was collected meanwhile.
func (n *Network) ReleaseLeft(id string, published bool) error {
	lock, err := flock.Open(filepath.Join(n.dir, "files", id, "lock"), 0, unix.LOCK_EX)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return n.ReleaseInherited(id, lock, nil, published)
}
