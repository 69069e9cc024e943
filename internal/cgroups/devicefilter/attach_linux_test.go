package devicefilter

import (
	"bytes"
	"errors"
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

// helperEnv, when set, turns the test binary into the helper that runs
// the device operations it lists from inside the cgroup under test.
const helperEnv = "BERTH_DEVFILTER_HELPER_OPS"

func TestMain(m *testing.M) {
	if ops, ok := os.LookupEnv(helperEnv); ok {
		os.Exit(helperMain(ops))
	}
	os.Exit(m.Run())
}

// helperMain waits for the parent to move it into the cgroup (one byte on
// stdin), then prints its cgroup v2 path and the outcome of each
// ";"-separated operation as "op\tresult".
func helperMain(ops string) int {
	var b [1]byte
	if n, _ := os.Stdin.Read(b[:]); n != 1 {
		return 2
	}
	fmt.Printf("cgroup\t%s\n", ownCgroup())
	for _, op := range strings.Split(ops, ";") {
		res := "ok"
		if err := doOp(op); err != nil {
			res = err.Error()
			var errno unix.Errno
			if errors.As(err, &errno) {
				res = unix.ErrnoName(errno)
			}
		}
		fmt.Printf("%s\t%s\n", op, res)
	}
	return 0
}

func ownCgroup() string {
	data, _ := os.ReadFile("/proc/self/cgroup")
	for _, line := range strings.Split(string(data), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			return path
		}
	}
	return "?"
}

// doOp runs "open r|w|rw PATH" or "mknod b|c MAJOR MINOR PATH".
func doOp(op string) error {
	f := strings.Fields(op)
	switch {
	case len(f) == 3 && f[0] == "open":
		flags := map[string]int{"r": unix.O_RDONLY, "w": unix.O_WRONLY, "rw": unix.O_RDWR}[f[1]]
		fd, err := unix.Open(f[2], flags|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	case len(f) == 5 && f[0] == "mknod":
		major, _ := strconv.ParseUint(f[2], 10, 32)
		minor, _ := strconv.ParseUint(f[3], 10, 32)
		mode := uint32(unix.S_IFCHR)
		if f[1] == "b" {
			mode = unix.S_IFBLK
		}
		return unix.Mknod(f[4], mode|0o600, int(unix.Mkdev(uint32(major), uint32(minor))))
	}
	return fmt.Errorf("bad op %q", op)
}

// check is an operation and its expected outcome: "ok", an errno name, or
// "!EPERM" for any outcome but the device cgroup's refusal.
type check struct {
	op, want string
}

func (c check) matches(got string) bool {
	if not, ok := strings.CutPrefix(c.want, "!"); ok {
		return got != not
	}
	return got == c.want
}

// cgroup2Root finds a cgroup2 mount: the unified hierarchy of a hybrid
// host, or /sys/fs/cgroup itself on a pure v2 one.
func cgroup2Root(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs and create cgroups")
	}
	for _, dir := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return dir
		}
	}
	t.Skip("no cgroup2 hierarchy mounted")
	return ""
}

var cgroupSeq int

// newCgroup creates an empty cgroup for the test and removes it on
// cleanup, which also detaches the programs attached to it.
func newCgroup(t *testing.T) string {
	root := cgroup2Root(t)
	cgroupSeq++
	dir := filepath.Join(root, fmt.Sprintf("berth-devfilter-test-%d-%d", os.Getpid(), cgroupSeq))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeCgroup(t, dir) })
	return dir
}

// removeCgroup retries while the kernel finishes releasing the exited
// helper.
func removeCgroup(t *testing.T, dir string) {
	var err error
	for range 100 {
		if err = unix.Rmdir(dir); !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("remove cgroup %s: %v", dir, err)
	}
}

func attachTo(t *testing.T, dir string, rules []specs.LinuxDeviceCgroup) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := Attach(fd, rules); err != nil {
		t.Fatal(err)
	}
}

// runInCgroup attaches rules to a fresh cgroup, runs the operations of
// checks from a helper moved into it, and compares the outcomes.
func runInCgroup(t *testing.T, rules []specs.LinuxDeviceCgroup, checks []check) {
	dir := newCgroup(t)
	attachTo(t, dir, rules)

	ops := make([]string, len(checks))
	for i, c := range checks {
		ops[i] = c.op
	}
	out := runHelper(t, dir, strings.Join(ops, ";"))

	results := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		op, res, _ := strings.Cut(line, "\t")
		results[op] = res
	}
	if got, want := results["cgroup"], "/"+filepath.Base(dir); !strings.HasSuffix(got, want) {
		t.Fatalf("helper ran in cgroup %q, want %q", got, want)
	}
	for _, c := range checks {
		if got := results[c.op]; !c.matches(got) {
			t.Errorf("%s: got %s, want %s", c.op, got, c.want)
		}
	}
}

