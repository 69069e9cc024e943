package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-runtime/berth/internal/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// int80Program returns testdata/int80, a static program that makes i386
// syscalls from 64-bit code with INT $0x80. A copy beside the test binary
// is used when there is one (the cgroup v2 VM has no Go toolchain: make
// test-v2 puts it in the payload); otherwise it is built here.
func int80Program(t *testing.T) string {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("INT $0x80 from 64-bit code is an amd64 matter")
	}
	if self, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(self), "int80"); fileExists(p) {
			return p
		}
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no int80 beside the test binary and no go toolchain to build testdata/int80")
	}
	out := filepath.Join(t.TempDir(), "int80")
	build := exec.Command("go", "build", "-o", out, "./testdata/int80")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build testdata/int80: %v\n%s", err, msg)
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// needIA32 skips unless this kernel runs i386 syscalls made with
// INT $0x80: with IA-32 emulation off (CONFIG_IA32_EMULATION unset,
// ia32_emulation=0, or turned off by the hypervisor's guest code) the
// instruction faults and no 32-bit syscall reaches seccomp at all.
func needIA32(t *testing.T, int80 string) {
	t.Helper()
	const i386Getpid = "20"
	out, err := exec.Command(int80, i386Getpid, "0").CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() || strings.Contains(string(out), "SIGSEGV") {
			t.Skip("IA-32 emulation is off on this kernel: INT $0x80 from 64-bit code faults, so no i386 syscall can be made")
		}
	}
	if err != nil || strings.TrimSpace(string(out)) != "0 ok" {
		t.Fatalf("i386 getpid on the host: %v %q", err, out)
	}
}

// TestSeccompI386UpperHalves runs the review's attack in a real
// container: a 64-bit program makes the i386 nice(2) with INT $0x80 and
// sets the upper half of the argument register. The kernel runs nice on
// the low half; the profile (Docker's default, whose architectures
// include x86, plus a deny rule and an allow-if-not-equal rule for nice)
// must judge the low half too, so nice(0) is refused however the upper
// half is set.
func TestSeccompI386UpperHalves(t *testing.T) {
	needRoot(t)
	int80 := int80Program(t)
	needIA32(t, int80)
	const i386Nice = "34"
	errno := uint(42)
	zero := []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpEqualTo}}
	notZero := []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpNotEqual}}
	bundle := ociBundle(t, []string{"/int80", i386Nice, "0", "0x100000000", "0xffffffff00000000", "1"}, func(s *specs.Spec) {
		s.Linux.Seccomp = seccomp.DockerDefault(s.Process.Capabilities.Bounding)
		s.Linux.Seccomp.Syscalls = append(s.Linux.Seccomp.Syscalls,
			specs.LinuxSyscall{Names: []string{"nice"}, Action: specs.ActErrno, ErrnoRet: &errno, Args: zero},
			specs.LinuxSyscall{Names: []string{"nice"}, Action: specs.ActAllow, Args: notZero})
	})
	prog, err := os.ReadFile(int80)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "rootfs", "int80"), prog, 0o755); err != nil {
		t.Fatal(err)
	}
	r := oci(t, "run", "--bundle", bundle, "int80")
	want := "0 errno=42\n0x100000000 errno=42\n0xffffffff00000000 errno=42\n1 ok\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("i386 nice with upper halves set: exit %d, stdout %q (stderr %q), want %q", r.code, r.stdout, r.stderr, want)
	}
}
