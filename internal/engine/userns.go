package engine

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/snapshot"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/userns"
	"github.com/berth-runtime/berth/internal/volume"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// resolveUserns gives container rec the user namespace its configuration
// asks for: a range of its own (held until the record is removed; the
// same one on every start) or the mappings given. It sets o's mappings
// (and, for keep-id, the user to run as) and returns what inspect shows;
// nil for --userns=host.
func (e *Engine) resolveUserns(cfg *managed.Config, rec *managed.Record, o *spec.RunOptions) (*managed.UserNS, error) {
	mode, err := userns.Parse(cfg.Userns, cfg.UIDMaps, cfg.GIDMaps)
	if err != nil || !mode.Private() {
		return nil, err
	}
	uids, gids := mode.UIDs, mode.GIDs
	if mode.Allocated() {
		a, err := e.IDRanges().Allocate(rec.ID, mode.Size, e.RangeHeld)
		if err != nil {
			return nil, fmt.Errorf("--userns=%s: %w", cfg.Userns, err)
		}
		uids = []userns.Range{{ContainerID: 0, HostID: a.UID, Size: a.Size}}
		gids = []userns.Range{{ContainerID: 0, HostID: a.GID, Size: a.Size}}
		if mode.Kind == userns.KeepID {
			if cfg.KeepID == nil {
				return nil, fmt.Errorf("--userns=keep-id: the container's record does not name the user to map")
			}
			uid, gid := cfg.KeepID.UID, cfg.KeepID.GID
			uids, gids = userns.KeepIDMap(uid, a.UID, a.Size), userns.KeepIDMap(gid, a.GID, a.Size)
			if o.User == "" {
				o.User = fmt.Sprintf("%d:%d", uid, gid)
			}
		}
	}
	ns := &managed.UserNS{Mode: string(mode.Kind), UIDMap: recordMap(uids), GIDMap: recordMap(gids), Rootfs: "none"}
	o.UIDMap, o.GIDMap = specMap(uids), specMap(gids)
	return ns, nil
}

func recordMap(r []userns.Range) []managed.IDMapping {
	out := make([]managed.IDMapping, len(r))
	for i, e := range r {
		out[i] = managed.IDMapping{ContainerID: e.ContainerID, HostID: e.HostID, Size: e.Size}
	}
	return out
}

func specMap(r []userns.Range) []specs.LinuxIDMapping {
	out := make([]specs.LinuxIDMapping, len(r))
	for i, e := range r {
		out[i] = specs.LinuxIDMapping{ContainerID: e.ContainerID, HostID: e.HostID, Size: e.Size}
	}
	return out
}

// hostIDOf maps id inside to the host; ok is false where it is unmapped.
func hostIDOf(m []managed.IDMapping, id uint32) (uint32, bool) {
	for _, e := range m {
		if id >= e.ContainerID && id-e.ContainerID < e.Size {
			return e.HostID + (id - e.ContainerID), true
		}
	}
	return 0, false
}

// prepareUsernsRootfs makes the container's root filesystem usable by its
// user namespace's root. With overlay, the layers are shown through an
// idmapped mount (the container package does that), so only the writable
// layer's own directories change owner. With the copy driver, the copy is
// chowned into the range once (podman's way where idmapped mounts are
// missing). The directories on the way to the root are opened to
// traversal, which a namespace's root, not host root, needs: --root and
// its containers directory to everyone (0711: names only), the
// container's directory to its namespace's root group alone.
func (e *Engine) prepareUsernsRootfs(id string, snap *snapshot.Snapshot, ns *managed.UserNS) error {
	root, rootOK := hostIDOf(ns.UIDMap, 0)
	group, groupOK := hostIDOf(ns.GIDMap, 0)
	if !rootOK || !groupOK {
		return fmt.Errorf("--uidmap/--gidmap: an image's container needs ID 0 mapped (its files are root's)")
	}
	for _, dir := range []string{e.Root, filepath.Dir(e.ContainerDir(id))} {
		if err := chmodTraverse(dir); err != nil {
			return err
		}
	}
	// The container's own directory lets only its namespace's root
	// through (by group): the writable layer below it shows the files
	// the container writes, with the container's modes, and container
	// IDs are no secret (/proc/PID/cgroup names them).
	dir := e.ContainerDir(id)
	if err := os.Chown(dir, 0, int(group)); err != nil {
		return fmt.Errorf("open the container's directory to its user namespace: %w", err)
	}
	if err := os.Chmod(dir, 0o710); err != nil {
		return fmt.Errorf("open the container's directory to its user namespace: %w", err)
	}
	if snap.Overlay != nil {
		ns.Rootfs = "idmapped"
		if snap.Overlay.Shifted {
			ns.Rootfs = "chown-cache"
		}
		for _, dir := range []string{snap.Overlay.Upper, snap.Overlay.Work} {
			if err := os.Lchown(dir, int(root), int(group)); err != nil {
				return fmt.Errorf("give the container's writable layer to its user namespace: %w", err)
			}
		}
		return nil
	}
	ns.Rootfs = "chown"
	marker := filepath.Join(e.ContainerDir(id), "userns.chowned")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	if err := shiftOwners(snap.Rootfs, ns); err != nil {
		return fmt.Errorf("chown the container's copy of the image into its range: %w", err)
	}
	return os.WriteFile(marker, nil, 0o600)
}

// chmodTraverse lets everyone through dir (but not list it) if it is not
// already so.
func chmodTraverse(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o011 == 0o011 {
		return nil
	}
	return os.Chmod(dir, st.Mode().Perm()|0o011)
}

// shiftOwners moves every file of tree from its owner X to the host ID
// that X is inside the namespace, keeping setuid and setgid bits (which
// chown clears). Unmapped owners are left as they are.
func shiftOwners(tree string, ns *managed.UserNS) error {
	return filepath.WalkDir(tree, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		uid, uok := hostIDOf(ns.UIDMap, st.Uid)
		gid, gok := hostIDOf(ns.GIDMap, st.Gid)
		if !uok {
			uid = st.Uid
		}
		if !gok {
			gid = st.Gid
		}
		if err := unix.Lchown(path, int(uid), int(gid)); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
			return unix.Chmod(path, st.Mode&0o7777)
		}
		return nil
	})
}

// usernsVolume shows volume u to a container with a user namespace. A
// volume is the containers': its files of host root are root's inside
// whatever the range, through an idmapped mount. Where the volume's file
// system takes none (tmpfs before 6.3), a volume made for this run is
// chowned into the range instead (podman's way), and an older one is
// mounted as it is.
func usernsVolume(r *spec.MountRequest, u *volume.Use, o *spec.RunOptions) error {
	// A plain bind (a volume has no mounts below it) is opened by the
	// parent, in the host's namespaces: the namespace's root cannot
	// reach the 0700 volume store.
	r.NonRecursive = true
	if rootfs.IDMapSupported(u.Mountpoint) {
		r.IDMap = true
		return nil
	}
	if !u.Created {
		return nil
	}
	ns := &managed.UserNS{UIDMap: recordMap(fromSpec(o.UIDMap)), GIDMap: recordMap(fromSpec(o.GIDMap))}
	if err := shiftOwners(u.Mountpoint, ns); err != nil {
		return fmt.Errorf("chown the new volume into the container's range: %w", err)
	}
	return nil
}

func fromSpec(m []specs.LinuxIDMapping) []userns.Range {
	out := make([]userns.Range, len(m))
	for i, e := range m {
		out[i] = userns.Range{ContainerID: e.ContainerID, HostID: e.HostID, Size: e.Size}
	}
	return out
}
