package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ociBundle writes a bundle whose config is berth's default for args,
// changed by edit, with its own copy of the busybox rootfs.
func ociBundle(t *testing.T, args []string, edit func(*specs.Spec)) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	if out, err := exec.Command("cp", "-a", rootfsDir, filepath.Join(dir, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v %s", err, out)
	}
	s := spec.Default("rootfs", args)
	s.Process.Env = append(s.Process.Env, "HOME=/root")
	if edit != nil {
		edit(s)
	}
	writeConfig(t, dir, s)
	return dir
}

func writeConfig(t *testing.T, dir string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// oci runs berth-oci with the test state root.
func oci(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(ociBin, append([]string{"--root", ociRoot}, args...)...)
	// Files, not pipes: a detached container keeps them open.
	dir := t.TempDir()
	outFile, _ := os.Create(filepath.Join(dir, "stdout"))
	errFile, _ := os.Create(filepath.Join(dir, "stderr"))
	cmd.Stdout, cmd.Stderr = outFile, errFile
	err := cmd.Run()
	outFile.Close()
	errFile.Close()
	out, _ := os.ReadFile(outFile.Name())
	errb, _ := os.ReadFile(errFile.Name())
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{string(out), string(errb), code}
}

func ociState(t *testing.T, id string) specs.State {
	t.Helper()
	r := oci(t, "state", id)
	if r.code != 0 {
		t.Fatalf("state %s: %+v", id, r)
	}
	var st specs.State
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("state JSON %q: %v", r.stdout, err)
	}
	return st
}

// ociCreate creates a container whose stdout is a pipe the test reads.
func ociCreate(t *testing.T, id, bundle string, extra ...string) *bufio.Reader {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ociBin, append(append([]string{"--root", ociRoot, "create", "--bundle", bundle}, extra...), id)...)
	// The container keeps its stdio after create returns: give it files,
	// as engines do, not a pipe that cmd.Run would wait to drain.
	errFile, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cmd.Stdout, cmd.Stderr = pw, errFile
	err = cmd.Run()
	pw.Close()
	if err != nil {
		msg, _ := os.ReadFile(errFile.Name())
		t.Fatalf("create %s: %v: %s", id, err, msg)
	}
	t.Cleanup(func() {
		pr.Close()
		oci(t, "delete", "--force", id)
	})
	return bufio.NewReader(pr)
}

