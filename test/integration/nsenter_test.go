package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// usernsBundle is a bundle whose container has a user namespace mapping
// its root to host uid and gid hostID.
func usernsBundle(t *testing.T, args []string, hostID uint32, edit func(*specs.Spec)) string {
	t.Helper()
	bundle := ociBundle(t, args, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: 65536}}
		if edit != nil {
			edit(s)
		}
	})
	os.Chmod(filepath.Dir(bundle), 0o755)
	return bundle
}

func nsLink(t *testing.T, pid int, kind string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestOCIExecUserNamespace execs into a container that has a user
// namespace: the process is the namespace's root (host uid 200000), and
// in the container's PID, mount and other namespaces and cgroups.
func TestOCIExecUserNamespace(t *testing.T) {
	needRoot(t)
	bundle := usernsBundle(t, []string{"sleep", "1000"}, 200000, func(s *specs.Spec) {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: new(int64)}
		*s.Linux.Resources.Pids.Limit = 40
	})
	if r := oci(t, "run", "--detach", "--bundle", bundle, "uexec"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	defer oci(t, "delete", "--force", "uexec")
	pid := ociState(t, "uexec").Pid
	r := oci(t, "exec", "uexec", "sh", "-c", "id -u; cat /proc/self/uid_map; for n in user mnt pid net uts ipc cgroup; do readlink /proc/self/ns/$n; done; ps -o pid,comm; grep CapEff /proc/self/status; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; exit 3")
	if r.code != 3 {
		t.Fatalf("exec exit status %d, want 3: %+v", r.code, r)
	}
	lines := strings.Split(r.stdout, "\n")
	if len(lines) < 2 || lines[0] != "0" || strings.Join(strings.Fields(lines[1]), " ") != "0 200000 65536" {
		t.Errorf("exec'd process: id and uid_map %q, want 0 and the container's map 0 200000 65536", lines[:2])
	}
	for _, kind := range []string{"user", "mnt", "pid", "net", "uts", "ipc", "cgroup"} {
		if want := nsLink(t, pid, kind); !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("exec'd process is not in the container's %s namespace %s:\n%s", kind, want, r.stdout)
		}
	}
	for _, want := range []string{"    1 sleep", "CapEff:\t" + dockerCaps, "\n40\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("exec output lacks %q:\n%s", want, r.stdout)
		}
	}
	// Seen from the host: the program runs as host uid 200000, in the
	// container's cgroup.
	pidFile := filepath.Join(t.TempDir(), "pid")
	if r := oci(t, "exec", "--detach", "--pid-file", pidFile, "uexec", "sleep", "999"); r.code != 0 {
		t.Fatalf("exec --detach: %+v", r)
	}
	b, _ := os.ReadFile(pidFile)
	execPid, _ := strconv.Atoi(string(b))
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", execPid))
	if !strings.Contains(string(status), "\nUid:\t200000\t200000\t200000\t200000\n") {
		t.Errorf("exec'd process seen from the host:\n%s", status)
	}
	own, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", execPid)); string(cg) != string(own) {
		t.Errorf("exec'd process's cgroups:\n%s\nwant the container's:\n%s", cg, own)
	}
	// Another user; and a process file with an OOM score, which the init
	// stage writes through a procfs of its own: the container's /proc,
	// whose mount namespace it has joined, does not show it.
	if r := oci(t, "exec", "--user", "1000:1000", "uexec", "sh", "-c", "id -u; cat /proc/self/status | grep ^Uid"); !strings.HasPrefix(r.stdout, "1000\nUid:\t1000") {
		t.Errorf("exec --user 1000: %+v", r)
	}
	proc := filepath.Join(t.TempDir(), "process.json")
	adj := 123
	writeJSON(t, proc, specs.Process{Args: []string{"cat", "/proc/self/oom_score_adj"}, Cwd: "/", Env: []string{"PATH=/bin"}, OOMScoreAdj: &adj})
	if r := oci(t, "exec", "--process", proc, "uexec"); r.code != 0 || r.stdout != "123\n" {
		t.Errorf("exec --process with oomScoreAdj 123: %+v", r)
	}
}

