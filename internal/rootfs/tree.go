package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// CloneTrees runs in the parent, in the host's namespaces, before the
// init stage starts: for each bind mount that needs it, it clones the
// source's mount tree (open_tree OPEN_TREE_CLONE) into a detached mount
// that the init stage attaches at the destination (move_mount). An
// idmapped bind gets its user namespace's mapping here, where the
// mappings can be written. In a container with a user namespace
// (userns), every plain bind is cloned here too: its source may be out
// of reach of the namespace's root (a 0700 directory of the host's root),
// as runc opens such sources before entering the namespace. Recursive
// binds are left to the init stage, whose copy of the host's submounts
// the kernel locks (a cloned tree's submounts could be unmounted by the
// container's root). The result has one entry per mount, nil where the
// init stage mounts by itself; the caller closes the files.
func CloneTrees(mounts []Mount, userns bool) ([]*os.File, error) {
	var trees []*os.File
	for i, m := range mounts {
		plainBind := m.IsBind() && m.Flags&unix.MS_REC == 0
		if m.IDMap == nil && !(userns && plainBind) {
			continue
		}
		if trees == nil {
			trees = make([]*os.File, len(mounts))
		}
		f, err := cloneTree(m)
		if err != nil {
			CloseTrees(trees)
			return nil, fmt.Errorf("mount %s: %w", m.Destination, err)
		}
		trees[i] = f
	}
	return trees, nil
}

// CloneCgroupTrees runs in the parent, in the host's namespaces, for a
// container with a user namespace whose config mounts cgroups: it clones
// the container's own cgroup directory of each hierarchy (path in each;
// one per c.CgroupHierarchies entry, one on v2) with open_tree, where
// every directory on the way is reachable, as runc opens its bind sources
// before it enters the user namespace. The init stage attaches them where
// the kernel refuses it a cgroup mount: always without a cgroup namespace
// of its own (podman on v1), and with one on kernels before 6.16 when an
// ancestor of the container's cgroup is a directory the namespace's root
// cannot search (an engine's 0700 parent), since the mount then looks the
// cgroup up from the hierarchy's root with the caller's permissions. Nil
// where there is nothing to clone, the kernel lacks open_tree or the
// caller may not clone mounts (the init stage binds by path then). The
// caller closes the files.
func CloneCgroupTrees(c *Config, path string) ([]*os.File, error) {
	if !mountsCgroups(c.Mounts) {
		return nil, nil
	}
	sources := cgroupSources(c.CgroupHierarchies, path)
	trees := make([]*os.File, 0, len(sources))
	for _, source := range sources {
		f, err := cloneCgroupDir(source)
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
			// No open_tree, or no right to clone mounts here (a
			// runtime without CAP_SYS_ADMIN over the host's mounts).
			CloseTrees(trees)
			return nil, nil
		}
		if err != nil {
			CloseTrees(trees)
			return nil, err
		}
		trees = append(trees, f)
	}
	return trees, nil
}

// mountsCgroups reports whether mounts include a cgroup file system that
// mountCgroup mounts (a bind of type cgroup is a plain bind).
func mountsCgroups(mounts []Mount) bool {
	for _, m := range mounts {
		if (m.Type == "cgroup" || m.Type == "cgroup2") && !m.IsBind() {
			return true
		}
	}
	return false
}

// cgroupSources are the host's directories of cgroup path: one per v1
// hierarchy, in their order, or the one of v2 (no hierarchies).
func cgroupSources(hierarchies []string, path string) []string {
	if len(hierarchies) == 0 {
		return []string{filepath.Join(cgroupRoot, path)}
	}
	out := make([]string, len(hierarchies))
	for i, h := range hierarchies {
		out[i] = filepath.Join(cgroupRoot, strings.TrimPrefix(h, "name="), path)
	}
	return out
}

// cloneCgroupDir clones the mount of a cgroup directory, which must be a
// directory of a cgroup file system.
func cloneCgroupDir(source string) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, source, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return nil, fmt.Errorf("clone cgroup %s: %w", source, err)
	}
	tree := os.NewFile(uintptr(fd), source)
	if err := checkCgroupDir(tree); err != nil {
		tree.Close()
		return nil, err
	}
	return tree, nil
}

// checkCgroupDir fails unless f is a directory of a cgroup file system.
func checkCgroupDir(f *os.File) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	if st.Type != unix.CGROUP_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("%s is not a cgroup directory", f.Name())
	}
	return nil
}

// CloseTrees closes what CloneTrees returned.
func CloseTrees(trees []*os.File) {
	for _, f := range trees {
		if f != nil {
			f.Close()
		}
	}
}

