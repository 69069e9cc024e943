package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// pidsScript fills a container's pids limit of 8 with its own tasks: sh
// and six background sleeps are 7, cat makes 8 (and prints the count), a
// seventh sleep is the 8th task again, and an eighth sleep must fail.
// Nothing the runtime left in the cgroup may count.
func pidsScript(pidsCurrent string) string {
	return "i=0; while [ $i -lt 6 ]; do sleep 5 & i=$((i+1)); done; cat " + pidsCurrent +
		"; sleep 5 & echo seventh; sleep 5 & echo eighth"
}

func checkPidsScript(t *testing.T, how string, stdout, stderr string) {
	t.Helper()
	if stdout != "8\nseventh\n" || !strings.Contains(stderr, "can't fork") {
		t.Errorf("%s: a container with pids.max 8 did not run exactly 8 tasks of its own: stdout %q, stderr %q (want \"8\\nseventh\\n\" and a failed fork)", how, stdout, stderr)
	}
}

// TestCgroupPidsLimitIsTheContainers: a container whose pids limit is 8
// runs 8 tasks of its own, as with runc (podman's `--pids-limit 8`): the
// init stage's threads and the runtime's helpers are not charged to it.
// Through berth run, berth-oci run and berth-oci create + start (the
// init stage waits in the cgroup between the two), with and without a
// cgroup namespace.
func TestCgroupPidsLimitIsTheContainers(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	current := limitFile(t, "pids", "pids.current", "pids.current")

	r := berth(t, "", "run", "--rm", "--rootfs", rootfsDir, "--pids-limit", "8", "/bin/sh", "-c", pidsScript(current))
	checkPidsScript(t, "berth run", r.stdout, r.stderr)

	for _, cgroupns := range []bool{true, false} {
		for _, how := range []string{"run", "create"} {
			id := fmt.Sprintf("pids-%s-%v", how, cgroupns)
			file := current
			if !cgroupns && cgroupVersion(t) == "v2" {
				// runc's view: cgroup2 mounted in the host's cgroup
				// namespace shows the whole hierarchy.
				file = "/sys/fs/cgroup/berth/" + id + "/pids.current"
			}
			bundle := ociBundle(t, []string{"sh", "-c", pidsScript(file)}, func(s *specs.Spec) {
				limit := int64(8)
				s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
				s.Linux.CgroupsPath = "/berth/" + id
				if !cgroupns {
					withoutNamespace(s, specs.CgroupNamespace)
				}
			})
			out := filepath.Join(t.TempDir(), "out")
			// The container's stdio are files, as conmon's are.
			script := `"$0" --root "$1" run --bundle "$2" "$3" >"$4" 2>"$4.err"`
			if how == "create" {
				script = `"$0" --root "$1" create --bundle "$2" "$3" >"$4" 2>"$4.err" && "$0" --root "$1" start "$3"`
			}
			b, err := exec.Command("sh", "-c", script, ociBin, ociRoot, bundle, id, out).CombinedOutput()
			if how == "create" {
				if err != nil {
					t.Fatalf("create + start: %v %s", err, b)
				}
				waitStatus(t, id, specs.StateStopped)
			}
			stdout, _ := os.ReadFile(out)
			stderr, _ := os.ReadFile(out + ".err")
			checkPidsScript(t, fmt.Sprintf("berth-oci %s, cgroupns %v", how, cgroupns), string(stdout), string(stderr))
			oci(t, "delete", "--force", id)
		}
	}
	checkNoLeaks(t, before)
}

