//go:build linux

package initproc

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStageMounts runs berth-stage's mounts.c (with the test driver
// cmd/berth-stage/check/mounts_main.c, which fills a Docker-like config
// by hand) in new mount, PID, UTS, IPC and network namespaces made by
// util-linux unshare, on a busybox rootfs: it pivots, and the program
// run in the new root reports what it sees. Needs root, gcc (static
// glibc), unshare and a static busybox; nothing reaches the host's
// mount table.
func TestStageMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, tool := range []string{"gcc", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	busybox := staticBusybox(t)
	driver := filepath.Join(t.TempDir(), "mounts_main")
	build := exec.Command("gcc", "-static", "-Os", "-Wall", "-Wextra", "-Werror", "-std=gnu11", "-o", driver,
		"../../cmd/berth-stage/check/mounts_main.c", "../../cmd/berth-stage/mounts.c", "../../cmd/berth-stage/proc.c")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the driver: %v\n%s", err, out)
	}
	before := hostMounts(t)
	t.Cleanup(func() {
		if after := hostMounts(t); after != before {
			t.Errorf("the host's mount table changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})

	t.Run("docker", func(t *testing.T) {
		root := busyboxRoot(t, busybox)
		out, err := runDriver(t, driver, root, "docker",
			`cat /proc/self/mountinfo; ls -l /dev; ls /sys/fs/cgroup; pwd; `+
				`wc -c < /proc/timer_list; (echo x > /proc/sys/kernel/domainname) 2>&1; echo data > /dev/null && echo null-ok; touch /ok 2>&1; mkdir /dev/x && echo dev-rw`)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range []string{
			" / ro,",
			" /proc rw,nosuid,nodev,noexec",
			" /dev rw,nosuid - tmpfs",
			" /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666",
			" /dev/shm rw,nosuid,nodev,noexec",
			" /dev/mqueue rw,nosuid,nodev,noexec",
			" /sys ro,nosuid,nodev,noexec,relatime - sysfs",
			" /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - tmpfs cgroup ro,mode=755",
			" /sys/fs/cgroup/memory ro,",
			" /sys/fs/cgroup/pids ro,",
			" /sys/fs/cgroup/systemd ro,",
			" /etc/hostname /etc/hostname ro,",
			" /proc/acpi ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs ro,size=0k,mode=755",
			"/null /proc/timer_list ",
			"/null /proc/keys ",
			"/sys /proc/sys ro,",
			"crw-rw-rw-    1 0        0           1,   3 ",
			"crw-rw-rw-    1 0        0           1,   5 ",
			"crw-rw-rw-    1 0        0           5,   0 ",
			"fd -> /proc/self/fd\n",
			"ptmx -> pts/ptmx\n",
			"stdin -> /proc/self/fd/0\n",
			"\n/work/dir\n",
			"\n0\n",
			"/proc/sys/kernel/domainname: Read-only file system",
			"null-ok\n",
			"/ok: Read-only file system",
			"dev-rw\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("missing %q in:\n%s", want, out)
			}
		}
		// The host's / is gone: the container's mount table has the
		// rootfs and what was mounted in it, nothing else.
		allowed := map[string]bool{"/": true, "/etc/hostname": true}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 10 || !strings.Contains(line, " - ") {
				continue
			}
			if mp := f[4]; !allowed[mp] && !strings.HasPrefix(mp, "/proc") && !strings.HasPrefix(mp, "/dev") && !strings.HasPrefix(mp, "/sys") {
				t.Errorf("unexpected mount point %s in the container:\n%s", mp, line)
			}
		}
	})

	t.Run("readonly", func(t *testing.T) {
		root := busyboxRoot(t, busybox)
		out, err := runDriver(t, driver, root, "rodev", `grep -E " / | /dev " /proc/self/mountinfo; touch /x 2>&1; touch /dev/x 2>&1; true`)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range []string{" / ro,", " /dev ro,nosuid - tmpfs", "/x: Read-only file system", "/dev/x: Read-only file system"} {
			if !strings.Contains(out, want) {
				t.Errorf("missing %q in:\n%s", want, out)
			}
		}
	})

	// CVE-2025-31133: a /dev/null that is not the null device is never
	// mounted over a masked path.
	t.Run("fake /dev/null", func(t *testing.T) {
		root := busyboxRoot(t, busybox)
		if err := os.Symlink("../etc/hostname", filepath.Join(root, "dev/null")); err != nil {
			t.Fatal(err)
		}
		out, err := runDriver(t, driver, root, "nodev", "echo ran")
		want := "berth-stage: mask /proc/timer_list: unsafe device: /dev/null in the container is a regular file, not the null device (character 1:3)"
		if err == nil || !strings.Contains(out, want) || strings.Contains(out, "ran") {
			t.Errorf("want %q and a failure, got %v:\n%s", want, err, out)
		}
	})

	t.Run("proc symlink", func(t *testing.T) {
		root := busyboxRoot(t, busybox)
		if err := os.Remove(filepath.Join(root, "proc")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/tmp", filepath.Join(root, "proc")); err != nil {
			t.Fatal(err)
		}
		out, err := runDriver(t, driver, root, "docker", "echo ran")
		want := `berth-stage: mount /proc: filesystem "proc" must be mounted on ordinary directory: /proc is a symlink inside the rootfs`
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("want %q and a failure, got %v:\n%s", want, err, out)
		}
	})

	t.Run("overlay", func(t *testing.T) {
		lower := busyboxRoot(t, busybox)
		layers := filepath.Join(filepath.Dir(lower), "layers")
		root := filepath.Join(filepath.Dir(lower), "rootfs-overlay")
		for _, d := range []string{layers + "/upper", layers + "/work", root} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Rename(lower, layers+"/lower"); err != nil {
			t.Fatal(err)
		}
		out, err := runDriver(t, driver, root, "overlay", `grep " / " /proc/self/mountinfo | head -1; echo data > /dev/shm/x; ls /work`)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(out, " / ro,relatime - overlay overlay ") {
			t.Errorf("the root is not the overlay:\n%s", out)
		}
		// The working directory was made in the upper layer.
		if _, err := os.Stat(layers + "/upper/work/dir"); err != nil {
			t.Errorf("working directory not in the upper layer: %v", err)
		}
	})

	t.Run("cgroups bound", func(t *testing.T) {
		root := busyboxRoot(t, busybox)
		out, err := runDriver(t, driver, root, "cgpath", `grep /sys/fs/cgroup/ /proc/self/mountinfo; ls /sys/fs/cgroup/memory/tasks`)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range []string{" / /sys/fs/cgroup/memory ro,nosuid,nodev,noexec", " / /sys/fs/cgroup/systemd ro,", "/sys/fs/cgroup/memory/tasks\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("missing %q in:\n%s", want, out)
			}
		}
	})

	t.Run("rshared", func(t *testing.T) {
		root := busyboxRoot(t, busybox)
		out, err := runDriver(t, driver, root, "shared", `grep " / " /proc/self/mountinfo | head -1`)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(out, " shared:") {
			t.Errorf("the root is not shared:\n%s", out)
		}
	})

	t.Run("unknown option", func(t *testing.T) {
		root := busyboxRoot(t, busybox)
		out, err := runDriver(t, driver, root, "badopt", "echo ran")
		want := `berth-stage: mount /tmp: unknown option "foo=bar": tmpfs: Unknown parameter 'foo'`
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("want %q and a failure, got %v:\n%s", want, err, out)
		}
	})

	// A symlink in the image must not lead a bind around the /proc rules.
	t.Run("into /proc by a symlink", func(t *testing.T) {
		root := busyboxRoot(t, busybox)
		if err := os.Symlink("../proc/sys/kernel", filepath.Join(root, "data")); err != nil {
			t.Fatal(err)
		}
		out, err := runDriver(t, driver, root, "procescape", "echo ran")
		want := `berth-stage: mount /data/hostname: "/proc/sys/kernel/hostname" is inside /proc, where only the files lxcfs provides may be mounted on (/proc/cpuinfo, `
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("want %q and a failure, got %v:\n%s", want, err, out)
		}
	})

	t.Run("missing tasks file", func(t *testing.T) {
		root := busyboxRoot(t, busybox)
		out, err := runDriver(t, driver, root, "badtask", "echo ran")
		want := "berth-stage: join cgroup: open /sys/fs/cgroup/nonexistent/tasks: No such file or directory"
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("want %q and a failure, got %v:\n%s", want, err, out)
		}
	})
}

