package integration

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// hostMount mounts on the host for one test and unmounts at its end.
func hostMount(t *testing.T, source, target, fstype string, flags uintptr, data string) {
	t.Helper()
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		t.Fatalf("mount %s on %s: %v", source, target, err)
	}
	t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
}

// treeWithSubmount is a host directory with a tmpfs mounted on its "sub"
// directory: what a recursive option must reach.
func treeWithSubmount(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	os.Chmod(src, 0o755)
	os.Mkdir(filepath.Join(src, "sub"), 0o755)
	hostMount(t, "tmpfs", filepath.Join(src, "sub"), "tmpfs", 0, "mode=755")
	return src
}

// ociRunMounts runs script in a container with extra mounts and returns
// what it printed; the run must succeed.
func ociRunMounts(t *testing.T, id, script string, mounts []specs.Mount, edit func(*specs.Spec)) string {
	t.Helper()
	bundle := ociBundle(t, []string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, mounts...)
		if edit != nil {
			edit(s)
		}
	})
	r := oci(t, "run", "--bundle", bundle, id)
	if r.code != 0 {
		t.Fatalf("run %s: exit %d, stdout %q, stderr %q", id, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// mountOptsAt is the per-mount options mountinfo shows for mount point
// dir, as the script `mountinfo DIR` prints them inside the container.
const mountinfoFn = `mountinfo() { awk -v d="$1" '$5 == d { print $6 " " $7 }' /proc/self/mountinfo; }; `

// TestOCIMountTmpcopyup: podman mounts /run, /tmp and /var/tmp of a
// --read-only container as tmpfs with tmpcopyup; the tmpfs starts with a
// copy of what the image had there (files, symlinks, modes, owners).
func TestOCIMountTmpcopyup(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	bundle := ociBundle(t, []string{"sh", "-c", `head -1 /etc/passwd; stat -c '%a %u %g' /etc/owned; readlink /bin/echo; /bin/echo exec-ok; ` +
		`touch /etc/new && echo writable; grep -c ' /etc tmpfs ' /proc/mounts; touch /made 2>/dev/null || echo root-ro`}, func(s *specs.Spec) {
		s.Root.Readonly = true
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/etc", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "tmpcopyup", "nosuid", "nodev", "mode=755"}},
			specs.Mount{Destination: "/bin", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "nosuid", "nodev"}})
	})
	// A file with an owner and mode of its own: tmpcopyup must keep them.
	owned := filepath.Join(bundle, "rootfs", "etc", "owned")
	os.WriteFile(owned, []byte("x"), 0o640)
	os.Chmod(owned, 0o640)
	os.Chown(owned, 12, 34)
	r := oci(t, "run", "--bundle", bundle, "copyup")
	out := r.stdout
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(bundle, "rootfs", "etc", "new")); err == nil {
		t.Error("a file written in the tmpcopyup tmpfs reached the image")
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 7 || !strings.HasPrefix(lines[0], "root:") || lines[1] != "640 12 34" || lines[2] != "busybox" ||
		lines[3] != "exec-ok" || lines[4] != "writable" || lines[5] != "1" || lines[6] != "root-ro" {
		t.Errorf("inside a tmpcopyup /etc and /bin: %q", out)
	}
	checkNoLeaks(t, before)
}

// TestOCIMountRecursiveReadonly: rro makes a bind mount and every mount
// below it read-only (mount_setattr AT_RECURSIVE); plain ro leaves the
// submounts writable, as the kernel does.
func TestOCIMountRecursiveReadonly(t *testing.T) {
	needRoot(t)
	src := treeWithSubmount(t)
	out := ociRunMounts(t, "rro", `touch /rro/a 2>/dev/null || echo top-ro; touch /rro/sub/b 2>/dev/null || echo sub-ro; `+
		`touch /ro/sub/c && echo ro-sub-writable; touch /both/sub/d 2>/dev/null || echo both-sub-ro`,
		[]specs.Mount{
			{Destination: "/rro", Type: "bind", Source: src, Options: []string{"rbind", "rro"}},
			{Destination: "/ro", Type: "bind", Source: src, Options: []string{"rbind", "ro"}},
			{Destination: "/both", Source: src, Options: []string{"rbind", "ro", "rro"}}, // runc's test has no type
		}, nil)
	if out != "top-ro\nsub-ro\nro-sub-writable\nboth-sub-ro\n" {
		t.Errorf("rro: %q, want the bind and its submount read-only", out)
	}
	if _, err := os.Stat(filepath.Join(src, "sub", "b")); err == nil {
		t.Error("a file was written through an rro submount")
	}
}

