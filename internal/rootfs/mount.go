package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// kernelFS are file systems whose destination must not pass through a
// symlink: a hostile image could otherwise have /proc point somewhere the
// masks and read-only paths would miss.
var kernelFS = map[string]bool{"proc": true, "sysfs": true}

func mountOne(root *os.File, m Mount, c *Config) error {
	if m.CopySymlink {
		if done, err := copySymlink(root, m); done || err != nil {
			return err
		}
	}
	if m.Type == "tmpfs" && !m.IsBind() {
		m.Data = withDirMode(root, m)
	}
	target, err := mountTarget(root, m)
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	defer target.Close()
	if err := checkProcTarget(root, target, m); err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	switch {
	case m.IsBind():
		err = bindMount(root, m, target)
	case m.Type == "cgroup" || m.Type == "cgroup2":
		err = mountCgroup(root, m, target, c)
	case m.CopyUp:
		err = mountCopyUp(root, m, target)
	default:
		err = unix.Mount(m.Source, fdName(target), m.Type, m.Flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT), m.Data)
		if errors.Is(err, unix.EPERM) && m.Type == "sysfs" {
			err = bindHostSysfs(root, target, m)
		}
		if data, ok := withoutGid(m, err); ok {
			if unix.Mount(m.Source, fdName(target), m.Type, m.Flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT), data) == nil {
				err = nil
			}
		}
		if errors.Is(err, unix.EINVAL) {
			if why := explainData(m); why != nil {
				return why
			}
		}
	}
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", m.Type, m.Destination, err)
	}
	if err := setPropagation(root, m); err != nil {
		return err
	}
	if err := setRecursiveAttrs(root, m); err != nil {
		return err
	}
	return pinDevpts(root, m)
}

// withDirMode is the data of tmpfs mount m with the mode of the directory
// it covers first, so that the tmpfs keeps it unless the options set a
// mode of their own (the last one counts); a tmpfs on a new directory
// keeps tmpfs's 1777. runc compat: runc 1.2 does the same (1.1.5 chmods
// after the mount); podman's --read-only /run would otherwise become
// world-writable where the image's is 0755.
func withDirMode(root *os.File, m Mount) string {
	dir, err := resolveInRoot(root, m.Destination, unix.O_DIRECTORY)
	if err != nil {
		return m.Data
	}
	defer dir.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(dir.Fd()), &st); err != nil {
		return m.Data
	}
	mode := fmt.Sprintf("mode=%04o", st.Mode&0o7777)
	if m.Data == "" {
		return mode
	}
	return mode + "," + m.Data
}

// withoutGid is a devpts mount's data without its gid= option, after the
// kernel refused the mount with EINVAL: the gid is then one the user
// namespace does not map (a rootless user without subordinate IDs has
// only its own ID, as root, and no tty group 5). New terminals are owned
// by the process's own group instead, as podman and crun do it.
func withoutGid(m Mount, err error) (string, bool) {
	if !errors.Is(err, unix.EINVAL) || m.Type != "devpts" {
		return "", false
	}
	var kept []string
	found := false
	for _, o := range strings.Split(m.Data, ",") {
		if strings.HasPrefix(o, "gid=") {
			found = true
			continue
		}
		kept = append(kept, o)
	}
	return strings.Join(kept, ","), found
}

