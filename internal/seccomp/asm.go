package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// label names a position in a program being assembled. 32 bits are
// plenty (BPF_MAXINSNS is 4096) and keep insn at 16 bytes.
type label int32

// next, as a jump target, is the instruction after the jump.
const next label = -1

// insn is an instruction whose jump targets are still labels.
type insn struct {
	code   uint16
	k      uint32
	jt, jf label // conditional jumps; jt alone for ja
}

func (i insn) isCond() bool {
	return i.code&0x07 == unix.BPF_JMP && i.code&0xf0 != unix.BPF_JA
}

func (i insn) isJa() bool {
	return i.code == unix.BPF_JMP|unix.BPF_JA
}

// asm collects instructions with symbolic jumps and resolves them,
// inserting trampolines where a conditional jump is too long.
type asm struct {
	insns  []insn
	labels []int32 // label -> index in insns; -1 until bound
}

// newAsm returns an assembler with room for n instructions and labels.
func newAsm(n int) *asm {
	return &asm{insns: make([]insn, 0, n), labels: make([]int32, 0, n)}
}

func (a *asm) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

// bind places l at the next instruction emitted.
func (a *asm) bind(l label) { a.labels[l] = int32(len(a.insns)) }

func (a *asm) stmt(code uint16, k uint32) {
	a.insns = append(a.insns, insn{code: code, k: k, jt: next, jf: next})
}

func (a *asm) jump(op uint16, k uint32, jt, jf label) {
	a.insns = append(a.insns, insn{code: unix.BPF_JMP | op | unix.BPF_K, k: k, jt: jt, jf: jf})
}

func (a *asm) ja(to label) {
	a.insns = append(a.insns, insn{code: unix.BPF_JMP | unix.BPF_JA, jt: to, jf: next})
}

func (a *asm) load(off uint32) { a.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, off) }

func (a *asm) and(k uint32) { a.stmt(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, k) }

func (a *asm) ret(k uint32) { a.stmt(unix.BPF_RET|unix.BPF_K, k) }

// target is the instruction index l refers to, seen from instruction i.
func (a *asm) target(i int, l label) int {
	if l == next {
		return i + 1
	}
	return int(a.labels[l])
}

// positions sets pos, of len(tramp)+1 entries, to where each instruction
// lands once the trampolines marked in tramp are inserted after their
// jumps; the extra last entry is the program's length.
func positions(tramp [][2]bool, pos []int) {
	p := 0
	for i, t := range tramp {
		pos[i] = p
		p++
		for _, need := range t {
			if need {
				p++
			}
		}
	}
	pos[len(tramp)] = p
}

// assemble resolves the labels. A conditional jump reaches at most 255
// instructions ahead; a side that must go further jumps to a trampoline
// placed right after the jump. Trampolines lengthen other jumps, so the
// marking repeats until nothing changes; it only adds, so it ends.
func (a *asm) assemble() ([]unix.SockFilter, error) {
	for l, at := range a.labels {
		if at < 0 || int(at) >= len(a.insns) {
			return nil, fmt.Errorf("bpf: label %d is not bound to an instruction", l)
		}
	}
	tramp := make([][2]bool, len(a.insns))
	pos := make([]int, len(a.insns)+1)
	for {
		positions(tramp, pos)
		changed := false
		for i, in := range a.insns {
			if !in.isCond() {
				continue
			}
			for side, l := range [2]label{in.jt, in.jf} {
				if tramp[i][side] {
					continue
				}
				if off := pos[a.target(i, l)] - pos[i] - 1; off > 255 {
					tramp[i][side], changed = true, true
				}
			}
		}
		if !changed {
			return a.emit(tramp, pos)
		}
	}
}

// trampoline is a ja over off instructions to insns[t], or a copy of
// insns[t] when that is a return: as short, and one jump less to run.
func (a *asm) trampoline(t, off int) unix.SockFilter {
	if in := a.insns[t]; in.code == unix.BPF_RET|unix.BPF_K {
		return unix.SockFilter{Code: in.code, K: in.k}
	}
	return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(off)}
}

func (a *asm) emit(tramp [][2]bool, pos []int) ([]unix.SockFilter, error) {
	out := make([]unix.SockFilter, 0, pos[len(a.insns)])
	for i, in := range a.insns {
		f := unix.SockFilter{Code: in.code, K: in.k}
		var far []int
		switch {
		case in.isJa():
			off := pos[a.target(i, in.jt)] - pos[i] - 1
			if off < 0 {
				return nil, fmt.Errorf("bpf: backward jump at instruction %d", i)
			}
			f.K = uint32(off)
		case in.isCond():
			var err error
			if f.Jt, f.Jf, far, err = a.offsets(i, tramp[i], pos); err != nil {
				return nil, err
			}
		}
		out = append(out, f)
		for _, t := range far {
			out = append(out, a.trampoline(t, pos[t]-len(out)-1))
		}
	}
	return out, nil
}

// offsets resolves conditional jump i: each side jumps to its target or,
// when marked, to its trampoline; far lists the trampolines' targets.
func (a *asm) offsets(i int, tramp [2]bool, pos []int) (jt, jf uint8, far []int, err error) {
	var offs [2]int
	for side, l := range [2]label{a.insns[i].jt, a.insns[i].jf} {
		t := a.target(i, l)
		if tramp[side] {
			offs[side] = len(far)
			far = append(far, t)
			continue
		}
		offs[side] = pos[t] - pos[i] - 1
	}
	if offs[0] < 0 || offs[1] < 0 {
		return 0, 0, nil, fmt.Errorf("bpf: backward jump at instruction %d", i)
	}
	return uint8(offs[0]), uint8(offs[1]), far, nil
}
