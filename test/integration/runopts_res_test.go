package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"
)

// The devices and resources group of docker run's options (issue 13).
// Tests named TestCgroup* also run in the cgroup v2 VM.

// blockDevice is a block device of this host for the throttle options,
// with its MAJOR:MINOR; "" where there is none (the v2 VM).
func blockDevice(t *testing.T) (string, string) {
	t.Helper()
	entries, _ := os.ReadDir("/sys/block")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "loop") || strings.HasPrefix(e.Name(), "zram") || strings.HasPrefix(e.Name(), "ram") {
			continue
		}
		var st unix.Stat_t
		path := "/dev/" + e.Name()
		if unix.Stat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
			return path, fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
	}
	return "", ""
}

// hostCgroupFile reads a file of the container's cgroup from the host.
func hostCgroupFile(t *testing.T, id, v1Controller, file string) string {
	t.Helper()
	path := filepath.Join("/sys/fs/cgroup", "berth", id, file)
	if cgroupVersion(t) == "v1" {
		path = filepath.Join("/sys/fs/cgroup", v1Controller, "berth", id, file)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("read %s: %v", path, err)
	}
	return strings.TrimSpace(string(b))
}

// TestCgroupResourceOptions: the memory, cpu and block I/O options land
// in the container's cgroup, read from the host and from inside.
func TestCgroupResourceOptions(t *testing.T) {
	needRoot(t)
	dev, majmin := blockDevice(t)
	before := snapshot(t)
	v1 := cgroupVersion(t) == "v1"
	args := []string{"run", "-d", "--rootfs", rootfsDir, "-m", "64m", "--memory-swap", "128m", "--memory-reservation", "32m",
		"--cpuset-cpus", "0", "--cpuset-mems", "0", "--cpu-period", "50000", "--cpu-quota", "25000"}
	if dev != "" {
		args = append(args, "--device-read-bps", dev+":1mb", "--device-write-iops", dev+":100")
	}
	if v1 {
		args = append(args, "--memory-swappiness", "10", "--oom-kill-disable")
	}
	r := berth(t, "", append(args, "/bin/sh", "-c", idle)...)
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	id := strings.TrimSpace(r.stdout)
	defer func() {
		berth(t, "", "rm", "-f", id)
		checkNoLeaks(t, before)
	}()
	type file struct{ v1Ctl, v1, v2, want string }
	var files []file
	if v1 {
		files = []file{
			{"memory", "memory.limit_in_bytes", "", "67108864"},
			{"memory", "memory.soft_limit_in_bytes", "", "33554432"},
			{"memory", "memory.swappiness", "", "10"},
			{"cpu", "cpu.cfs_period_us", "", "50000"},
			{"cpu", "cpu.cfs_quota_us", "", "25000"},
			{"cpuset", "cpuset.cpus", "", "0"},
			{"cpuset", "cpuset.mems", "", "0"},
		}
		if dev != "" {
			files = append(files, file{"blkio", "blkio.throttle.read_bps_device", "", majmin + " 1048576"},
				file{"blkio", "blkio.throttle.write_iops_device", "", majmin + " 100"})
		}
		if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
			files = append(files, file{"memory", "memory.memsw.limit_in_bytes", "", "134217728"})
		}
	} else {
		files = []file{
			{"", "", "memory.max", "67108864"},
			{"", "", "memory.swap.max", "67108864"},
			{"", "", "memory.low", "33554432"},
			{"", "", "cpu.max", "25000 50000"},
			{"", "", "cpuset.cpus", "0"},
			{"", "", "cpuset.mems", "0"},
		}
		if dev != "" {
			files = append(files, file{"", "", "io.max", majmin + " rbps=1048576 wbps=max riops=max wiops=100"})
		}
	}
	for _, f := range files {
		name, inside := f.v2, "/sys/fs/cgroup/"+f.v2
		if v1 {
			name, inside = f.v1, "/sys/fs/cgroup/"+f.v1Ctl+"/"+f.v1
		}
		if got := hostCgroupFile(t, id, f.v1Ctl, name); got != f.want {
			t.Errorf("host %s = %q, want %q", name, got, f.want)
		}
		e := berth(t, "", "exec", id, "cat", inside)
		if got := strings.TrimSpace(e.stdout); got != f.want {
			t.Errorf("inside %s = %q (%s), want %q", inside, got, e.stderr, f.want)
		}
	}
	if v1 {
		if got := hostCgroupFile(t, id, "memory", "memory.oom_control"); !strings.Contains(got, "oom_kill_disable 1") {
			t.Errorf("--oom-kill-disable: memory.oom_control = %q", got)
		}
	}
}