// TestOCIExecUserNamespaceNeedsNsenter: without berth-nsenter beside it,
// berth-oci says so in one line, and exec into other containers still
// works.
func TestOCIExecUserNamespaceNeedsNsenter(t *testing.T) {
	needRoot(t)
	bundle := usernsBundle(t, []string{"sleep", "1000"}, 200000, nil)
	if r := oci(t, "run", "--detach", "--bundle", bundle, "unoenter"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	defer oci(t, "delete", "--force", "unoenter")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	for _, name := range []string{"berth-oci", "berth-init"} {
		if out, err := exec.Command("cp", filepath.Join(filepath.Dir(ociBin), name), dir).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	out, err := exec.Command(filepath.Join(dir, "berth-oci"), "--root", ociRoot, "exec", "unoenter", "true").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "berth-nsenter is not installed") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Errorf("exec without berth-nsenter: %v %q, want one line naming it", err, out)
	}
}

// TestOCIJoinUserNamespaceByPath creates a container that joins another
// container's user namespace by path: it runs as that namespace's root,
// and its new namespaces belong to the joined user namespace.
func TestOCIJoinUserNamespaceByPath(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	first := usernsBundle(t, []string{"sleep", "1000"}, 300000, nil)
	if r := oci(t, "run", "--detach", "--bundle", first, "uowner"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	defer oci(t, "delete", "--force", "uowner")
	owner := ociState(t, "uowner").Pid
	second := ociBundle(t, []string{"sh", "-c", "id -u; cat /proc/self/uid_map; ps -o pid,comm; exec sleep 1000"}, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: fmt.Sprintf("/proc/%d/ns/user", owner)})
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: new(int64)}
		*s.Linux.Resources.Pids.Limit = 30
	})
	os.Chmod(filepath.Dir(second), 0o755)
	out := ociCreate(t, "ujoiner", second)
	// Waiting for start, the init stage runs berth-init from the same
	// read-only handle as ever, through berth-nsenter: once it is gone,
	// its binary cannot be reopened for writing (CVE-2019-5736).
	exe, err := os.OpenFile(fmt.Sprintf("/proc/%d/exe", ociState(t, "ujoiner").Pid), unix.O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	if r := oci(t, "start", "ujoiner"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	var got []string
	for i := 0; i < 4; i++ {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("output so far %q: %v", got, err)
		}
		got = append(got, strings.TrimSpace(line))
	}
	if got[0] != "0" || strings.Join(strings.Fields(got[1]), " ") != "0 300000 65536" || got[3] != "1 sh" {
		t.Errorf("joiner inside: %q, want root mapped to 300000 and its own PID namespace", got)
	}
	joiner := ociState(t, "ujoiner").Pid
	userns := nsLink(t, owner, "user")
	if l := nsLink(t, joiner, "user"); l != userns {
		t.Errorf("joiner's user namespace %s, want %s", l, userns)
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", joiner))
	if !strings.Contains(string(status), "\nUid:\t300000\t300000\t300000\t300000\n") {
		t.Errorf("joiner seen from the host:\n%s", status)
	}
	for _, kind := range []string{"mnt", "pid", "net", "uts", "ipc", "cgroup"} {
		if nsLink(t, joiner, kind) == nsLink(t, owner, kind) || nsLink(t, joiner, kind) == nsLink(t, os.Getpid(), kind) {
			t.Errorf("joiner's %s namespace is not a new one", kind)
		}
		if o := nsOwner(t, joiner, kind); o != userns {
			t.Errorf("joiner's %s namespace is owned by %s, want the joined %s", kind, o, userns)
		}
	}
	if r := oci(t, "exec", "ujoiner", "sh", "-c", "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; ps -o pid,comm"); !strings.HasPrefix(r.stdout, "30\n") || !strings.Contains(r.stdout, "1 sleep") {
		t.Errorf("exec into the joiner: %+v", r)
	}
	// Joining the owner's PID namespace too: berth-nsenter enters it
	// before the user namespace, and the init is born there.
	third := ociBundle(t, []string{"sh", "-c", "id -u; ps -o pid,comm"}, func(s *specs.Spec) {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.PIDNamespace {
				s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/pid", owner)
			}
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: fmt.Sprintf("/proc/%d/ns/user", owner)})
	})
	if r := oci(t, "run", "--bundle", third, "upidjoin"); r.code != 0 || !strings.HasPrefix(r.stdout, "0\n") || !strings.Contains(r.stdout, "    1 sleep") {
		t.Errorf("joining the owner's user and PID namespaces: %+v, want root, with the owner's sleep as PID 1", r)
	}
	oci(t, "delete", "--force", "ujoiner")
	oci(t, "delete", "--force", "uowner")
	if f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", exe.Fd()), os.O_WRONLY, 0); err == nil || !errors.Is(err, unix.EROFS) {
		if f != nil {
			f.Close()
		}
		t.Errorf("the joiner's init stage binary reopened for writing: %v, want EROFS", err)
	}
	// A path that names another kind of namespace is refused before
	// anything is made.
	bad := ociBundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/self/ns/net"})
	})
	if r := oci(t, "run", "--bundle", bad, "ubad"); r.code == 0 || !strings.Contains(r.stderr, "is not a user namespace") {
		t.Errorf("a user namespace path naming a net namespace: %+v", r)
	}
	// A user namespace that maps no root: berth-nsenter cannot become its
	// root, says so, and nothing is left.
	holder := exec.Command("sleep", "1000")
	holder.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 1000, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 1000, HostID: 0, Size: 1}},
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Wait()
	defer holder.Process.Kill()
	noRoot := ociBundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: fmt.Sprintf("/proc/%d/ns/user", holder.Process.Pid)})
	})
	if r := oci(t, "run", "--bundle", noRoot, "unoroot"); r.code == 0 || !strings.Contains(r.stderr, "0 must be mapped") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("joining a user namespace without root: %+v, want one line saying ID 0 must be mapped", r)
	}
	checkNoLeaks(t, before)
}

