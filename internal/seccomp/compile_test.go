//go:build amd64

package seccomp

import (
	"math/rand"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	allow     = unix.SECCOMP_RET_ALLOW
	kill      = unix.SECCOMP_RET_KILL_PROCESS
	x86_64    = unix.AUDIT_ARCH_X86_64
	i386      = unix.AUDIT_ARCH_I386
	nrRead    = 0
	nrGetpid  = 39
	nrGetppid = 110
	nrMkdirat = 258
)

func errnoRet(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }

func uintp(v uint) *uint { return &v }

func compile(t *testing.T, p *specs.LinuxSeccomp) []unix.SockFilter {
	t.Helper()
	prog, err := Compile(p)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if err := verify(prog); err != nil {
		t.Fatalf("invalid program: %v", err)
	}
	return prog
}

// call is one synthetic syscall and the verdict it should get.
type call struct {
	arch uint32
	nr   uint32
	args [6]uint64
	want uint32
}

func expect(t *testing.T, prog []unix.SockFilter, calls []call) {
	t.Helper()
	for _, c := range calls {
		got, _, err := run(prog, seccompData{nr: c.nr, arch: c.arch, args: c.args})
		if err != nil {
			t.Fatalf("arch %#x nr %#x: %v", c.arch, c.nr, err)
		}
		if got != c.want {
			t.Errorf("arch %#x nr %#x args %#x: got %#x, want %#x", c.arch, c.nr, c.args, got, c.want)
		}
	}
}

func TestDefaultAllowWithOneErrnoRule(t *testing.T) {
	prog := compile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: uintp(42)}},
	})
	expect(t, prog, []call{
		{arch: x86_64, nr: nrGetppid, want: errnoRet(42)},
		{arch: x86_64, nr: nrGetpid, want: allow},
		{arch: x86_64, nr: 5000, want: allow}, // no ENOSYS: the default allows
		{arch: x86_64, nr: 0xffffffff, want: allow},
		{arch: i386, nr: 20, want: kill},                   // not in the filter
		{arch: x86_64, nr: x32Bit | nrGetppid, want: kill}, // x32 not in the filter
		{arch: unix.AUDIT_ARCH_AARCH64, nr: nrGetppid, want: kill},
	})
}

func TestDefaultErrnoWithAllowList(t *testing.T) {
	prog := compile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "exit_group", "no_such_syscall"}, Action: specs.ActAllow},
		},
	})
	expect(t, prog, []call{
		{arch: x86_64, nr: nrRead, want: allow},
		{arch: x86_64, nr: 1, want: allow},
		{arch: x86_64, nr: 231, want: allow},
		{arch: x86_64, nr: 2, want: errnoRet(unix.EPERM)},
		{arch: x86_64, nr: 230, want: errnoRet(unix.EPERM)},
		{arch: x86_64, nr: 232, want: errnoRet(unix.ENOSYS)}, // above exit_group, the highest named
		{arch: x86_64, nr: 100000, want: errnoRet(unix.ENOSYS)},
		{arch: x86_64, nr: 0xffffffff, want: errnoRet(unix.EPERM)},
	})
}

func TestENOSYSOnlyWhenUseful(t *testing.T) {
	for _, tc := range []struct {
		def   specs.LinuxSeccompAction
		errno *uint
		want  uint32
	}{
		{specs.ActErrno, nil, errnoRet(unix.ENOSYS)},
		{specs.ActKillProcess, nil, errnoRet(unix.ENOSYS)},
		{specs.ActErrno, uintp(uint(unix.ENOSYS)), errnoRet(unix.ENOSYS)},
		{specs.ActLog, nil, unix.SECCOMP_RET_LOG},
		{specs.ActTrace, nil, unix.SECCOMP_RET_TRACE | uint32(unix.EPERM)},
	} {
		prog := compile(t, &specs.LinuxSeccomp{
			DefaultAction: tc.def, DefaultErrnoRet: tc.errno,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActAllow}},
		})
		expect(t, prog, []call{{arch: x86_64, nr: 400, want: tc.want}, {arch: x86_64, nr: nrGetpid, want: allow}})
	}
}