func TestOCILifecycle(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	bundle := ociBundle(t, []string{"sh", "-c", "echo started; exec sleep 1000"}, nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	out := ociCreate(t, "life", bundle, "--pid-file", pidFile)

	st := ociState(t, "life")
	pid, _ := os.ReadFile(pidFile)
	if st.Status != specs.StateCreated || st.Pid <= 0 || string(pid) != strconv.Itoa(st.Pid) || st.Bundle != bundle {
		t.Fatalf("after create: %+v, pid file %q", st, pid)
	}
	if r := oci(t, "start", "life"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	if line, _ := out.ReadString('\n'); line != "started\n" {
		t.Fatalf("container printed %q", line)
	}
	if st := ociState(t, "life"); st.Status != specs.StateRunning {
		t.Fatalf("after start: %s", st.Status)
	}
	if r := oci(t, "start", "life"); r.code == 0 {
		t.Error("a running container was started twice")
	}
	if r := oci(t, "delete", "life"); r.code == 0 || !strings.Contains(r.stderr, "not stopped") && !strings.Contains(r.stderr, "running") {
		t.Errorf("delete of a running container: %+v", r)
	}
	if r := oci(t, "pause", "life"); r.code != 0 {
		t.Fatalf("pause: %+v", r)
	}
	if st := ociState(t, "life"); st.Status != "paused" {
		t.Errorf("after pause: %s", st.Status)
	}
	if r := oci(t, "resume", "life"); r.code != 0 {
		t.Fatalf("resume: %+v", r)
	}
	if r := oci(t, "kill", "life", "KILL"); r.code != 0 {
		t.Fatalf("kill: %+v", r)
	}
	waitStatus(t, "life", specs.StateStopped)
	if r := oci(t, "kill", "life", "TERM"); r.code == 0 {
		t.Error("kill of a stopped container succeeded")
	}
	if r := oci(t, "delete", "life"); r.code != 0 {
		t.Fatalf("delete: %+v", r)
	}
	if r := oci(t, "state", "life"); r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("state after delete: %+v", r)
	}
	if r := oci(t, "delete", "--force", "life"); r.code != 0 {
		t.Errorf("forced delete of a deleted container: %+v", r)
	}
	checkNoLeaks(t, before)
}

func waitStatus(t *testing.T, id string, want specs.ContainerState) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ociState(t, id).Status != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s never became %s", id, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOCIRunPassesExitStatus(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	bundle := ociBundle(t, []string{"sh", "-c", "exit 7"}, nil)
	if r := oci(t, "run", "--bundle", bundle, "run7"); r.code != 7 {
		t.Errorf("run exit status %d, want 7 (%q)", r.code, r.stderr)
	}
	missing := ociBundle(t, []string{"/no/such/program"}, nil)
	r := oci(t, "run", "--bundle", missing, "run127")
	if r.code != 127 || !strings.Contains(r.stderr, "no such file or directory") {
		t.Errorf("missing program: %+v", r)
	}
	r = oci(t, "create", "--bundle", missing, "create127")
	if r.code == 0 || !strings.Contains(r.stderr, "no such file or directory") {
		t.Errorf("create with a missing program: %+v", r)
	}
	notExec := ociBundle(t, []string{"/etc/passwd"}, nil)
	if r := oci(t, "create", "--bundle", notExec, "create126"); r.code == 0 || !strings.Contains(r.stderr, "permission denied") {
		t.Errorf("create with a program that cannot run: %+v", r)
	}
	detached := ociBundle(t, []string{"sleep", "1000"}, nil)
	if r := oci(t, "run", "--detach", "--bundle", detached, "detached"); r.code != 0 {
		t.Fatalf("run --detach: %+v", r)
	}
	if st := ociState(t, "detached"); st.Status != specs.StateRunning {
		t.Errorf("detached container is %s", st.Status)
	}
	if r := oci(t, "delete", "--force", "detached"); r.code != 0 {
		t.Errorf("delete --force: %+v", r)
	}
	checkNoLeaks(t, before)
}

