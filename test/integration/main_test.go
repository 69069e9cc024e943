// Package integration starts real containers with the berth binary on this
// kernel and checks what is seen inside and outside them. It needs root and
// Debian's busybox-static (/bin/busybox), from which it builds its own root
// filesystem. BERTH_BIN names a prebuilt berth; otherwise it is built.
package integration

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var (
	berthBin  string
	ociBin    string
	ociRoot   string
	rootfsDir string
	// pristineRootfsTar is rootfsDir as it was made, before any test ran.
	pristineRootfsTar string
	stateRoot         string // --runroot
	storeRoot         string // --root
	skipReason        string
	// suiteNetns is the network namespace every berth of the suite runs
	// in: berth's default bridge network, its nftables table and
	// ip_forward live there and vanish with it, so the host's network is
	// never changed.
	suiteNetns string
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == signalLauncherArg {
		launchWithSignals(os.Args[2:])
	}
	os.Exit(setup(m))
}

func setup(m *testing.M) int {
	if os.Geteuid() != 0 {
		skipReason = "integration tests need root"
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "berth-it-")
	if err == nil {
		// Tests run berth as an unprivileged user too.
		err = os.Chmod(tmp, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	berthBin = os.Getenv("BERTH_BIN")
	if berthBin == "" {
		berthBin = filepath.Join(tmp, "berth")
		build := exec.Command("go", "build", "-o", berthBin, "../../cmd/berth")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build berth: %v\n%s", err, out)
			return 1
		}
	}
	ociBin = os.Getenv("BERTH_OCI_BIN")
	if ociBin == "" {
		ociBin = filepath.Join(tmp, "berth-oci")
		build := exec.Command("go", "build", "-o", ociBin, "../../cmd/berth-oci")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build berth-oci: %v\n%s", err, out)
			return 1
		}
	}
	ociRoot = filepath.Join(tmp, "oci-state")
	rootfsDir = filepath.Join(tmp, "rootfs")
	if err := BuildBusyboxRootfs(rootfsDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := installProbe(tmp, filepath.Join(rootfsDir, "bin", "probe")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Tests that run --rootfs rootfsDir leave their mount points in it
	// (a -v DIR:/x makes /x): images are imported from it as it was made.
	pristineRootfsTar = filepath.Join(tmp, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfsDir, "-cf", pristineRootfsTar, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "tar the rootfs: %v %s", err, out)
		return 1
	}
	stateRoot = filepath.Join(tmp, "state")
	storeRoot = filepath.Join(tmp, "storage")
	suiteNetns = fmt.Sprintf("berth-it-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", suiteNetns).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "ip netns add %s: %v %s", suiteNetns, err, out)
		return 1
	}
	defer exec.Command("ip", "netns", "del", suiteNetns).Run()
	if out, err := exec.Command("ip", "-n", suiteNetns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "lo up in %s: %v %s", suiteNetns, err, out)
		return 1
	}
	before := berthSubidLines()
	code := m.Run()
	if leaked := dropNewBerthSubidLines(before); len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "the suite left berth's line in %s (removed now): a test that makes berth add it must call keepSubidFiles\n", strings.Join(leaked, " and "))
		code = 1
	}
	return code
}

var subidFiles = []string{"/etc/subuid", "/etc/subgid"}

// berthSubidLines tells, per file, whether it has a berth line now.
func berthSubidLines() map[string]bool {
	has := map[string]bool{}
	for _, path := range subidFiles {
		b, _ := os.ReadFile(path)
		has[path] = strings.Contains("\n"+string(b), "\nberth:")
	}
	return has
}

// dropNewBerthSubidLines removes the berth lines that were not there
// before (berth adds its own at the first --userns=auto) and names the
// files it had to clean: the host must be left as the suite found it.
func dropNewBerthSubidLines(before map[string]bool) []string {
	var leaked []string
	for path, has := range berthSubidLines() {
		if !has || before[path] {
			continue
		}
		leaked = append(leaked, path)
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var kept []string
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if !strings.HasPrefix(l, "berth:") {
				kept = append(kept, l)
			}
		}
		os.WriteFile(path, []byte(strings.Join(kept, "")), 0o644)
	}
	sort.Strings(leaked)
	return leaked
}

// BuildBusyboxRootfs makes a minimal root filesystem from the host's static
// busybox: the binary, one link per applet, and a passwd with root and a
// user "app" (uid 1000).
func BuildBusyboxRootfs(dir string) error {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("need Debian's busybox-static at /bin/busybox: %w", err)
	}
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/app", "usr/bin", "sbin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), bb, 0o755); err != nil {
		return err
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\napp:x:1000:\nwheel:x:10:app\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return os.Chown(filepath.Join(dir, "home/app"), 1000, 1000)
}

