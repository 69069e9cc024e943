//go:build amd64

package seccomp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// helperEnv, when set, makes the test binary a helper that installs a
// filter on its main thread and reports how syscalls fare, one
// "name result" line each. The value picks the profile; helperDirEnv is a
// scratch directory.
const (
	helperEnv    = "BERTH_SECCOMP_HELPER"
	helperDirEnv = "BERTH_SECCOMP_HELPER_DIR"
)

func TestMain(m *testing.M) {
	if mode, ok := os.LookupEnv(helperEnv); ok {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

func helperMain(mode string) int {
	// Everything from the install on runs on this thread with raw
	// syscalls: the filter binds this thread only.
	runtime.LockOSThread()
	var err error
	switch mode {
	case "small":
		err = helperSmall(os.Getenv(helperDirEnv))
	case "docker":
		err = helperDocker()
	case "long":
		err = helperLong()
	case "after-exec":
		helperAfterExec()
	case "notify":
		err = helperNotify()
	case "first-compile":
		err = helperFirstCompile()
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	return 0
}

// sys makes a raw syscall on the calling thread and says how it went.
func sys(nr uintptr, args ...uintptr) string {
	var a [6]uintptr
	copy(a[:], args)
	_, _, e := unix.RawSyscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
	if e != 0 {
		return "errno=" + strconv.Itoa(int(e))
	}
	return "ok"
}

func report(name, result string) { fmt.Printf("%s %s\n", name, result) }

func lockdown(p *specs.LinuxSeccomp) error {
	prog, err := Compile(p)
	if err != nil {
		return err
	}
	flags, err := Flags(p)
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	_, err = Install(prog, flags)
	return err
}

func helperSmall(dir string) error {
	mode0700 := []specs.LinuxSeccompArg{{Index: 2, Value: 0o700, Op: specs.OpEqualTo}}
	err := lockdown(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: uintp(42)},
			{Names: []string{"mkdirat"}, Action: specs.ActErrno, Args: mode0700},
		},
	})
	if err != nil {
		return err
	}
	path := func(name string) uintptr {
		p, _ := unix.BytePtrFromString(filepath.Join(dir, name))
		return uintptr(unsafe.Pointer(p))
	}
	fd := int32(unix.AT_FDCWD)
	atFdcwd := uintptr(uint32(fd)) // an int argument
	report("getppid", sys(unix.SYS_GETPPID))
	report("getpid", sys(unix.SYS_GETPID))
	report("mkdirat-0700", sys(unix.SYS_MKDIRAT, atFdcwd, path("a"), 0o700))
	report("mkdirat-0755", sys(unix.SYS_MKDIRAT, atFdcwd, path("b"), 0o755))
	// The kernel keeps 16 bits of the mode; the filter sees all 64.
	report("mkdirat-0700-high", sys(unix.SYS_MKDIRAT, atFdcwd, path("c"), 1<<32|0o700))
	return nil
}

func helperDocker() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := lockdown(DockerDefault(dockerCaps)); err != nil {
		return err
	}
	report("getpid", sys(unix.SYS_GETPID))
	report("kexec_load", sys(unix.SYS_KEXEC_LOAD))
	report("mount", sys(unix.SYS_MOUNT))
	report("unshare", sys(unix.SYS_UNSHARE, unix.CLONE_NEWUTS))
	report("clone3", sys(unix.SYS_CLONE3))
	report("open_tree_attr", sys(unix.SYS_OPEN_TREE_ATTR, ^uintptr(0)))
	report("personality", sys(unix.SYS_PERSONALITY, 0xffffffff))
	env := []string{helperEnv + "=after-exec"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, helperEnv+"=") {
			env = append(env, kv)
		}
	}
	return fmt.Errorf("exec: %w", syscall.Exec(self, []string{self}, env))
}

// longJumpProfile gives every x86_64 syscall its own rule, so the program
// needs trampolines: ERRNO(nr%100+1) when argument nr%6 is a magic value.
func longJumpProfile() *specs.LinuxSeccomp {
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	for _, e := range x8664Syscalls {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{
			Names: []string{e.name}, Action: specs.ActErrno, ErrnoRet: uintp(uint(e.nr%100 + 1)),
			Args: []specs.LinuxSeccompArg{{Index: uint(e.nr % 6), Value: longJumpMagic(e.nr), Op: specs.OpEqualTo}},
		})
	}
	return p
}