// nsOwner is the user namespace that owns process pid's namespace kind
// (NS_GET_USERNS), as a link text like "user:[4026531837]".
func nsOwner(t *testing.T, pid int, kind string) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, kind))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_USERNS)
	if err != nil {
		t.Fatalf("NS_GET_USERNS of %s: %v", kind, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("user:[%d]", st.Ino)
}

// TestBerthExecUserNamespace: berth exec into a berth run container with
// a user namespace (berth run --userns=auto).
func TestBerthExecUserNamespace(t *testing.T) {
	needRoot(t)
	name := "exec-userns"
	keepSubidFiles(t)
	r := berth(t, "", "run", "-d", "--name", name, "--network", "none", "--userns=auto", "--rootfs", rootfsDir, "sleep", "1000")
	if r.code != 0 {
		t.Fatalf("run --userns=auto: %+v", r)
	}
	defer berth(t, "", "rm", "-f", name)
	r = berth(t, "", "exec", name, "sh", "-c", "id -u; cat /proc/self/uid_map; cat /proc/1/uid_map; readlink /proc/self/ns/user; readlink /proc/1/ns/user; ps -o pid,comm")
	lines := strings.Split(r.stdout, "\n")
	if r.code != 0 || len(lines) < 5 || lines[0] != "0" || lines[1] != lines[2] || lines[3] != lines[4] || strings.Fields(lines[1])[1] == "0" || !strings.Contains(r.stdout, "1 sleep") {
		t.Errorf("berth exec into a user namespace: %+v, want root mapped as the container's PID 1, in its namespaces", r)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