// runHelper starts the helper, moves it into dir through cgroup.procs,
// lets it run and returns its output.
func runHelper(t *testing.T, dir, ops string) string {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+ops)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	pid := strconv.Itoa(cmd.Process.Pid)
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(pid), 0); err != nil {
		t.Fatalf("move helper into cgroup: %v", err)
	}
	if _, err := stdin.Write([]byte("g")); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v\n%s", err, stderr.String())
	}
	return stdout.String()
}

func TestAttachDockerRules(t *testing.T) {
	tmp := t.TempDir()
	sda, mem, null := filepath.Join(tmp, "sda"), filepath.Join(tmp, "mem"), filepath.Join(tmp, "null")
	runInCgroup(t, dockerRules(), []check{
		{"open rw /dev/null", "ok"},
		{"open r /dev/zero", "ok"},
		{"mknod b 8 0 " + sda, "ok"},
		{"open r " + sda, "EPERM"},
		{"open w " + sda, "EPERM"},
		{"mknod c 1 1 " + mem, "ok"},
		{"open r " + mem, "EPERM"},
		{"open r /dev/kmsg", "EPERM"},
		{"mknod c 1 3 " + null, "ok"},
		{"open rw " + null, "ok"},
	})
}

func TestAttachAllowAll(t *testing.T) {
	tmp := t.TempDir()
	sda := filepath.Join(tmp, "sda")
	runInCgroup(t, []specs.LinuxDeviceCgroup{allowRule("a", nil, nil, "rwm")}, []check{
		{"open rw /dev/null", "ok"},
		{"mknod b 8 0 " + sda, "ok"},
		// No disk 8:0 here: the open gets past the filter to ENXIO.
		{"open r " + sda, "!EPERM"},
		{"open r /dev/kmsg", "ok"},
	})
}

func TestAttachAccessBits(t *testing.T) {
	tmp := t.TempDir()
	runInCgroup(t, []specs.LinuxDeviceCgroup{
		denyAll,
		allowRule("c", num(1), num(3), "rwm"),
		denyRule("c", num(1), num(3), "w"),
		allowRule("c", num(1), num(5), "r"),
	}, []check{
		{"open r /dev/null", "ok"},
		{"open w /dev/null", "EPERM"},
		{"open rw /dev/null", "EPERM"},
		{"mknod c 1 3 " + filepath.Join(tmp, "null"), "ok"},
		{"open r /dev/zero", "ok"},
		{"open rw /dev/zero", "EPERM"},
		{"mknod c 1 5 " + filepath.Join(tmp, "zero"), "EPERM"},
	})
}

func TestAttachNoRulesDeniesAll(t *testing.T) {
	tmp := t.TempDir()
	runInCgroup(t, nil, []check{
		{"open r /dev/null", "EPERM"},
		{"mknod c 1 3 " + filepath.Join(tmp, "null"), "EPERM"},
	})
}

func TestAttachErrors(t *testing.T) {
	if err := Attach(-1, []specs.LinuxDeviceCgroup{allowRule("z", nil, nil, "r")}); err == nil ||
		!strings.HasPrefix(err.Error(), "compile device filter: device rule 0: invalid device type") {
		t.Errorf("bad rule: got %v", err)
	}
	cgroup2Root(t)
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = Attach(int(f.Fd()), dockerRules())
	if err == nil || !strings.HasPrefix(err.Error(), "attach device filter: ") {
		t.Errorf("attach to a non-cgroup fd: got %v", err)
	}
}

func TestLoadReportsVerifierLog(t *testing.T) {
	cgroup2Root(t)
	// The context is 12 bytes long; offset 12 is out of bounds.
	_, err := load([]Insn{loadWord(r2, r1, 12), mov64Imm(r0, 0), exit()})
	if err == nil {
		t.Fatal("out-of-bounds context load accepted")
	}
	if !strings.Contains(err.Error(), "verifier: ") || !strings.Contains(err.Error(), "invalid bpf_context access") {
		t.Errorf("error lacks the verifier's reason: %v", err)
	}
	if !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EINVAL) {
		t.Errorf("error does not wrap the errno: %v", err)
	}
	t.Log(err)
}

// TestDetachLeavesCgroupAsFound: after Detach, what the attached program
// denied is allowed again, as before it was attached.
func TestDetachLeavesCgroupAsFound(t *testing.T) {
	dir := newCgroup(t)
	attachTo(t, dir, nil)
	attachTo(t, dir, nil) // two containers, one after the other
	if out := runHelper(t, dir, "open r /dev/null"); !strings.Contains(out, "EPERM") {
		t.Fatalf("attached: %q", out)
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := Detach(fd); err != nil {
		t.Fatal(err)
	}
	if out := runHelper(t, dir, "open r /dev/null"); !strings.Contains(out, "ok") {
		t.Errorf("after Detach: %q", out)
	}
}
