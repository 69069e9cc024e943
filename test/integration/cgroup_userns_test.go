package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// usernsCgroupScript prints what a container sees of its cgroups: its
// memory and pids limits, then a line for each write to the host's cgroup
// files that got through (none may), then every directory below its
// cgroup mounts (none: it sees its own cgroup, which has no children, and
// nothing of the host's tree).
func usernsCgroupScript(v2 bool) string {
	mem, pids, procs, dir := "memory/memory.limit_in_bytes", "pids/pids.max", "pids/cgroup.procs", "pids"
	depth := "2" // /sys/fs/cgroup/CONTROLLER is the container's cgroup
	if v2 {
		mem, pids, procs, dir, depth = "memory.max", "pids.max", "cgroup.procs", ".", "1"
	}
	c := "/sys/fs/cgroup/"
	return "cat " + c + mem + " " + c + pids + "; " +
		"echo 100 2>/dev/null >" + c + pids + " && echo wrote-pids.max; " +
		"echo $$ 2>/dev/null >" + c + procs + " && echo wrote-cgroup.procs; " +
		"mkdir " + c + dir + "/sub 2>/dev/null && echo made-a-cgroup; " +
		"find " + c + " -mindepth " + depth + " -type d; echo end"
}

// cgroupMountDirs are the directories under /sys/fs/cgroup where a cgroup
// file system is mounted (v1's hierarchies and a hybrid host's unified
// one), or /sys/fs/cgroup itself on v2.
func cgroupMountDirs(t *testing.T) []string {
	t.Helper()
	if cgroupVersion(t) == "v2" {
		return []string{"/sys/fs/cgroup"}
	}
	var dirs []string
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range entries {
		d := filepath.Join("/sys/fs/cgroup", e.Name())
		var st unix.Statfs_t
		if e.IsDir() && unix.Statfs(d, &st) == nil && (st.Type == unix.CGROUP_SUPER_MAGIC || st.Type == unix.CGROUP2_SUPER_MAGIC) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// TestCgroupUserNamespaceOwnView: a container with a user namespace, with
// and without a cgroup namespace, reads its own memory and pids limits
// under /sys/fs/cgroup, cannot write the host's cgroup files there even
// where the config mounts them read-write (they belong to the host's root,
// which the namespace does not map), and sees nothing of the host's
// cgroup tree: no parent, no sibling. Its cgroup's parent is a 0700
// directory (an engine's private parent), out of reach of the namespace's
// root: a bind source resolved inside the namespace failed there with
// "permission denied" (v1 without a cgroup namespace), and so did a new
// cgroup2 mount in its own cgroup namespace on kernels before 6.16 (the v2
// VM's 6.1); on v2 without a cgroup namespace the host's whole tree was
// bound.
func TestCgroupUserNamespaceOwnView(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	v2 := cgroupVersion(t) == "v2"
	const top = "berthtest_usercg"
	t.Cleanup(func() { removeTestCgroups(top) })
	for _, d := range cgroupMountDirs(t) {
		for _, sub := range []string{top, top + "/sibling"} {
			if err := os.Mkdir(filepath.Join(d, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, cgroupns := range []bool{true, false} {
		id := fmt.Sprintf("usercg-own-%v", cgroupns)
		bundle := ociBundle(t, []string{"sh", "-c", usernsCgroupScript(v2)}, func(s *specs.Spec) {
			pids, mem := int64(9), int64(64<<20)
			s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &mem}
			s.Linux.CgroupsPath = "/" + top + "/" + id
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
			if !cgroupns {
				withoutNamespace(s, specs.CgroupNamespace)
			}
			for i, m := range s.Mounts {
				if m.Type == "cgroup" {
					s.Mounts[i].Options = []string{"nosuid", "noexec", "nodev", "rw"}
				}
			}
		})
		os.Chmod(filepath.Dir(bundle), 0o755) // the namespace's root must reach the rootfs
		r := oci(t, "run", "--bundle", bundle, id)
		if want := "67108864\n9\nend\n"; r.code != 0 || r.stdout != want {
			t.Errorf("user namespace, cgroupns %v: exit %d, sees:\n%s\nwant:\n%s\nstderr: %s", cgroupns, r.code, r.stdout, want, r.stderr)
		}
		oci(t, "delete", "--force", id)
	}
	for _, d := range cgroupMountDirs(t) {
		entries, _ := os.ReadDir(filepath.Join(d, top))
		for _, e := range entries {
			if e.IsDir() && e.Name() != "sibling" {
				t.Errorf("cgroup %s left in %s", e.Name(), filepath.Join(d, top))
			}
		}
	}
	checkNoLeaks(t, before)
}

// TestOCIUserNamespaceManyBinds: a container with a user namespace and a
// dozen plain binds starts. Each bind's tree is cloned by the parent and
// handed down as a descriptor; with more than a few of them, the child's
// placing of its descriptors overwrote the one it execs the init stage
// from ("start init stage: permission denied").
func TestOCIUserNamespaceManyBinds(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	src := t.TempDir()
	os.Chmod(src, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	const n = 12
	bundle := ociBundle(t, []string{"sh", "-c", fmt.Sprintf("cat /b/%d/f", n-1)}, func(s *specs.Spec) {
		usernsConfig(s)
		for i := 0; i < n; i++ {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: fmt.Sprintf("/b/%d", i), Type: "bind", Source: src, Options: []string{"bind", "ro"}})
		}
	})
	os.Chmod(filepath.Dir(bundle), 0o755)
	for i := 0; i < n; i++ {
		os.MkdirAll(filepath.Join(bundle, "rootfs", "b", fmt.Sprint(i)), 0o755) // the rootfs belongs to the host's root
	}
	if r := oci(t, "run", "--bundle", bundle, "userns-binds"); r.code != 0 || r.stdout != "x" {
		t.Errorf("user namespace with %d binds: %+v, want x", n, r)
	}
	checkNoLeaks(t, before)
}

// TestOCIIdmapOwnMappingInUserNamespace: a bind with its own uidMappings
// and gidMappings (runtime-spec 1.1, as runc 1.2 reads them) in a
// container with a user namespace maps the source's owners through the
// mount's mapping, whose host IDs the container's namespace then shows as
// its own: the host's root (0 on disk, host 201000 through the mount)
// appears as 1000:1001 inside a namespace that maps 0 to 200000; an owner
// outside the mount's mapping as the overflow ID; and the container's
// root, which the mount does not map, cannot create files there.
func TestOCIIdmapOwnMappingInUserNamespace(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	src := t.TempDir()
	var fs unix.Statfs_t
	if unix.Statfs(src, &fs) == nil && fs.Type == unix.TMPFS_MAGIC && kernelBefore(6, 3) {
		t.Skip("idmapped tmpfs mounts need Linux 6.3")
	}
	os.Chmod(src, 0o755)
	os.WriteFile(filepath.Join(src, "root-owned"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(src, "other"), []byte("x"), 0o644)
	os.Chown(filepath.Join(src, "other"), 7, 7)
	one := func(c, h uint32) []specs.LinuxIDMapping {
		return []specs.LinuxIDMapping{{ContainerID: c, HostID: h, Size: 1}}
	}
	bundle := ociBundle(t, []string{"sh", "-c", "stat -c '%u %g' /m/root-owned /m/other; touch /m/new 2>/dev/null && echo created; id -u"}, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/m", Type: "bind", Source: src, Options: []string{"bind"},
			UIDMappings: one(0, 201000), GIDMappings: one(0, 201001)})
	})
	os.Chmod(filepath.Dir(bundle), 0o755)
	os.Mkdir(filepath.Join(bundle, "rootfs", "m"), 0o755)
	r := oci(t, "run", "--bundle", bundle, "idmap-own-userns")
	if want := "1000 1001\n65534 65534\n0\n"; r.code != 0 || r.stdout != want {
		t.Errorf("idmapped bind with its own mapping in a user namespace: %+v, want %q", r, want)
	}
	if _, err := os.Stat(filepath.Join(src, "new")); err == nil {
		t.Errorf("the container's root created a file through a mount whose mapping does not include it")
	}
	checkNoLeaks(t, before)
}