func TestOCIBadBundles(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	cases := map[string]struct {
		setup func(dir string)
		want  string
	}{
		"no config.json": {func(dir string) { os.Remove(filepath.Join(dir, "config.json")) }, "no such file or directory"},
		"not JSON":       {func(dir string) { os.WriteFile(filepath.Join(dir, "config.json"), []byte("{nope"), 0o644) }, "config.json"},
		"wrong type": {func(dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":"sh"}}`), 0o644)
		}, "process.args"},
		"missing rootfs": {func(dir string) { os.RemoveAll(filepath.Join(dir, "rootfs")) }, "does not exist"},
		"future ociVersion": {func(dir string) {
			editConfig(dir, func(s *specs.Spec) { s.Version = "2.0.0" })
		}, "ociVersion"},
		"missing hook": {func(dir string) {
			editConfig(dir, func(s *specs.Spec) { s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/no/such/hook"}}} })
		}, "/no/such/hook"},
		"apparmor": {func(dir string) {
			editConfig(dir, func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" })
		}, "not supported"},
		"time namespace": {func(dir string) {
			editConfig(dir, func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
			})
		}, "not supported"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			bundle := ociBundle(t, []string{"true"}, nil)
			c.setup(bundle)
			r := oci(t, "create", "--bundle", bundle, "bad")
			if r.code == 0 {
				oci(t, "delete", "--force", "bad")
				t.Fatal("create succeeded")
			}
			if !strings.Contains(r.stderr, c.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr %q: want one line naming %q", r.stderr, c.want)
			}
			if r := oci(t, "state", "bad"); r.code == 0 {
				t.Error("a failed create left a container behind")
			}
		})
	}
	checkNoLeaks(t, before)
}

func editConfig(dir string, edit func(*specs.Spec)) {
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	var s specs.Spec
	json.Unmarshal(b, &s)
	edit(&s)
	b, _ = json.Marshal(&s)
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
}

func TestOCIHooks(t *testing.T) {
	needRoot(t)
	logDir := t.TempDir()
	os.Chmod(logDir, 0o755)
	hook := func(name string) specs.Hook {
		// Each hook records its kind, the status and pid it was given,
		// and the mount namespace it ran in.
		script := fmt.Sprintf(`read -r state; echo "$state" > %s/%s.json; readlink /proc/self/ns/mnt > %s/%s.ns`, logDir, name, logDir, name)
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script}}
	}
	bundle := ociBundle(t, []string{"sh", "-c", "echo ran; exec sleep 1000"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			Prestart:      []specs.Hook{hook("prestart")},
			CreateRuntime: []specs.Hook{hook("createRuntime")},
			// createContainer runs in the container's mount namespace
			// before pivot_root, so host paths are still reachable.
			CreateContainer: []specs.Hook{hook("createContainer")},
			Poststart:       []specs.Hook{hook("poststart")},
			Poststop:        []specs.Hook{hook("poststop")},
		}
	})
	out := ociCreate(t, "hooked", bundle)
	st := ociState(t, "hooked")
	checkHookState(t, logDir, "prestart", st.Pid, "created")
	for _, name := range []string{"createRuntime", "createContainer"} {
		checkHookState(t, logDir, name, st.Pid, "creating")
	}
	if r := oci(t, "start", "hooked"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	out.ReadString('\n')
	checkHookState(t, logDir, "poststart", st.Pid, "running")
	hostNS, _ := os.Readlink("/proc/self/ns/mnt")
	containerNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", st.Pid))
	for name, want := range map[string]string{"prestart": hostNS, "createRuntime": hostNS, "createContainer": containerNS} {
		if got, _ := os.ReadFile(filepath.Join(logDir, name+".ns")); strings.TrimSpace(string(got)) != want {
			t.Errorf("%s hook ran in mount namespace %s, want %s", name, got, want)
		}
	}
	if r := oci(t, "delete", "--force", "hooked"); r.code != 0 {
		t.Fatalf("delete: %+v", r)
	}
	checkHookState(t, logDir, "poststop", st.Pid, "stopped")
}

func checkHookState(t *testing.T, dir, name string, pid int, status string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Errorf("%s hook did not run: %v", name, err)
		return
	}
	var st specs.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Errorf("%s hook got %q: %v", name, b, err)
		return
	}
	if st.ID != "hooked" || st.Pid != pid || string(st.Status) != status {
		t.Errorf("%s hook got state %+v, want pid %d status %s", name, st, pid, status)
	}
}

func TestOCIJoinNamespaceByPath(t *testing.T) {
	needRoot(t)
	first := ociBundle(t, []string{"sleep", "1000"}, nil)
	ociCreate(t, "first", first)
	pid := ociState(t, "first").Pid
	second := ociBundle(t, []string{"sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; hostname"}, func(s *specs.Spec) {
		for i := range s.Linux.Namespaces {
			switch s.Linux.Namespaces[i].Type {
			case specs.NetworkNamespace, specs.UTSNamespace:
				s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/%s", pid, map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: "net", specs.UTSNamespace: "uts"}[s.Linux.Namespaces[i].Type])
			}
		}
		s.Hostname = ""
	})
	r := oci(t, "run", "--bundle", second, "second")
	netNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	utsNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/uts", pid))
	if r.code != 0 || !strings.HasPrefix(r.stdout, netNS+"\n"+utsNS+"\nberth\n") {
		t.Errorf("second container: %+v, want namespaces %s %s and host name berth", r, netNS, utsNS)
	}
}

