package state

import (
	"encoding/binary"
	"os"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/atomicdir"
	"golang.org/x/sys/unix"
)

// Collect removes the records whose owner is gone, after cleanup has
// released what they list. A record whose cleanup fails is kept for the
// next collection. Temporary records whose creator is gone, or older than
// a minute, are dropped: they never owned anything; so are removals that
// were interrupted.
//
// Every start collects, and engines keep containers by the hundred (each
// created one is kept until delete), so what collection costs per kept
// record is paid at every start: it was a stat of the record's kept
// marker (300 kept records made a berth-oci run take 1.13 times as long,
// docs/bench.md). The root and the kept index (keptIndex) are read as two
// directory listings, names and types only, and an indexed record costs
// nothing more.
func (s Store) Collect(cleanup func(Record) error) {
	entries, ok := listDir(s.Root)
	if !ok {
		return
	}
	kept := map[string]bool{}
	indexed, _ := listDir(filepath.Join(s.Root, keptIndex))
	for _, e := range indexed {
		kept[e.name] = true
	}
	present := make(map[string]bool, len(kept))
	for _, e := range entries {
		name := e.name
		if !e.dir || name == "names" || name == keptIndex {
			continue
		}
		dir := filepath.Join(s.Root, name)
		switch {
		case atomicdir.IsRemoving(name):
			os.RemoveAll(dir)
		case atomicdir.IsCreating(name):
			if atomicdir.Abandoned(dir) {
				// Its creator may have claimed a name before it died: the
				// record, written first, says which.
				if rec, err := readRecord(dir); err == nil {
					s.releaseName(rec)
				}
				os.RemoveAll(dir)
				s.collectNames()
			}
		case kept[name]:
			present[name] = true
		default:
			s.collectOne(dir, cleanup)
		}
	}
	// An entry whose record is gone (removed by hand) must not vouch for
	// a later record of that ID; dropping one is always safe.
	for name := range kept {
		if !present[name] {
			dropKept(s.Root, name)
		}
	}
}

// keptIndex, under the root, names the kept records (an empty file each),
// so that collection passes them without a system call each. It may miss
// a kept record, never name one that is not: an entry is made by the
// record's owner after the record's own kept marker, and dropped before
// the record is removed; an entry without its record is dropped by the
// next collection. A record it misses gets the closer look (its marker).
const keptIndex = ".kept"

func addKept(root, id string) {
	dir := filepath.Join(root, keptIndex)
	path := filepath.Join(dir, id)
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	for try := 0; err == unix.ENOENT && try < 3; try++ {
		// No index yet, or a dropKept took the last entry's away.
		if merr := os.Mkdir(dir, 0o700); merr == nil || os.IsExist(merr) {
			fd, err = unix.Open(path, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
		}
	}
	if err == nil {
		unix.Close(fd)
	}
}

// dropKept drops id's entry, and the index with its last one: a root
// whose containers are all deleted is left empty, as runc leaves it
// (containerd's shim and engines' tests look). An addKept meanwhile finds
// no index and makes it again.
func dropKept(root, id string) {
	dir := filepath.Join(root, keptIndex)
	if unix.Unlink(filepath.Join(dir, id)) == nil {
		_ = unix.Rmdir(dir) // fails while other entries are left
	}
}

// dirent is a directory entry as the kernel lists it.
type dirent struct {
	name string
	dir  bool // a directory, or a file system that does not say
}

// listDir lists dir's entries, names and types only, from the kernel's
// listing (getdents64) without os.ReadDir's sorting and per-entry values;
// ok is false when dir cannot be opened.
func listDir(dir string) (entries []dirent, ok bool) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	defer unix.Close(fd)
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return entries, true
		}
		entries = parseDirents(buf[:n], entries)
	}
}

// parseDirents appends the entries of a getdents64 buffer: each is an
// inode (8 bytes), an offset (8), its length (2), a type (1) and a
// NUL-terminated name, padded to 8 bytes. "." and ".." are left out.
func parseDirents(b []byte, entries []dirent) []dirent {
	for len(b) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < 19 || reclen > len(b) {
			break
		}
		name := b[19:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if s := string(name); s != "." && s != ".." && s != "" {
			typ := b[18]
			entries = append(entries, dirent{name: s, dir: typ == unix.DT_DIR || typ == unix.DT_UNKNOWN})
		}
		b = b[reclen:]
	}
	return entries
}