// TestCgroupV1OnlyOptionsWarn: on cgroup v2, --memory-swappiness and
// --oom-kill-disable are dropped with Docker's warnings; a weight the
// kernel has no file for likewise.
func TestCgroupV1OnlyOptionsWarn(t *testing.T) {
	needRoot(t)
	if cgroupVersion(t) != "v2" {
		t.Skip("cgroup v1 applies them (TestCgroupResourceOptions)")
	}
	r := berth(t, "", "run", "--rm", "--rootfs", rootfsDir, "-m", "64m", "--memory-swappiness", "10", "--oom-kill-disable", "true")
	if r.code != 0 || !strings.Contains(r.stderr, "--memory-swappiness is ignored") || !strings.Contains(r.stderr, "--oom-kill-disable is ignored") {
		t.Errorf("want both warnings and success: %+v", r)
	}
}

// TestCgroupResourceBadInput: each bad value is one line, exit 125, and
// leaves nothing (no record, cgroup or cidfile).
func TestCgroupResourceBadInput(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	cid := filepath.Join(dir, "cid")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--memory-swap", "1g"}, "needs --memory"},
		{[]string{"-m", "64m", "--memory-swap", "32m"}, "below --memory"},
		{[]string{"-m", "64m", "--memory-swap", "lots"}, "--memory-swap"},
		{[]string{"-m", "64m", "--memory-reservation", "128m"}, "--memory-reservation"},
		{[]string{"--memory-swappiness", "101"}, "--memory-swappiness"},
		{[]string{"--cpuset-cpus", "0-99"}, "not online"},
		{[]string{"--cpuset-cpus", "zero"}, "--cpuset-cpus"},
		{[]string{"--cpuset-mems", "7"}, "not online"},
		{[]string{"--cpus", "1", "--cpu-quota", "50000"}, "--cpus"},
		{[]string{"--cpu-period", "10"}, "--cpu-period"},
		{[]string{"--cpu-quota", "10"}, "--cpu-quota"},
		{[]string{"--cpu-rt-runtime", "950000"}, "realtime"},
		{[]string{"--blkio-weight", "5"}, "--blkio-weight"},
		{[]string{"--device-read-bps", "/dev/null:1mb"}, "not a block device"},
		{[]string{"--device-write-bps", "/dev/null:fast"}, "--device-write-bps"},
		{[]string{"--device-read-iops", "/dev/null"}, "--device-read-iops"},
		{[]string{"--kernel-memory", "1g"}, "--kernel-memory"},
		{[]string{"--cpu-count", "2"}, "Windows"},
		{[]string{"--cpu-percent", "50"}, "Windows"},
		{[]string{"--io-maxbandwidth", "1m"}, "Windows"},
		{[]string{"--io-maxiops", "10"}, "Windows"},
		{[]string{"--isolation", "hyperv"}, "Windows"},
		{[]string{"--cgroupns", "shared"}, "--cgroupns"},
		{[]string{"--cgroup-parent", "../escape"}, "--cgroup-parent"},
		{[]string{"--cgroup-parent", "/a/../../b"}, "--cgroup-parent"},
		{[]string{"--device", "/etc/passwd"}, "not a device"},
		{[]string{"--device", "/dev/berth-nonexistent"}, "does not exist"},
		{[]string{"--device", "/dev/zero:dev/zero"}, "absolute"},
		{[]string{"--device", "/dev/zero:/dev/z:rwx"}, "--device"},
		{[]string{"--device-cgroup-rule", "x 1:3 rwm"}, "--device-cgroup-rule"},
		{[]string{"--device-cgroup-rule", "c 1 rwm"}, "--device-cgroup-rule"},
		{[]string{"--device", "berth.test/none=nothing"}, "no CDI spec"},
		{[]string{"--blkio-weight-device", "/dev/null:500"}, "not a block device"},
		{[]string{"--gpus", "all"}, "no CDI spec for nvidia.com/gpu; generate one with nvidia-ctk cdi generate"},
	}
	before := snapshot(t)
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			args := append(append([]string{"run", "--rm", "--cidfile", cid}, c.args...), "--rootfs", rootfsDir, "true")
			cmd := berthCommand(args...)
			cmd.Env = append(cmd.Env, "BERTH_CDI_SPEC_DIRS="+dir)
			r := collect(t, cmd, "berth")
			if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("%+v: want 125 and one line naming %q", r, c.want)
			}
			if _, err := os.Stat(cid); err == nil {
				t.Error("cidfile left behind")
				os.Remove(cid)
			}
		})
	}
	checkNoLeaks(t, before)
}

