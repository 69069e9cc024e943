package selfexe

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// EnvVouched names, for a berth process started in the user namespace of
// a rootless berth, the descriptors of the stages its starter opened and
// found to be host root's and writable by root alone:
// "berth-init=FD,berth-nsenter=FD". Inside that namespace the host's root
// is unmapped, so their owner shows as the overflow ID (nobody) and the
// check openInstalled makes cannot be made there; without the mark berth
// would fall back to executing its whole self as the init stage.
const EnvVouched = "_BERTH_ROOT_OWNED"

// vouched holds the stages adopted from EnvVouched, by name.
var vouched = map[string]*os.File{}

// vouchable are the binaries beside berth that a rootless berth runs
// inside its user namespace, where the host's root owns nothing and the
// check that they are root's alone (openInstalled) cannot be made: the
// two stages, berth build's helper (which runs RUN steps' containers
// with them), and the registry and --format helpers.
var vouchable = []string{InitName, NsenterName, BuildName, RegistryName, FormatName}

// Vouch returns the stages to hand to a berth process started in a user
// namespace that does not map the host's root, to append to its
// ExtraFiles (the caller closes them once it has started), and the environment entry that names them there, given the
// descriptor number the first will have. Only what this process can vouch
// for is handed: the stages it adopted itself, or, for an unprivileged
// process of the host's user namespace, those installed as root's beside
// it. The entry is always returned, empty if nothing is handed, so that a
// value in the caller's environment is never passed on.
func Vouch(firstFD int) ([]*os.File, string) {
	var files []*os.File
	var marks []string
	for _, name := range vouchable {
		f, ok := dupVouched(name)
		if !ok && len(vouched) == 0 && unprivileged() && initialUserNamespace() {
			f, _, ok = openInstalled(name)
		}
		if ok {
			marks = append(marks, fmt.Sprintf("%s=%d", name, firstFD+len(files)))
			files = append(files, f)
		}
	}
	return files, EnvVouched + "=" + strings.Join(marks, ",")
}

func dupVouched(name string) (*os.File, bool) {
	v, ok := vouched[name]
	if !ok {
		return nil, false
	}
	fd, err := unix.FcntlInt(v.Fd(), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, false
	}
	return os.NewFile(uintptr(fd), v.Name()), true
}

// Adopt takes the stages EnvVouched names, when inside is true (this
// process is a rootless berth in its own user namespace, where it was
// started with them; see rootless.Inside), and removes the variable, so
// that nothing it starts inherits a mark without the descriptors. A
// descriptor is adopted only if it is the file of that name beside the
// running binary (same device and inode), so a mark can never make berth
// run anything else. It is made close-on-exec: only Vouch passes it on.
func Adopt(inside bool) {
	v, ok := os.LookupEnv(EnvVouched)
	if !ok {
		return
	}
	os.Unsetenv(EnvVouched)
	if inside {
		adopt(v, ownDir())
	}
}

// adopt takes the stages mark v names that are the files of their name
// in dir.
func adopt(v, dir string) {
	for _, mark := range strings.Split(v, ",") {
		name, num, _ := strings.Cut(mark, "=")
		fd, err := strconv.Atoi(num)
		if err != nil || fd < 3 || !slices.Contains(vouchable, name) {
			continue
		}
		if f, ok := adoptFD(filepath.Join(dir, name), fd); ok {
			vouched[name] = f
		}
	}
}

func adoptFD(path string, fd int) (*os.File, bool) {
	var st, want unix.Stat_t
	if unix.Fstat(fd, &st) != nil || unix.Stat(path, &want) != nil {
		return nil, false
	}
	if st.Dev != want.Dev || st.Ino != want.Ino || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o022 != 0 {
		return nil, false
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), path), true
}

// openVouched is the read-only handle of an adopted stage: a detached
// read-only mount of it, opened by path in this mount namespace (the
// descriptor is in the host's, which open_tree refuses) and checked to
// be the same file; else a new read-only handle of the adopted one. Both
// are safe: no one in a user namespace that does not map the host's root
// can write a file the host's root owns and no one else may write.
func openVouched(v *os.File) (*os.File, error) {
	var want unix.Stat_t
	if err := unix.Fstat(int(v.Fd()), &want); err != nil {
		return nil, fmt.Errorf("open %s: %w", v.Name(), err)
	}
	if h, err := detachedReadonly(v.Name()); err == nil {
		var st unix.Stat_t
		if unix.Fstat(int(h.Fd()), &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			return h, nil
		}
		h.Close()
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(int(v.Fd())), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", v.Name(), err)
	}
	return os.NewFile(uintptr(fd), v.Name()), nil
}