// TestOCIMountRecursiveAttributes: the r-prefixed attribute options reach
// every submount; nosymfollow refuses to follow symlinks on the mount.
func TestOCIMountRecursiveAttributes(t *testing.T) {
	needRoot(t)
	src := treeWithSubmount(t)
	os.Symlink("/etc/passwd", filepath.Join(src, "link"))
	os.Symlink("/etc/passwd", filepath.Join(src, "sub", "link"))
	out := ociRunMounts(t, "rattr", mountinfoFn+`mountinfo /r/sub; mountinfo /n; cat /n/link >/dev/null 2>&1 || echo no-follow; `+
		`cat /n/sub/link >/dev/null && echo sub-follows; cat /rn/sub/link >/dev/null 2>&1 || echo rsub-no-follow; mountinfo /s; mountinfo /rw/sub`,
		[]specs.Mount{
			{Destination: "/r", Type: "bind", Source: src, Options: []string{"rbind", "rnoexec", "rnosuid", "rnodev", "rnoatime"}},
			{Destination: "/n", Type: "bind", Source: src, Options: []string{"rbind", "nosymfollow"}},
			{Destination: "/rn", Type: "bind", Source: src, Options: []string{"rbind", "rnosymfollow"}},
			{Destination: "/s", Type: "bind", Source: src, Options: []string{"rbind", "nosymfollow", "symfollow"}},
			{Destination: "/rw", Type: "bind", Source: src, Options: []string{"rbind", "rro", "rrw", "rnoexec", "rexec"}},
		}, nil)
	lines := strings.Split(out, "\n")
	has := func(line, opts string) bool {
		f := strings.Fields(line)
		if len(f) == 0 {
			return false
		}
		set := map[string]bool{}
		for _, o := range strings.Split(f[0], ",") {
			set[o] = true
		}
		for _, o := range strings.Split(opts, ",") {
			if neg, ok := strings.CutPrefix(o, "!"); ok {
				if set[neg] {
					return false
				}
			} else if !set[o] {
				return false
			}
		}
		return true
	}
	if len(lines) < 7 {
		t.Fatalf("inside: %q", out)
	}
	if !has(lines[0], "nosuid,nodev,noexec,noatime") {
		t.Errorf("submount of an rnoexec,rnosuid,rnodev,rnoatime bind: %q", lines[0])
	}
	if !has(lines[1], "nosymfollow") || lines[2] != "no-follow" || lines[3] != "sub-follows" || lines[4] != "rsub-no-follow" {
		t.Errorf("nosymfollow / rnosymfollow: %q", out)
	}
	if !has(lines[5], "!nosymfollow") || !has(lines[6], "rw,!noexec") {
		t.Errorf("symfollow and rrw/rexec clear what came before: %q", out)
	}
}