// TestDeviceOptions: --device makes the host's node in the container
// (renamed, or a directory of them) with its device-cgroup rule, and the
// node is absent without it; --device-cgroup-rule allows a node the
// container makes itself.
func TestDeviceOptions(t *testing.T) {
	needRoot(t)
	if out := runIn(t, "head -c 4 /dev/berthzero | wc -c", "--device", "/dev/zero:/dev/berthzero"); out != "4\n" {
		t.Errorf("--device /dev/zero:/dev/berthzero: %q, want 4 bytes read", out)
	}
	if out := runIn(t, "test -e /dev/berthzero && echo present || echo absent"); out != "absent\n" {
		t.Errorf("without --device: %q", out)
	}
	// A directory: every node under it, at the same place.
	devs := filepath.Join(t.TempDir(), "devs")
	os.MkdirAll(filepath.Join(devs, "sub"), 0o755)
	if err := unix.Mknod(filepath.Join(devs, "sub", "z"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
		t.Fatal(err)
	}
	if out := runIn(t, "head -c 2 /dev/mine/sub/z | wc -c", "--device", devs+":/dev/mine"); out != "2\n" {
		t.Errorf("--device DIR: %q", out)
	}
	// /dev/fuse (10:229) is outside the default allow list: with :r the
	// container may open it for reading, not for writing.
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	out := runIn(t, "(exec 3</dev/berthfuse) && echo read; (exec 3>/dev/berthfuse) 2>&1; true", "--device", "/dev/fuse:/dev/berthfuse:r")
	if !strings.HasPrefix(out, "read\n") || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("--device /dev/fuse:/dev/berthfuse:r: %q, want it read and the write refused", out)
	}
	script := "mknod /dev/f c 10 229; (exec 3</dev/f) 2>&1 && echo opened; true"
	if out := runIn(t, script); !strings.Contains(out, "Operation not permitted") {
		t.Errorf("/dev/fuse opened without a rule: %q", out)
	}
	if out := runIn(t, script, "--device-cgroup-rule", "c 10:229 rwm"); out != "opened\n" {
		t.Errorf("--device-cgroup-rule 'c 10:229 rwm': %q", out)
	}
}

