package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// emitCond emits one comparison with 32-bit instructions: it falls
// through when the comparison holds and jumps to fail when it does not.
// A 64-bit comparison tests the high words first; they decide unless they
// are equal, and then the low words do. A low32 comparison (i386, x32) is
// that low-word test alone.
func emitCond(a *asm, c cond, fail label) {
	hiOff := uint32(offArgs + 8*c.index + 4)
	loOff := uint32(offArgs + 8*c.index)
	if c.op == specs.OpMaskedEqual {
		emitMasked(a, c, hiOff, loOff, fail)
		return
	}
	pass := a.newLabel()
	if !c.low32 {
		emitHigh(a, c.op, hiOff, uint32(c.value>>32), pass, fail)
	}
	a.load(loOff)
	lo := uint32(c.value)
	switch c.op {
	case specs.OpEqualTo:
		a.jump(unix.BPF_JEQ, lo, next, fail)
	case specs.OpNotEqual:
		a.jump(unix.BPF_JEQ, lo, fail, next)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		a.jump(lowJump(c.op), lo, next, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		a.jump(lowJump(c.op), lo, fail, next)
	}
	a.bind(pass)
}

// emitHigh emits the high-word half of a 64-bit comparison: it jumps to
// pass or fail when the high words decide, and falls through to the
// low-word test when they are equal.
func emitHigh(a *asm, op specs.LinuxSeccompOperator, hiOff, hi uint32, pass, fail label) {
	a.load(hiOff)
	switch op {
	case specs.OpEqualTo:
		a.jump(unix.BPF_JEQ, hi, next, fail)
	case specs.OpNotEqual:
		a.jump(unix.BPF_JEQ, hi, next, pass)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		a.jump(unix.BPF_JGT, hi, pass, next)
		a.jump(unix.BPF_JEQ, hi, next, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		a.jump(unix.BPF_JGT, hi, fail, next)
		a.jump(unix.BPF_JEQ, hi, next, pass)
	}
}

// lowJump is the low-word test: the condition itself for > and >=, its
// negation for < (not >=) and <= (not >).
func lowJump(op specs.LinuxSeccompOperator) uint16 {
	switch op {
	case specs.OpGreaterThan, specs.OpLessEqual:
		return unix.BPF_JGT
	default:
		return unix.BPF_JGE
	}
}

// emitMasked tests (arg & value) == valueTwo. A high word with an empty
// mask and datum always matches and is skipped, as is the high word of a
// low32 comparison.
func emitMasked(a *asm, c cond, hiOff, loOff uint32, fail label) {
	mhi, mlo := uint32(c.value>>32), uint32(c.value)
	dhi, dlo := uint32(c.value2>>32), uint32(c.value2)
	if !c.low32 && (mhi != 0 || dhi != 0) {
		a.load(hiOff)
		a.and(mhi)
		a.jump(unix.BPF_JEQ, dhi, next, fail)
	}
	a.load(loOff)
	a.and(mlo)
	a.jump(unix.BPF_JEQ, dlo, next, fail)
}
