package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// emitCond emits one 64-bit comparison with 32-bit instructions: it falls
// through when the comparison holds and jumps to fail when it does not.
// The high words decide unless they are equal; then the low words do.
func emitCond(a *asm, c cond, fail label) {
	hiOff := uint32(offArgs + 8*c.index + 4)
	loOff := uint32(offArgs + 8*c.index)
	hi, lo := uint32(c.value>>32), uint32(c.value)
	pass := a.newLabel()
	switch c.op {
	case specs.OpEqualTo:
		a.load(hiOff)
		a.jump(unix.BPF_JEQ, hi, next, fail)
		a.load(loOff)
		a.jump(unix.BPF_JEQ, lo, next, fail)
	case specs.OpNotEqual:
		a.load(hiOff)
		a.jump(unix.BPF_JEQ, hi, next, pass)
		a.load(loOff)
		a.jump(unix.BPF_JEQ, lo, fail, next)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		a.load(hiOff)
		a.jump(unix.BPF_JGT, hi, pass, next)
		a.jump(unix.BPF_JEQ, hi, next, fail)
		a.load(loOff)
		a.jump(lowJump(c.op), lo, next, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		a.load(hiOff)
		a.jump(unix.BPF_JGT, hi, fail, next)
		a.jump(unix.BPF_JEQ, hi, next, pass)
		a.load(loOff)
		a.jump(lowJump(c.op), lo, fail, next)
	case specs.OpMaskedEqual:
		emitMasked(a, c, hiOff, loOff, fail)
	}
	a.bind(pass)
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
// mask and datum always matches and is skipped.
func emitMasked(a *asm, c cond, hiOff, loOff uint32, fail label) {
	mhi, mlo := uint32(c.value>>32), uint32(c.value)
	dhi, dlo := uint32(c.value2>>32), uint32(c.value2)
	if mhi != 0 || dhi != 0 {
		a.load(hiOff)
		a.and(mhi)
		a.jump(unix.BPF_JEQ, dhi, next, fail)
	}
	a.load(loOff)
	a.and(mlo)
	a.jump(unix.BPF_JEQ, dlo, next, fail)
}
