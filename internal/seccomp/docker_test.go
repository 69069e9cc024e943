//go:build amd64

package seccomp

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// dockerCaps is Docker's default capability set.
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// foreignNames are the syscalls in Docker's profile that exist on none of
// x86_64, x86 and x32.
var foreignNames = []string{
	"arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "recv",
	"riscv_flush_icache", "riscv_hwprobe", "s390_pci_mmio_read", "s390_pci_mmio_write",
	"s390_runtime_instr", "send", "set_tls", "swapcontext", "sync_file_range2",
}

func TestDockerProfileNames(t *testing.T) {
	for _, r := range dockerProfile {
		for _, n := range r.names {
			known := slices.Contains(foreignNames, n)
			for _, a := range arches {
				_, ok := a.lookup(n)
				known = known || ok
			}
			if !known {
				t.Errorf("%q is in no syscall table", n)
			}
		}
	}
}

func TestDockerDefaultShape(t *testing.T) {
	p := DockerDefault(dockerCaps)
	if p.DefaultAction != specs.ActErrno || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 1 {
		t.Errorf("default %s %v, want SCMP_ACT_ERRNO 1", p.DefaultAction, p.DefaultErrnoRet)
	}
	if !slices.Equal(p.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
		t.Errorf("architectures %v", p.Architectures)
	}
	has := func(p *specs.LinuxSeccomp, name string, action specs.LinuxSeccompAction) bool {
		return slices.ContainsFunc(p.Syscalls, func(s specs.LinuxSyscall) bool {
			return s.Action == action && slices.Contains(s.Names, name)
		})
	}
	for _, tc := range []struct {
		caps   []string
		name   string
		action specs.LinuxSeccompAction
		want   bool
	}{
		{dockerCaps, "arch_prctl", specs.ActAllow, true},
		{dockerCaps, "set_tls", specs.ActAllow, false},
		{dockerCaps, "chroot", specs.ActAllow, true},
		{nil, "chroot", specs.ActAllow, false},
		{[]string{"sys_chroot"}, "chroot", specs.ActAllow, true},
		{dockerCaps, "mount", specs.ActAllow, false},
		{[]string{"CAP_SYS_ADMIN"}, "mount", specs.ActAllow, true},
		{dockerCaps, "clone3", specs.ActErrno, true},
		{[]string{"CAP_SYS_ADMIN"}, "clone3", specs.ActErrno, false},
		{dockerCaps, "open_by_handle_at", specs.ActAllow, false},
		{[]string{"CAP_DAC_READ_SEARCH"}, "open_by_handle_at", specs.ActAllow, true},
	} {
		if got := has(DockerDefault(tc.caps), tc.name, tc.action); got != tc.want {
			t.Errorf("caps %v: %s %s present = %v, want %v", tc.caps, tc.name, tc.action, got, tc.want)
		}
	}
}