// evalOp is the reference meaning of a comparison.
func evalOp(op specs.LinuxSeccompOperator, arg, v, v2 uint64) bool {
	switch op {
	case specs.OpNotEqual:
		return arg != v
	case specs.OpLessThan:
		return arg < v
	case specs.OpLessEqual:
		return arg <= v
	case specs.OpEqualTo:
		return arg == v
	case specs.OpGreaterEqual:
		return arg >= v
	case specs.OpGreaterThan:
		return arg > v
	case specs.OpMaskedEqual:
		return arg&v == v2
	}
	panic(op)
}

var allOps = []specs.LinuxSeccompOperator{
	specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
	specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual,
}

// edgeValues have high words and low words that matter on their own.
var edgeValues = []uint64{
	0, 1, 5, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0x100000005,
	0x100000004, 0x100000006, 0x1ffffffff, 0xffffffff00000000, 0xfffffffffffffffe,
	0xffffffffffffffff, 0x8000000000000000, 0x0000000500000005,
}

func TestArgumentComparisons(t *testing.T) {
	for _, op := range allOps {
		for _, v := range edgeValues {
			for idx := uint(0); idx < 6; idx += 5 {
				testOneComparison(t, op, idx, v, v^0x100000001)
			}
		}
	}
}

func testOneComparison(t *testing.T, op specs.LinuxSeccompOperator, idx uint, v, v2 uint64) {
	t.Helper()
	prog := compile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{
			Names: []string{"mkdirat"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: idx, Value: v, ValueTwo: v2, Op: op}},
		}},
	})
	for _, arg := range append(edgeValues, v, v2, v&^0xffffffff, v&0xffffffff, v+1, v-1) {
		want := errnoRet(unix.EPERM)
		if evalOp(op, arg, v, v2) {
			want = allow
		}
		var args [6]uint64
		args[idx] = arg
		args[(idx+1)%6] = ^arg // a neighbour must not matter
		got, _, err := run(prog, seccompData{arch: x86_64, nr: nrMkdirat, args: args})
		if err != nil || got != want {
			t.Errorf("%s args[%d] value %#x valueTwo %#x, arg %#x: got %#x (%v), want %#x", op, idx, v, v2, arg, got, err, want)
		}
	}
}

func TestMaskedEqual(t *testing.T) {
	// Docker's clone rule: no namespace flag set.
	prog := compile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{
			Names: []string{"clone"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7e020000, Op: specs.OpMaskedEqual}},
		}, {
			Names: []string{"personality"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xff00000000ff, ValueTwo: 0x120000000034, Op: specs.OpMaskedEqual}},
		}},
	})
	threadFlags := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM)
	expect(t, prog, []call{
		{arch: x86_64, nr: 56, args: [6]uint64{threadFlags}, want: allow},
		{arch: x86_64, nr: 56, args: [6]uint64{uint64(unix.SIGCHLD) | 0xffffffff00000000}, want: allow},
		{arch: x86_64, nr: 56, args: [6]uint64{unix.CLONE_NEWNS | uint64(unix.SIGCHLD)}, want: errnoRet(unix.EPERM)},
		{arch: x86_64, nr: 56, args: [6]uint64{unix.CLONE_NEWUSER}, want: errnoRet(unix.EPERM)},
		{arch: x86_64, nr: 135, args: [6]uint64{0x120000000034}, want: allow},
		{arch: x86_64, nr: 135, args: [6]uint64{0x12cd0000ef34}, want: allow},
		{arch: x86_64, nr: 135, args: [6]uint64{0x130000000034}, want: errnoRet(unix.EPERM)},
		{arch: x86_64, nr: 135, args: [6]uint64{0x120000000035}, want: errnoRet(unix.EPERM)},
	})
}