// TestCgroupPidsLimitOne: a container whose pids limit is 1 runs its one
// process, as with runc. The init stage is a Go program with several
// threads: where it is in the container's cgroup before its exec (cgroup
// v2, born there; a user namespace, moved there whole), those threads
// must not need room under the container's limit.
func TestCgroupPidsLimitOne(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	for _, userns := range []bool{false, true} {
		bundle := ociBundle(t, []string{"echo", "ok"}, func(s *specs.Spec) {
			limit := int64(1)
			s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
			if userns {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
			}
		})
		os.Chmod(filepath.Dir(bundle), 0o755)
		for _, how := range []string{"run", "create"} {
			id := fmt.Sprintf("pids1-%s-%v", how, userns)
			out := filepath.Join(t.TempDir(), "out")
			script := `"$0" --root "$1" run --bundle "$2" "$3" >"$4" 2>&1`
			if how == "create" {
				script = `"$0" --root "$1" create --bundle "$2" "$3" >"$4" 2>&1 && "$0" --root "$1" start "$3"`
			}
			b, err := exec.Command("sh", "-c", script, ociBin, ociRoot, bundle, id, out).CombinedOutput()
			if err == nil && how == "create" {
				waitStatus(t, id, specs.StateStopped)
			}
			got, _ := os.ReadFile(out)
			if err != nil || string(got) != "ok\n" {
				t.Errorf("%s, user namespace %v, pids limit 1: %v %s, container printed %q", how, userns, err, b, got)
			}
			oci(t, "delete", "--force", id)
		}
	}
	checkNoLeaks(t, before)
}

// viewScriptV1 prints what a container sees of its own v1 cgroups: its
// limits in each controller, and whether any cgroup besides its own shows.
const viewScriptV1 = `cd /sys/fs/cgroup
for f in pids/pids.max memory/memory.limit_in_bytes cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares freezer/freezer.state; do
	echo "$f=$(cat $f)"
done
for h in pids memory cpu cpuacct devices freezer blkio; do
	echo "$h: $(find $h/ -mindepth 1 -type d | wc -l) others, tasks file $(test -f $h/tasks && echo yes)"
done
grep -q 'a \*:\* rwm' devices/devices.list && echo "devices: allows all"
echo end`

// viewScriptV2 is viewScriptV1 for the unified hierarchy.
const viewScriptV2 = `cd /sys/fs/cgroup
for f in pids.max memory.max cpu.max cpu.weight; do
	echo "$f=$(cat $f 2>&1)"
done
echo "$(find . -mindepth 1 -type d | wc -l) others"
echo end`

const wantViewV1 = `pids/pids.max=64
memory/memory.limit_in_bytes=67108864
cpu/cpu.cfs_quota_us=50000
cpu/cpu.cfs_period_us=100000
cpu/cpu.shares=512
freezer/freezer.state=THAWED
pids: 0 others, tasks file yes
memory: 0 others, tasks file yes
cpu: 0 others, tasks file yes
cpuacct: 0 others, tasks file yes
devices: 0 others, tasks file yes
freezer: 0 others, tasks file yes
blkio: 0 others, tasks file yes
end
`

const wantViewV2 = `pids.max=64
memory.max=67108864
cpu.max=50000 100000
cpu.weight=20
0 others
end
`

// removeTestCgroups removes the cgroups under top (a path that only this
// test uses) in every hierarchy, runc's too (cpuset, name=systemd, the
// unified one of a hybrid host).
func removeTestCgroups(top string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", top))
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup", top))
	for _, d := range dirs {
		var all []string
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				all = append(all, p)
			}
			return nil
		})
		for i := len(all) - 1; i >= 0; i-- {
			killCgroupProcesses(all[i])
			rmdirPatiently(all[i])
		}
	}
}