// staticBusybox is the host's busybox, when it is static (it is copied
// into a rootfs without its libraries).
func staticBusybox(t *testing.T) string {
	p, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox")
	}
	out, err := exec.Command("ldd", p).CombinedOutput()
	if err == nil && !bytes.Contains(out, []byte("not a dynamic executable")) {
		t.Skip("needs a static busybox")
	}
	return p
}

// busyboxRoot makes a rootfs with busybox as /bin/sh, an /etc/hostname
// to bind onto and empty /proc, /sys and /dev.
func busyboxRoot(t *testing.T, busybox string) string {
	root := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(root, "bin/sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// runDriver runs the driver on root in new namespaces (unshare makes the
// mount namespace's propagation private before the driver starts), and
// script with busybox sh in the new root. It returns stdout and stderr.
func runDriver(t *testing.T, driver, root, scenario, script string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-m", "-p", "-f", "-u", "-i", "-n", "--propagation", "private", "--kill-child",
		driver, root, scenario, "/bin/busybox", "sh", "-c", script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// hostMounts is what this process's mount table has of the test's
// directories (each a TestStageMounts temporary directory): other work
// on the machine may mount and unmount elsewhere meanwhile.
func hostMounts(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "/TestStageMounts") {
			ours = append(ours, line)
		}
	}
	return strings.Join(ours, "\n")
}