// TestOCIMountBindPropagation: each propagation option of an rbind shows
// in the container's mountinfo (shared:N, master:N, unbindable, none).
func TestOCIMountBindPropagation(t *testing.T) {
	needRoot(t)
	src := t.TempDir()
	os.Chmod(src, 0o755)
	hostMount(t, src, src, "", unix.MS_BIND, "")
	if err := unix.Mount("", src, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	out := ociRunMounts(t, "bprop", mountinfoFn+`for d in /sh /sl /pr /ub; do mountinfo $d; done`,
		[]specs.Mount{
			{Destination: "/sh", Type: "bind", Source: src, Options: []string{"rbind", "rshared"}},
			{Destination: "/sl", Type: "bind", Source: src, Options: []string{"rbind", "rslave"}},
			{Destination: "/pr", Type: "bind", Source: src, Options: []string{"rbind", "rprivate"}},
			{Destination: "/ub", Type: "bind", Source: src, Options: []string{"bind", "unbindable"}},
		}, func(s *specs.Spec) { s.Linux.RootfsPropagation = "rslave" })
	lines := strings.Split(out, "\n")
	if len(lines) < 4 || !strings.Contains(lines[0], "shared:") || !strings.Contains(lines[1], "master:") ||
		strings.Contains(lines[1], "shared:") || strings.Contains(lines[2], ":") || !strings.Contains(lines[3], "unbindable") {
		t.Errorf("propagation of binds (rshared, rslave, rprivate, unbindable):\n%s", out)
	}
}

// TestOCIMountCopySymlink: copy-symlink makes the destination a symlink
// with the source symlink's target, instead of a bind mount.
func TestOCIMountCopySymlink(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	os.Symlink("../etc/passwd", link)
	out := ociRunMounts(t, "copysym", `readlink /opt/l; head -c5 /opt/l; echo`,
		[]specs.Mount{{Destination: "/opt/l", Type: "bind", Source: link, Options: []string{"bind", "copy-symlink"}}}, nil)
	if out != "../etc/passwd\nroot:\n" {
		t.Errorf("copy-symlink: %q, want the link itself", out)
	}
}

// TestOCIMountUnknownOption: an option no table knows is refused by name,
// in one line, on a bind and on a file system alike, and nothing is left.
func TestOCIMountUnknownOption(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	for name, m := range map[string]specs.Mount{
		"bind":  {Destination: "/x", Type: "bind", Source: "/tmp", Options: []string{"rbind", "foo"}},
		"tmpfs": {Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "foo", "size=1m"}},
		"value": {Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"bogus=1"}},
	} {
		t.Run(name, func(t *testing.T) {
			bundle := ociBundle(t, []string{"true"}, func(s *specs.Spec) { s.Mounts = append(s.Mounts, m) })
			r := oci(t, "run", "--bundle", bundle, "unknown-"+name)
			opt := m.Options[len(m.Options)-1]
			if name != "value" {
				opt = "foo"
			}
			want := `mount /x: unknown option "` + opt + `"`
			if r.code == 0 || !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q: want one line with %q", r.code, r.stderr, want)
			}
			if r := oci(t, "state", "unknown-"+name); r.code == 0 {
				t.Error("a failed run left a container behind")
			}
		})
	}
	checkNoLeaks(t, before)
}

// TestOCIRootfsPropagationShared is critest's rshared case (Kubernetes'
// mountPropagation: Bidirectional): with rootfsPropagation rshared and an
// rshared bind, a mount made inside the container appears on the host;
// rslave still carries host mounts in, and rprivate carries nothing.
func TestOCIRootfsPropagationShared(t *testing.T) {
	needRoot(t)
	src := t.TempDir()
	os.Chmod(src, 0o755)
	os.Mkdir(filepath.Join(src, "inner"), 0o755)
	hostMount(t, src, src, "", unix.MS_BIND, "")
	if err := unix.Mount("", src, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(filepath.Join(src, "inner"), unix.MNT_DETACH) })
	before := snapshot(t)
	ociRunMounts(t, "rshared", `mount -t tmpfs -o size=1m made-inside /vol/inner && echo ok`,
		[]specs.Mount{{Destination: "/vol", Type: "bind", Source: src, Options: []string{"rbind", "rshared"}}},
		func(s *specs.Spec) {
			s.Linux.RootfsPropagation = "rshared"
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
			s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_SYS_ADMIN")
			s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, "CAP_SYS_ADMIN")
		})
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if !strings.Contains(string(mi), " "+filepath.Join(src, "inner")+" ") {
		t.Errorf("a mount made in the container under an rshared bind did not reach the host")
	}
	unix.Unmount(filepath.Join(src, "inner"), unix.MNT_DETACH)
	// Nothing else (the rootfs's own mount, /proc, ...) reached the host.
	checkNoLeaks(t, before)

	// Host to container: a long-running container sees what the host
	// mounts after it started, under rslave; not under rprivate.
	for _, prop := range []string{"rslave", "rprivate"} {
		t.Run(prop, func(t *testing.T) {
			bundle := ociBundle(t, []string{"sh", "-c", "echo ready; read x; grep -c made-on-host /proc/self/mountinfo"}, func(s *specs.Spec) {
				s.Linux.RootfsPropagation = prop
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/vol", Type: "bind", Source: src, Options: []string{"rbind", prop}})
			})
			cmd := exec.Command(ociBin, "--root", ociRoot, "run", "--bundle", bundle, "prop-"+prop)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			out := bufio.NewReader(stdout)
			if line, err := out.ReadString('\n'); line != "ready\n" {
				t.Fatalf("container did not start: %q %v", line, err)
			}
			hostMount(t, "made-on-host", filepath.Join(src, "inner"), "tmpfs", 0, "size=1m")
			stdin.Write([]byte("go\n"))
			stdin.Close()
			rest, _ := io.ReadAll(out)
			cmd.Wait()
			want := map[string]string{"rslave": "1\n", "rprivate": "0\n"}[prop]
			if string(rest) != want {
				t.Errorf("host mount seen inside under %s: %q, want %q", prop, rest, want)
			}
			unix.Unmount(filepath.Join(src, "inner"), unix.MNT_DETACH)
		})
	}
}