// TestCgroupViewUnderEnginePaths: a container sees its own cgroups, in
// every controller, under the cgroupsPath shapes engines use (podman's
// cgroupfs /libpod_parent/libpod-ID, containerd's /NAMESPACE/ID, the
// kubelet's /kubepods/QOS/podUID/ID, a systemd slice:prefix:name), with and
// without a cgroup namespace, and what runc shows for the same config
// when runc is installed. podman's `--memory 64m` container read the host's
// root memory cgroup (9223372036854771712) on v1, where podman uses no
// cgroup namespace.
func TestCgroupViewUnderEnginePaths(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	v2 := cgroupVersion(t) == "v2"
	script, want := viewScriptV1, wantViewV1
	if v2 {
		script, want = viewScriptV2, wantViewV2
	}
	runc, _ := exec.LookPath("runc")
	roots := map[string]string{ociBin: t.TempDir(), runc: t.TempDir()}
	if runc != "" {
		t.Logf("comparing with %s", runc)
	}
	const top = "berthtest_view"
	t.Cleanup(func() { removeTestCgroups(top) })
	t.Cleanup(func() { removeTestCgroups(top + ".slice") })
	shapes := []struct{ name, path string }{
		{"podman", "/" + top + "/libpod_parent/libpod-ID"},
		{"containerd", "/" + top + "/default/ID"},
		{"kubelet", "/" + top + "/kubepods/besteffort/pod0c1d/ID"},
		{"systemd", top + ".slice:berth:ID"},
	}
	for _, shape := range shapes {
		for _, cgroupns := range []bool{true, false} {
			for _, runtime := range []string{ociBin, runc} {
				if runtime == "" || runtime == runc && shape.name == "systemd" {
					continue // runc's systemd driver needs systemd
				}
				id := fmt.Sprintf("view-%s-%v-%s", shape.name, cgroupns, filepath.Base(runtime))
				bundle := ociBundle(t, []string{"sh", "-c", script}, func(s *specs.Spec) {
					pids, mem, quota, period, shares := int64(64), int64(64<<20), int64(50000), uint64(100000), uint64(512)
					s.Linux.Resources = &specs.LinuxResources{
						Pids:    &specs.LinuxPids{Limit: &pids},
						Memory:  &specs.LinuxMemory{Limit: &mem},
						CPU:     &specs.LinuxCPU{Quota: &quota, Period: &period, Shares: &shares},
						Devices: s.Linux.Resources.Devices,
					}
					s.Linux.CgroupsPath = strings.ReplaceAll(shape.path, "ID", id)
					if !cgroupns {
						withoutNamespace(s, specs.CgroupNamespace)
					}
				})
				args := []string{"--root", roots[runtime]}
				if shape.name == "systemd" {
					args = append(args, "--systemd-cgroup")
				}
				cmd := exec.Command(runtime, append(args, "run", "--bundle", bundle, id)...)
				out, err := cmd.Output()
				got := string(out)
				how := fmt.Sprintf("%s under %s's cgroupsPath, cgroupns %v", filepath.Base(runtime), shape.name, cgroupns)
				switch {
				case err != nil:
					t.Errorf("%s: %v: %s", how, err, out)
				case runtime == runc:
					// What berth-oci showed for the same config.
					if mine := t.Name() + how; views[mine] != got {
						t.Errorf("%s:\n%s\nberth-oci:\n%s", how, got, views[mine])
					}
				case v2 && !cgroupns:
					// runc's view, the whole hierarchy: compared below.
				case got != want:
					t.Errorf("%s sees:\n%s\nwant:\n%s", how, got, want)
				}
				if runtime == ociBin {
					views[t.Name()+strings.Replace(how, "berth-oci", "runc", 1)] = got
				}
			}
		}
	}
	checkNoLeaks(t, before)
}

// views are what berth-oci's containers saw, by test and case, to compare
// runc's with.
var views = map[string]string{}

