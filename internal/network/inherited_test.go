package network

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-runtime/berth/internal/network/ipam"
	"golang.org/x/sys/unix"
)

// TestReleaseInherited: a process that holds an attachment's lock and
// port sockets, as berth-monitor's exec back to berth does, releases the
// address and files and closes them; a lock that is no longer the
// attachment's (disconnected, attached again) releases nothing.
func TestReleaseInherited(t *testing.T) {
	inPrivateNetns(t, func() {
		root := t.TempDir()
		n, err := Create(root, "front", netip.MustParsePrefix("10.3.0.0/24"))
		if err != nil {
			t.Error(err)
			return
		}
		a, err := n.AttachOpts("aaaa", AttachOptions{Names: []string{"a"}})
		if err != nil {
			t.Error(err)
			return
		}
		name, lock, ports := a.Kept()
		if name != "front" || lock == nil || len(ports) != 0 {
			t.Errorf("Kept() = %q %v %v", name, lock, ports)
		}
		// What the exec leaves: another file on the lock, the same
		// open file description.
		inherited := dupFile(t, lock)
		lock.Close()
		sock, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Error(err)
			return
		}
		if !n.alive("aaaa") {
			t.Error("the inherited lock does not keep the attachment")
		}
		if err := n.ReleaseInherited("aaaa", inherited, []int{sock}, Published{}); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(filepath.Join(n.dir, "files", "aaaa")); !os.IsNotExist(err) {
			t.Errorf("files left: %v", err)
		}
		if pool, err := ipam.Open(n.dir, n.Subnet); err == nil {
			if owners, _ := pool.Owners(); len(owners) != 0 {
				t.Errorf("leases left: %v", owners)
			}
		}
		if _, err := unix.FcntlInt(uintptr(sock), unix.F_GETFD, 0); err == nil {
			t.Error("the port socket is still open")
		}

		// Disconnected while it ran, then on the network again: the old
		// lock must not release the new attachment.
		old, err := n.AttachOpts("bbbb", AttachOptions{Names: []string{"b"}})
		if err != nil {
			t.Error(err)
			return
		}
		_, oldLock, _ := old.Kept()
		stale := dupFile(t, oldLock)
		old.Release()
		again, err := n.AttachOpts("bbbb", AttachOptions{Names: []string{"b"}})
		if err != nil {
			t.Error(err)
			stale.Close()
			return
		}
		defer again.Release()
		if err := n.ReleaseInherited("bbbb", stale, nil, Published{}); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(filepath.Join(n.dir, "files", "bbbb", "names")); err != nil || !n.alive("bbbb") {
			t.Errorf("a stale lock released the new attachment: %v", err)
		}
	})
}

func dupFile(t *testing.T, f *os.File) *os.File {
	t.Helper()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fd), f.Name())
}
