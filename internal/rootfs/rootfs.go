// Package rootfs builds a container's file system view inside its new mount
// namespace: it makes the host's mounts private, mounts the config's file
// systems and device nodes under the root filesystem, pivots into it and
// detaches the old root, then masks and write-protects kernel interfaces.
// Every destination is resolved inside the root filesystem (openat2
// RESOLVE_IN_ROOT, filepath-securejoin's emulation where openat2 is
// missing) and mounted through the resulting file descriptor, named in a
// verified procfs (internal/procfs), never in the container's own /proc:
// a hostile image's symlinks or anything mounted over /proc cannot
// redirect a mount. The files it mounts for the container are checked to
// be what they must be: /dev/null the null device, the console a pty of
// the container's own devpts. It runs only in the init stage.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/procfs"
	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// Device is a device node to create in the container.
type Device struct {
	Path  string `json:"path"`
	Mode  uint32 `json:"mode"` // file type and permission bits
	Major uint32 `json:"major"`
	Minor uint32 `json:"minor"`
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
}

// Overlay is a copy-on-write root filesystem: an image's layers below,
// the container's own writable layer on top.
type Overlay struct {
	// LayersDir holds the layers; Lower names them relative to it, top
	// first. Relative names keep the mount options under the kernel's
	// one-page limit for images with many layers.
	LayersDir string   `json:"layersDir"`
	Lower     []string `json:"lower"`
	Upper     string   `json:"upper"`
	Work      string   `json:"work"`
	// IDMap, when set, shows the layers through an idmapped mount with
	// the container's user namespace mapping, so that files of host root
	// are root's inside without a copy. The parent then makes the whole
	// overlay (OverlayTree), and the init stage only attaches TreeFD.
	IDMap *IDMap `json:"idmap,omitempty"`
	// Shifted says the lower layer is a copy of the image already chowned
	// into the container's range (package chowncache), for kernels that
	// cannot idmap the layers: the parent makes the overlay of it as it
	// is (ShiftedOverlayTree), since the namespace's root can reach
	// neither the copy nor, before 5.11, mount an overlay.
	Shifted bool `json:"shifted,omitempty"`
	TreeFD  int  `json:"treeFD,omitempty"`
}

// Config is everything the init stage needs to build the file system.
type Config struct {
	Root     string `json:"root"`
	Readonly bool   `json:"readonly,omitempty"`
	// Overlay, when set, is mounted at Root before anything else. It is
	// mounted in the container's own mount namespace, so it goes away
	// with the container and nothing stays mounted on the host, even if
	// berth is killed.
	Overlay *Overlay `json:"overlay,omitempty"`
	// Cwd is the process's working directory, created inside the root
	// when missing, as runc and crun do.
	Cwd string `json:"cwd,omitempty"`
	// SharedMounts is set when the container has no mount namespace of
	// its own: its mounts land in the host's (under Root, where delete
	// removes them), nothing is made private, and it chroots.
	SharedMounts bool `json:"sharedMounts,omitempty"`
	// Propagation is applied to the whole mount tree first: rprivate by
	// default, so that nothing mounted for the container reaches the
	// host or back; the config's rootfsPropagation when it has one.
	Propagation uintptr `json:"propagation"`
	// RootPropagation, when set, is the rootfsPropagation the config asked
	// for, applied again to the new root alone after pivot_root.
	RootPropagation uintptr  `json:"rootPropagation,omitempty"`
	Mounts          []Mount  `json:"mounts,omitempty"`
	Devices         []Device `json:"devices,omitempty"`
	// CgroupHierarchies are the v1 hierarchies (such as "memory",
	// "cpu,cpuacct" or "name=systemd", as mounting takes them) to show
	// under a "cgroup" mount, each in a directory of its name without
	// "name="; empty on v2.
	CgroupHierarchies []string `json:"cgroupHierarchies,omitempty"`
	MaskedPaths       []string `json:"masked,omitempty"`
	ReadonlyPaths     []string `json:"readonly_paths,omitempty"`

	// CgroupPath is the container's cgroup path in each hierarchy. On v1
	// it is set when the container has no cgroup namespace: its own
	// directory is bind-mounted from the host's hierarchy (as runc shows
	// it), where a new mount would show the host's whole tree from its
	// root. On v2 it is always set: the container's directory is bound
	// where cgroup2 cannot be mounted.
	CgroupPath string `json:"cgroupPath,omitempty"`
	// CgroupTreeFDs, when set, are descriptors the init stage inherits:
	// the container's cgroup directories, one per CgroupHierarchies entry
	// (one on v2), cloned by the parent (CloneCgroupTrees) for a user
	// namespace, and attached where the kernel refuses a cgroup mount, in
	// place of binds resolved inside the namespace.
	CgroupTreeFDs []int `json:"cgroupTreeFDs,omitempty"`
}