// TestCDIDevice: a CDI spec in the test's own spec directory gives the
// container a device node, an environment variable and a mount; --gpus
// without an nvidia.com/gpu spec is one line.
func TestCDIDevice(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	share := filepath.Join(dir, "share")
	os.MkdirAll(share, 0o755)
	os.WriteFile(filepath.Join(share, "f"), []byte("shared\n"), 0o644)
	specDir := filepath.Join(dir, "cdi")
	os.MkdirAll(specDir, 0o755)
	cdiSpec := fmt.Sprintf(`{"cdiVersion": "0.6.0", "kind": "berth.test/dev",
  "devices": [{"name": "zero", "containerEdits": {
    "deviceNodes": [{"path": "/dev/cdizero", "hostPath": "/dev/zero"}],
    "env": ["CDI_TEST=yes"],
    "mounts": [{"hostPath": %q, "containerPath": "/cdishare", "options": ["ro", "bind"]}]}}]}`, share)
	if err := os.WriteFile(filepath.Join(specDir, "berth-test.json"), []byte(cdiSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t)
	cmd := berthCommand("run", "--rm", "--rootfs", rootfsDir, "--device", "berth.test/dev=zero", "/bin/sh", "-c",
		"head -c 3 /dev/cdizero | wc -c; echo $CDI_TEST; cat /cdishare/f")
	cmd.Env = append(cmd.Env, "BERTH_CDI_SPEC_DIRS="+specDir)
	r := collect(t, cmd, "berth")
	if r.code != 0 || r.stdout != "3\nyes\nshared\n" {
		t.Errorf("CDI device: %+v, want the node read, CDI_TEST=yes and the mount", r)
	}
	cmd = berthCommand("run", "--rm", "--rootfs", rootfsDir, "--gpus", "all", "true")
	cmd.Env = append(cmd.Env, "BERTH_CDI_SPEC_DIRS="+specDir)
	r = collect(t, cmd, "berth")
	if r.code != 125 || r.stderr != "berth: --gpus: no CDI spec for nvidia.com/gpu; generate one with nvidia-ctk cdi generate\n" {
		t.Errorf("--gpus without a spec: %+v", r)
	}
	checkNoLeaks(t, before)
}

// TestCgroupNamespaceAndParent: --cgroupns host shows the host's cgroup
// paths inside; --cgroup-parent makes the container's cgroup under the
// parent, removed with the container, the parent left.
func TestCgroupNamespaceAndParent(t *testing.T) {
	needRoot(t)
	if out := runIn(t, "cat /proc/self/cgroup", "--cgroupns", "host"); !strings.Contains(out, "/berth/") {
		t.Errorf("--cgroupns host: %q, want the host's /berth/ID path", out)
	}
	if out := runIn(t, "cat /proc/self/cgroup", "--cgroupns", "private"); strings.Contains(out, "/berth/") {
		t.Errorf("--cgroupns private: %q", out)
	}
	before := snapshot(t)
	parent := "berthtest-parent"
	roots := []string{"/sys/fs/cgroup"}
	if cgroupVersion(t) == "v1" {
		roots, _ = filepath.Glob("/sys/fs/cgroup/*")
	}
	defer func() {
		for _, root := range roots {
			unix.Rmdir(filepath.Join(root, parent))
		}
	}()
	r := berth(t, "", "run", "-d", "--rootfs", rootfsDir, "--cgroup-parent", "/"+parent, "/bin/sh", "-c", idle)
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	id := strings.TrimSpace(r.stdout)
	mem := filepath.Join("/sys/fs/cgroup", parent, id)
	if cgroupVersion(t) == "v1" {
		mem = filepath.Join("/sys/fs/cgroup/memory", parent, id)
	}
	if _, err := os.Stat(mem); err != nil {
		t.Errorf("container cgroup under the parent: %v", err)
	}
	berth(t, "", "rm", "-f", id)
	if _, err := os.Stat(mem); err == nil {
		t.Errorf("%s left after rm", mem)
	}
	if _, err := os.Stat(filepath.Dir(mem)); err != nil {
		t.Errorf("the parent was removed: %v", err)
	}
	checkNoLeaks(t, before)
}

// TestCgroupUpdate: berth update changes a running container's cgroup
// at once and its stored configuration (inspect, the next start); on a
// stopped container it only stores; bad values change nothing.
func TestCgroupUpdate(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	v1 := cgroupVersion(t) == "v1"
	name := "upd-res"
	r := berth(t, "", "run", "-d", "--name", name, "--rootfs", rootfsDir, "-m", "64m", "--cpus", "0.5", "--pids-limit", "50", "/bin/sh", "-c", idle)
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	id := strings.TrimSpace(r.stdout)
	defer func() {
		berth(t, "", "rm", "-f", name)
		checkNoLeaks(t, before)
	}()
	r = berth(t, "", "update", "-m", "128m", "--memory-swap", "256m", "--cpus", "1", "--pids-limit", "100", "--cpuset-cpus", "0", "--cpu-shares", "512", name)
	if r.code != 0 || r.stdout != name+"\n" {
		t.Fatalf("update: %+v", r)
	}
	type file struct{ v1Ctl, v1, v2, want string }
	files := []file{
		{"memory", "memory.limit_in_bytes", "memory.max", "134217728"},
		{"cpu", "cpu.cfs_quota_us", "cpu.max", "100000"},
		{"pids", "pids.max", "pids.max", "100"},
		{"cpuset", "cpuset.cpus", "cpuset.cpus", "0"},
		{"cpu", "cpu.shares", "cpu.weight", "512"},
	}
	check := func(files []file) {
		t.Helper()
		for _, f := range files {
			name, want := f.v2, f.want
			if v1 {
				name = f.v1
			} else if f.v2 == "cpu.max" {
				want = f.want + " 100000"
			} else if f.v2 == "cpu.weight" {
				want = "20" // 512 shares, as runc converts them
			}
			if got := hostCgroupFile(t, id, f.v1Ctl, name); got != want {
				t.Errorf("host %s = %q, want %q", name, got, want)
			}
		}
	}
	check(files)
	if r := berth(t, "", "inspect", name); !strings.Contains(r.stdout, `"Memory": "128m"`) || !strings.Contains(r.stdout, `"CpusetCpus": "0"`) || !strings.Contains(r.stdout, `"limit": 134217728`) {
		t.Errorf("inspect does not show the update: %s", r.stdout)
	}
	// Refused: one line, nothing changed.
	for _, bad := range [][]string{{"--cpu-quota", "50000"}, {"--memory-swap", "1m"}, {"--cpuset-cpus", "0-99"}, {"--blkio-weight", "1"}} {
		r := berth(t, "", append(append([]string{"update"}, bad...), name)...)
		if r.code == 0 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("update %v: %+v, want one line and a failure", bad, r)
		}
	}
	if r := berth(t, "", "update", name); r.code != 125 || !strings.Contains(r.stderr, "one or more flags") {
		t.Errorf("update without flags: %+v", r)
	}
	check(files)
	// Stopped: stored, applied by the next start.
	if r := berth(t, "", "stop", "-t", "0", name); r.code != 0 {
		t.Fatalf("stop: %+v", r)
	}
	if r := berth(t, "", "update", "--pids-limit", "200", "--restart", "on-failure:3", name); r.code != 0 {
		t.Fatalf("update stopped: %+v", r)
	}
	if r := berth(t, "", "start", name); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	files[2].want = "200"
	check(files)
	if r := berth(t, "", "inspect", name); !strings.Contains(r.stdout, `"MaximumRetryCount": 3`) {
		t.Errorf("inspect does not show the restart policy: %s", r.stdout)
	}
}