// bindHostSysfs mounts the host's /sys, with all below it, where the
// kernel refuses a sysfs of the container's own: a sysfs belongs to a
// network namespace, and one owned by an ancestor user namespace (the
// host's network, shared by a rootless container) cannot be mounted
// from a user namespace. runc does the same in that case. The copy is
// nosuid, nodev, noexec and, as the config asks, read-only, all through.
func bindHostSysfs(root, target *os.File, m Mount) error {
	if err := unix.Mount("/sys", fdName(target), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind the host's /sys instead of a sysfs of its own: %w", err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC}
	if m.Flags&unix.MS_RDONLY != 0 {
		attr.Attr_set |= unix.MOUNT_ATTR_RDONLY
	}
	mounted, err := openInRoot(root, m.Destination)
	if err != nil {
		return err
	}
	defer mounted.Close()
	if err := unix.MountSetattr(int(mounted.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("bind the host's /sys: %w", err)
	}
	return nil
}

// explainData finds, after the kernel refused a mount with EINVAL, the
// data option it refused, by handing the options one by one to a new
// file system context (fsopen/fsconfig), whose log says why. It returns
// nil where it cannot tell (no fsopen, or every option passes alone).
func explainData(m Mount) error {
	if m.Data == "" {
		return nil
	}
	fd, err := unix.Fsopen(m.Type, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	for _, o := range strings.Split(m.Data, ",") {
		key, value, hasValue := strings.Cut(o, "=")
		if hasValue {
			err = unix.FsconfigSetString(fd, key, value)
		} else {
			err = unix.FsconfigSetFlag(fd, key)
		}
		if err == nil {
			continue
		}
		why := kernelLog(fd)
		if why == "" {
			why = err.Error()
		}
		if strings.Contains(strings.ToLower(why), "unknown parameter") {
			return UnknownOptionError(m.Destination, o, why)
		}
		return fmt.Errorf("mount %s: option %q: %s", m.Destination, o, why)
	}
	return nil
}

// kernelLog reads the messages a file system context logged ("e tmpfs:
// Unknown parameter 'foo'"), without their severity prefix.
func kernelLog(fd int) string {
	var msgs []string
	buf := make([]byte, 256)
	for i := 0; i < 8; i++ {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		msg := string(buf[:n])
		if len(msg) > 2 && msg[1] == ' ' {
			msg = msg[2:]
		}
		msgs = append(msgs, strings.TrimSpace(msg))
	}
	return strings.Join(msgs, "; ")
}

// setRecursiveAttrs applies the r-prefixed options (rro, rnoexec, ...)
// to the new mount and every mount below it, with mount_setattr(2).
func setRecursiveAttrs(root *os.File, m Mount) error {
	if m.RecAttrSet == 0 && m.RecAttrClr == 0 {
		return nil
	}
	mounted, err := openInRoot(root, m.Destination)
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	defer mounted.Close()
	attr := unix.MountAttr{Attr_set: m.RecAttrSet, Attr_clr: m.RecAttrClr}
	err = unix.MountSetattr(int(mounted.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
	if errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("mount %s: recursive mount options (rro, rnoexec, ...) need mount_setattr(2), Linux 5.12 or later", m.Destination)
	}
	if err != nil {
		return fmt.Errorf("mount %s: set recursive attributes: %w", m.Destination, err)
	}
	return nil
}

// copySymlink carries out copy-symlink: when the bind's source is a
// symlink, the destination becomes a symlink with the same target
// instead of a mount. It reports whether it did.
func copySymlink(root *os.File, m Mount) (bool, error) {
	st, err := os.Lstat(m.Source)
	if err != nil || st.Mode()&os.ModeSymlink == 0 {
		return false, nil
	}
	link, err := os.Readlink(m.Source)
	if err != nil {
		return true, fmt.Errorf("mount %s: copy-symlink: %w", m.Destination, err)
	}
	dir, err := mkdirInRoot(root, path.Dir(path.Clean("/"+m.Destination)))
	if err != nil {
		return true, fmt.Errorf("mount %s: copy-symlink: %w", m.Destination, err)
	}
	defer dir.Close()
	name := path.Base(path.Clean("/" + m.Destination))
	err = unix.Symlinkat(link, int(dir.Fd()), name)
	if errors.Is(err, unix.EEXIST) {
		// An image may already have the same link there.
		buf := make([]byte, unix.PathMax)
		if n, rerr := unix.Readlinkat(int(dir.Fd()), name, buf); rerr == nil && string(buf[:n]) == link {
			return true, nil
		}
	}
	if err != nil {
		return true, fmt.Errorf("mount %s: copy-symlink: %w", m.Destination, err)
	}
	return true, nil
}

// mountTarget creates the destination inside root (a file when a file is
// bind-mounted, else a directory) and returns a handle to it.
func mountTarget(root *os.File, m Mount) (*os.File, error) {
	if kernelFS[m.Type] {
		if err := refuseSymlinks(root, m.Destination, m.Type); err != nil {
			return nil, err
		}
	}
	if m.IsBind() {
		var st unix.Stat_t
		var err error
		if m.TreeFD != 0 {
			err = unix.Fstat(m.TreeFD, &st)
		} else if m.IDMap != nil {
			return nil, errors.New("an idmapped mount has no tree from the parent")
		} else {
			err = unix.Stat(m.Source, &st)
		}
		if err != nil {
			return nil, fmt.Errorf("bind source: %w", &os.PathError{Op: "stat", Path: m.Source, Err: err})
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return createFileInRoot(root, m.Destination)
		}
	}
	return mkdirInRoot(root, m.Destination)
}

// refuseSymlinks fails if any existing component of p inside root is a
// symlink.
func refuseSymlinks(root *os.File, p, fsType string) error {
	p = path.Clean("/" + p)
	for dir := p; dir != "/"; dir = path.Dir(dir) {
		var st unix.Stat_t
		err := unix.Fstatat(int(root.Fd()), strings.TrimPrefix(dir, "/"), &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			// runc compat: runc's bats tests (mask.bats) match runc's words.
			return fmt.Errorf("filesystem %q must be mounted on ordinary directory: %s is a symlink inside the rootfs", fsType, dir)
		}
	}
	return nil
}

func bindMount(root *os.File, m Mount, target *os.File) error {
	if m.TreeFD != 0 {
		if err := attachTree(m, target); err != nil {
			return err
		}
	} else if err := unix.Mount(m.Source, fdName(target), "", unix.MS_BIND|(m.Flags&unix.MS_REC), ""); err != nil {
		return err
	}
	extra := m.Flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	if extra == 0 {
		return nil
	}
	// Flags on a bind mount take a second, remounting call, which must
	// name the new mount, not the directory beneath it.
	mounted, err := openInRoot(root, m.Destination)
	if err != nil {
		return err
	}
	defer mounted.Close()
	locked, err := fdMountFlags(mounted)
	if err != nil {
		return err
	}
	return unix.Mount("", fdName(mounted), "", unix.MS_BIND|unix.MS_REMOUNT|extra|(locked&^unix.MS_RDONLY), "")
}

func setPropagation(root *os.File, m Mount) error {
	if len(m.Propagation) == 0 {
		return nil
	}
	mounted, err := openInRoot(root, m.Destination)
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	defer mounted.Close()
	for _, p := range m.Propagation {
		if err := unix.Mount("", fdName(mounted), "", p, ""); err != nil {
			return fmt.Errorf("set propagation of %s: %w", m.Destination, err)
		}
	}
	return nil
}

// mountCgroup shows the container its own cgroups: the cgroup2 file system
// on v2, or a tmpfs holding one mount per v1 hierarchy. With a cgroup
// namespace of its own, each mount's root is the container's cgroup;
// without one, the container's directories are bind-mounted from the
// host's hierarchies instead (as runc does on v1; on v2 runc, too, mounts
// cgroup2, which then shows the whole tree). Where the kernel refuses a
// user namespace the mount, the container's own directories are attached
// from the trees the parent cloned (c.CgroupTreeFDs; see
// CloneCgroupTrees), or else bound by path.
func mountCgroup(root *os.File, m Mount, target *os.File, c *Config) error {
	flags := m.Flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	trees := c.CgroupTreeFDs
	c.CgroupTreeFDs = nil // another cgroup mount binds by path
	if len(c.CgroupHierarchies) == 0 {
		return mountCgroup2(root, m, target, flags, c.CgroupPath, treeAt(trees, 0))
	}
	if err := unix.Mount("cgroup", fdName(target), "tmpfs", flags&^unix.MS_RDONLY, "mode=755"); err != nil {
		return err
	}
	dir, err := openInRoot(root, m.Destination)
	if err != nil {
		return err
	}
	defer dir.Close()
	for i, h := range c.CgroupHierarchies {
		if err := mountHierarchy(dir, h, c.CgroupPath, flags, treeAt(trees, i)); err != nil {
			return err
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		return unix.Mount("", fdName(dir), "", unix.MS_REMOUNT|flags, "mode=755")
	}
	return nil
}

// treeAt is trees[i], or 0 (none).
func treeAt(trees []int, i int) int {
	if i < len(trees) {
		return trees[i]
	}
	return 0
}

// refusedToUserns reports whether a cgroup mount failed as the kernel
// fails it in a user namespace: EPERM without a cgroup namespace it owns
// (EBUSY for cgroup2 on some kernels, which runc also handles), EACCES
// where the cgroup namespace's root lies below a directory the namespace's
// root cannot search (kernels before 6.16).
func refusedToUserns(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EACCES)
}

// mountCgroup2 mounts cgroup2 at target. Where the kernel refuses (a user
// namespace), the container's own cgroup directory is attached from tree,
// or bound from path: runc binds the host's whole /sys/fs/cgroup there,
// which shows the container every other cgroup of the host.
func mountCgroup2(root *os.File, m Mount, target *os.File, flags uintptr, path string, tree int) error {
	err := unix.Mount("cgroup2", fdName(target), "cgroup2", flags, "")
	if err == nil || !refusedToUserns(err) {
		if tree != 0 {
			unix.Close(tree)
		}
		return err
	}
	if tree != 0 {
		err = attachFD(tree, target)
	} else {
		err = bindCgroup(filepath.Join(cgroupRoot, path), target)
	}
	if err != nil {
		return err
	}
	mounted, err := openInRoot(root, m.Destination)
	if err != nil {
		return err
	}
	defer mounted.Close()
	return unix.Mount("", fdName(mounted), "", unix.MS_BIND|unix.MS_REMOUNT|flags, "")
}

// cgroupRoot is where the host's v1 hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// mountHierarchy mounts v1 hierarchy h in dir: with a cgroup namespace
// (path empty) a new mount of it, whose root is the namespace's; without
// one the container's own directory, path in h. That directory is tree
// when the parent cloned it (tree not 0): attached without a cgroup
// namespace, and where the kernel refuses a user namespace the new mount.
// Else it is bound from the host's mount of h.
func mountHierarchy(dir *os.File, h, path string, flags uintptr, tree int) error {
	name := strings.TrimPrefix(h, "name=")
	if err := unix.Mkdirat(int(dir.Fd()), name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create %s: %w", name, err)
	}
	sub, err := openInRoot(dir, name)
	if err != nil {
		return err
	}
	defer sub.Close()
	bound := path != ""
	if path == "" {
		err = unix.Mount("cgroup", fdName(sub), "cgroup", flags, h)
		bound = tree != 0 && refusedToUserns(err)
	}
	switch {
	case !bound:
		if tree != 0 {
			unix.Close(tree)
		}
	case tree != 0:
		err = attachFD(tree, sub)
	default:
		err = bindCgroup(filepath.Join(cgroupRoot, name, path), sub)
	}
	if err == nil && bound {
		// The flags take a remount, of the new mount, not the directory
		// beneath it.
		var mounted *os.File
		if mounted, err = openInRoot(dir, name); err == nil {
			err = unix.Mount("", fdName(mounted), "", unix.MS_BIND|unix.MS_REMOUNT|flags, "")
			mounted.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("cgroup hierarchy %s: %w", h, err)
	}
	// Co-mounted controllers are also reachable by each name, as on hosts.
	if names := strings.Split(name, ","); len(names) > 1 {
		for _, n := range names {
			_ = unix.Symlinkat(h, int(dir.Fd()), n)
		}
	}
	return nil
}

// bindCgroup binds a host cgroup directory, which must be a directory of
// a cgroup file system, on target.
func bindCgroup(source string, target *os.File) error {
	src, err := os.OpenFile(source, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := checkCgroupDir(src); err != nil {
		return err
	}
	return unix.Mount(fdName(src), fdName(target), "", unix.MS_BIND, "")
}

func createDevices(root *os.File, devices []Device) error {
	for _, d := range devices {
		if err := createDevice(root, d); err != nil {
			return fmt.Errorf("create device %s: %w", d.Path, err)
		}
	}
	return nil
}

func createDevice(root *os.File, d Device) error {
	dir, err := mkdirInRoot(root, filepath.Dir(d.Path))
	if err != nil {
		return err
	}
	defer dir.Close()
	name := filepath.Base(d.Path)
	_ = unix.Unlinkat(int(dir.Fd()), name, 0)
	err = unix.Mknodat(int(dir.Fd()), name, d.Mode, int(unix.Mkdev(d.Major, d.Minor)))
	if errors.Is(err, unix.EPERM) {
		return bindHostDevice(root, d)
	}
	if err != nil {
		return err
	}
	if err := unix.Fchownat(int(dir.Fd()), name, int(d.UID), int(d.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	return unix.Fchmodat(int(dir.Fd()), name, d.Mode&0o7777, 0)
}

// bindHostDevice is the fallback where mknod is not allowed: the host's
// node is bind-mounted instead.
func bindHostDevice(root *os.File, d Device) error {
	target, err := createFileInRoot(root, d.Path)
	if err != nil {
		return err
	}
	defer target.Close()
	return unix.Mount(d.Path, fdName(target), "", unix.MS_BIND, "")
}

// devSymlinks adds the links every /dev has, when the config gives the
// container its own /dev.
func devSymlinks(root *os.File, mounts []Mount) error {
	ownDev := false
	for _, m := range mounts {
		ownDev = ownDev || path.Clean(m.Destination) == "/dev"
	}
	if !ownDev {
		return nil
	}
	dev, err := openInRoot(root, "/dev")
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer dev.Close()
	links := [][2]string{
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
		{"pts/ptmx", "ptmx"},
	}
	for _, l := range links {
		if err := unix.Symlinkat(l[0], int(dev.Fd()), l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink /dev/%s: %w", l[1], err)
		}
	}
	return nil
}