// Prepare makes the mount tree private, bind-mounts the root filesystem
// onto itself (pivot_root needs a mount point) and mounts everything the
// config lists beneath it.
func Prepare(c *Config) error {
	if !c.SharedMounts {
		if err := unix.Mount("", "/", "", c.Propagation, ""); err != nil {
			return fmt.Errorf("set the propagation of the mount tree: %w", err)
		}
		if c.Propagation&unix.MS_SHARED != 0 {
			if err := rootParentPrivate(c.Root); err != nil {
				return err
			}
		}
		if err := mountRoot(c); err != nil {
			return err
		}
	}
	root, err := os.OpenFile(c.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer root.Close()
	// Mounts name their targets by descriptor (fdName), in the verified
	// procfs's /proc/self/fd.
	return procfs.InFdDir(func() error {
		for _, m := range c.Mounts {
			if isDev(m) {
				// Devices, /dev/pts and the console go in first;
				// Finish makes it read-only (runc does the same).
				m.Flags &^= unix.MS_RDONLY
			}
			if err := mountOne(root, m, c); err != nil {
				return err
			}
		}
		if err := createDevices(root, c.Devices); err != nil {
			return err
		}
		if err := devSymlinks(root, c.Mounts); err != nil {
			return err
		}
		return createCwd(root, c.Cwd)
	})
}

// rootParentPrivate makes the mount that holds root private, as runc
// does, when the tree was made shared: the rootfs's own mount and
// everything mounted for the container would otherwise propagate to the
// host's peers of that mount, and pivot_root refuses a shared parent.
// Mounts below root that are shared (an rshared bind's source) keep
// their peers: that is what Bidirectional propagation asks for.
func rootParentPrivate(root string) error {
	for dir := filepath.Clean(root); ; dir = filepath.Dir(dir) {
		err := unix.Mount("", dir, "", unix.MS_PRIVATE, "")
		if err == nil {
			return nil
		}
		// EINVAL: dir is not a mount point; its parent may be.
		if !errors.Is(err, unix.EINVAL) || dir == "/" {
			return fmt.Errorf("make the mount holding %s private: %w", root, err)
		}
	}
}

// mountRoot makes Root a mount point, as pivot_root needs: the overlay
// of an image's layers, or the directory bound onto itself.
func mountRoot(c *Config) error {
	if c.Overlay == nil {
		if err := unix.Mount(c.Root, c.Root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind rootfs %s: %w", c.Root, err)
		}
		return nil
	}
	o := c.Overlay
	if o.TreeFD > 0 {
		defer unix.Close(o.TreeFD)
		if err := unix.MoveMount(o.TreeFD, "", unix.AT_FDCWD, c.Root, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("attach overlay root on %s: %w", c.Root, err)
		}
		return nil
	}
	// The lower layers are named relative to the working directory; it
	// changes again (to the container's root) before anything runs.
	if err := unix.Chdir(o.LayersDir); err != nil {
		return fmt.Errorf("image layers: %w", err)
	}
	opts := o.Data()
	if len(opts) >= unix.Getpagesize() {
		return fmt.Errorf("mount overlay root: the image has too many layers (%d) for one overlay mount", len(o.Lower))
	}
	if err := unix.Mount("overlay", c.Root, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay root on %s: %w", c.Root, err)
	}
	return nil
}

// Data is the overlay's mount data, with the layers named relative to
// LayersDir (the working directory when it is mounted). berth-stage gets
// it as it is (initproc.EncodeCompact).
func (o *Overlay) Data() string {
	return "lowerdir=" + strings.Join(o.Lower, ":") + ",upperdir=" + o.Upper + ",workdir=" + o.Work
}

// isDev reports whether m is the container's /dev.
func isDev(m Mount) bool { return filepath.Clean(m.Destination) == "/dev" }

// createCwd creates the working directory inside root if it is missing.
func createCwd(root *os.File, cwd string) error {
	if cwd == "" || cwd == "/" {
		return nil
	}
	if f, err := openInRoot(root, cwd); err == nil {
		return f.Close()
	}
	f, err := mkdirInRoot(root, cwd)
	if err != nil {
		return fmt.Errorf("create working directory %s: %w", cwd, err)
	}
	return f.Close()
}

// EnterRoot makes root the container's /: with pivot_root, or, where that
// cannot work (a root on the initramfs), by moving the root mount over /
// and chroot'ing into it, which is escapable and so only on request.
func EnterRoot(c *Config, noPivot bool) error {
	root := c.Root
	if c.SharedMounts {
		// pivot_root would change the host's root: only chroot is left.
		if err := unix.Chroot(root); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		return unix.Chdir("/")
	}
	if !noPivot {
		return Pivot(root)
	}
	if err := hideKernelFSOutside(root); err != nil {
		return err
	}
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir to rootfs: %w", err)
	}
	if err := unix.Mount(root, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs over /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// hideKernelFSOutside removes, before a chroot without pivot_root, every
// whole procfs and sysfs mounted outside root (the host's /proc and /sys).
// They would stay in the container's mount namespace, and the kernel lets
// a process in a new user namespace mount a procfs or sysfs of its own
// wherever a whole, uncovered one is mounted: it would see a bare /proc
// (/proc/sysrq-trigger) with none of the masks. runc does the same; where
// unmounting is refused, the mount is covered with a tmpfs.
func hideKernelFSOutside(root string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	// mountinfo shows the path with symlinks resolved.
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	for _, mp := range kernelFSMounts(string(b), root) {
		// Unmount events must not reach the host.
		if err := unix.Mount("", mp, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) {
				continue // gone with a mount above it
			}
			return fmt.Errorf("hide %s: %w", mp, err)
		}
		err := unix.Unmount(mp, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) {
			err = unix.Mount("tmpfs", mp, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0")
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("hide %s: %w", mp, err)
		}
	}
	return nil
}

// kernelFSMounts lists, from mountinfo text, the mount points of whole
// (root "/") procfs and sysfs mounts outside root.
func kernelFSMounts(mountinfo, root string) []string {
	var out []string
	for _, line := range strings.Split(mountinfo, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 1 || (g[0] != "proc" && g[0] != "sysfs") || f[3] != "/" {
			continue
		}
		mp := unescapeMountPath(f[4])
		if mp == root || strings.HasPrefix(mp, root+"/") {
			continue
		}
		out = append(out, mp)
	}
	return out
}

// Pivot makes root the container's / and detaches the old root, so no path
// leads back to the host's file systems.
func Pivot(root string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldRoot)
	newRoot, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root: %w", err)
	}
	defer unix.Close(newRoot)
	if err := unix.Fchdir(newRoot); err != nil {
		return fmt.Errorf("chdir to new root: %w", err)
	}
	// pivot_root(".", ".") stacks the old root on top of the new one; it
	// is then unmounted from there without needing a directory for it.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root a slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// Finish runs after Pivot: it masks and write-protects paths, makes the
// root read-only when asked, and applies the root's propagation. Masked
// and read-only paths are resolved inside the new root and mounted
// through their descriptors, in the verified procfs: nothing under the
// container's own /proc or /dev is trusted to be what its name says.
func Finish(c *Config) error {
	if len(c.MaskedPaths)+len(c.ReadonlyPaths) > 0 {
		root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open root: %w", err)
		}
		defer root.Close()
		err = procfs.InFdDir(func() error {
			if err := maskPaths(root, c.MaskedPaths); err != nil {
				return err
			}
			for _, p := range c.ReadonlyPaths {
				if err := readonly(root, p); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, m := range c.Mounts {
		if isDev(m) && m.Flags&unix.MS_RDONLY != 0 {
			if err := remountReadonly("/dev"); err != nil {
				return fmt.Errorf("make /dev read-only: %w", err)
			}
		}
	}
	if c.Readonly {
		if err := remountReadonly("/"); err != nil {
			return fmt.Errorf("make root read-only: %w", err)
		}
	}
	if c.RootPropagation != 0 {
		// On / alone: applied recursively it would override the
		// propagation each bind asked for (an rshared bind under an
		// rslave root). Prepare applied it to the whole tree first.
		if err := unix.Mount("", "/", "", c.RootPropagation&^unix.MS_REC, ""); err != nil {
			return fmt.Errorf("set root propagation: %w", err)
		}
	}
	return nil
}

// maskPaths hides each path: a directory under an empty read-only tmpfs,
// anything else under the container's /dev/null, which must be the null
// device (CVE-2025-31133: a /dev/null swapped for a symlink to a host
// file or a writable /proc file would be mounted over the masked paths).
func maskPaths(root *os.File, paths []string) error {
	var null *os.File
	defer func() {
		if null != nil {
			null.Close()
		}
	}()
	for _, p := range paths {
		target, err := openInRoot(root, p)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
		err = maskOne(root, target, &null)
		target.Close()
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	return nil
}

func maskOne(root, target *os.File, null **os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(target.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.Mount("tmpfs", fdName(target), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=755")
	}
	if *null == nil {
		f, err := openDevNull(root)
		if err != nil {
			return err
		}
		*null = f
	}
	return unix.Mount(fdName(*null), fdName(target), "", unix.MS_BIND, "")
}

// readonly binds p onto itself and remounts the bind read-only.
func readonly(root *os.File, p string) error {
	target, err := openInRoot(root, p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	err = unix.Mount(fdName(target), fdName(target), "", unix.MS_BIND|unix.MS_REC, "")
	target.Close()
	if err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	// The remount must name the new mount, not the one beneath it.
	mounted, err := openInRoot(root, p)
	if err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	defer mounted.Close()
	flags, err := fdMountFlags(mounted)
	if err == nil {
		err = unix.Mount("", fdName(mounted), "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|flags, "")
	}
	if err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	return nil
}

// remountReadonly remounts the mount at p read-only, keeping the flags a
// remount would otherwise clear.
func remountReadonly(p string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", p, err)
	}
	return unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|statfsFlags(&st), "")
}

// fdMountFlags returns the per-mount flags currently set on the mount of
// the open file f.
func fdMountFlags(f *os.File) (uintptr, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", f.Name(), err)
	}
	return statfsFlags(&st), nil
}

// statfsFlags turns statfs's ST_* mount flags into the MS_* flags a
// remount must repeat to keep them.
func statfsFlags(st *unix.Statfs_t) uintptr {
	var flags uintptr
	for _, f := range [][2]uintptr{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
		{unix.ST_RDONLY, unix.MS_RDONLY},
	} {
		if uintptr(st.Flags)&f[0] != 0 {
			flags |= f[1]
		}
	}
	return flags
}

// fdName names an open file for mount(2): its descriptor's number, which
// inside procfs.InFdDir is its entry in the verified procfs's
// /proc/self/fd. mount(2) then acts on exactly the file that was resolved
// inside the rootfs and checked, and nothing mounted over the container's
// /proc can redirect it.
func fdName(f *os.File) string {
	return strconv.Itoa(int(f.Fd()))
}

// openInRoot resolves p inside root, following mounts made so far, and
// returns an O_PATH handle.
func openInRoot(root *os.File, p string) (*os.File, error) {
	return resolveInRoot(root, p, 0)
}

// mkdirInRoot creates directory p (and its parents) inside root.
func mkdirInRoot(root *os.File, p string) (*os.File, error) {
	// Most directories exist: one openat2 finds them.
	if d, err := resolveInRoot(root, p, unix.O_DIRECTORY); err == nil {
		return d, nil
	}
	return pathrs.MkdirAllHandle(root, p, 0o755)
}

// createFileInRoot makes sure a regular file exists at p inside root, for
// bind mounts of files, and returns a handle to it.
func createFileInRoot(root *os.File, p string) (*os.File, error) {
	dir, err := mkdirInRoot(root, filepath.Dir(p))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	fd, err := unix.Openat(int(dir.Fd()), filepath.Base(p), unix.O_CREAT|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0o644)
	if err != nil && !errors.Is(err, unix.EISDIR) {
		return nil, err
	}
	if err == nil {
		unix.Close(fd)
	}
	return openInRoot(root, p)
}

// UnmountUnder detaches every mount at or below dir, deepest first: what a
// container without its own mount namespace left in the host's.
func UnmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			mp := unescapeMountPath(f[4])
			if mp == dir || strings.HasPrefix(mp, dir+"/") {
				points = append(points, mp)
			}
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, mp := range points {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