// TestCgroupPreFrozenRefused: a cgroupsPath naming an existing frozen
// cgroup is refused at once, in runc's words (runc's "run/create should
// refuse pre-existing frozen cgroup"), and the cgroup is left as it was.
func TestCgroupPreFrozenRefused(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	path := "/berthtest-frozen"
	dir := filepath.Join("/sys/fs/cgroup/freezer", path)
	file, frozen := "freezer.state", "FROZEN"
	if cgroupVersion(t) == "v2" {
		dir, file, frozen = filepath.Join("/sys/fs/cgroup", path), "cgroup.freeze", "1"
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeTestCgroups(strings.TrimPrefix(path, "/")) })
	if err := os.WriteFile(filepath.Join(dir, file), []byte(frozen), 0); err != nil {
		t.Fatal(err)
	}
	bundle := ociBundle(t, []string{"true"}, func(s *specs.Spec) { s.Linux.CgroupsPath = path })
	for _, args := range [][]string{{"run", "-d"}, {"create"}} {
		cmd := exec.Command("timeout", "20", ociBin, "--root", ociRoot)
		cmd.Args = append(append(cmd.Args, args...), "--bundle", bundle, "frozen")
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); err == nil || code == 124 || !strings.Contains(string(out), "container's cgroup unexpectedly frozen") {
			t.Errorf("%s in a frozen cgroup: exit status %d (124: it hung), %s", args[0], code, out)
		}
		oci(t, "delete", "--force", "frozen")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the frozen cgroup was removed: %v", err)
	}
	checkNoLeaks(t, before)
}

// TestCgroupUnifiedResources: resources.unified sets v2 files on a v2
// host, and on v1 is refused before anything is made, in runc's words
// (runc's "cgroup v1 + unified resources should fail").
func TestCgroupUnifiedResources(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	bundle := ociBundle(t, []string{"cat", "/sys/fs/cgroup/memory.min"}, func(s *specs.Spec) {
		s.Linux.Resources.Unified = map[string]string{"memory.min": "131072"}
	})
	r := oci(t, "run", "--bundle", bundle, "unified")
	if cgroupVersion(t) == "v2" {
		if r.code != 0 || r.stdout != "131072\n" {
			t.Errorf("resources.unified on v2: %+v", r)
		}
	} else if r.code == 0 || !strings.Contains(r.stderr, "invalid configuration") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("resources.unified on v1: %+v, want one line saying invalid configuration", r)
	}
	oci(t, "delete", "--force", "unified")
	checkNoLeaks(t, before)
}

// TestCgroupDeleteForceWithSubCgroups: delete --force removes a running
// container's cgroups together with the sub-cgroups it made in them and
// the processes there (runc's "delete --force in cgroupv1/v2 with
// subcgroups").
func TestCgroupDeleteForceWithSubCgroups(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	v2 := cgroupVersion(t) == "v2"
	subs := []string{"memory/foo", "freezer/foo"}
	if v2 {
		subs = []string{"foo", "foo/bar"}
	}
	script := "cd /sys/fs/cgroup; sleep 1000 & "
	for _, s := range subs {
		script += "mkdir " + s + " && echo $! > " + s + "/cgroup.procs && "
	}
	script += "echo ready; wait"
	bundle := ociBundle(t, []string{"sh", "-c", script}, func(s *specs.Spec) {
		for i, m := range s.Mounts {
			if m.Type == "cgroup" || m.Type == "cgroup2" {
				s.Mounts[i].Options = []string{"nosuid", "noexec", "nodev", "relatime", "rw"}
			}
		}
	})
	out := ociCreate(t, "subcg", bundle)
	if r := oci(t, "start", "subcg"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	if line, _ := out.ReadString('\n'); line != "ready\n" {
		t.Fatalf("the container printed %q", line)
	}
	var made []string
	for _, s := range subs {
		if v2 {
			made = append(made, "/sys/fs/cgroup/berth/subcg/"+s)
		} else {
			hierarchy, sub, _ := strings.Cut(s, "/")
			made = append(made, "/sys/fs/cgroup/"+hierarchy+"/berth/subcg/"+sub)
		}
	}
	for _, p := range made {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the container's sub-cgroup %s: %v", p, err)
		}
	}
	if r := oci(t, "delete", "--force", "subcg"); r.code != 0 {
		t.Errorf("delete --force: %+v", r)
	}
	for _, d := range hostCgroupDirs(t, "/berth/subcg") {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("delete --force left %s (sub-cgroups %v)", d, made)
		}
	}
	checkNoLeaks(t, before)
}

