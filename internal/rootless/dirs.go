// Package rootless lets an ordinary user run berth: where the user's
// images and container state live, the subordinate IDs the user may map,
// and re-entering berth in a user namespace (and a mount namespace of its
// own) in which it is root, as podman's rootless mode does.
package rootless

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Dirs are berth's two directories for one user.
type Dirs struct {
	// Data outlives a reboot: images, volumes, networks, container records.
	Data string
	// Run is the state of running containers.
	Run string
	// RunParent, when set, is the directory berth makes for Run itself
	// (the fallback under TMPDIR), which Prepare checks.
	RunParent string
}

// Environment is what the choice of directories depends on, so that it can
// be tested without the process's own environment.
type Environment struct {
	UID    int
	Getenv func(string) string
	// DirOwned reports whether dir exists, is a directory, and is owned
	// by UID and accessible to it only (podman's test of /run/user/UID).
	DirOwned func(dir string) bool
	TempDir  string
}

// ErrNoHome means neither XDG_DATA_HOME nor HOME says where the user's data go.
var ErrNoHome = errors.New("neither XDG_DATA_HOME nor HOME is set")

// UserDirs chooses a rootless user's directories as podman does:
//   - data: $XDG_DATA_HOME/berth, else $HOME/.local/share/berth;
//   - state: $XDG_RUNTIME_DIR/berth, else /run/user/UID/berth when that
//     directory is the user's own, else TMPDIR/berth-run-UID (podman's
//     podman-run-UID) /berth, whose parent Prepare creates with mode 0700.
//
// Relative XDG variables are ignored, as the XDG specification asks.
func UserDirs(e Environment) (Dirs, error) {
	var d Dirs
	switch data, home := e.Getenv("XDG_DATA_HOME"), e.Getenv("HOME"); {
	case filepath.IsAbs(data):
		d.Data = filepath.Join(data, "berth")
	case filepath.IsAbs(home):
		d.Data = filepath.Join(home, ".local", "share", "berth")
	default:
		return Dirs{}, fmt.Errorf("%w: set one of them to find the user's storage, or pass --root", ErrNoHome)
	}
	userRun := filepath.Join("/run/user", strconv.Itoa(e.UID))
	switch run := e.Getenv("XDG_RUNTIME_DIR"); {
	case filepath.IsAbs(run):
		d.Run = filepath.Join(run, "berth")
	case e.DirOwned != nil && e.DirOwned(userRun):
		d.Run = filepath.Join(userRun, "berth")
	default:
		tmp := e.TempDir
		if !filepath.IsAbs(tmp) {
			tmp = "/tmp"
		}
		d.RunParent = filepath.Join(tmp, "berth-run-"+strconv.Itoa(e.UID))
		d.Run = filepath.Join(d.RunParent, "berth")
	}
	return d, nil
}

// ProcessEnvironment is this process's environment, for UserDirs.
func ProcessEnvironment() Environment {
	return Environment{UID: HostUID(), Getenv: os.Getenv, TempDir: os.TempDir(), DirOwned: ownDir}
}

// ownDir reports whether dir is a directory of the caller's (as it sees
// itself: inside berth's user namespace the user is root) with no access
// for others.
func ownDir(dir string) bool {
	var st unix.Stat_t
	if unix.Lstat(dir, &st) != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR && int(st.Uid) == os.Geteuid() && st.Mode&0o077 == 0
}

// Prepare creates the state directory's parent when it is berth's own
// fallback under TMPDIR, and checks that no one else owns it: another
// user could otherwise make it first and read or plant container state.
func Prepare(d Dirs) error {
	parent := d.RunParent
	if parent == "" {
		return nil // under XDG_RUNTIME_DIR or /run/user/UID: the user's own
	}
	if err := os.Mkdir(parent, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create the state directory: %w", err)
	}
	if !ownDir(parent) {
		return fmt.Errorf("state directory %s is not a directory of uid %d with mode 0700: remove it, or set XDG_RUNTIME_DIR", parent, HostUID())
	}
	return nil
}