func TestRulesAreORedAndArgsANDed(t *testing.T) {
	prog := compile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(13), Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 2, Value: 0o700, Op: specs.OpEqualTo},
			}},
			{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(17), Args: []specs.LinuxSeccompArg{
				{Index: 2, Value: 0o777, Op: specs.OpEqualTo},
			}},
		},
	})
	expect(t, prog, []call{
		{arch: x86_64, nr: nrMkdirat, args: [6]uint64{1, 0, 0o700}, want: errnoRet(13)},
		{arch: x86_64, nr: nrMkdirat, args: [6]uint64{2, 0, 0o700}, want: allow},
		{arch: x86_64, nr: nrMkdirat, args: [6]uint64{1, 0, 0o755}, want: allow},
		{arch: x86_64, nr: nrMkdirat, args: [6]uint64{1, 0, 0o777}, want: errnoRet(17)},
		{arch: x86_64, nr: nrMkdirat, args: [6]uint64{5, 0, 0o777}, want: errnoRet(17)},
	})
}

// TestSameArgumentIsORed: when two comparisons of one rule name the same
// argument, runc makes each comparison of the rule a rule of its own, so
// they are ORed (runc's seccomp.bats "-ENOSYS handling" tests it with
// process_vm_readv and process_vm_writev).
func TestSameArgumentIsORed(t *testing.T) {
	const nrProcessVMReadv, nrProcessVMWritev = 310, 311
	prog := compile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"process_vm_readv"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 100, Op: specs.OpEqualTo}, {Index: 0, Value: 9001, Op: specs.OpEqualTo},
			}},
			{Names: []string{"process_vm_writev"}, Action: specs.ActErrno, ErrnoRet: uintp(55), Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1337, Op: specs.OpEqualTo}, {Index: 0, Value: 2020, Op: specs.OpEqualTo},
				{Index: 1, Value: 7, Op: specs.OpEqualTo},
			}},
		},
	})
	expect(t, prog, []call{
		{arch: x86_64, nr: nrProcessVMReadv, args: [6]uint64{100}, want: allow},
		{arch: x86_64, nr: nrProcessVMReadv, args: [6]uint64{9001}, want: allow},
		{arch: x86_64, nr: nrProcessVMReadv, args: [6]uint64{0}, want: errnoRet(unix.EPERM)},
		{arch: x86_64, nr: nrProcessVMWritev, args: [6]uint64{1337}, want: errnoRet(55)},
		{arch: x86_64, nr: nrProcessVMWritev, args: [6]uint64{2020}, want: errnoRet(55)},
		// The comparison of another argument becomes a rule of its own too.
		{arch: x86_64, nr: nrProcessVMWritev, args: [6]uint64{0, 7}, want: errnoRet(55)},
		{arch: x86_64, nr: nrProcessVMWritev, args: [6]uint64{0, 8}, want: errnoRet(unix.EPERM)},
	})
}

func TestRuleMerging(t *testing.T) {
	argEQ := []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}
	prog := compile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			// An unconditional rule supersedes conditional ones, before or after it.
			{Names: []string{"getpid"}, Action: specs.ActTrap, Args: argEQ},
			{Names: []string{"getpid", "getppid"}, Action: specs.ActAllow},
			{Names: []string{"getppid"}, Action: specs.ActTrap, Args: argEQ},
			// The first unconditional rule wins.
			{Names: []string{"getppid"}, Action: specs.ActLog},
			// A rule with the default action is dropped, so it cannot
			// shadow the conditional rule.
			{Names: []string{"mkdirat"}, Action: specs.ActErrno},
			{Names: []string{"mkdirat"}, Action: specs.ActAllow, Args: argEQ},
		},
	})
	expect(t, prog, []call{
		{arch: x86_64, nr: nrGetpid, args: [6]uint64{1}, want: allow},
		{arch: x86_64, nr: nrGetppid, args: [6]uint64{1}, want: allow},
		{arch: x86_64, nr: nrMkdirat, args: [6]uint64{1}, want: allow},
		{arch: x86_64, nr: nrMkdirat, args: [6]uint64{2}, want: errnoRet(unix.EPERM)},
	})
}