// TestCgroupUpdateLikeRunc: berth-oci update takes runc's flags and
// writes what runc writes (runc's update.bats): --cpu-share, --memory
// with a unit, --cpu-rt-period/--cpu-rt-runtime, a CFS period below a
// pod-level parent's limit (quota first, then the period again), and a
// config whose device rule's access is runc's "rwa".
func TestCgroupUpdateLikeRunc(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	v2 := cgroupVersion(t) == "v2"
	const pod = "berthtest_pod"
	t.Cleanup(func() { removeTestCgroups(pod) })
	path := "/" + pod + "/ctr"
	cpuDir := "/sys/fs/cgroup/cpu" + path
	if v2 {
		cpuDir = "/sys/fs/cgroup" + path
	} else {
		// The pod's limit: half a CPU. Realtime time for the
		// container as runc's test gives it: the root's, in each level.
		rtPeriod, _ := os.ReadFile("/sys/fs/cgroup/cpu/cpu.rt_period_us")
		rtRuntime, _ := os.ReadFile("/sys/fs/cgroup/cpu/cpu.rt_runtime_us")
		for _, d := range []string{"/sys/fs/cgroup/cpu/" + pod, cpuDir} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(d+"/cpu.rt_period_us", rtPeriod, 0)
			os.WriteFile(d+"/cpu.rt_runtime_us", rtRuntime, 0)
		}
		if err := os.WriteFile("/sys/fs/cgroup/cpu/"+pod+"/cpu.cfs_quota_us", []byte("50000"), 0); err != nil {
			t.Fatal(err)
		}
	}
	bundle := ociBundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		quota, period, shares := int64(500000), uint64(1000000), uint64(100)
		s.Linux.CgroupsPath = path
		s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period, Shares: &shares}
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
			specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(11)), Access: "rwa"})
	})
	if r := oci(t, "run", "-d", "--bundle", bundle, "upd-runc"); r.code != 0 {
		t.Fatalf("run with a device rule of access rwa: %+v", r)
	}
	defer oci(t, "delete", "--force", "upd-runc")
	read := func(file string) string {
		b, _ := os.ReadFile(filepath.Join(cpuDir, file))
		return strings.TrimSpace(string(b))
	}
	update := func(wantOK bool, args ...string) {
		t.Helper()
		r := oci(t, append(append([]string{"update"}, args...), "upd-runc")...)
		if (r.code == 0) != wantOK {
			t.Errorf("update %v: %+v (want success %v)", args, r, wantOK)
		}
	}
	update(true, "--cpu-share", "200")
	update(true, "--memory", "50M")
	if v2 {
		if got := read("cpu.weight") + " " + read("memory.max"); got != "8 52428800" {
			t.Errorf("after update: cpu.weight, memory.max = %s, want 8 52428800", got)
		}
		oci(t, "delete", "--force", "upd-runc")
		checkNoLeaks(t, before)
		return
	}
	mem, _ := os.ReadFile("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes")
	if got := read("cpu.shares") + " " + strings.TrimSpace(string(mem)); got != "200 52428800" {
		t.Errorf("after update: cpu.shares, memory limit = %s, want 200 52428800", got)
	}
	// No memory limit: the memory+swap limit goes first (runc's order).
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
		update(true, "--memory-swap", "96468992")
		update(true, "--memory", "-1")
		mem, _ = os.ReadFile("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes")
		if got := strings.TrimSpace(string(mem)); got != "9223372036854771712" {
			t.Errorf("after update --memory -1: memory limit %s", got)
		}
	}
	// Above the pod's half CPU: refused. A third of a shorter period:
	// the quota must go first.
	update(false, "--cpu-quota", "600000")
	update(true, "--cpu-period", "10000", "--cpu-quota", "3000")
	if got := read("cpu.cfs_quota_us") + " " + read("cpu.cfs_period_us"); got != "3000 10000" {
		t.Errorf("quota and period under the pod's limit = %s, want 3000 10000", got)
	}
	update(true, "--cpu-rt-period", "900001", "--cpu-rt-runtime", "600001")
	if got := read("cpu.rt_period_us") + " " + read("cpu.rt_runtime_us"); got != "900001 600001" {
		t.Errorf("realtime period and runtime = %s, want 900001 600001", got)
	}
	oci(t, "delete", "--force", "upd-runc")
	checkNoLeaks(t, before)
}