func TestOCIConsoleSocket(t *testing.T) {
	needRoot(t)
	sockPath, masterc := consoleSocket(t)
	bundle := ociBundle(t, []string{"sh", "-c", "tty; exec sleep 1000"}, func(s *specs.Spec) { s.Process.Terminal = true })
	ociCreate(t, "console", bundle, "--console-socket", sockPath)
	master := <-masterc
	if master == nil {
		t.Fatal("no pty master arrived on the console socket")
	}
	defer master.Close()
	if r := oci(t, "start", "console"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	line, _ := bufio.NewReader(master).ReadString('\n')
	if strings.TrimSpace(line) != "/dev/pts/0" {
		t.Errorf("container's terminal: %q", line)
	}
}

func TestOCIPreserveFDs(t *testing.T) {
	needRoot(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	bundle := ociBundle(t, []string{"sh", "-c", "echo through-fd3 >&3; ls /proc/self/fd | wc -l"}, nil)
	cmd := exec.Command(ociBin, "--root", ociRoot, "run", "--preserve-fds", "1", "--bundle", bundle, "fds")
	cmd.ExtraFiles = []*os.File{pw}
	out, err := cmd.Output()
	pw.Close()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	got, _ := bufio.NewReader(pr).ReadString('\n')
	if got != "through-fd3\n" {
		t.Errorf("fd 3 carried %q", got)
	}
	// 0, 1, 2, 3 and ls's own directory handle.
	if strings.TrimSpace(string(out)) != "5" {
		t.Errorf("container had %s descriptors open, want 5", out)
	}
}

func TestOCIKillAllAndPs(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"sh", "-c", "sleep 1000 & sleep 1000 & echo ready; wait"}, nil)
	out := ociCreate(t, "many", bundle)
	oci(t, "start", "many")
	out.ReadString('\n')
	r := oci(t, "ps", "--format", "json", "many")
	var pids []int
	if err := json.Unmarshal([]byte(r.stdout), &pids); err != nil || len(pids) != 3 {
		t.Fatalf("ps: %q (%v), want 3 processes", r.stdout, err)
	}
	if r := oci(t, "kill", "--all", "many", "9"); r.code != 0 {
		t.Fatalf("kill --all: %+v", r)
	}
	waitStatus(t, "many", specs.StateStopped)
	for _, p := range pids {
		if unix.Kill(p, 0) == nil && isAlive(p) {
			t.Errorf("process %d survived kill --all", p)
		}
	}
}

func isAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(b), ") Z ")
}

func TestOCISpecAndFeatures(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	cmd := exec.Command(ociBin, "spec")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("spec: %v %s", err, out)
	}
	s, err := spec.LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(s.Root.Path, 0o755)
	if err := spec.Validate(s); err != nil {
		t.Errorf("the default config does not validate: %v", err)
	}
	r := oci(t, "features")
	var f map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &f); err != nil || f["ociVersionMax"] != specs.Version {
		t.Errorf("features: %q %v", r.stdout, err)
	}
}

func TestOCISeccompProfile(t *testing.T) {
	needRoot(t)
	errno := uint(42)
	bundle := ociBundle(t, []string{"sh", "-c", "chmod 700 /tmp; echo rc=$?; chmod 1777 /tmp && echo chmod-ok"}, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64},
			// Only mode 0700 is refused: arguments count.
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"chmod"}, Action: specs.ActErrno, ErrnoRet: &errno,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0o700, Op: specs.OpEqualTo}},
			}, {
				Names: []string{"fchmodat"}, Action: specs.ActErrno, ErrnoRet: &errno,
				Args: []specs.LinuxSeccompArg{{Index: 2, Value: 0o700, Op: specs.OpEqualTo}},
			}},
		}
	})
	r := oci(t, "run", "--bundle", bundle, "filtered")
	if !strings.Contains(r.stderr, "No message of desired type") || !strings.Contains(r.stdout, "rc=1") || !strings.Contains(r.stdout, "chmod-ok") {
		t.Errorf("profile not applied as written: %+v", r)
	}
	bad := ociBundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_EXPLODE"}
	})
	if r := oci(t, "create", "--bundle", bad, "badseccomp"); r.code == 0 || !strings.Contains(r.stderr, "seccomp") {
		t.Errorf("unknown seccomp action accepted: %+v", r)
	}
}

