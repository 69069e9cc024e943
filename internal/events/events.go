// Package events is berth's event journal, what `berth events` reads.
// Docker's daemon sees every change and streams it; berth has no daemon,
// so each command appends what it did to a file of JSON lines under the
// root directory, and `berth events` reads that file and follows it.
//
// Each event is one write(2) of one line shorter than PIPE_BUF to a file
// opened with O_APPEND: the kernel appends every such write whole, so
// concurrent berth commands never interleave their lines. There is no
// fsync: an event is a notice, not state (a crash may lose the last
// ones). The file is bounded: past MaxSize the writer that notices renames
// it to NAME.1 (replacing the older one) and the next write starts a new
// file, so the journal holds between MaxSize and twice that.
package events

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Docker's event types.
const (
	Container = "container"
	Image     = "image"
	Volume    = "volume"
	Network   = "network"
)

// MaxSize is the size past which the journal rotates.
const MaxSize = 1 << 20

// maxLine keeps one event a single atomic append (PIPE_BUF).
const maxLine = 4096

// Actor is what an event is about: its ID and attributes (name, image,
// labels, exitCode, signal...).
type Actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// Event is one event in Docker's JSON (status, id and from are Docker's
// older fields, kept for container and image events as Docker does).
type Event struct {
	Status   string `json:"status,omitempty"`
	ID       string `json:"id,omitempty"`
	From     string `json:"from,omitempty"`
	Type     string `json:"Type"`
	Action   string `json:"Action"`
	Actor    Actor  `json:"Actor"`
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// When is the event's time.
func (e Event) When() time.Time { return time.Unix(0, e.TimeNano) }

// Journal is the journal file at Path.
type Journal struct{ Path string }

// Emit appends one event of type typ now. Failures are ignored: an event
// that cannot be written must not fail what it reports (a read-only or
// full root is reported by the operation's own writes).
func (j Journal) Emit(typ, action, id string, attrs map[string]string) {
	if j.Path == "" {
		return
	}
	now := time.Now()
	e := Event{Type: typ, Action: action, Actor: Actor{ID: id, Attributes: attrs}, Scope: "local",
		Time: now.Unix(), TimeNano: now.UnixNano()}
	if typ == Container || typ == Image {
		e.Status, e.ID = action, id
		if typ == Container {
			e.From = attrs["image"]
		}
	}
	_ = j.Append(e)
}

// Append writes e as one line, keeping it under PIPE_BUF (long attributes,
// labels mostly, are dropped, the name and image kept).
func (j Journal) Append(e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if len(b) >= maxLine {
		kept := map[string]string{}
		for _, k := range []string{"name", "image", "exitCode", "signal", "type"} {
			if v, ok := e.Actor.Attributes[k]; ok && len(v) < 256 {
				kept[k] = v
			}
		}
		e.Actor.Attributes = kept
		if b, err = json.Marshal(e); err != nil {
			return err
		}
		if len(b) >= maxLine {
			return errors.New("event too long")
		}
	}
	b = append(b, '\n')
	fd, err := unix.Open(j.Path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, b); err != nil {
		return err
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Size > MaxSize {
		j.rotate(st)
	}
	return nil
}

// rotate renames the journal to NAME.1 under a lock, if it is still the
// file this writer found too big (another writer may have rotated it).
func (j Journal) rotate(big unix.Stat_t) {
	lock, err := os.OpenFile(j.Path+".lock", os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return
	}
	defer lock.Close()
	if unix.Flock(int(lock.Fd()), unix.LOCK_EX) != nil {
		return
	}
	var st unix.Stat_t
	if unix.Stat(j.Path, &st) == nil && st.Ino == big.Ino && st.Dev == big.Dev {
		_ = os.Rename(j.Path, j.Path+".1")
	}
}

// Dir is the directory the journal is in, which a follower watches.
func (j Journal) Dir() string { return filepath.Dir(j.Path) }

// files are the journal's files, oldest first, that exist.
func (j Journal) files() []string {
	var out []string
	for _, p := range []string{j.Path + ".1", j.Path} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			out = append(out, p)
		}
	}
	return out
}

// At is the journal of the berth root directory root.
func At(root string) Journal { return Journal{Path: filepath.Join(root, "events.log")} }
