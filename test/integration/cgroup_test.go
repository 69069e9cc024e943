package integration

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Tests named TestCgroup* also run in the cgroup v2 VM (make test-v2).

func cgroupVersion(t *testing.T) string {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Fatal(err)
	}
	v := "v1"
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		v = "v2"
	}
	if want := os.Getenv("BERTH_CGROUP_EXPECT"); want != "" && want != v {
		t.Fatalf("host runs cgroup %s, the test run expects %s", v, want)
	}
	return v
}

// limitFile reads a cgroup interface file from inside the container, where
// the container's own cgroup is the root of its cgroup namespace.
func limitFile(t *testing.T, v1Controller, v1File, v2File string) string {
	if cgroupVersion(t) == "v2" {
		return "/sys/fs/cgroup/" + v2File
	}
	return "/sys/fs/cgroup/" + v1Controller + "/" + v1File
}

func TestCgroupVersionDetected(t *testing.T) {
	needRoot(t)
	v := cgroupVersion(t)
	out := runIn(t, "cat /proc/self/cgroup; stat -f -c %T /sys/fs/cgroup")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(line, ":") && !strings.HasSuffix(line, ":/") && !strings.Contains(line, "name=systemd") && !strings.Contains(line, "cpuset") && !strings.HasPrefix(line, "0::") {
			t.Errorf("cgroup namespace does not hide the host path: %q", line)
		}
	}
	if v == "v2" && !strings.Contains(out, "0::/\n") {
		t.Errorf("v2 container is not at the root of its cgroup namespace: %q", out)
	}
}

func TestCgroupPidsLimit(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	file := limitFile(t, "pids", "pids.max", "pids.max")
	r := berth(t, "", "run", "--rm", "--rootfs", rootfsDir, "--pids-limit", "10", "/bin/sh", "-c",
		"cat "+file+"; i=0; while [ $i -lt 50 ]; do sleep 100 & i=$((i+1)); done; echo forked-all")
	if !strings.HasPrefix(r.stdout, "10\n") {
		t.Errorf("pids.max inside = %q, want 10", r.stdout)
	}
	if strings.Contains(r.stdout, "forked-all") || !strings.Contains(r.stderr, "can't fork") {
		t.Errorf("fork loop was not stopped at the pids limit: %+v", r)
	}
	checkNoLeaks(t, before)
}

func TestCgroupMemoryOOM(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	file := limitFile(t, "memory", "memory.limit_in_bytes", "memory.max")
	r := berth(t, "", "run", "--rm", "--rootfs", rootfsDir, "--memory", "32m", "/bin/sh", "-c",
		"cat "+file+"; x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done")
	if !strings.HasPrefix(r.stdout, "33554432\n") {
		t.Errorf("memory limit inside = %q, want 33554432", r.stdout)
	}
	if r.code != 137 {
		t.Errorf("memory hog ended with %d, want 137", r.code)
	}
	if !strings.Contains(r.stderr, "memory limit") {
		t.Errorf("no message about the memory limit: %q", r.stderr)
	}
	checkNoLeaks(t, before)
}

func TestCgroupCPU(t *testing.T) {
	needRoot(t)
	var script, want string
	if cgroupVersion(t) == "v2" {
		script, want = "cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu.weight", "50000 100000\n39\n"
	} else {
		script, want = "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.shares", "50000\n100000\n1024\n"
	}
	out := runIn(t, script, "--cpus", "0.5", "--cpu-shares", "1024")
	if out != want {
		t.Errorf("cpu limits inside = %q, want %q", out, want)
	}
}

func TestCgroupDevicesDenied(t *testing.T) {
	needRoot(t)
	// CAP_MKNOD is in the default set: the device cgroup is what keeps the
	// container from reading the host's disks through a node it made. The
	// nodes are made in /dev: a nodev mount (the v2 VM's /tmp, where the
	// rootfs is) would refuse them with EACCES whatever the cgroup says.
	out := runIn(t, "mknod /dev/disk b 8 0 && echo made; head -c1 /dev/disk 2>&1; mknod /dev/mem1 c 1 1; head -c1 /dev/mem1 2>&1; rm -f /dev/disk /dev/mem1; head -c1 /dev/zero | wc -c")
	if !strings.Contains(out, "made") {
		t.Fatalf("mknod is not allowed (it should be, as in Docker): %q", out)
	}
	// EPERM is the device cgroup's answer, v1's and the v2 program's.
	if denied := strings.Count(out, "Operation not permitted"); denied != 2 {
		t.Errorf("device nodes outside the allow list were not refused with EPERM: %q", out)
	}
	if !strings.HasSuffix(out, "1\n") {
		t.Errorf("allowed device /dev/zero unreadable: %q", out)
	}
}

func TestCgroupRemovedAfterExit(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	for _, args := range [][]string{
		{"/bin/true"},
		{"/bin/sh", "-c", "exit 9"},
		{"/nonexistent"},
	} {
		berth(t, "", append([]string{"run", "--rm", "--rootfs", rootfsDir, "--memory", "64m", "--pids-limit", "20", "--cpus", "1"}, args...)...)
	}
	checkNoLeaks(t, before)
}
