package devicefilter

import (
	"encoding/binary"
	"fmt"
)

// Insn is one eBPF instruction, the fields of the kernel's struct bpf_insn.
type Insn struct {
	Code uint8 // class | size/op | mode/source
	Dst  uint8 // destination register, 0-10
	Src  uint8 // source register, 0-10
	Off  int16 // memory offset, or jump distance counted from the next instruction
	Imm  int32 // immediate operand
}

// Opcode parts (include/uapi/linux/bpf_common.h and bpf.h).
const (
	classLDX   = 0x01
	classALU   = 0x04
	classJMP   = 0x05
	classJMP32 = 0x06
	classALU64 = 0x07

	sizeW   = 0x00
	modeMEM = 0x60

	srcK = 0x00
	srcX = 0x08

	aluAND = 0x50
	aluRSH = 0x70
	aluMOV = 0xb0

	jmpJEQ  = 0x10
	jmpJSET = 0x40
	jmpJNE  = 0x50
	jmpEXIT = 0x90
)

// Registers used by the program.
const (
	r0 = 0 // return value
	r1 = 1 // context on entry, scratch afterwards
	r2 = 2 // device type
	r3 = 3 // requested access
	r4 = 4 // major
	r5 = 5 // minor
)

// loadWord is dst = *(u32 *)(src + off).
func loadWord(dst, src uint8, off int16) Insn {
	return Insn{Code: classLDX | sizeW | modeMEM, Dst: dst, Src: src, Off: off}
}

// alu32Imm is dst = (u32)(dst op imm).
func alu32Imm(op uint8, dst uint8, imm int32) Insn {
	return Insn{Code: classALU | op | srcK, Dst: dst, Imm: imm}
}

// mov32Reg is dst = (u32)src.
func mov32Reg(dst, src uint8) Insn {
	return Insn{Code: classALU | aluMOV | srcX, Dst: dst, Src: src}
}

// mov64Imm is dst = imm.
func mov64Imm(dst uint8, imm int32) Insn {
	return Insn{Code: classALU64 | aluMOV | srcK, Dst: dst, Imm: imm}
}

// jmp32Imm is "if (u32)dst op (u32)imm goto pc+1+off". The 32-bit form
// matters: a 64-bit compare sign-extends imm, so a major or minor of 2^31
// or more could never match the zero-extended context field.
func jmp32Imm(op uint8, dst uint8, imm int32, off int16) Insn {
	return Insn{Code: classJMP32 | op | srcK, Dst: dst, Off: off, Imm: imm}
}

func exit() Insn {
	return Insn{Code: classJMP | jmpEXIT}
}

// encode lays the instructions out as the kernel reads struct bpf_insn on
// this machine: host byte order, and the dst_reg:4/src_reg:4 bit-fields
// packed low-nibble first on little-endian hosts, high-nibble first on
// big-endian ones.
func encode(insns []Insn) ([]byte, error) {
	order := binary.NativeEndian
	little := order.Uint16([]byte{1, 0}) == 1
	out := make([]byte, 0, 8*len(insns))
	for i, in := range insns {
		if in.Dst > 10 || in.Src > 10 {
			return nil, fmt.Errorf("instruction %d: register out of range", i)
		}
		regs := in.Src<<4 | in.Dst
		if !little {
			regs = in.Dst<<4 | in.Src
		}
		out = append(out, in.Code, regs)
		out = order.AppendUint16(out, uint16(in.Off))
		out = order.AppendUint32(out, uint32(in.Imm))
	}
	return out, nil
}
