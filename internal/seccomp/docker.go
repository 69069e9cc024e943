package seccomp

import (
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// dockerRule is one entry of Docker's profile with its conditions.
type dockerRule struct {
	names     []string
	action    specs.LinuxSeccompAction
	errnoRet  uint // 0: unset
	args      []specs.LinuxSeccompArg
	caps      []string // includes.caps: all of them held
	notCaps   []string // excludes.caps: none of them held
	arches    []string // includes.arches (Go names): the host's among them
	notArches []string // excludes.arches
}

// dockerArch is the host architecture as Docker's includes/excludes name it.
const dockerArch = "amd64"

// DockerDefault returns Docker's default seccomp profile
// (moby/profiles seccomp/default.json) as Docker's setupSeccomp resolves
// it on an x86_64 host for a container whose bounding set is capabilities
// (names with or without the CAP_ prefix): entries whose includes are not
// met, or whose excludes are, are left out, and the architectures are
// x86_64 with its sub-architectures x86 and x32. The default action is
// ERRNO(EPERM); Compile adds ENOSYS for syscalls newer than the profile.
// The profile's one minKernel (4.8, for ptrace) is taken as met.
func DockerDefault(capabilities []string) *specs.LinuxSeccomp {
	held := make([]string, len(capabilities))
	for i, c := range capabilities {
		held[i] = strings.ToUpper(c)
		if !strings.HasPrefix(held[i], "CAP_") {
			held[i] = "CAP_" + held[i]
		}
	}
	eperm := uint(1)
	p := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
	}
	for _, r := range dockerProfile {
		if r.applies(held) {
			p.Syscalls = append(p.Syscalls, r.syscall())
		}
	}
	return p
}

// applies resolves includes and excludes as Docker's setupSeccomp does.
func (r *dockerRule) applies(held []string) bool {
	if slices.Contains(r.notArches, dockerArch) {
		return false
	}
	for _, c := range r.notCaps {
		if slices.Contains(held, c) {
			return false
		}
	}
	if len(r.arches) > 0 && !slices.Contains(r.arches, dockerArch) {
		return false
	}
	for _, c := range r.caps {
		if !slices.Contains(held, c) {
			return false
		}
	}
	return true
}

func (r *dockerRule) syscall() specs.LinuxSyscall {
	s := specs.LinuxSyscall{
		Names:  slices.Clone(r.names),
		Action: r.action,
		Args:   slices.Clone(r.args),
	}
	if r.errnoRet != 0 {
		e := r.errnoRet
		s.ErrnoRet = &e
	}
	return s
}

// socketArg allows socket(2) for one address family.
func socketArg(op specs.LinuxSeccompOperator, family uint64) []specs.LinuxSeccompArg {
	return []specs.LinuxSeccompArg{{Index: 0, Value: family, Op: op}}
}

// personalityArg allows personality(2) with one exact argument.
func personalityArg(persona uint64) []specs.LinuxSeccompArg {
	return []specs.LinuxSeccompArg{{Index: 0, Value: persona, Op: specs.OpEqualTo}}
}

// cloneNoNamespaces is Docker's CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|
// CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET mask: clone is
// allowed when none of those flags is set.
const cloneNoNamespaces = 0x7e020000