func ptr[T any](v T) *T { return &v }

// TestCgroupExecJoinsAllCgroups: the container's processes, its init and
// an exec'd one, are in the container's own cgroup in every hierarchy the
// host has, a hybrid host's cgroup2 and named ones (name=systemd)
// included, as with runc (runc's "exec (cgroup v1+hybrid joins correct
// cgroup)": every line of /proc/self/cgroup names the container's path).
func TestCgroupExecJoinsAllCgroups(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	const path = "/berth/execjoin"
	bundle := ociBundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Linux.CgroupsPath = path
		withoutNamespace(s, specs.CgroupNamespace)
	})
	pidFile := filepath.Join(t.TempDir(), "pid")
	if r := oci(t, "run", "-d", "--pid-file", pidFile, "--bundle", bundle, "execjoin"); r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer oci(t, "delete", "--force", "execjoin")
	pid, _ := os.ReadFile(pidFile)
	initCgroups, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	r := oci(t, "exec", "execjoin", "cat", "/proc/self/cgroup")
	if r.code != 0 {
		t.Fatalf("exec: %+v", r)
	}
	for name, text := range map[string]string{"init": string(initCgroups), "exec": r.stdout} {
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			if !strings.HasSuffix(line, ":"+path) {
				t.Errorf("%s: %q is not the container's cgroup %s (all: %q)", name, line, path, text)
			}
		}
	}
	if r.stdout != string(initCgroups) {
		t.Errorf("exec's cgroups differ from init's:\n%s\ninit:\n%s", r.stdout, initCgroups)
	}
	oci(t, "delete", "--force", "execjoin")
	checkNoLeaks(t, before)
}

