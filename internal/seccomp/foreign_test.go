//go:build amd64

package seccomp

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runcArches are the architecture names runc accepts (libcontainer/seccomp
// config.go): Docker's and podman's default profiles list most of them.
var runcArches = []specs.Arch{
	"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
	"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
	"SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
	"SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
	"SCMP_ARCH_LOONGARCH64",
}

// TestForeignArchitectures: a profile that lists every architecture runc
// knows compiles to the same program as one that lists only this host's
// (x86_64, x86, x32): the others' syscalls never reach this kernel's
// filter, so libseccomp's sections for them are dead code.
func TestForeignArchitectures(t *testing.T) {
	host := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getpid", "rt_sigaction", "waitpid"}, Action: specs.ActAllow},
			{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(42)},
		},
	}
	all := *host
	all.Architectures = runcArches
	want := compile(t, host)
	if got := compile(t, &all); !slices.Equal(got, want) {
		t.Errorf("every runc architecture: %d instructions, want the host's %d", len(got), len(want))
	}
	// Foreign architectures alone leave the native one, as libseccomp
	// always keeps it.
	foreign := *host
	foreign.Architectures = []specs.Arch{specs.ArchAARCH64, specs.ArchS390X}
	native := *host
	native.Architectures = nil
	if got, want := compile(t, &foreign), compile(t, &native); !slices.Equal(got, want) {
		t.Errorf("foreign architectures only: not the native-only program")
	}
	expect(t, compile(t, &foreign), []call{
		{arch: x86_64, nr: nrGetpid, want: allow},
		{arch: i386, nr: 20, want: kill},
		{arch: unix.AUDIT_ARCH_AARCH64, nr: 172, want: kill},
	})
	// runc refuses names it does not know, and so does berth.
	_, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86, "SCMP_ARCH_VAX"}})
	if err == nil || !strings.Contains(err.Error(), `architectures[1]: unknown architecture "SCMP_ARCH_VAX"`) {
		t.Errorf("unknown architecture: got %v", err)
	}
}

// TestAdvertisedFeatures: every action, operator, flag and architecture
// that berth-oci features can report from this package is accepted.
func TestAdvertisedFeatures(t *testing.T) {
	for _, a := range KnownActions() {
		sc := specs.LinuxSyscall{Names: []string{"getppid"}, Action: specs.LinuxSeccompAction(a)}
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/agent.sock", Syscalls: []specs.LinuxSyscall{sc}}
		if p.DefaultAction == sc.Action {
			p.DefaultAction = specs.ActErrno
		}
		compile(t, p)
	}
	for _, op := range KnownOperators() {
		args := []specs.LinuxSeccompArg{{Index: 1, Value: 1, Op: specs.LinuxSeccompOperator(op)}}
		compile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActErrno, Args: args}}})
	}
	for _, fl := range SupportedFlags() {
		if _, err := Flags(&specs.LinuxSeccomp{Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(fl)}}); err != nil {
			t.Errorf("flag %s: %v", fl, err)
		}
	}
	for _, a := range KnownArches() {
		compile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.Arch(a)}})
	}
}
