// Package seccomp compiles an OCI runtime-spec seccomp profile into a
// classic-BPF filter and installs it on the calling thread. It also carries
// Docker's default profile.
//
// # Why by hand
//
// berth is a static, pure-Go binary (CGO_ENABLED=0), so libseccomp is not
// available. A seccomp filter is a small program in a small instruction
// set, and generating it directly costs microseconds per container start:
// no C library, no intermediate rule database, no second pass to patch in
// the -ENOSYS stub that runc bolts onto libseccomp's output.
//
// # Program layout
//
//	ld   arch                        ; seccomp_data.arch
//	jeq  AUDIT_ARCH_X86_64 -> A      ; one test per audit token in use
//	jeq  AUDIT_ARCH_I386   -> B
//	ret  KILL_PROCESS                ; any other architecture
//	A: ld nr; binary search; bodies  ; one section per token
//	B: ld nr; binary search; bodies
//
// A section sees the syscall number space of its token, [0, 2^32), cut into
// spans that share one outcome: a syscall with rules, the default action
// for the holes between them, ENOSYS above the highest syscall the profile
// names, the bad-architecture action where a sub-architecture is not
// enabled. Neighbours with the same outcome merge, so an allow list of 350
// mostly adjacent syscalls becomes a few dozen spans. A balanced binary
// search over the span starts (one jge per level) picks the span in
// ceil(log2 spans) comparisons, where a linear chain of jeq would cost up
// to 350. Each span ends in its body: a single ret, or the syscall's
// argument rules followed by a ret of the default action. A body used by
// one span is placed at its leaf of the tree, where the jump to it is
// short; bodies several spans share (ret ALLOW, ret ERRNO) come once, after
// the tree. Docker's default profile compiles to about 670 instructions,
// of which at most 18 run for a syscall without argument rules, in about
// 0.1 ms.
//
// Classic BPF conditional jumps only reach 255 instructions ahead. The
// assembler (asm.go) keeps jump targets symbolic and, when a target is
// out of reach, inserts a trampoline right after the jump — an
// unconditional ja, whose offset is 32 bits, or a copy of the target when
// that is a ret — repeating until every offset fits.
//
// x86_64 and x32 share AUDIT_ARCH_X86_64; x32 numbers carry
// __X32_SYSCALL_BIT (0x40000000). The x86_64 section therefore maps
// [0, 0x40000000) to the x86_64 rules and [0x40000000, 0xffffffff) to the
// x32 rules when SCMP_ARCH_X32 is listed, and to the bad-architecture
// action otherwise, as libseccomp does; nr 0xffffffff (-1, a syscall
// skipped by a tracer) gets the default action.
//
// # Semantics
//
// They follow runc on libseccomp unless noted:
//   - The native architecture (x86_64) is always filtered; the listed
//     architectures this kernel runs (SCMP_ARCH_X86 and SCMP_ARCH_X32)
//     are added to it. Every other name runc accepts (SCMP_ARCH_AARCH64,
//     SCMP_ARCH_S390X, ..., as Docker's and podman's default profiles
//     list them) is accepted and left out: no syscall of those
//     architectures reaches this kernel's filter, so libseccomp's
//     sections for them are dead code. Unknown names are an error.
//   - A syscall from an architecture not in the filter gets
//     SECCOMP_RET_KILL_PROCESS. (libseccomp's default bad-arch action is
//     SCMP_ACT_KILL, which kills only the thread; killing the process
//     leaves no half-dead container behind.)
//   - Unknown syscall names are skipped per architecture, as libseccomp
//     skips names an architecture lacks. Tables: ztables_x86.go, generated
//     from golang.org/x/sys (go generate): one per architecture, and
//     syscallNumbers, each name's numbers on all three, which Compile
//     searches once per name.
//   - A rule whose action equals the default action is dropped.
//   - The first unconditional rule for a syscall decides it and supersedes
//     conditional rules for it (libseccomp's db). Otherwise the conditional
//     rules are tried in profile order and the first that holds decides
//     (rules are ORed); if none holds, the default action applies.
//   - The comparisons of one rule are ANDed, unless two name the same
//     argument: then, as in runc, each comparison of the rule becomes a
//     rule of its own, and they are ORed. Profiles written for runc
//     depend on it ("allow if arg0 == 100, arg0 == 9001"); a range
//     written as two comparisons of one argument matches either bound,
//     as it does with runc.
//   - Comparisons are unsigned. SCMP_CMP_MASKED_EQ is
//     (arg & value) == valueTwo. (libseccomp masks valueTwo with value
//     first; the two readings differ only when valueTwo has bits outside
//     value, and such a comparison never holds here.)
//   - On x86_64 a comparison takes the whole 64-bit seccomp_data argument:
//     the high word is compared first, then the low one.
//   - On i386 and x32 only the low 32 bits count, of the argument and of
//     value and valueTwo alike, as in libseccomp: every operator is the
//     low-word test alone. seccomp_data holds the registers whole, and
//     the kernel does not clear their upper halves for a 32-bit syscall:
//     a 64-bit program that executes INT $0x80 sets them as it likes,
//     while the i386 syscall runs on the low halves. A 64-bit comparison
//     would judge a value the syscall never sees: "ERRNO if arg0 == X"
//     and "ALLOW if arg0 != X" both let X through with an upper half set.
//     x32 follows libseccomp too, with one caveat: most x32 syscalls run
//     x86_64's handlers, which read long, size_t and pointer arguments
//     whole, so a comparison of such an argument sees its low half only.
//     (x32 is compiled out or turned off on most kernels.)
//   - The x86_64 handlers themselves read an int argument from the low
//     half of its register, so a 64-bit comparison of an int argument can
//     be steered by the upper half there too: rules that allow listed
//     values (Docker's socket and personality rules) fail closed, rules
//     that deny one value of an int argument do not. runc on libseccomp
//     behaves the same; an OCI profile cannot say an argument is 32 bits
//     wide.
//   - Unless the default action is ALLOW, LOG or TRACE, or already
//     ERRNO(ENOSYS), a syscall numbered above the highest one the profile
//     names (per architecture) fails with ENOSYS rather than the default
//     action, as runc does, so that a libc trying a syscall newer than
//     the profile falls back to an older one. (runc does this only for the
//     listed architectures; here it covers every architecture filtered.)
//   - errnoRet defaults to EPERM for SCMP_ACT_ERRNO and SCMP_ACT_TRACE and
//     is an error with any other action. The WAIT_KILLABLE_RECV and TSYNC
//     flags are rejected.
//   - SCMP_ACT_NOTIFY is SECCOMP_RET_USER_NOTIF, and makes Flags ask for
//     SECCOMP_FILTER_FLAG_NEW_LISTENER: Install then returns the
//     listener, which the runtime passes to the agent at listenerPath.
//     As in runc, it cannot be the default action nor apply to write
//     (the runtime reports the listener with write(2) before the agent
//     has it), and it needs listenerPath; listenerPath without a notify
//     rule is accepted and unused.
//
// # Use
//
// Compile and Flags early (errors surface before anything is set up, and
// neither makes a syscall), then, on the thread that will execve the
// container process and after no_new_privs is set, Install at the end of
// the process setup. Without TSYNC the filter binds only the calling
// thread and what it execs, so the caller must hold runtime.LockOSThread
// from Install to execve.
package seccomp

//go:generate go run ./internal/mktables ztables_x86.go
