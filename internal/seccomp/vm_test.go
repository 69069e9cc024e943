package seccomp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// seccompData is struct seccomp_data.
type seccompData struct {
	nr   uint32
	arch uint32
	ip   uint64
	args [6]uint64
}

func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], d.nr)
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	binary.LittleEndian.PutUint64(b[8:], d.ip)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// verify checks what the kernel's seccomp_check_filter and
// bpf_check_classic check for the instructions the compiler uses.
func verify(prog []unix.SockFilter) error {
	if len(prog) == 0 || len(prog) > unix.BPF_MAXINSNS {
		return fmt.Errorf("length %d", len(prog))
	}
	for pc, in := range prog {
		switch {
		case in.Code == unix.BPF_LD|unix.BPF_W|unix.BPF_ABS:
			if in.K >= 64 || in.K%4 != 0 {
				return fmt.Errorf("%d: bad load offset %d", pc, in.K)
			}
		case in.Code == unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, in.Code == unix.BPF_RET|unix.BPF_K:
		case in.Code == unix.BPF_JMP|unix.BPF_JA:
			if uint64(pc)+1+uint64(in.K) >= uint64(len(prog)) {
				return fmt.Errorf("%d: ja out of range", pc)
			}
		case in.Code&0x07 == unix.BPF_JMP:
			if pc+1+int(max(in.Jt, in.Jf)) >= len(prog) {
				return fmt.Errorf("%d: jump out of range", pc)
			}
		default:
			return fmt.Errorf("%d: unexpected code %#x", pc, in.Code)
		}
	}
	if prog[len(prog)-1].Code != unix.BPF_RET|unix.BPF_K {
		return fmt.Errorf("last instruction is not a return")
	}
	return nil
}

// run interprets prog on d as the kernel would and returns the verdict and
// the number of instructions executed.
func run(prog []unix.SockFilter, d seccompData) (ret uint32, steps int, err error) {
	data := d.bytes()
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		steps++
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_RET | unix.BPF_K:
			return in.K, steps, nil
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			pc += branch(acc == in.K, in)
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			pc += branch(acc > in.K, in)
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			pc += branch(acc >= in.K, in)
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			pc += branch(acc&in.K != 0, in)
		default:
			return 0, steps, fmt.Errorf("pc %d: unknown code %#x", pc, in.Code)
		}
	}
	return 0, steps, fmt.Errorf("fell off the end")
}

func branch(cond bool, in unix.SockFilter) int {
	if cond {
		return int(in.Jt)
	}
	return int(in.Jf)
}
