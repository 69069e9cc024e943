package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// systemdDriver skips a test unless systemd is PID 1 on cgroup v2, where
// berth-oci --systemd-cgroup uses systemd's driver (the cgroup v2 VM booted
// with systemd: make test-systemd). BERTH_EXPECT_SYSTEMD=1 turns the skip
// into a failure, so that run cannot pass without testing anything.
func systemdDriver(t *testing.T) {
	t.Helper()
	needRoot(t)
	_, err := os.Stat("/run/systemd/system")
	if err == nil && cgroupVersion(t) == "v2" {
		return
	}
	if os.Getenv("BERTH_EXPECT_SYSTEMD") == "1" {
		t.Fatalf("systemd is not PID 1 on cgroup v2 here (%v), and BERTH_EXPECT_SYSTEMD=1", err)
	}
	t.Skip("needs systemd as PID 1 on cgroup v2 (make test-systemd)")
}

// unitProps reads properties of a unit as systemctl shows them.
func unitProps(t *testing.T, unit string, names ...string) map[string]string {
	t.Helper()
	out, err := exec.Command("systemctl", "show", "-p", strings.Join(names, ","), unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemctl show %s: %v: %s", unit, err, out)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		m[k] = v
	}
	return m
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestSystemdCgroupDriver: with --systemd-cgroup on a systemd host the
// container's cgroup is a transient scope that systemd made, with the
// init process in it, the limits as unit properties and in the cgroup
// files (and kept when systemd applies its properties again, on a
// daemon-reload), update changes both, the device program still denies,
// and delete removes the unit.
func TestSystemdCgroupDriver(t *testing.T) {
	systemdDriver(t)
	const id, unit = "sdd1", "berthtest-sdd1.scope"
	dir := "/sys/fs/cgroup/system.slice/" + unit
	mem, pids, quota, period := int64(64<<20), int64(20), int64(50000), uint64(100000)
	bundle := ociBundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Linux.CgroupsPath = "system.slice:berthtest:" + id
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &mem}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
		s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period, Cpus: "0"}
	})
	r := oci(t, "--systemd-cgroup", "run", "--detach", "--bundle", bundle, id)
	defer oci(t, "delete", "--force", id)
	if r.code != 0 || strings.Contains(r.stderr, "cgroupfs") {
		t.Fatalf("run with --systemd-cgroup: %+v", r)
	}
	pid := ociState(t, id).Pid
	p := unitProps(t, unit, "ActiveState", "Slice", "Delegate", "MemoryMax", "TasksMax", "CPUQuotaPerSecUSec", "AllowedCPUs", "ControlGroup")
	want := map[string]string{
		"ActiveState": "active", "Slice": "system.slice", "Delegate": "yes", "MemoryMax": "67108864",
		"TasksMax": "20", "CPUQuotaPerSecUSec": "500ms", "AllowedCPUs": "0", "ControlGroup": "/system.slice/" + unit,
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("unit %s: %s=%q; want %q", unit, k, p[k], v)
		}
	}
	if procs := readTrim(t, dir+"/cgroup.procs"); !strings.Contains("\n"+procs+"\n", "\n"+strconv.Itoa(pid)+"\n") {
		t.Errorf("%s/cgroup.procs = %q; want the init process %d in it", dir, procs, pid)
	}
	files := map[string]string{"memory.max": "67108864", "pids.max": "20", "cpu.max": "50000 100000", "cpuset.cpus": "0"}
	check := func(when string) {
		t.Helper()
		for f, v := range files {
			if got := readTrim(t, filepath.Join(dir, f)); got != v {
				t.Errorf("%s: %s = %q; want %q", when, f, got, v)
			}
		}
	}
	check("after run")
	// systemd writes the cgroup files from the unit's properties again on
	// a reload: the limits must be its own too, or they would be reset.
	if out, err := exec.Command("systemctl", "daemon-reload").CombinedOutput(); err != nil {
		t.Fatalf("systemctl daemon-reload: %v: %s", err, out)
	}
	check("after daemon-reload")
	if r := oci(t, "exec", id, "cat", "/sys/fs/cgroup/memory.max"); strings.TrimSpace(r.stdout) != "67108864" {
		t.Errorf("memory.max seen inside: %+v", r)
	}
	// The device program (berth's own) still denies what the config
	// does not allow: /dev/fuse (10:229), made in the container's /dev (a
	// nodev mount would refuse it with EACCES, whatever the program says).
	if r := oci(t, "exec", id, "sh", "-c", "mknod /dev/fz c 10 229 && head -c1 /dev/fz"); r.code == 0 || !strings.Contains(r.stderr, "not permitted") {
		t.Errorf("reading a denied device: %+v", r)
	}
	if r := oci(t, "update", "--memory", "134217728", "--pids-limit", "30", id); r.code != 0 {
		t.Fatalf("update: %+v", r)
	}
	if p := unitProps(t, unit, "MemoryMax", "TasksMax"); p["MemoryMax"] != "134217728" || p["TasksMax"] != "30" {
		t.Errorf("unit after update: %v", p)
	}
	files["memory.max"], files["pids.max"] = "134217728", "30"
	check("after update")
	if r := oci(t, "delete", "--force", id); r.code != 0 {
		t.Fatalf("delete --force: %+v", r)
	}
	if p := unitProps(t, unit, "LoadState", "ActiveState"); p["ActiveState"] == "active" || p["LoadState"] == "loaded" {
		t.Errorf("unit after delete: %v; want it gone", p)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cgroup %s after delete: %v; want it gone", dir, err)
	}
}