func TestOCIExec(t *testing.T) {
	needRoot(t)
	errno := uint(42)
	bundle := ociBundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: &errno},
		}}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: new(int64)}
		*s.Linux.Resources.Pids.Limit = 50
	})
	if r := oci(t, "run", "--detach", "--bundle", bundle, "execd"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	defer oci(t, "delete", "--force", "execd")
	pid := ociState(t, "execd").Pid
	r := oci(t, "exec", "execd", "sh", "-c", "ps -o pid,comm; readlink /proc/self/ns/mnt; grep -E '^(Seccomp|CapEff):' /proc/self/status; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; exit 3")
	if r.code != 3 {
		t.Fatalf("exec exit status %d, want 3: %+v", r.code, r)
	}
	mnt, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	for _, want := range []string{"    1 sleep", mnt, "Seccomp:\t2", "CapEff:\t" + dockerCaps, "50"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("exec output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := oci(t, "exec", "--user", "1000:1000", "--cwd", "/tmp", "execd", "sh", "-c", "id -u; pwd"); r.stdout != "1000\n/tmp\n" {
		t.Errorf("exec --user --cwd: %+v", r)
	}
	// runc compat: exec's own failures exit 255.
	if r := oci(t, "exec", "execd", "/no/such/program"); r.code != 255 || !strings.Contains(r.stderr, "no such file or directory") {
		t.Errorf("exec of a missing program: %+v", r)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	if r := oci(t, "exec", "--detach", "--pid-file", pidFile, "execd", "sleep", "999"); r.code != 0 {
		t.Fatalf("exec --detach: %+v", r)
	}
	b, _ := os.ReadFile(pidFile)
	execPid, _ := strconv.Atoi(string(b))
	if cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", execPid)); !strings.Contains(string(cg), "execd") && !strings.Contains(string(cg), "/berth/") {
		t.Errorf("exec'd process is not in the container's cgroup: %s", cg)
	}
	oci(t, "kill", "execd", "KILL")
	waitStatus(t, "execd", specs.StateStopped)
	if r := oci(t, "exec", "execd", "true"); r.code == 0 {
		t.Error("exec into a stopped container succeeded")
	}
}

func TestOCIUpdateAndEvents(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"sleep", "1000"}, nil)
	if r := oci(t, "run", "--detach", "--bundle", bundle, "upd"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	defer oci(t, "delete", "--force", "upd")
	res := filepath.Join(t.TempDir(), "res.json")
	os.WriteFile(res, []byte(`{"pids":{"limit":21}}`), 0o644)
	if r := oci(t, "update", "--memory", "67108864", "--resources", res, "upd"); r.code != 0 {
		t.Fatalf("update: %+v", r)
	}
	if r := oci(t, "exec", "upd", "sh", "-c", "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null"); r.stdout != "21\n67108864\n" {
		t.Errorf("limits inside after update: %q", r.stdout)
	}
	r := oci(t, "events", "--stats", "upd")
	var ev struct {
		Type string
		Data struct { // runc's shape
			Pids   struct{ Current, Limit uint64 }
			Memory struct{ Usage struct{ Limit uint64 } }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil || ev.Type != "stats" || ev.Data.Pids.Current != 1 || ev.Data.Pids.Limit != 21 || ev.Data.Memory.Usage.Limit != 67108864 {
		t.Errorf("events --stats: %q (%v)", r.stdout, err)
	}
}

func TestOCIUserNamespace(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"sh", "-c", "id -u; cat /proc/self/uid_map; grep CapEff /proc/self/status; touch /tmp/made-inside"}, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	})
	// The namespace's root is host uid 200000: it must be able to reach
	// the bundle, and may write what it owns: give it /tmp.
	os.Chmod(filepath.Dir(bundle), 0o755)
	os.Chown(filepath.Join(bundle, "rootfs", "tmp"), 200000, 200000)
	r := oci(t, "run", "--bundle", bundle, "userns")
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	f := strings.Fields(r.stdout)
	if len(f) < 4 || f[0] != "0" || f[1] != "0" || f[2] != "200000" || f[3] != "65536" || !strings.Contains(r.stdout, "CapEff:\t"+dockerCaps) {
		t.Errorf("inside: %q, want uid 0 mapped to 200000 with the default capabilities", r.stdout)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(bundle, "rootfs", "tmp", "made-inside"), &st); err != nil || st.Uid != 200000 {
		t.Errorf("a file made by the container's root belongs to host uid %d (%v), want 200000", st.Uid, err)
	}
	if r := oci(t, "run", "--bundle", ociBundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	}), "nomap"); r.code == 0 || !strings.Contains(r.stderr, "uidMappings") {
		t.Errorf("a user namespace without mappings: %+v", r)
	}
}