func TestArchitectures(t *testing.T) {
	prog := compile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getpid", "rt_sigaction", "waitpid"}, Action: specs.ActAllow},
			{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(42)},
		},
	})
	expect(t, prog, []call{
		{arch: x86_64, nr: nrGetpid, want: allow},
		{arch: x86_64, nr: 13, want: allow}, // rt_sigaction
		{arch: x86_64, nr: nrMkdirat, want: errnoRet(42)},
		{arch: x86_64, nr: x32Bit | nrGetpid, want: allow},
		{arch: x86_64, nr: x32Bit | 512, want: allow},               // x32 rt_sigaction
		{arch: x86_64, nr: x32Bit | 13, want: errnoRet(unix.EPERM)}, // not an x32 syscall
		{arch: x86_64, nr: x32Bit | nrMkdirat, want: errnoRet(42)},
		{arch: x86_64, nr: x32Bit | 600, want: errnoRet(unix.ENOSYS)},
		{arch: x86_64, nr: 0xffffffff, want: errnoRet(unix.EPERM)},
		{arch: i386, nr: 20, want: allow},  // getpid
		{arch: i386, nr: 7, want: allow},   // waitpid, i386 only
		{arch: i386, nr: 174, want: allow}, // rt_sigaction
		{arch: i386, nr: 296, want: errnoRet(42)},
		{arch: i386, nr: 39, want: errnoRet(unix.EPERM)}, // i386 39 is mkdir
		{arch: i386, nr: 1000, want: errnoRet(unix.ENOSYS)},
		{arch: unix.AUDIT_ARCH_AARCH64, nr: 172, want: kill},
		{arch: unix.AUDIT_ARCH_I386 + 1, nr: 20, want: kill},
	})
	// x86_64 alone: x32 numbers are a bad architecture, -1 is not.
	prog = compile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActAllow}},
	})
	expect(t, prog, []call{
		{arch: x86_64, nr: nrGetpid, want: allow},
		{arch: x86_64, nr: x32Bit | nrGetpid, want: kill},
		{arch: x86_64, nr: 0xfffffffe, want: kill},
		{arch: x86_64, nr: x32Bit - 1, want: errnoRet(unix.ENOSYS)},
		{arch: x86_64, nr: 0xffffffff, want: errnoRet(unix.EPERM)},
		{arch: i386, nr: 20, want: kill},
	})
}

// TestLongJumps builds bodies big enough that the search tree's jumps to
// them need trampolines.
func TestLongJumps(t *testing.T) {
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	for _, e := range x8664Syscalls {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{
			Names: []string{e.name}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: uint(e.nr % 6), Value: uint64(e.nr) << 20, Op: specs.OpEqualTo}},
		})
	}
	prog := compile(t, p)
	if len(prog) < 1000 {
		t.Fatalf("only %d instructions, the test needs long jumps", len(prog))
	}
	tramps := 0
	for _, in := range prog {
		if in.Code == unix.BPF_JMP|unix.BPF_JA {
			tramps++
		}
	}
	t.Logf("%d instructions, %d trampolines", len(prog), tramps)
	if tramps == 0 {
		t.Errorf("no trampolines")
	}
	var calls []call
	for _, e := range x8664Syscalls {
		var hit, miss [6]uint64
		hit[e.nr%6] = uint64(e.nr) << 20
		miss[e.nr%6] = uint64(e.nr)<<20 + 1
		calls = append(calls,
			call{arch: x86_64, nr: e.nr, args: hit, want: allow},
			call{arch: x86_64, nr: e.nr, args: miss, want: errnoRet(unix.EPERM)})
	}
	expect(t, prog, calls)
}

