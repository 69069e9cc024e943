package network

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/flock"
	"github.com/berth-runtime/berth/internal/network/link"
	"golang.org/x/sys/unix"
)

// A container on more than one network (berth network connect) has a
// marker, a file ID.multi, beside its attachment directory in the files
// directory of each of its networks; on its first network it says
// "first", whose addresses its hosts files list first, as its host name
// resolves to its first network's address in Docker. rewriteHosts finds it in the
// listing it reads anyway, so a container on one network costs nothing
// more; for a marked member, it writes the members of all the member's
// networks to each of its hosts files (rewriteHostsOf). Container IDs are
// hex: a name with a dot is never an attachment.
const multiSuffix = ".multi"

// ownerFile, in an attachment made by berth network connect in a running
// container, names the container's lifetime lock: the attachment lives
// as long as that is held, since the command that made it ends at once.
const ownerFile = "owner"

// hostsLockFile serializes the rewriting of multi-homed containers' hosts
// files, which read the member lists of several networks.
const hostsLockFile = "hosts.lock"

func isMarker(name string) bool { return strings.Contains(name, ".") }

// secondaryIf names the host end of a container's veth into a network
// besides its first: "btc" and a hash of the ID and the network, within
// the 15 characters of an interface name.
func secondaryIf(id, network string) string {
	sum := sha256.Sum256([]byte(id + "/" + network))
	return "btc" + hex.EncodeToString(sum[:])[:12]
}

// ownerHeld reports whether the lifetime lock an attachment's ownerFile
// names is held. Only attachments whose own lock is free get here: those
// of connect, and dead ones.
func ownerHeld(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return false
	}
	return flock.Held(strings.TrimSpace(string(b)))
}

// markMultiHomed leaves the marker of container id in n's files
// directory; first says n is the container's first network.
func (n *Network) markMultiHomed(id string, first bool) error {
	dir := filepath.Join(n.dir, "files")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("network files: %w", err)
	}
	content := ""
	if first {
		content = firstMarker
	}
	if err := os.WriteFile(filepath.Join(dir, id+multiSuffix), []byte(content), 0o644); err != nil {
		return fmt.Errorf("network files: %w", err)
	}
	return nil
}

// firstMarker is the marker's content on a container's first network.
const firstMarker = "first\n"

// firstOf is the first network among dirs (container id's networks),
// moved to the front.
func firstOf(dirs []string, id string) []string {
	for i, dir := range dirs {
		if b, _ := os.ReadFile(filepath.Join(dir, "files", id+multiSuffix)); string(b) == firstMarker {
			return append(append([]string{dir}, dirs[:i]...), dirs[i+1:]...)
		}
	}
	return dirs
}

// removeMarker removes container id's marker from the network in dir and
// says whether it had one.
func removeMarker(dir, id string) bool {
	return os.Remove(filepath.Join(dir, "files", id+multiSuffix)) == nil
}

// networksOf are the directories of the networks under netsDir on which
// container id has an attachment.
func networksOf(netsDir, id string) []string {
	entries, _ := os.ReadDir(netsDir)
	var out []string
	for _, e := range entries {
		dir := filepath.Join(netsDir, e.Name())
		if st, err := os.Stat(filepath.Join(dir, "files", id)); err == nil && st.IsDir() {
			out = append(out, dir)
		}
	}
	return out
}

// rewriteHostsOf writes container id's hosts file on each of its
// networks: localhost, then the running members of every one of them
// (self counts as running), then its --add-host lines.
func rewriteHostsOf(netsDir, id string, self ...string) error {
	lock, err := flock.Open(filepath.Join(netsDir, hostsLockFile), os.O_CREATE, unix.LOCK_EX)
	if err != nil {
		return fmt.Errorf("lock the hosts files: %w", err)
	}
	defer lock.Close()
	dirs := firstOf(networksOf(netsDir, id), id)
	lines := localhostLines
	for _, dir := range dirs {
		files := filepath.Join(dir, "files")
		entries, _ := os.ReadDir(files)
		for _, e := range entries {
			member := e.Name()
			if isMarker(member) || (member != id && !contains(self, member) && !held(filepath.Join(files, member))) {
				continue
			}
			if b, err := os.ReadFile(filepath.Join(files, member, "names")); err == nil {
				lines += string(b)
			}
		}
	}
	var errs []error
	for _, dir := range dirs {
		own := filepath.Join(dir, "files", id)
		extra, _ := os.ReadFile(filepath.Join(own, extraHostsFile))
		if err := os.WriteFile(filepath.Join(own, "hosts"), append([]byte(lines), extra...), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Join connects running container id, whose network namespace is at
// nsPath, to n from outside its run (berth network connect): an address,
// network files and a second veth, named ethN inside. The attachment
// lives as long as the container's lifetime lock, ownerLock, is held; the
// next berth command after the container stops collects it. Its other
// networks' members and its own hosts files name each other from then
// on. first is the container's first network. On error nothing is left.
func (n *Network) Join(id string, o AttachOptions, nsPath, ownerLock, first string) (*Attachment, error) {
	o.Secondary, o.MultiHomed, o.Ports = true, true, nil
	var marked []string
	unmark := func() {
		for _, dir := range marked {
			removeMarker(dir, id)
		}
	}
	for _, dir := range networksOf(filepath.Dir(n.dir), id) {
		if _, err := os.Stat(filepath.Join(dir, "files", id+multiSuffix)); err == nil {
			continue
		}
		if err := (&Network{dir: dir}).markMultiHomed(id, filepath.Base(dir) == first); err != nil {
			unmark()
			return nil, err
		}
		marked = append(marked, dir)
	}
	a, err := n.AttachOpts(id, o)
	if err != nil {
		unmark()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(a.filesDir, ownerFile), []byte(ownerLock+"\n"), 0o644); err != nil {
		_ = a.Release()
		unmark()
		return nil, fmt.Errorf("network files: %w", err)
	}
	if err := a.ConnectNS(nsPath); err != nil {
		_ = a.Release()
		unmark()
		return nil, err
	}
	// From here on the container's lifetime lock keeps it.
	a.lock.Close()
	a.lock = nil
	n.event("connect", id)
	return a, nil
}

// Leave disconnects container id from n (berth network disconnect): the
// veth the container has into n's bridge, if running, its rules, address
// and files. Its other networks' members no longer name it, nor it them.
func (n *Network) Leave(id string) error {
	for _, ifname := range []string{hostIf(id), secondaryIf(id, n.Name)} {
		if err := link.DetachFrom(ifname, n.Bridge); err != nil {
			return fmt.Errorf("disconnect from network %s: %w", n.Name, err)
		}
	}
	return n.release(id, removeOwner(id))
}

// SetNames changes the names other members resolve container id by on n
// (berth rename): names as Attach takes them. A container not on n is
// left alone.
func (n *Network) SetNames(id string, names []string) error {
	path := filepath.Join(n.dir, "files", id, "names")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	addr, _, _ := strings.Cut(string(b), "\t")
	return n.locked(func() error {
		if err := os.WriteFile(path, []byte(addr+"\t"+strings.Join(names, " ")+"\n"), 0o644); err != nil {
			return fmt.Errorf("network %s: %w", n.Name, err)
		}
		_, err := n.rewriteHosts("")
		return err
	})
}