// dockerProfile is moby/profiles seccomp/default.json, entry by entry.
var dockerProfile = []dockerRule{
	{action: specs.ActAllow, names: []string{
		"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk",
		"cachestat", "capget", "capset", "chdir", "chmod", "chown", "chown32",
		"clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
		"clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
		"close", "close_range", "connect", "copy_file_range", "creat", "dup", "dup2",
		"dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
		"epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd",
		"eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
		"faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark",
		"fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
		"fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork",
		"fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
		"fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue",
		"futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat",
		"getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
		"geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
		"getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
		"getpriority", "getrandom", "getresgid", "getresgid32", "getresuid",
		"getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid",
		"getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday",
		"getuid", "getuid32", "getxattr", "getxattrat", "inotify_add_watch",
		"inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl",
		"io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
		"ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill",
		"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
		"lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listmount",
		"listxattr", "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek",
		"lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier",
		"memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
		"mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect",
		"mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
		"mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
		"mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
		"munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat",
		"_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
		"pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
		"pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv",
		"preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64",
		"pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
		"readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
		"recvmsg", "remap_file_pages", "removexattr", "removexattrat", "rename",
		"renameat", "renameat2", "restart_syscall", "riscv_hwprobe", "rmdir", "rseq",
		"rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
		"rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
		"rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
		"sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
		"sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
		"sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
		"seccomp", "select", "semctl", "semget", "semop", "semtimedop",
		"semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg",
		"sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid",
		"setgid32", "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority",
		"setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
		"setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list",
		"setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid",
		"setuid32", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt", "shmget",
		"shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
		"socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64",
		"statmount", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
		"syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
		"timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
		"timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
		"timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
		"truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat",
		"uretprobe", "utime", "utimensat", "utimensat_time64", "utimes", "vfork",
		"vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
	}},
	{action: specs.ActAllow, names: []string{"process_vm_readv", "process_vm_writev", "ptrace"}}, // includes.minKernel 4.8
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpLessThan, 12)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 13)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 14)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 15)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 16)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 17)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 18)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 21)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 22)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 24)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 26)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 27)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 28)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 29)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 30)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 31)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 32)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 33)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 35)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 36)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 39)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 41)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 42)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 43)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 44)},
	{action: specs.ActAllow, names: []string{"socket"}, args: socketArg(specs.OpEqualTo, 45)},
	{action: specs.ActAllow, names: []string{"personality"}, args: personalityArg(0)},
	{action: specs.ActAllow, names: []string{"personality"}, args: personalityArg(8)},
	{action: specs.ActAllow, names: []string{"personality"}, args: personalityArg(131072)},
	{action: specs.ActAllow, names: []string{"personality"}, args: personalityArg(131080)},
	{action: specs.ActAllow, names: []string{"personality"}, args: personalityArg(4294967295)},
	{action: specs.ActAllow, names: []string{"sync_file_range2", "swapcontext"}, arches: []string{"ppc64le"}},
	{action: specs.ActAllow, names: []string{
		"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
		"cacheflush", "set_tls",
	}, arches: []string{"arm", "arm64"}},
	{action: specs.ActAllow, names: []string{"arch_prctl"}, arches: []string{"amd64", "x32"}},
	{action: specs.ActAllow, names: []string{"modify_ldt"}, arches: []string{"amd64", "x32", "x86"}},
	{action: specs.ActAllow, names: []string{"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"}, arches: []string{"s390", "s390x"}},
	{action: specs.ActAllow, names: []string{"riscv_flush_icache"}, arches: []string{"riscv64"}},
	{action: specs.ActAllow, names: []string{"open_by_handle_at"}, caps: []string{"CAP_DAC_READ_SEARCH"}},
	{action: specs.ActAllow, names: []string{
		"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
		"fspick", "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules",
		"lsm_set_self_attr", "mount", "mount_setattr", "move_mount", "open_tree",
		"perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
		"setns", "syslog", "umount", "umount2", "unshare",
	}, caps: []string{"CAP_SYS_ADMIN"}},
	{
		action: specs.ActAllow, names: []string{"clone"},
		args:    []specs.LinuxSeccompArg{{Index: 0, Value: cloneNoNamespaces, Op: specs.OpMaskedEqual}},
		notCaps: []string{"CAP_SYS_ADMIN"}, notArches: []string{"s390", "s390x"},
	},
	{
		// s390's clone takes the flags second.
		action: specs.ActAllow, names: []string{"clone"},
		args:    []specs.LinuxSeccompArg{{Index: 1, Value: cloneNoNamespaces, Op: specs.OpMaskedEqual}},
		arches:  []string{"s390", "s390x"},
		notCaps: []string{"CAP_SYS_ADMIN"},
	},
	// Without CAP_SYS_ADMIN clone3's flags cannot be checked (they are
	// behind a pointer): ENOSYS makes libcs fall back to clone.
	{action: specs.ActErrno, errnoRet: 38, names: []string{"clone3"}, notCaps: []string{"CAP_SYS_ADMIN"}},
	{action: specs.ActAllow, names: []string{"reboot"}, caps: []string{"CAP_SYS_BOOT"}},
	{action: specs.ActAllow, names: []string{"chroot"}, caps: []string{"CAP_SYS_CHROOT"}},
	{action: specs.ActAllow, names: []string{"delete_module", "init_module", "finit_module"}, caps: []string{"CAP_SYS_MODULE"}},
	{action: specs.ActAllow, names: []string{"acct"}, caps: []string{"CAP_SYS_PACCT"}},
	{action: specs.ActAllow, names: []string{
		"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
		"process_vm_writev", "ptrace",
	}, caps: []string{"CAP_SYS_PTRACE"}},
	{action: specs.ActAllow, names: []string{"iopl", "ioperm"}, caps: []string{"CAP_SYS_RAWIO"}},
	{action: specs.ActAllow, names: []string{"settimeofday", "stime", "clock_settime", "clock_settime64"}, caps: []string{"CAP_SYS_TIME"}},
	{action: specs.ActAllow, names: []string{"vhangup"}, caps: []string{"CAP_SYS_TTY_CONFIG"}},
	{action: specs.ActAllow, names: []string{"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}, caps: []string{"CAP_SYS_NICE"}},
	{action: specs.ActAllow, names: []string{"syslog"}, caps: []string{"CAP_SYSLOG"}},
	{action: specs.ActAllow, names: []string{"bpf"}, caps: []string{"CAP_BPF"}},
	{action: specs.ActAllow, names: []string{"perf_event_open"}, caps: []string{"CAP_PERFMON"}},
}