// reference is a plain reading of the semantics in the package comment,
// written without the compiler's spans and bodies.
func reference(p *specs.LinuxSeccomp, d seccompData) uint32 {
	def, _ := action(p.DefaultAction, p.DefaultErrnoRet)
	if d.arch == x86_64 && d.nr == 0xffffffff {
		return def // a skipped syscall: no rule names -1
	}
	a := refArch(p, d)
	if a == nil {
		return kill
	}
	var maxNr uint32
	named := false
	var decided *uint32
	var conditional []specs.LinuxSyscall
	for _, sc := range p.Syscalls {
		ret, _ := action(sc.Action, sc.ErrnoRet)
		for _, n := range sc.Names {
			nr, ok := a.lookup(n)
			if !ok {
				continue
			}
			maxNr, named = max(maxNr, nr), true
			if nr != d.nr || ret == def || decided != nil {
				continue
			}
			if len(sc.Args) == 0 {
				decided = &ret
				continue
			}
			conditional = append(conditional, sc)
		}
	}
	if decided != nil {
		return *decided
	}
	for _, sc := range conditional {
		if holds(a, sc.Args, d) {
			ret, _ := action(sc.Action, sc.ErrnoRet)
			return ret
		}
	}
	if named && d.nr > maxNr && wantsENOSYS(p.DefaultAction, def) {
		return errnoRet(unix.ENOSYS)
	}
	return def
}

// refArch is the architecture d is a syscall of, if the profile filters
// it: x86_64 always, x86 and x32 when listed.
func refArch(p *specs.LinuxSeccomp, d seccompData) *arch {
	listed := func(n specs.Arch) bool { return slices.Contains(p.Architectures, n) }
	switch {
	case d.arch == x86_64 && d.nr < x32Bit:
		return findArch(specs.ArchX86_64)
	case d.arch == x86_64 && listed(specs.ArchX32):
		return findArch(specs.ArchX32)
	case d.arch == i386 && listed(specs.ArchX86):
		return findArch(specs.ArchX86)
	}
	return nil
}

func holds(a *arch, args []specs.LinuxSeccompArg, d seccompData) bool {
	eval := evalOp
	if a.args32 {
		eval = evalOp32
	}
	seen := map[uint]bool{}
	repeated := false
	for _, arg := range args {
		repeated = repeated || seen[arg.Index]
		seen[arg.Index] = true
	}
	if repeated {
		return slices.ContainsFunc(args, func(arg specs.LinuxSeccompArg) bool {
			return eval(arg.Op, d.args[arg.Index], arg.Value, arg.ValueTwo)
		})
	}
	for _, arg := range args {
		if !eval(arg.Op, d.args[arg.Index], arg.Value, arg.ValueTwo) {
			return false
		}
	}
	return true
}

