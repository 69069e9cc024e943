package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// hostCgroupDirs returns the directories a cgroup path has in the
// hierarchies berth uses: the unified one, or each v1 controller's.
func hostCgroupDirs(t *testing.T, path string) []string {
	t.Helper()
	if cgroupVersion(t) == "v2" {
		return []string{filepath.Join("/sys/fs/cgroup", path)}
	}
	var dirs []string
	seen := map[string]bool{}
	for _, c := range []string{"pids", "memory", "cpu", "cpuacct", "devices", "freezer", "blkio"} {
		real, err := filepath.EvalSymlinks(filepath.Join("/sys/fs/cgroup", c))
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		dirs = append(dirs, filepath.Join(real, path))
	}
	return dirs
}

// makeCgroup creates a cgroup the way an engine or an administrator
// would, outside berth, and removes it at the end of the test.
func makeCgroup(t *testing.T, path string) []string {
	t.Helper()
	dirs := hostCgroupDirs(t, path)
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			killCgroupProcesses(d)
			// Children first, then the parents the test made.
			for p := d; strings.HasPrefix(p, "/sys/fs/cgroup/") && strings.Contains(strings.TrimPrefix(p, "/sys/fs/cgroup/"), "berthtest"); p = filepath.Dir(p) {
				rmdirPatiently(p)
			}
		}
	})
	return dirs
}

// rmdirPatiently removes a cgroup whose killed processes may take a
// moment to leave it.
func rmdirPatiently(dir string) {
	for i := 0; i < 100; i++ {
		if err := unix.Rmdir(dir); err != unix.EBUSY {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killCgroupProcesses ends every process in a test's cgroup: with
// cgroup.kill on v2, by freezing and killing on v1.
func killCgroupProcesses(dir string) {
	if os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0) == nil {
		return
	}
	freezer := ""
	if rel, err := filepath.Rel("/sys/fs/cgroup", dir); err == nil {
		_, path, _ := strings.Cut(rel, "/")
		freezer = filepath.Join("/sys/fs/cgroup/freezer", path)
	}
	for i := 0; i < 50; i++ {
		pids := cgroupProcs(dir)
		if len(pids) == 0 {
			return
		}
		os.WriteFile(filepath.Join(freezer, "freezer.state"), []byte("FROZEN"), 0)
		for _, pid := range cgroupProcs(dir) {
			unix.Kill(pid, unix.SIGKILL)
		}
		os.WriteFile(filepath.Join(freezer, "freezer.state"), []byte("THAWED"), 0)
		time.Sleep(20 * time.Millisecond)
	}
}

// cgroupProcs lists the processes of a cgroup and its descendants.
func cgroupProcs(dir string) []int {
	var pids []int
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(filepath.Join(path, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// hostSleep starts a host process that stands for a host service, in the
// given cgroup directories.
func hostSleep(t *testing.T, dirs []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
			t.Fatalf("move the host process into %s: %v", d, err)
		}
	}
	return cmd
}

func processAlive(cmd *exec.Cmd) bool {
	return isAlive(cmd.Process.Pid)
}

// TestOCIForeignCgroupRefused: a config whose cgroupsPath names an
// existing cgroup that holds a host process (directly, or in a child
// cgroup) is refused, as runc refuses it, and the host process survives
// create, delete --force and the next container's garbage collection.
func TestOCIForeignCgroupRefused(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	for i, where := range []string{"", "inner"} {
		path := fmt.Sprintf("/berthtest-foreign-%d", i)
		dirs := makeCgroup(t, path)
		sleepDirs := dirs
		if where != "" {
			sleepDirs = makeCgroup(t, path+"/"+where)
		}
		victim := hostSleep(t, sleepDirs)
		id := fmt.Sprintf("foreign%d", i)
		bundle := ociBundle(t, []string{"true"}, func(s *specs.Spec) { s.Linux.CgroupsPath = path })
		r := oci(t, "create", "--bundle", bundle, id)
		if r.code == 0 || !strings.Contains(r.stderr, "not empty") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("create in a cgroup holding a host process (%s): %+v, want one line saying it is not empty", where, r)
		}
		oci(t, "delete", "--force", id)
		oci(t, "run", "--bundle", ociBundle(t, []string{"true"}, nil), id+"-next")
		time.Sleep(100 * time.Millisecond)
		if !processAlive(victim) {
			t.Errorf("the host process in %s%s was killed", path, where)
		}
		for _, d := range dirs {
			if _, err := os.Stat(d); err != nil {
				t.Errorf("the pre-existing cgroup %s was removed", d)
			}
		}
	}
	checkNoLeaks(t, before)
}

// TestOCIExistingEmptyCgroup: an existing empty cgroup (an engine's,
// made before the container) is used, and berth, which did not create it,
// neither freezes nor removes it.
func TestOCIExistingEmptyCgroup(t *testing.T) {
	needRoot(t)
	path := "/berthtest-premade"
	dirs := makeCgroup(t, path)
	bundle := ociBundle(t, []string{"cat", "/proc/self/cgroup"}, func(s *specs.Spec) {
		s.Linux.CgroupsPath = path
		s.Linux.Namespaces = s.Linux.Namespaces[:len(s.Linux.Namespaces)-1] // no cgroup namespace: show the path
	})
	r := oci(t, "run", "--bundle", bundle, "premade")
	if r.code != 0 || !strings.Contains(r.stdout, ":"+path+"\n") {
		t.Errorf("run in an existing empty cgroup: %+v", r)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("berth removed the cgroup %s it did not create", d)
		}
	}
	// pause would freeze a cgroup berth does not own: refused, clearly.
	sleeper := ociBundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) { s.Linux.CgroupsPath = path })
	ociCreate(t, "premade2", sleeper)
	oci(t, "start", "premade2")
	if r := oci(t, "pause", "premade2"); r.code == 0 || !strings.Contains(r.stderr, "did not create") {
		t.Errorf("pause in a cgroup berth did not create: %+v", r)
	}
	if r := oci(t, "delete", "--force", "premade2"); r.code != 0 {
		t.Errorf("delete --force: %+v", r)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("berth removed the cgroup %s it did not create", d)
		}
	}
	// v2: berth's device programs went with its containers, and a process
	// of the cgroup's owner opens what it could before (v1 keeps the rules
	// of the last container in the directory, as runc leaves them).
	if cgroupVersion(t) == "v2" {
		out, err := exec.Command("sh", "-c", "echo $$ > "+dirs[0]+"/cgroup.procs && head -c0 /dev/kmsg && echo opened").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "opened") {
			t.Errorf("berth left its device program on a cgroup it did not create: %v %s", err, out)
		}
	}
}

