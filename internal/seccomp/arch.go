package seccomp

import (
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// x32Bit is __X32_SYSCALL_BIT: x32 syscalls are x86_64 syscalls with it set.
const x32Bit = 0x40000000

// sysnum is one entry of a syscall table.
type sysnum struct {
	name string
	nr   uint32
}

// sysnums is one entry of syscallNumbers: a name's number on each of
// arches, by arch.column, or noSyscall.
type sysnums struct {
	name string
	nr   [3]uint32
}

// noSyscall marks a name an architecture lacks; no syscall has that
// number on any of them.
const noSyscall = 0xffffffff

// arch is an architecture the filter can cover: its audit token, the
// part [lo, hi) of that token's syscall number space that is its own, and
// whether its arguments are compared on their low 32 bits (args32).
type arch struct {
	name   specs.Arch
	audit  uint32
	lo, hi uint64
	args32 bool
	table  []sysnum // sorted by name
	column int      // of its numbers in syscallNumbers
}

// The order matters: an audit token's architectures by rising lo.
var arches = []*arch{
	{name: specs.ArchX86_64, audit: unix.AUDIT_ARCH_X86_64, lo: 0, hi: x32Bit, table: x8664Syscalls, column: 0},
	{name: specs.ArchX32, audit: unix.AUDIT_ARCH_X86_64, lo: x32Bit, hi: 0xffffffff, args32: true, table: x32Syscalls, column: 1},
	{name: specs.ArchX86, audit: unix.AUDIT_ARCH_I386, lo: 0, hi: 1 << 32, args32: true, table: i386Syscalls, column: 2},
}

// nativeArch is the architecture berth's own binary runs as; it is always
// in the filter, as libseccomp always keeps the native one.
const nativeArch = specs.ArchX86_64

// knownArches are the architecture names runc accepts (and libseccomp
// knows). A profile may list any of them: the ones this kernel cannot run
// (every one but x86_64, x86 and x32 here) are left out of the filter,
// since no syscall of theirs ever reaches it; libseccomp's sections for
// them would be dead code. Docker's and podman's default profiles list
// many.
var knownArches = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL,
	specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
	specs.ArchPPC64LE, specs.ArchRISCV64, specs.ArchS390, specs.ArchS390X, specs.ArchLOONGARCH64,
}

// KnownArches returns the architecture names a profile may list, for
// berth-oci features.
func KnownArches() []string {
	out := make([]string, len(knownArches))
	for i, a := range knownArches {
		out[i] = string(a)
	}
	return out
}

func findArch(name specs.Arch) *arch {
	for _, a := range arches {
		if a.name == name {
			return a
		}
	}
	return nil
}

// lookupAll returns the numbers of the named syscall on each of arches,
// by arch.column (noSyscall where it lacks one), by binary search in
// syscallNumbers, which mktables writes sorted by name. A profile's names
// are looked up once for all architectures, and there is no index to
// build: berth compiles one profile per process, so a map built on first
// use cost more than all the lookups it served.
func lookupAll(name string) ([3]uint32, bool) {
	i, ok := slices.BinarySearchFunc(syscallNumbers, name, func(e sysnums, name string) int {
		return strings.Compare(e.name, name)
	})
	if !ok {
		return [3]uint32{noSyscall, noSyscall, noSyscall}, false
	}
	return syscallNumbers[i].nr, true
}

// lookup returns the number of the named syscall on a.
func (a *arch) lookup(name string) (uint32, bool) {
	nrs, _ := lookupAll(name)
	return a.nr(nrs)
}

// nr picks a's number out of lookupAll's.
func (a *arch) nr(nrs [3]uint32) (uint32, bool) {
	nr := nrs[a.column]
	return nr, nr != noSyscall
}

// size is how many numbers from lo the table's syscalls span.
func (a *arch) size() int {
	n := 0
	for _, e := range a.table {
		n = max(n, int(uint64(e.nr)-a.lo)+1)
	}
	return n
}