func longJumpMagic(nr uint32) uint64 { return uint64(nr)<<36 | 0xdead }

func helperLong() error {
	if err := lockdown(longJumpProfile()); err != nil {
		return err
	}
	for _, nr := range []uint32{unix.SYS_READ, unix.SYS_GETPPID, unix.SYS_GETPID, unix.SYS_LISTNS} {
		var args [6]uintptr
		args[nr%6] = uintptr(longJumpMagic(nr))
		report(fmt.Sprintf("magic-%d", nr), sys(uintptr(nr), args[:]...))
	}
	report("getppid", sys(unix.SYS_GETPPID))
	return nil
}

// helperAfterExec runs in the program the docker helper execs: a whole Go
// runtime starting under the filter it inherited.
func helperAfterExec() {
	report("after-exec-kexec_load", sys(unix.SYS_KEXEC_LOAD))
	report("after-exec-clone3", sys(unix.SYS_CLONE3))
	report("after-exec-getpid", sys(unix.SYS_GETPID))
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			report("after-exec-seccomp-mode", strings.TrimSpace(v))
		}
	}
}

// runHelper runs the test binary in helper mode and returns its report.
func runHelper(t *testing.T, mode string) map[string]string {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("filters are built for x86_64")
	}
	if status, _ := os.ReadFile("/proc/self/status"); !bytes.Contains(status, []byte("\nSeccomp:")) {
		t.Skip("kernel without seccomp")
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperDirEnv+"="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %s: %v\nstdout:\n%s\nstderr:\n%s", mode, err, out, stderr.Bytes())
	}
	got := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok {
			got[k] = v
		}
	}
	return got
}

func expectReport(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

func TestKernelSmallFilter(t *testing.T) {
	expectReport(t, runHelper(t, "small"), map[string]string{
		"getppid":           "errno=42",
		"getpid":            "ok",
		"mkdirat-0700":      "errno=1",
		"mkdirat-0755":      "ok",
		"mkdirat-0700-high": "ok",
	})
}

func TestKernelLongJumps(t *testing.T) {
	prog, err := Compile(longJumpProfile())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d instructions", len(prog))
	expectReport(t, runHelper(t, "long"), map[string]string{
		"magic-0":   "errno=1",
		"magic-110": "errno=11",
		"magic-39":  "errno=40",
		"magic-470": "errno=71",
		"getppid":   "ok",
	})
}

func TestKernelDockerDefault(t *testing.T) {
	expectReport(t, runHelper(t, "docker"), map[string]string{
		"getpid":                  "ok",
		"kexec_load":              "errno=1",
		"mount":                   "errno=1",
		"unshare":                 "errno=1",
		"clone3":                  "errno=38",
		"open_tree_attr":          "errno=38",
		"personality":             "ok",
		"after-exec-kexec_load":   "errno=1",
		"after-exec-clone3":       "errno=38",
		"after-exec-getpid":       "ok",
		"after-exec-seccomp-mode": "2",
	})
}

// helperNotify sends getppid to a listener that another thread, outside
// the filter, answers with 4242.
func helperNotify() error {
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		ListenerPath:  "/unused",
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}},
	}
	prog, err := Compile(p)
	if err != nil {
		return err
	}
	flags, err := Flags(p)
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	fd, err := Install(prog, flags)
	if err != nil {
		return err
	}
	fdFlags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	report("listener-cloexec", strconv.FormatBool(fdFlags&unix.FD_CLOEXEC != 0))
	go func() {
		// struct seccomp_notif, then struct seccomp_notif_resp.
		var req [80]byte
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e != 0 {
			return
		}
		var resp [24]byte
		copy(resp[:8], req[:8])
		binary.LittleEndian.PutUint64(resp[8:], 4242)
		unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	}()
	r, _, _ := unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
	report("getppid", strconv.Itoa(int(r)))
	return nil
}

func TestKernelNotify(t *testing.T) {
	expectReport(t, runHelper(t, "notify"), map[string]string{
		"listener-cloexec": "true",
		"getppid":          "4242",
	})
}