// TestRandomProfiles compares the compiled program with reference on
// random profiles and calls of every architecture.
func TestRandomProfiles(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	actions := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKillProcess, specs.ActTrap, specs.ActLog}
	archs := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	for iter := 0; iter < 200; iter++ {
		p := &specs.LinuxSeccomp{DefaultAction: actions[rng.Intn(len(actions))]}
		for _, a := range archs {
			if rng.Intn(2) == 0 {
				p.Architectures = append(p.Architectures, a)
			}
		}
		for n := rng.Intn(60); n > 0; n-- {
			sc := specs.LinuxSyscall{Action: actions[rng.Intn(len(actions))]}
			if sc.Action == specs.ActErrno && rng.Intn(2) == 0 {
				sc.ErrnoRet = uintp(uint(rng.Intn(100)))
			}
			for k := 1 + rng.Intn(3); k > 0; k-- {
				sc.Names = append(sc.Names, x8664Syscalls[rng.Intn(60)].name)
			}
			for k := rng.Intn(3); k > 0 && rng.Intn(2) == 0; k-- {
				sc.Args = append(sc.Args, specs.LinuxSeccompArg{
					Index: uint(rng.Intn(6)), Op: allOps[rng.Intn(len(allOps))],
					Value: edgeValues[rng.Intn(len(edgeValues))], ValueTwo: edgeValues[rng.Intn(len(edgeValues))],
				})
			}
			p.Syscalls = append(p.Syscalls, sc)
		}
		prog := compile(t, p)
		for k := 0; k < 300; k++ {
			d := randomCall(rng, p)
			for i := range d.args {
				d.args[i] = upperHalves[rng.Intn(len(upperHalves))]<<32 ^ edgeValues[rng.Intn(len(edgeValues))]
			}
			got, _, err := run(prog, d)
			if want := reference(p, d); err != nil || got != want {
				t.Fatalf("profile %+v\ncall %+v: got %#x (%v), want %#x", p, d, got, err, want)
			}
		}
	}
}

// randomCall is a syscall of a random architecture, most often one that
// the profile names.
func randomCall(rng *rand.Rand, p *specs.LinuxSeccomp) seccompData {
	d := seccompData{arch: x86_64}
	a := findArch(specs.ArchX86_64)
	switch rng.Intn(4) {
	case 1:
		d.arch, a = i386, findArch(specs.ArchX86)
	case 2:
		a = findArch(specs.ArchX32)
	}
	switch k := rng.Intn(10); {
	case k == 0:
		d.nr = []uint32{0xffffffff, x32Bit | 3, 1 << 31, 0}[rng.Intn(4)]
	case k < 3 || len(p.Syscalls) == 0:
		d.nr = uint32(a.lo) + uint32(rng.Intn(600))
	default:
		sc := p.Syscalls[rng.Intn(len(p.Syscalls))]
		nr, ok := a.lookup(sc.Names[rng.Intn(len(sc.Names))])
		d.nr = nr
		if !ok {
			d.nr = uint32(a.lo) + uint32(rng.Intn(600))
		}
	}
	return d
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		p    *specs.LinuxSeccomp
		want string
	}{
		{nil, "no profile"},
		{&specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}, `defaultAction: unknown action "SCMP_ACT_NOPE"`},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActNotify, ListenerPath: "/a"}, "SCMP_ACT_NOTIFY cannot be used as default action"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/a", Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "write"}, Action: specs.ActNotify}}}, "SCMP_ACT_NOTIFY cannot be used for the write syscall"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}, "SCMP_ACT_NOTIFY needs listenerPath"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: uintp(1)}, "defaultAction: errnoRet is only valid"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(70000)}, "does not fit"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_PDP11"}}, `architectures[0]: unknown architecture "SCMP_ARCH_PDP11"`},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}}, "flags[0]: SECCOMP_FILTER_FLAG_TSYNC is not supported"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"BOGUS"}}, `flags[0]: unknown flag "BOGUS"`},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: "allow"}}}, `syscalls[0].action: unknown action "allow"`},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Action: specs.ActAllow}}}, "syscalls[0].names: empty"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, "syscalls[0].args[0].index: 6 is out of range 0-5"},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Op: specs.OpEqualTo}, {Op: "SCMP_CMP_XOR"}}}}}, `syscalls[0].args[1].op: unknown operator "SCMP_CMP_XOR"`},
	} {
		_, err := Compile(tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error containing %q", err, tc.want)
		}
	}
}