func cloneTree(m Mount) (*os.File, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if m.Flags&unix.MS_REC != 0 {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, m.Source, flags)
	if errors.Is(err, unix.ENOSYS) {
		return nil, errors.New("idmapped mounts, and bind mounts in a user namespace, need open_tree(2), Linux 5.2 or later (idmapped: 5.12)")
	}
	if err != nil {
		return nil, fmt.Errorf("clone bind source %s: %w", m.Source, err)
	}
	tree := os.NewFile(uintptr(fd), m.Source)
	if m.IDMap != nil {
		if err := idmapTree(tree, m.IDMap); err != nil {
			tree.Close()
			return nil, err
		}
	}
	return tree, nil
}

// idmapTree makes the detached tree an idmapped mount, with a user
// namespace that carries the mapping (the namespace is only a carrier of
// the mapping; the mount keeps a reference to it).
func idmapTree(tree *os.File, idmap *IDMap) error {
	if len(idmap.UIDs) == 0 || len(idmap.GIDs) == 0 {
		return errors.New("an idmapped mount needs both uid and gid mappings")
	}
	userns, err := usernsWithMapping(idmap)
	if err != nil {
		return err
	}
	defer userns.Close()
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	flags := uint(unix.AT_EMPTY_PATH)
	if idmap.Recursive {
		flags |= unix.AT_RECURSIVE
	}
	if err := unix.MountSetattr(int(tree.Fd()), "", flags, &attr); err != nil {
		return fmt.Errorf("idmap the mount of %s (its file system must support idmapped mounts): %w", tree.Name(), err)
	}
	return nil
}

// usernsWithMapping returns a user namespace with the mapping, held by a
// process that never runs: started with PTRACE_TRACEME it stops at its
// exec, its namespace is opened, and it is killed (runc does the same).
func usernsWithMapping(idmap *IDMap) (*os.File, error) {
	// The tracer of the stopped child is this thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p, err := os.StartProcess("/proc/self/exe", []string{"idmap-userns"}, &os.ProcAttr{
		Sys: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: sysIDMap(idmap.UIDs),
			GidMappings: sysIDMap(idmap.GIDs),
			Ptrace:      true,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create a user namespace for the mapping: %w", err)
	}
	defer func() {
		_ = p.Kill()
		_, _ = p.Wait()
	}()
	f, err := os.Open("/proc/" + strconv.Itoa(p.Pid) + "/ns/user")
	if err != nil {
		return nil, fmt.Errorf("open the mapping's user namespace: %w", err)
	}
	return f, nil
}