// TestOCIMountIdmap: an idmapped bind shows the source's owners through
// the mount's own mapping (no user namespace in the container), or through
// the container's user namespace (idmap without mappings), where the
// container's root then owns what the host's root owns, and writes files
// as it. ridmap reaches submounts; idmap alone does not.
func TestOCIMountIdmap(t *testing.T) {
	needRoot(t)
	src := t.TempDir() // mode 0700, owned by root: out of reach of an unmapped root
	// tmpfs (the submount below, and /tmp in the v2 VM) supports idmapped
	// mounts from Linux 6.3.
	if kernelBefore(6, 3) {
		t.Skip("idmapped tmpfs mounts need Linux 6.3")
	}
	os.WriteFile(filepath.Join(src, "file"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(src, "sub"), 0o755)
	hostMount(t, "tmpfs", filepath.Join(src, "sub"), "tmpfs", 0, "mode=755")
	os.WriteFile(filepath.Join(src, "sub", "f"), []byte("x"), 0o644)
	one := func(c, h uint32) []specs.LinuxIDMapping {
		return []specs.LinuxIDMapping{{ContainerID: c, HostID: h, Size: 1}}
	}

	out := ociRunMounts(t, "idmap-own", `stat -c '%u %g' /m/file /m/sub/f /r/sub/f`,
		[]specs.Mount{
			{Destination: "/m", Type: "bind", Source: src, Options: []string{"rbind", "idmap"}, UIDMappings: one(0, 1000), GIDMappings: one(0, 1001)},
			{Destination: "/r", Type: "bind", Source: src, Options: []string{"rbind", "ridmap"}, UIDMappings: one(0, 1000), GIDMappings: one(0, 1001)},
		}, nil)
	if out != "1000 1001\n0 0\n1000 1001\n" {
		t.Errorf("idmapped with the mount's own mapping: %q, want 1000 1001 (idmap) and a submount mapped only by ridmap", out)
	}

	bundle := ociBundle(t, []string{"sh", "-c", `stat -c '%u %g' /m/file; touch /m/made && echo wrote`}, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/m", Type: "bind", Source: src, Options: []string{"bind", "idmap"}})
	})
	os.Chmod(filepath.Dir(bundle), 0o755)
	os.Mkdir(filepath.Join(bundle, "rootfs", "m"), 0o755) // the rootfs belongs to the host's root
	r := oci(t, "run", "--bundle", bundle, "idmap-userns")
	if r.code != 0 || r.stdout != "0 0\nwrote\n" {
		t.Errorf("idmapped with the container's user namespace: %+v, want root's files owned by the container's root", r)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(src, "made"), &st); err != nil || st.Uid != 0 {
		t.Errorf("the file the container's root made is owned by %d (%v), want the host's 0", st.Uid, err)
	}

	bad := ociBundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/m", Type: "bind", Source: src, Options: []string{"bind", "idmap"}})
	})
	if r := oci(t, "run", "--bundle", bad, "idmap-nomap"); r.code == 0 || !strings.Contains(r.stderr, "uidMappings") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("idmap without any mapping: %+v, want one line asking for uidMappings", r)
	}
}