// installProbe puts test/probe, the tests' hostile program, at dst: the
// berth-probe beside BERTH_BIN if there is one (the cgroup v2 VM has no Go),
// else one built now.
func installProbe(tmp, dst string) error {
	src := filepath.Join(filepath.Dir(berthBin), "berth-probe")
	if _, err := os.Stat(src); err != nil {
		src = filepath.Join(tmp, "berth-probe")
		build := exec.Command("go", "build", "-o", src, "../probe")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("build test/probe: %v\n%s", err, out)
		}
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

func needRoot(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// result is a finished berth command.
type result struct {
	stdout, stderr string
	code           int
}

// berth runs the berth binary with the test state root and returns what it
// printed and its exit status.
func berth(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := berthCommand(args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	return collect(t, cmd, "berth")
}

// collect runs cmd and returns what it printed and its exit status; a
// command that cannot be started at all (what names it) fails the test.
func collect(t *testing.T, cmd *exec.Cmd, what string) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", what, err)
	}
	return result{out.String(), errb.String(), code}
}

// berthCommand is berth with the suite's state root, run in the suite's
// network namespace (nsenter execs it: the command's PID is berth's).
func berthCommand(args ...string) *exec.Cmd {
	full := append([]string{"--net=/run/netns/" + suiteNetns, berthBin, "--root", storeRoot, "--runroot", stateRoot}, args...)
	cmd := exec.Command("nsenter", full...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOST_ONLY=from-host"}
	return cmd
}

// runIn runs a shell command in a fresh container with extra run flags and
// expects it to succeed.
func runIn(t *testing.T, script string, flags ...string) string {
	t.Helper()
	r := berth(t, "", append(append([]string{"run", "--rm", "--rootfs", rootfsDir}, flags...), "/bin/sh", "-c", script)...)
	if r.code != 0 {
		t.Fatalf("container failed with %d: stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// hostState is what berth may leave on the host: state records, cgroups
// and mounts.
type hostState struct {
	records []string
	cgroups []string
	mounts  int
}

func snapshot(t *testing.T) hostState {
	t.Helper()
	var s hostState
	for _, root := range []string{stateRoot, ociRoot} {
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			if e.Name() != "names" {
				s.records = append(s.records, e.Name())
			}
		}
	}
	// Containers' directories (record, snapshot, log).
	for _, d := range containerDirs() {
		s.records = append(s.records, "containers/"+d)
	}
	// A container's network files; its address goes with them.
	attached, _ := filepath.Glob(filepath.Join(storeRoot, "networks", "*", "files", "*"))
	s.records = append(s.records, attached...)
	names, _ := os.ReadDir(filepath.Join(stateRoot, "names"))
	for _, n := range names {
		s.records = append(s.records, "names/"+n.Name())
	}
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/berth/*")
	v2, _ := filepath.Glob("/sys/fs/cgroup/berth/*")
	for _, d := range append(dirs, v2...) {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			s.cgroups = append(s.cgroups, d)
		}
	}
	sort.Strings(s.cgroups)
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	s.mounts = strings.Count(string(mi), "\n")
	return s
}

// checkNoLeaks fails the test if berth left a record, cgroup or mount
// behind compared with before.
func checkNoLeaks(t *testing.T, before hostState) {
	t.Helper()
	after := snapshot(t)
	if len(after.records) > len(before.records) {
		t.Errorf("state records left behind: %v", after.records)
	}
	if len(after.cgroups) > len(before.cgroups) {
		t.Errorf("cgroups left behind: %v (before %v)", after.cgroups, before.cgroups)
	}
	if after.mounts > before.mounts {
		t.Errorf("host has %d mounts, %d before", after.mounts, before.mounts)
	}
}

// started is a container running in the background.
type started struct {
	cmd    *exec.Cmd
	stdout *bytes.Buffer
	stderr *bytes.Buffer
	lines  chan string
}

// idle is a container script that prints "ready" and waits until berth
// forwards it SIGTERM or SIGINT (PID 1 ignores signals it has no handler for).
const idle = "trap 'exit 0' TERM INT; sleep 1000 & echo ready; wait"

// startContainer starts berth in the background and waits until the
// container prints a line "ready".
func startContainer(t *testing.T, script string, flags ...string) *started {
	t.Helper()
	return startBerth(t, append(append([]string{"run", "--rm", "--rootfs", rootfsDir}, flags...), "/bin/sh", "-c", script)...)
}

// startBerth starts berth with args in the background and waits until
// the container prints a line "ready".
func startBerth(t *testing.T, args ...string) *started {
	t.Helper()
	cmd := berthCommand(args...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &started{cmd: cmd, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, lines: make(chan string, 64)}
	cmd.Stdout, cmd.Stderr = pw, s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() {
		defer close(s.lines)
		buf := make([]byte, 4096)
		var pending string
		for {
			n, err := pr.Read(buf)
			pending += string(buf[:n])
			for {
				i := strings.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				s.stdout.WriteString(pending[:i+1])
				s.lines <- pending[:i]
				pending = pending[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	s.expectLine(t, "ready")
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return s
}

func (s *started) expectLine(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("container ended before printing %q: stderr %q", want, s.stderr.String())
			}
			if line == want {
				return
			}
		case <-timeout:
			t.Fatalf("container did not print %q within 20s", want)
		}
	}
}

// wait waits for berth to exit and returns its status.
func (s *started) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatal("berth did not exit within 30s")
		return -1
	}
}

// containerPid returns the host PID of the container's PID 1: the only
// child of the berth process.
func (s *started) containerPid(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", s.cmd.Process.Pid, s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for _, f := range strings.Fields(string(b)) {
		fmt.Sscan(f, &pid)
	}
	if pid == 0 {
		// The child may hang off another thread of berth.
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", s.cmd.Process.Pid))
		for _, task := range tasks {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", s.cmd.Process.Pid, task.Name()))
			for _, f := range strings.Fields(string(b)) {
				fmt.Sscan(f, &pid)
			}
		}
	}
	if pid == 0 {
		t.Fatal("no container process found under berth")
	}
	return pid
}

// hostSuiteOnly skips, in the cgroup v2 VM (make test-v2), a test whose
// subject is userspace that neither the cgroup version nor the kernel
// changes: a Dockerfile's semantics, the image store, cp, commit. The
// host suite runs it; the VM, under TCG several times slower, spends its
// time on what differs there (cgroups, rootless delegation, the older
// kernel's mounts and networking). Builds made rootless keep running in
// the VM: their containers depend on cgroup delegation.
func hostSuiteOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("BERTH_VM") != "" {
		t.Skip("userspace only: the host suite runs it, the cgroup v2 VM does not")
	}
}
