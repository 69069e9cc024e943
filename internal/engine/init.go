package engine

import (
	"os"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/rootless"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// InitBinary is the init that --init runs as the container's PID 1
// (cmd/berth-pid1: a static C program that forwards signals to the
// command and reaps zombies, as Docker's docker-init), installed beside
// berth.
const InitBinary = "berth-pid1"

// InitPath is where the container sees it: in its /dev, a tmpfs berth
// makes for each container, so nothing is written to its root filesystem
// (a read-only one works) and nothing of the image can be in the way.
const InitPath = "/dev/init"

// overflowUID is how a user namespace shows a file of an ID it does not
// map (the host's root, to a rootless berth).
const overflowUID = 65534

// initBinary is berth-pid1's path beside berth's own binary, if it is
// there, a regular executable file of root's that no one else may
// write: the container gets it by a read-only bind mount (a writable
// runtime binary in a container is CVE-2019-5736), from a file only
// root can replace.
func initBinary() (string, error) {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return "", err
	}
	path := filepath.Join(filepath.Dir(self), InitBinary)
	var st unix.Stat_t
	err = unix.Stat(path, &st)
	owner := st.Uid == 0 || rootless.Active() && st.Uid == overflowUID
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || !owner || st.Mode&0o022 != 0 || st.Mode&0o100 == 0 {
		return "", errdefs.New(errdefs.ErrInvalidArgument, "--init needs %s beside berth in %s, root's and writable by root alone: reinstall berth (make install), or drop --init", InitBinary, filepath.Dir(self))
	}
	return path, nil
}

// withInit makes berth-pid1 the container's PID 1, running its command:
// mounted read-only, nosuid and nodev at InitPath, as Docker mounts
// docker-init.
func withInit(s *specs.Spec) error {
	path, err := initBinary()
	if err != nil {
		return err
	}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: InitPath, Type: "bind", Source: path,
		Options: []string{"bind", "ro", "nosuid", "nodev"}})
	s.Process.Args = append([]string{InitPath, "--"}, s.Process.Args...)
	return nil
}