func TestDockerDefaultVerdicts(t *testing.T) {
	prog := compile(t, DockerDefault(dockerCaps))
	maxSteps := 0
	for _, a := range arches {
		for _, e := range a.table {
			_, steps, _ := run(prog, seccompData{arch: a.audit, nr: e.nr})
			maxSteps = max(maxSteps, steps)
		}
	}
	t.Logf("Docker's default profile: %d instructions, at most %d executed for an argument-free syscall", len(prog), maxSteps)
	eperm, enosys := errnoRet(unix.EPERM), errnoRet(unix.ENOSYS)
	threadFlags := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM)
	expect(t, prog, []call{
		{arch: x86_64, nr: unix.SYS_READ, want: allow},
		{arch: x86_64, nr: unix.SYS_WRITE, want: allow},
		{arch: x86_64, nr: unix.SYS_EXIT_GROUP, want: allow},
		{arch: x86_64, nr: unix.SYS_EXECVE, want: allow},
		{arch: x86_64, nr: unix.SYS_ARCH_PRCTL, want: allow},
		{arch: x86_64, nr: unix.SYS_CHROOT, want: allow},
		{arch: x86_64, nr: unix.SYS_CLONE, args: [6]uint64{threadFlags}, want: allow},
		{arch: x86_64, nr: unix.SYS_CLONE, args: [6]uint64{uint64(unix.SIGCHLD)}, want: allow},
		{arch: x86_64, nr: unix.SYS_CLONE, args: [6]uint64{unix.CLONE_NEWNS | uint64(unix.SIGCHLD)}, want: eperm},
		{arch: x86_64, nr: unix.SYS_CLONE, args: [6]uint64{unix.CLONE_NEWUSER}, want: eperm},
		{arch: x86_64, nr: unix.SYS_CLONE3, want: enosys},
		{arch: x86_64, nr: unix.SYS_SOCKET, args: [6]uint64{unix.AF_INET}, want: allow},
		{arch: x86_64, nr: unix.SYS_SOCKET, args: [6]uint64{unix.AF_NETLINK}, want: allow},
		{arch: x86_64, nr: unix.SYS_SOCKET, args: [6]uint64{unix.AF_VSOCK}, want: eperm},
		{arch: x86_64, nr: unix.SYS_SOCKET, args: [6]uint64{unix.AF_INET | 1<<32}, want: eperm},
		{arch: x86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0xffffffff}, want: allow},
		{arch: x86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{8}, want: allow},
		{arch: x86_64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0x0040000}, want: eperm}, // ADDR_NO_RANDOMIZE
		{arch: x86_64, nr: unix.SYS_KEXEC_LOAD, want: eperm},
		{arch: x86_64, nr: unix.SYS_OPEN_BY_HANDLE_AT, want: eperm},
		{arch: x86_64, nr: unix.SYS_MOUNT, want: eperm},
		{arch: x86_64, nr: unix.SYS_UNSHARE, want: eperm},
		{arch: x86_64, nr: unix.SYS_SETNS, want: eperm},
		{arch: x86_64, nr: unix.SYS_PTRACE, want: allow}, // minKernel 4.8
		{arch: x86_64, nr: unix.SYS_KCMP, want: eperm},
		{arch: x86_64, nr: unix.SYS_BPF, want: eperm},
		{arch: x86_64, nr: unix.SYS_REBOOT, want: eperm},
		{arch: x86_64, nr: unix.SYS_IO_URING_SETUP, want: eperm},
		{arch: x86_64, nr: unix.SYS_REMOVEXATTRAT, want: allow}, // the highest it names
		{arch: x86_64, nr: unix.SYS_OPEN_TREE_ATTR, want: enosys},
		{arch: x86_64, nr: unix.SYS_LISTNS, want: enosys},
		{arch: x86_64, nr: 1000, want: enosys},
		{arch: x86_64, nr: x32Bit | unix.SYS_READ, want: allow},
		{arch: x86_64, nr: x32Bit | 512, want: allow}, // x32 rt_sigaction
		{arch: x86_64, nr: x32Bit | 528, want: eperm}, // x32 kexec_load
		{arch: x86_64, nr: x32Bit | 1000, want: enosys},
		{arch: i386, nr: 20, want: allow},                                         // getpid
		{arch: i386, nr: 102, want: allow},                                        // socketcall
		{arch: i386, nr: 120, args: [6]uint64{uint64(unix.SIGCHLD)}, want: allow}, // clone
		{arch: i386, nr: 120, args: [6]uint64{unix.CLONE_NEWPID}, want: eperm},
		{arch: i386, nr: 283, want: eperm}, // kexec_load
		{arch: i386, nr: 21, want: eperm},  // mount
		{arch: unix.AUDIT_ARCH_AARCH64, nr: 63, want: kill},
	})
	admin := compile(t, DockerDefault(append(slices.Clone(dockerCaps), "CAP_SYS_ADMIN")))
	expect(t, admin, []call{
		{arch: x86_64, nr: unix.SYS_MOUNT, want: allow},
		{arch: x86_64, nr: unix.SYS_UNSHARE, want: allow},
		{arch: x86_64, nr: unix.SYS_CLONE, args: [6]uint64{unix.CLONE_NEWNS}, want: allow},
		{arch: x86_64, nr: unix.SYS_CLONE3, want: allow},
		{arch: x86_64, nr: unix.SYS_KEXEC_LOAD, want: eperm},
	})
}