func sysIDMap(r []IDRange) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(r))
	for i, e := range r {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

// attachTree moves the detached tree the parent cloned onto target.
func attachTree(m Mount, target *os.File) error {
	return attachFD(m.TreeFD, target)
}

// attachFD moves the detached tree fd onto target, and closes fd.
func attachFD(fd int, target *os.File) error {
	defer unix.Close(fd)
	return unix.MoveMount(fd, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

// OverlayTree runs in the parent, in the host's namespaces: it makes the
// container's overlay root as a detached mount whose lower layers are an
// idmapped clone of the layers directory, for the init stage to attach
// at the root (a user namespace's root could neither idmap the layers
// nor reach them in a 0700 image store). The overlay is made in the
// host's user namespace, as an overlay mounted on the host would be;
// files that the container creates land in the upper layer with its
// host IDs. Needs overlay's layers by file descriptor (Linux 6.13);
// errors.Is(err, ErrNoIDMappedOverlay) says the kernel lacks a piece.
func OverlayTree(o *Overlay) (*os.File, error) {
	layers, err := unix.OpenTree(unix.AT_FDCWD, o.LayersDir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("%w: clone the image layers %s: %v", ErrNoIDMappedOverlay, o.LayersDir, err)
	}
	tree := os.NewFile(uintptr(layers), o.LayersDir)
	defer tree.Close()
	if err := idmapTree(tree, o.IDMap); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoIDMappedOverlay, err)
	}
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("%w: fsopen overlay: %v", ErrNoIDMappedOverlay, err)
	}
	defer unix.Close(fsfd)
	setDir := func(key string, dirfd int, path string) error {
		fd, err := unix.Openat(dirfd, path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			return fmt.Errorf("overlay %s %s: %w", key, path, err)
		}
		defer unix.Close(fd)
		if err := unix.FsconfigSetFd(fsfd, key, fd); err != nil {
			return fmt.Errorf("%w: overlay %s by descriptor: %v", ErrNoIDMappedOverlay, key, err)
		}
		return nil
	}
	// lowerdir+ appends below the layers given before: top first, as in
	// a lowerdir= list.
	for _, l := range o.Lower {
		if err := setDir("lowerdir+", int(tree.Fd()), l); err != nil {
			return nil, err
		}
	}
	if err := setDir("upperdir", unix.AT_FDCWD, o.Upper); err != nil {
		return nil, err
	}
	if err := setDir("workdir", unix.AT_FDCWD, o.Work); err != nil {
		return nil, err
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("%w: create overlay: %v", ErrNoIDMappedOverlay, err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("mount overlay: %w", err)
	}
	return os.NewFile(uintptr(mfd), "overlay"), nil
}

// ShiftedOverlayTree makes, in the parent, the container's overlay root
// as a detached mount over o's lower layers as they are (o.Shifted: a
// copy chowned into the container's range), for the init stage to attach
// as it does OverlayTree's. The layers are named by path (fsopen: Linux
// 5.2), not by descriptor, so it works where OverlayTree cannot.
func ShiftedOverlayTree(o *Overlay) (*os.File, error) {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fsfd)
	lower := make([]string, len(o.Lower))
	for i, l := range o.Lower {
		lower[i] = filepath.Join(o.LayersDir, l)
	}
	// Named by descriptor: the paths joined are longer than one
	// fsconfig value may be (lowerdirValue).
	lowerdir, release, err := lowerdirValue(lower)
	if err != nil {
		return nil, err
	}
	defer release()
	for _, kv := range [][2]string{{"lowerdir", lowerdir}, {"upperdir", o.Upper}, {"workdir", o.Work}} {
		if err := unix.FsconfigSetString(fsfd, kv[0], kv[1]); err != nil {
			if kv[0] == "lowerdir" {
				kv[1] = strings.Join(lower, ":")
			}
			return nil, fmt.Errorf("overlay %s %s: %w", kv[0], kv[1], err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("create overlay of the chowned copy: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("mount overlay: %w", err)
	}
	return os.NewFile(uintptr(mfd), "overlay"), nil
}

// ErrNoIDMappedOverlay means the kernel cannot make an overlay of
// idmapped layers by descriptor; the caller falls back to a copy.
var ErrNoIDMappedOverlay = errors.New("the kernel cannot make an overlay of idmapped layers")

// IDMappedOverlay reports whether the kernel can make OverlayTree's
// overlay: idmapped layers (5.19) given to overlay by descriptor (6.13).
// Older kernels get a chowned copy of the image instead.
func IDMappedOverlay() bool {
	major, minor := kernelVersion()
	return major > 6 || major == 6 && minor >= 13
}

// IDMapSupported reports whether the file system holding path takes
// idmapped mounts on this kernel, going by its type: ext4, xfs, btrfs and
// most disk file systems since 5.12–5.19, tmpfs since 6.3; overlay and
// network file systems not at all. Unknown types answer false.
func IDMapSupported(path string) bool {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return false
	}
	major, minor := kernelVersion()
	atLeast := func(a, b int) bool { return major > a || major == a && minor >= b }
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC:
		return atLeast(5, 12)
	case unix.BTRFS_SUPER_MAGIC, unix.F2FS_SUPER_MAGIC:
		return atLeast(5, 15)
	case unix.TMPFS_MAGIC:
		return atLeast(6, 3)
	}
	return false
}

func kernelVersion() (major, minor int) {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return 0, 0
	}
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor)
	return major, minor
}

// DetachedOverlay makes o's overlay as a detached mount, its layers as
// they are, for the host to read or write a stopped container's files
// (berth cp, export) without attaching it anywhere. Each layer is given
// by path as its own "lowerdir+" (Linux 6.8): a joined lowerdir string is
// limited to 256 bytes by fsconfig, a few layers' worth. Older kernels
// get the joined string, enough for an image of a few layers.
func DetachedOverlay(o *Overlay) (*os.File, error) {
	// Before 6.5 overlay took its options through the legacy parser,
	// which accepts any key at fsconfig time and refuses lowerdir+ only
	// at create; lowerdir+ itself came in 6.8.
	if major, minor := kernelVersion(); major < 6 || major == 6 && minor < 8 {
		return ShiftedOverlayTree(o)
	}
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fsfd)
	for i, l := range o.Lower {
		err := unix.FsconfigSetString(fsfd, "lowerdir+", filepath.Join(o.LayersDir, l))
		if err == unix.EINVAL && i == 0 {
			return ShiftedOverlayTree(o)
		}
		if err != nil {
			return nil, fmt.Errorf("overlay lowerdir+ %s: %w", l, err)
		}
	}
	for _, kv := range [][2]string{{"upperdir", o.Upper}, {"workdir", o.Work}} {
		if err := unix.FsconfigSetString(fsfd, kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("overlay %s %s: %w", kv[0], kv[1], err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("create overlay: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("mount overlay: %w", err)
	}
	return os.NewFile(uintptr(mfd), "overlay"), nil
}