// TestSystemdCgroupDriverRunAndBadPath: a foreground run in a slice of
// the config's (created by systemd, nested as systemd names it) sees its
// scope; the unit is gone after; a path that is not slice:prefix:name is
// refused with runc's words and leaves no unit.
func TestSystemdCgroupDriverRunAndBadPath(t *testing.T) {
	systemdDriver(t)
	bundle := ociBundle(t, []string{"cat", "/proc/self/cgroup"}, func(s *specs.Spec) {
		s.Linux.CgroupsPath = "berthtest-a.slice:berth:sdd2"
		s.Linux.Namespaces = s.Linux.Namespaces[:len(s.Linux.Namespaces)-1] // no cgroup namespace: show the path
	})
	r := oci(t, "--systemd-cgroup", "run", "--bundle", bundle, "sdd2")
	if want := "0::/berthtest.slice/berthtest-a.slice/berth-sdd2.scope"; r.code != 0 || strings.TrimSpace(r.stdout) != want {
		t.Errorf("run: %+v; want %q", r, want)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		p := unitProps(t, "berth-sdd2.scope", "LoadState")
		if p["LoadState"] != "loaded" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("berth-sdd2.scope still loaded after the run ended")
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	exec.Command("systemctl", "stop", "berthtest-a.slice", "berthtest.slice").Run()

	bad := ociBundle(t, []string{"true"}, func(s *specs.Spec) { s.Linux.CgroupsPath = "/berth/sdd3" })
	r = oci(t, "--systemd-cgroup", "run", "--bundle", bad, "sdd3")
	if r.code == 0 || !strings.Contains(r.stderr, `expected cgroupsPath to be of format "slice:prefix:name"`) {
		t.Errorf("run with a cgroupfs path: %+v", r)
	}
	if r := oci(t, "state", "sdd3"); r.code == 0 {
		t.Errorf("state of the refused container: %+v", r)
	}
}

// TestCgroupV2EnablesControllersAParentLacks: a cgroupsPath under a
// parent that passes on only memory and pids (as systemd leaves / and
// system.slice until a unit needs more) still gets its cpu limit: the
// controllers are enabled down the path, whatever the parent has itself.
func TestCgroupV2EnablesControllersAParentLacks(t *testing.T) {
	needRoot(t)
	if cgroupVersion(t) != "v2" {
		t.Skip("cgroup v2 only (make test-v2)")
	}
	parent := "/sys/fs/cgroup/berthtest-narrow"
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(parent)
	mid := parent + "/mid"
	if err := os.Mkdir(mid, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(mid)
	// parent passes on memory and pids only, so mid has nothing else.
	if err := os.WriteFile(parent+"/cgroup.subtree_control", []byte("+memory +pids"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mid+"/cgroup.subtree_control", []byte("+memory +pids"), 0); err != nil {
		t.Fatal(err)
	}
	quota, period := int64(50000), uint64(100000)
	bundle := ociBundle(t, []string{"cat", "/sys/fs/cgroup/cpu.max"}, func(s *specs.Spec) {
		s.Linux.CgroupsPath = "/berthtest-narrow/mid/c1"
		s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	})
	r := oci(t, "run", "--bundle", bundle, "narrow1")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "50000 100000" {
		t.Errorf("run under a parent without cpu: %+v; want cpu.max 50000 100000", r)
	}
}
