//go:build amd64

package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Syscall numbers of the 32-bit ABIs used below.
const (
	nrI386Mkdirat = 296
	nrI386Socket  = 359
	nrX32Mkdirat  = x32Bit | 258
	nrX32Socket   = x32Bit | 41
	nrSocket      = 41
)

// upperHalves are register upper halves a 64-bit caller of a 32-bit ABI
// can set and its kernel drops (i386 by INT $0x80).
var upperHalves = []uint64{0, 1, 0x80000000, 0xdeadbeef, 0xffffffff}

// evalOp32 is the meaning of a comparison on i386 and x32: the syscall
// gets the low 32 bits of the register, and the rule's values count
// modulo 2^32 too, as libseccomp truncates them.
func evalOp32(op specs.LinuxSeccompOperator, arg, v, v2 uint64) bool {
	return evalOp(op, uint64(uint32(arg)), uint64(uint32(v)), uint64(uint32(v2)))
}

// TestArgs32CompareLowHalves: on i386 and x32 the verdict depends on the
// low 32 bits of an argument only, whatever the upper half holds, for
// every operator; x86_64 in the same program still compares all 64 bits.
func TestArgs32CompareLowHalves(t *testing.T) {
	for _, op := range allOps {
		for _, v := range edgeValues {
			for idx := uint(0); idx < 6; idx += 5 {
				testOneComparison32(t, op, idx, v, v^0x100000001)
			}
		}
	}
}

func testOneComparison32(t *testing.T, op specs.LinuxSeccompOperator, idx uint, v, v2 uint64) {
	t.Helper()
	prog := compile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{{
			Names: []string{"mkdirat"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: idx, Value: v, ValueTwo: v2, Op: op}},
		}},
	})
	verdict := func(ok bool) uint32 {
		if ok {
			return allow
		}
		return errnoRet(unix.EPERM)
	}
	for _, lo := range append(edgeValues, v, v2, v+1, v-1) {
		lo = uint64(uint32(lo))
		for _, hi := range upperHalves {
			arg := hi<<32 | lo
			var args [6]uint64
			args[idx] = arg
			args[(idx+1)%6] = ^arg // a neighbour must not matter
			for _, c := range []call{
				{arch: i386, nr: nrI386Mkdirat, args: args, want: verdict(evalOp32(op, arg, v, v2))},
				{arch: x86_64, nr: nrX32Mkdirat, args: args, want: verdict(evalOp32(op, arg, v, v2))},
				{arch: x86_64, nr: nrMkdirat, args: args, want: verdict(evalOp(op, arg, v, v2))},
			} {
				got, _, err := run(prog, seccompData{arch: c.arch, nr: c.nr, args: c.args})
				if err != nil || got != c.want {
					t.Errorf("%s args[%d] value %#x valueTwo %#x, arch %#x nr %#x arg %#x: got %#x (%v), want %#x",
						op, idx, v, v2, c.arch, c.nr, arg, got, err, c.want)
				}
			}
		}
	}
}

// TestArgs32ReviewBypass is the review's case: a deny rule and an
// allow-if-not-equal rule for socket's family, Docker's default action.
// A 64-bit program that makes the i386 syscall with INT $0x80 (or the x32
// one) with the upper half of the family register set got past both, and
// the kernel created the socket for the family the rules refuse.
func TestArgs32ReviewBypass(t *testing.T) {
	const vsock = 40
	family := []specs.LinuxSeccompArg{{Index: 0, Value: vsock, Op: specs.OpEqualTo}}
	notFamily := []specs.LinuxSeccompArg{{Index: 0, Value: vsock, Op: specs.OpNotEqual}}
	for _, p := range []*specs.LinuxSeccomp{{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: uintp(42), Args: family},
			{Names: []string{"socket"}, Action: specs.ActAllow, Args: notFamily},
		},
	}, {
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86, specs.ArchX32},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: uintp(42), Args: family}},
	}} {
		prog := compile(t, p)
		var calls []call
		for _, hi := range upperHalves {
			arg := [6]uint64{hi<<32 | vsock, unix.SOCK_STREAM}
			other := [6]uint64{hi<<32 | unix.AF_INET, unix.SOCK_STREAM}
			calls = append(calls,
				call{arch: i386, nr: nrI386Socket, args: arg, want: errnoRet(42)},
				call{arch: x86_64, nr: nrX32Socket, args: arg, want: errnoRet(42)},
				call{arch: i386, nr: nrI386Socket, args: other, want: allow},
				call{arch: x86_64, nr: nrX32Socket, args: other, want: allow})
		}
		// x86_64 is unchanged: all 64 bits count.
		calls = append(calls,
			call{arch: x86_64, nr: nrSocket, args: [6]uint64{vsock}, want: errnoRet(42)},
			call{arch: x86_64, nr: nrSocket, args: [6]uint64{1<<32 | unix.AF_INET}, want: allow})
		expect(t, prog, calls)
	}
}