// TestOCIConcurrentCommands races commands on one container: the lock per
// container serializes them, so each sees a whole state and nothing is
// left behind.
func TestOCIConcurrentCommands(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	bundle := ociBundle(t, []string{"sleep", "1000"}, nil)
	if r := oci(t, "run", "--detach", "--bundle", bundle, "racy"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	done := make(chan result, 24)
	for i := 0; i < 8; i++ {
		go func() { done <- oci(t, "state", "racy") }()
		go func() { done <- oci(t, "kill", "racy", "KILL") }()
		go func() { done <- oci(t, "delete", "--force", "racy") }()
	}
	for i := 0; i < 24; i++ {
		r := <-done
		if strings.Contains(r.stderr, "panic") || strings.Contains(r.stdout, `"status": ""`) {
			t.Errorf("a racing command saw a broken state: %+v", r)
		}
	}
	if r := oci(t, "state", "racy"); r.code == 0 {
		t.Errorf("container still there after delete --force: %s", r.stdout)
	}
	checkNoLeaks(t, before)
}

func TestOCISystemdCgroupPath(t *testing.T) {
	needRoot(t)
	if _, err := os.Stat("/run/systemd/system"); err == nil && cgroupVersion(t) == "v2" {
		t.Skip("systemd runs this host's cgroups: the fallback is not used (TestSystemdCgroupDriver)")
	}
	bundle := ociBundle(t, []string{"cat", "/proc/self/cgroup"}, func(s *specs.Spec) {
		s.Linux.CgroupsPath = "berthtest.slice:berth:sd1"
		s.Linux.Namespaces = s.Linux.Namespaces[:len(s.Linux.Namespaces)-1] // no cgroup namespace: show the path
	})
	r := oci(t, "--systemd-cgroup", "run", "--bundle", bundle, "sd1")
	if r.code != 0 || !strings.Contains(r.stdout, "/berthtest.slice/berth-sd1.scope") || !strings.Contains(r.stderr, "systemd") {
		t.Errorf("systemd cgroup path: %+v", r)
	}
	// berth removes the container's cgroup; the slice above it is shared,
	// like /berth, and stays: the test removes its own.
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/berthtest.slice")
	dirs = append(dirs, "/sys/fs/cgroup/berthtest.slice")
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "berth-sd1.scope")); err == nil {
			t.Errorf("container cgroup %s/berth-sd1.scope left behind", dir)
		}
		os.Remove(dir)
	}
}

func TestOCISpecRootless(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	cmd := exec.Command(ociBin, "spec", "--rootless")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("spec --rootless: %v %s", err, out)
	}
	if out, err := exec.Command("cp", "-a", rootfsDir, filepath.Join(dir, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v %s", err, out)
	}
	editConfig(dir, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = []string{"sh", "-c", "id -u; cat /proc/self/uid_map"}
		// runc's rootless config keeps the cgroup mount, which berth
		// cannot make in a user namespace yet (v1: EPERM, where runc binds
		// the host's hierarchies; v2: EBUSY, below the host's /sys bound
		// by the rootless config): a gap of the user namespace work, not
		// of spec --rootless.
		var mounts []specs.Mount
		for _, m := range s.Mounts {
			if m.Destination != "/sys/fs/cgroup" {
				mounts = append(mounts, m)
			}
		}
		s.Mounts = mounts
	})
	r := oci(t, "run", "--bundle", dir, "rootless")
	if f := strings.Fields(r.stdout); r.code != 0 || len(f) < 4 || f[0] != "0" || f[2] != "0" || f[3] != "1" {
		t.Errorf("the rootless config, run by root: %+v", r)
	}
}