// TestCgroupEventsOOM: events prints an oom event when the kernel's OOM
// killer acts in the container, as it happens, not at the next statistics
// (runc's "events oom"; the interval here is longer than the test waits).
func TestCgroupEventsOOM(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	bundle := ociBundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		limit := int64(32 << 20)
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
	})
	if r := oci(t, "run", "-d", "--bundle", bundle, "oomev"); r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer oci(t, "delete", "--force", "oomev")
	out := filepath.Join(t.TempDir(), "events")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events := exec.Command(ociBin, "--root", ociRoot, "events", "--interval", "1h", "oomev")
	events.Stdout, events.Stderr = f, f
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		events.Process.Kill()
		events.Wait()
	}()
	waitFor := func(what string) bool {
		for i := 0; i < 200; i++ {
			if b, _ := os.ReadFile(out); strings.Contains(string(b), what) {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}
	if !waitFor(`"type":"stats"`) {
		t.Fatal("events printed no statistics")
	}
	if r := oci(t, "exec", "-d", "oomev", "sh", "-c", "x=$(dd if=/dev/zero bs=64M count=1)"); r.code != 0 {
		t.Fatalf("exec -d: %+v", r)
	}
	if !waitFor(`{"type":"oom","id":"oomev"}`) {
		b, _ := os.ReadFile(out)
		t.Errorf("no oom event within 10s: %s", b)
	}
	oci(t, "delete", "--force", "oomev")
	checkNoLeaks(t, before)
}

// TestCgroupExecSubCgroup: exec --cgroup runs the process in an existing
// sub-cgroup of the container's, per controller or in all, and refuses a
// path outside the container's cgroup, a missing one and an unknown
// controller, in runc's words (runc's "exec --cgroup sub-cgroups").
func TestCgroupExecSubCgroup(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	v2 := cgroupVersion(t) == "v2"
	const path = "/berth/execsub"
	bundle := ociBundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Linux.CgroupsPath = path
		if !v2 {
			// On v2, cgroup2 in the host's cgroup namespace shows the
			// whole tree (as with runc): the container makes its
			// sub-cgroups in its own namespace there.
			withoutNamespace(s, specs.CgroupNamespace)
		}
		for i, m := range s.Mounts {
			if m.Type == "cgroup" || m.Type == "cgroup2" {
				s.Mounts[i].Options = []string{"nosuid", "noexec", "nodev", "rw"}
			}
		}
	})
	if r := oci(t, "run", "-d", "--bundle", bundle, "execsub"); r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer oci(t, "delete", "--force", "execsub")
	refused := func(want string, args ...string) {
		t.Helper()
		r := oci(t, append(append([]string{"exec"}, args...), "execsub", "true")...)
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("exec %v: %+v, want an error with %q", args, r, want)
		}
	}
	refused(" .. is not a sub cgroup path", "--cgroup", "..")
	refused("/nonexistent/cgroup.procs: no such file ", "--cgroup", "nonexistent")
	if !v2 {
		refused("unknown controller ", "--cgroup", "whaaat:/")
	}
	own := path // what /proc/self/cgroup shows of the container's cgroup
	if v2 {
		own = "/"
	}
	r := oci(t, "exec", "--cgroup", "/", "execsub", "cat", "/proc/self/cgroup")
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if r.code != 0 || !strings.HasSuffix(line, ":"+own) {
			t.Errorf("exec --cgroup /: %q is not the container's cgroup (%+v)", line, r)
		}
	}
	args, mkdir, want := []string{"--cgroup", "foo"}, "mkdir /sys/fs/cgroup/foo", []string{"0::/foo"}
	if !v2 {
		args = []string{"--cgroup", "memory:submem", "--cgroup", "cpu,cpuacct:subcpu"}
		mkdir = "mkdir /sys/fs/cgroup/memory/submem /sys/fs/cgroup/cpu/subcpu /sys/fs/cgroup/cpuacct/subcpu"
		want = []string{":memory:" + path + "/submem", ":cpu:" + path + "/subcpu", ":cpuacct:" + path + "/subcpu", ":pids:" + path + "\n"}
	}
	if r := oci(t, "exec", "execsub", "sh", "-c", mkdir); r.code != 0 {
		t.Fatalf("make sub-cgroups: %+v", r)
	}
	r = oci(t, append(append([]string{"exec"}, args...), "execsub", "cat", "/proc/self/cgroup")...)
	for _, w := range want {
		if r.code != 0 || !strings.Contains(r.stdout, w) {
			t.Errorf("exec %v: want %q in %+v", args, w, r)
		}
	}
	oci(t, "delete", "--force", "execsub")
	checkNoLeaks(t, before)
}

// TestCgroupViewUserNamespace: a container with a user namespace sees its
// own limits with and without a cgroup namespace. Where cgroup2 cannot be
// mounted (a user namespace in the host's cgroup namespace), its own
// cgroup is bound at /sys/fs/cgroup (runc binds the host's whole tree).
func TestCgroupViewUserNamespace(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	v2 := cgroupVersion(t) == "v2"
	for _, cgroupns := range []bool{true, false} {
		id := fmt.Sprintf("usercg-%v", cgroupns)
		file := "/sys/fs/cgroup/pids/pids.max"
		if v2 {
			file = "/sys/fs/cgroup/pids.max"
		}
		bundle := ociBundle(t, []string{"cat", file}, func(s *specs.Spec) {
			limit := int64(9)
			s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
			s.Linux.CgroupsPath = "/berth/" + id
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
			if !cgroupns {
				withoutNamespace(s, specs.CgroupNamespace)
			}
		})
		os.Chmod(filepath.Dir(bundle), 0o755)
		if r := oci(t, "run", "--bundle", bundle, id); r.code != 0 || r.stdout != "9\n" {
			t.Errorf("user namespace, cgroupns %v: %+v, want pids.max 9", cgroupns, r)
		}
		oci(t, "delete", "--force", id)
	}
	checkNoLeaks(t, before)
}