// TestRootlessDevice: a rootless container cannot make device nodes, so
// --device bind-mounts the host's node at the same path (as podman does);
// a renamed device is refused in one line.
func TestRootlessDevice(t *testing.T) {
	needRoot(t)
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("no /dev/net/tun")
	}
	before := snapshot(t)
	u := newRootlessUser(t)
	reg := newTestRegistry(t)
	img, err := mutate.AppendLayers(empty.Image, rootfsLayer(t))
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.push(t, "rootless/busybox:dev", img)
	if r := u.berth(t, "pull", "-q", "--tls-verify=false", ref); r.code != 0 {
		t.Fatalf("pull: %+v", r)
	}
	// The host's node, with the host's owner and mode (root's 0600 here:
	// the user could not open it on the host either).
	script := "test -c /dev/net/tun && echo char"
	if r := u.berth(t, "run", "--rm", "--device", "/dev/net/tun", ref, "sh", "-c", script); r.code != 0 || r.stdout != "char\n" {
		t.Errorf("rootless --device /dev/net/tun: %+v", r)
	}
	if r := u.berth(t, "run", "--rm", ref, "sh", "-c", "test -e /dev/net/tun && echo present || echo absent"); r.stdout != "absent\n" {
		t.Errorf("without --device: %+v", r)
	}
	oneLine(t, "renamed rootless device", u.berth(t, "run", "--rm", "--device", "/dev/net/tun:/dev/tun2", ref, "true"), "same path")
	checkNoLeaks(t, before)
}