// TestOCIKillAllFreezesFirst: kill --all of a container whose processes
// keep forking away (each one forks a child and exits, so a PID list read
// before the kill is out of date by the time the last ones are signalled)
// ends them all: the cgroup is frozen before its processes are signalled
// (v1), or killed at once with cgroup.kill (v2). Without a PID namespace
// of its own, nothing else ends them. berth-oci runs under strace, which
// delays each signal it sends by 20 ms, as a loaded machine that preempts
// it would: the race is then lost every time by a runtime that signals a
// PID list of a cgroup that still runs.
func TestOCIKillAllFreezesFirst(t *testing.T) {
	needRoot(t)
	chains := "f() { f & }; i=0; while [ $i -lt 30 ]; do f & i=$((i+1)); done; echo ready; exec sleep 1000"
	bundle := ociBundle(t, []string{"sh", "-c", chains}, func(s *specs.Spec) {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.PIDNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
		// Exited links wait as zombies for the host's init to reap them,
		// and count against the limit meanwhile.
		limit := int64(4096)
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
	})
	dirs := hostCgroupDirs(t, "/berth/forker")
	t.Cleanup(func() {
		for _, d := range dirs {
			killCgroupProcesses(d)
		}
	})
	out := ociCreate(t, "forker", bundle)
	oci(t, "start", "forker")
	out.ReadString('\n')
	time.Sleep(300 * time.Millisecond)
	kill := exec.Command(ociBin, "--root", ociRoot, "kill", "--all", "forker", "KILL")
	if strace, err := exec.LookPath("strace"); err == nil {
		kill = exec.Command(strace, append([]string{"-f", "-qq", "-o", "/dev/null", "-e", "trace=kill,tgkill,pidfd_send_signal",
			"-e", "inject=kill,tgkill,pidfd_send_signal:delay_enter=20000"}, kill.Args...)...)
	} else {
		t.Logf("no strace: berth-oci runs at full speed, and a runtime that does not freeze may win the race")
	}
	if r, ok := within(t, 60*time.Second, kill); !ok || r.code != 0 {
		t.Fatalf("kill --all: ended %v, %+v", ok, r)
	}
	var left []int
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if left = cgroupProcs(dirs[0]); len(left) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("%d processes escaped kill --all: still in %s", len(left), dirs[0])
	}
}