func TestFlags(t *testing.T) {
	f, err := Flags(&specs.LinuxSeccomp{Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow}})
	if err != nil || f != unix.SECCOMP_FILTER_FLAG_LOG|unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW {
		t.Fatalf("got %#x, %v", f, err)
	}
	if f, err := Flags(&specs.LinuxSeccomp{}); err != nil || f != 0 {
		t.Fatalf("no flags: got %#x, %v", f, err)
	}
	// A notify rule brings a listener; listenerPath alone does not.
	notify := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/a", Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}
	if f, err := Flags(notify); err != nil || f != unix.SECCOMP_FILTER_FLAG_NEW_LISTENER {
		t.Fatalf("notify: got %#x, %v", f, err)
	}
	if f, err := Flags(&specs.LinuxSeccomp{ListenerPath: "/a", Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW_LISTENER"}}); err != nil || f != 0 {
		t.Fatalf("listenerPath without notify: got %#x, %v", f, err)
	}
	expect(t, compile(t, notify), []call{
		{arch: x86_64, nr: 83, want: unix.SECCOMP_RET_USER_NOTIF},
		{arch: x86_64, nr: nrGetpid, want: allow},
	})
}

// TestInstallRefuses covers the checks Install makes before the syscall;
// nothing is installed on the test's own threads.
func TestInstallRefuses(t *testing.T) {
	prog := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: allow}}
	for _, tc := range []struct {
		prog  []unix.SockFilter
		flags uint
		want  string
	}{
		{nil, 0, "0 instructions"},
		{make([]unix.SockFilter, unix.BPF_MAXINSNS+1), 0, "4097 instructions"},
		{prog, unix.SECCOMP_FILTER_FLAG_TSYNC, "TSYNC is not supported"},
		{prog, 0x100, "unsupported flags 0x100"},
	} {
		if _, err := Install(tc.prog, tc.flags); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error containing %q", err, tc.want)
		}
	}
}

func TestTablesAreSorted(t *testing.T) {
	for _, a := range arches {
		for i := 1; i < len(a.table); i++ {
			if a.table[i-1].name >= a.table[i].name {
				t.Fatalf("%s: %q before %q", a.name, a.table[i-1].name, a.table[i].name)
			}
		}
		for _, e := range a.table {
			if uint64(e.nr) < a.lo || uint64(e.nr) >= a.hi {
				t.Fatalf("%s: %s = %#x outside [%#x, %#x)", a.name, e.name, e.nr, a.lo, a.hi)
			}
		}
	}
	// syscallNumbers holds exactly the tables' entries.
	for i := 1; i < len(syscallNumbers); i++ {
		if syscallNumbers[i-1].name >= syscallNumbers[i].name {
			t.Fatalf("syscallNumbers: %q before %q", syscallNumbers[i-1].name, syscallNumbers[i].name)
		}
	}
	for _, a := range arches {
		for _, e := range a.table {
			if nrs, ok := lookupAll(e.name); !ok || nrs[a.column] != e.nr {
				t.Errorf("%s: syscallNumbers has %s = %v, want %#x", a.name, e.name, nrs, e.nr)
			}
		}
		n := 0
		for _, e := range syscallNumbers {
			if e.nr[a.column] != noSyscall {
				n++
			}
		}
		if n != len(a.table) {
			t.Errorf("%s: %d numbers in syscallNumbers, %d in its table", a.name, n, len(a.table))
		}
	}
	for name, want := range map[string]uint32{"read": 0, "getpid": 39, "mkdirat": 258, "clone3": 435, "kexec_load": 246} {
		if nr, ok := findArch(specs.ArchX86_64).lookup(name); !ok || nr != want {
			t.Errorf("x86_64 %s = %d, %v; want %d", name, nr, ok, want)
		}
	}
	for name, want := range map[string]uint32{"read": x32Bit | 0, "readv": x32Bit | 515, "execve": x32Bit | 520} {
		if nr, ok := findArch(specs.ArchX32).lookup(name); !ok || nr != want {
			t.Errorf("x32 %s = %#x, %v; want %#x", name, nr, ok, want)
		}
	}
	if _, ok := findArch(specs.ArchX32).lookup("uselib"); ok {
		t.Errorf("x32 has uselib")
	}
}