// TestCgroupBlkioWeight: --blkio-weight is the cgroup's weight where the
// kernel's I/O scheduler has weights, else dropped with Docker's warning.
func TestCgroupBlkioWeight(t *testing.T) {
	needRoot(t)
	files := "/sys/fs/cgroup/blkio/blkio.weight /sys/fs/cgroup/blkio/blkio.bfq.weight /sys/fs/cgroup/io.weight /sys/fs/cgroup/io.bfq.weight"
	r := berth(t, "", "run", "--rm", "--rootfs", rootfsDir, "--blkio-weight", "300", "/bin/sh", "-c", "cat "+files+" 2>/dev/null; true")
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	applied := strings.Contains(r.stdout, "300")
	warned := strings.Contains(r.stderr, "--blkio-weight and --blkio-weight-device are ignored")
	if applied == warned {
		t.Errorf("--blkio-weight 300: %+v, want the weight applied or a warning", r)
	}
	t.Logf("applied %v, warned %v", applied, warned)
}

// TestCgroupRealtime: on cgroup v1 with realtime group scheduling, the
// container gets the realtime period and runtime asked for, within the
// budget of berth's parent cgroup (given here by the test, and taken back).
func TestCgroupRealtime(t *testing.T) {
	needRoot(t)
	budget := "/sys/fs/cgroup/cpu/berth/cpu.rt_runtime_us"
	old, err := os.ReadFile(budget)
	if cgroupVersion(t) != "v1" || err != nil {
		t.Skip("no v1 realtime group scheduling (refusal: TestCgroupResourceBadInput)")
	}
	if err := os.WriteFile(budget, []byte("100000"), 0o644); err != nil {
		t.Skipf("give berth's cgroup a realtime budget: %v", err)
	}
	// The kernel counts a removed container's cgroup against the budget
	// until it is freed, a moment after rmdir: until then it refuses to
	// take the budget back (EINVAL), and the host would keep it.
	defer eventually(t, "taking back berth's realtime budget", func() string {
		if err := os.WriteFile(budget, old, 0o644); err != nil {
			return err.Error()
		}
		return ""
	})
	out := runIn(t, "cat /sys/fs/cgroup/cpu/cpu.rt_period_us /sys/fs/cgroup/cpu/cpu.rt_runtime_us", "--cpu-rt-period", "100000", "--cpu-rt-runtime", "5000")
	if out != "100000\n5000\n" {
		t.Errorf("realtime period and runtime inside: %q", out)
	}
	r := berth(t, "", "run", "--rm", "--rootfs", rootfsDir, "--cpu-rt-period", "100000", "--cpu-rt-runtime", "20000", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "realtime budget") {
		t.Errorf("above the parent's budget: %+v", r)
	}
}