// TestOCIReadonlyDev is runc's "ro /dev mount": the /dev tmpfs is filled
// (devices, /dev/pts, links, the console) and only then made read-only.
func TestOCIReadonlyDev(t *testing.T) {
	needRoot(t)
	out := ociRunMounts(t, "rodev", `grep '^tmpfs /dev ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; echo x >/dev/null && ls /dev/pts/ptmx; touch /dev/new 2>/dev/null || echo dev-ro`,
		nil, func(s *specs.Spec) {
			for i, m := range s.Mounts {
				if m.Destination == "/dev" {
					s.Mounts[i].Options = append(m.Options, "ro")
				}
			}
		})
	if out != "ro\n/dev/pts/ptmx\ndev-ro\n" {
		t.Errorf("read-only /dev: %q", out)
	}
}

// TestOCIKernelFSOnSymlinkRefused is runc's mask.bats "prohibit symlink
// /proc" and "/sys": an image whose /proc or /sys is a symlink is refused
// with runc's words.
func TestOCIKernelFSOnSymlinkRefused(t *testing.T) {
	needRoot(t)
	for _, dir := range []string{"proc", "sys"} {
		bundle := ociBundle(t, []string{"true"}, nil)
		p := filepath.Join(bundle, "rootfs", dir)
		os.RemoveAll(p)
		os.Symlink("/symlink", p)
		r := oci(t, "run", "--bundle", bundle, "symlink-"+dir)
		if r.code == 0 || !strings.Contains(r.stderr, "must be mounted on ordinary directory") {
			t.Errorf("/%s a symlink: %+v", dir, r)
		}
	}
}

// TestOCICreateContainerHookInRootfs is runc's hooks.bats: createContainer
// hooks run with the rootfs as their working directory, and what they
// write there by a relative path is in the container.
func TestOCICreateContainerHookInRootfs(t *testing.T) {
	needRoot(t)
	out := ociRunMounts(t, "hookcwd", `cat /hooked`, nil, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo from-hook > ./hooked"}}}}
	})
	if out != "from-hook\n" {
		t.Errorf("the createContainer hook's ./hooked seen inside: %q", out)
	}
}

// TestOCINoPivotHidesHostProc is runc's "--no-pivot must not expose bare
// /proc": without pivot_root the host's /proc stays in the container's
// mount namespace, and a process in a new user namespace could mount a
// procfs of its own because of it (the kernel allows that only where a
// full, uncovered procfs is already mounted). It must be gone.
func TestOCINoPivotHidesHostProc(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"unshare", "-mrpf", "sh", "-c", "mount -t proc none /proc && echo mounted"}, nil)
	r := oci(t, "run", "--no-pivot", "--bundle", bundle, "nopivot")
	if r.code == 0 || strings.Contains(r.stdout, "mounted") || !strings.Contains(r.stderr, "ermission denied") {
		t.Errorf("a new user namespace mounted procfs in a --no-pivot container: %+v", r)
	}
	// The container itself still has its own /proc.
	r = oci(t, "run", "--no-pivot", "--bundle", ociBundle(t, []string{"sh", "-c", "cat /proc/self/comm"}, nil), "nopivot2")
	if r.code != 0 || r.stdout != "cat\n" {
		t.Errorf("--no-pivot container's own /proc: %+v", r)
	}
}

// TestOCIUsernsBindSources is runc's userns.bats: with a user namespace,
// bind sources that the namespace's root cannot reach (a 0700 directory
// of the host's root) still mount, because they are opened before the
// init stage enters the namespace; and a bind placed before the cgroupfs
// mount (v1, no cgroup namespace) does not break it.
func TestOCIUsernsBindSources(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"stat", "-c", "%n", "/tmp/mount-1/foo.txt", "/tmp/mount-2/foo.txt"}, func(s *specs.Spec) {
		usernsConfig(s)
		s.Mounts = append(s.Mounts,
			specs.Mount{Source: "source-inaccessible-1/dir", Destination: "/tmp/mount-1", Options: []string{"bind"}},
			specs.Mount{Source: "source-inaccessible-2/dir", Destination: "/tmp/mount-2", Options: []string{"bind"}})
	})
	prepareUsernsBundle(bundle)
	if r := oci(t, "run", "--bundle", bundle, "userns-inaccessible"); r.code != 0 || r.stdout != "/tmp/mount-1/foo.txt\n/tmp/mount-2/foo.txt\n" {
		t.Errorf("userns with two inaccessible bind sources: %+v", r)
	}

}

