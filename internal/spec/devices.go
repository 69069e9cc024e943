package spec

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/caps"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// AllCapabilities names every capability berth itself may pass on: the
// kernel's full set less what the host took from berth's bounding set
// (asking for more fails with EPERM in any runtime).
func AllCapabilities() []string { return caps.Bounding() }

// HostDevices lists the host's device nodes under /dev, for --privileged.
// Terminals and the pseudo file systems under /dev are left out: the
// container has its own.
func HostDevices() []specs.LinuxDevice {
	var out []specs.LinuxDevice
	skip := map[string]bool{"/dev/pts": true, "/dev/shm": true, "/dev/mqueue": true, "/dev/console": true, "/dev/ptmx": true, "/dev/hugepages": true}
	_ = filepath.WalkDir("/dev", func(path string, d fs.DirEntry, err error) error {
		if err != nil || skip[path] {
			if d != nil && d.IsDir() && path != "/dev" {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type()&(fs.ModeDevice|fs.ModeCharDevice) == 0 {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(path, &st) != nil {
			return nil
		}
		typ := "b"
		if st.Mode&unix.S_IFMT == unix.S_IFCHR {
			typ = "c"
		}
		mode, uid, gid := os.FileMode(st.Mode&0o777), st.Uid, st.Gid
		out = append(out, specs.LinuxDevice{
			Path: path, Type: typ,
			Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
			FileMode: &mode, UID: &uid, GID: &gid,
		})
		return nil
	})
	return out
}