// TestOCIUsernsBindBeforeCgroupfs is runc's userns.bats "bind mount before
// a cgroupfs mount": v1, a user namespace and no cgroup namespace, where
// the hierarchies are the container's directories bound from the host's.
func TestOCIUsernsBindBeforeCgroupfs(t *testing.T) {
	needRoot(t)
	if _, err := os.Stat("/sys/fs/cgroup/pids/tasks"); err != nil {
		t.Skip("the cgroupfs case needs cgroup v1")
	}
	bundle := ociBundle(t, []string{"sh", "-c", "cat /sys/fs/cgroup/pids/tasks /sys/fs/cgroup/memory/tasks >/dev/null && echo ok"}, func(s *specs.Spec) {
		usernsConfig(s)
		var mounts []specs.Mount
		for _, m := range s.Mounts {
			if m.Destination == "/sys/fs/cgroup" {
				mounts = append(mounts, specs.Mount{Source: "source-accessible/dir", Destination: "/tmp/mount-1", Options: []string{"bind"}})
			}
			mounts = append(mounts, m)
		}
		s.Mounts = mounts
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.CgroupNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
	})
	prepareUsernsBundle(bundle)
	if r := oci(t, "run", "--bundle", bundle, "userns-cgroupfs"); r.code != 0 || r.stdout != "ok\n" {
		t.Errorf("userns with a bind before the cgroupfs mount: %+v", r)
	}
}

// usernsConfig gives the config runc's userns.bats user namespace.
func usernsConfig(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65534}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65534}}
}

// prepareUsernsBundle makes userns.bats's bind sources in the bundle: two
// of them in 0700 directories of the host's root, out of the namespace
// root's reach, and the mount points in the rootfs, which the host's
// root owns.
func prepareUsernsBundle(bundle string) {
	os.Chmod(filepath.Dir(bundle), 0o755)
	for _, d := range []string{"source-accessible/dir", "source-inaccessible-1/dir", "source-inaccessible-2/dir", "rootfs/tmp/mount-1", "rootfs/tmp/mount-2"} {
		os.MkdirAll(filepath.Join(bundle, d), 0o755)
	}
	for _, d := range []string{"source-accessible", "source-inaccessible-1", "source-inaccessible-2"} {
		os.WriteFile(filepath.Join(bundle, d, "dir", "foo.txt"), nil, 0o644)
	}
	os.Chmod(filepath.Join(bundle, "source-inaccessible-1"), 0o700)
	os.Chmod(filepath.Join(bundle, "source-inaccessible-2"), 0o700)
}

// kernelBefore reports whether the running kernel is older than
// major.minor.
func kernelBefore(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var maj, min int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &maj, &min)
	return maj < major || (maj == major && min < minor)
}

// TestOCITmpfsKeepsDirectoryMode: a tmpfs mounted on a directory of the
// image gets that directory's mode unless its options set one, as runc
// does (runc 1.2 puts mode= first in the data, where the config's own
// mode= overrides it; 1.1.5 chmods after the mount); one on a new
// directory keeps tmpfs's 1777. podman's --read-only mounts /run with
// tmpcopyup and no mode: with berth-oci the image's 0755 /run became
// world-writable (1777).
func TestOCITmpfsKeepsDirectoryMode(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	bundle := ociBundle(t, []string{"stat", "-c", "%n %a", "/run", "/copied", "/data", "/new"}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}},
			specs.Mount{Destination: "/copied", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}},
			specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=1777"}},
			specs.Mount{Destination: "/new", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}})
	})
	for dir, mode := range map[string]os.FileMode{"run": 0o755, "copied": 0o750 | os.ModeSetgid, "data": 0o750} {
		p := filepath.Join(bundle, "rootfs", dir)
		os.MkdirAll(p, 0o755)
		os.Chmod(p, mode)
	}
	r := oci(t, "run", "--bundle", bundle, "tmpfs-mode")
	if want := "/run 755\n/copied 2750\n/data 1777\n/new 1777\n"; r.code != 0 || r.stdout != want {
		t.Errorf("tmpfs modes: %+v, want %q", r, want)
	}
	checkNoLeaks(t, before)
}
