//go:build amd64

// Command int80 makes i386 syscalls from 64-bit code with INT $0x80, the
// way an attacker inside a container can: the kernel runs the 32-bit
// syscall on the low halves of the registers, while seccomp sees them
// whole. It prints one line per call, "ARG0 ok" or "ARG0 errno=N".
//
// Usage: int80 NR ARG0... (numbers in any base strconv accepts; each
// ARG0 is a separate call, the other arguments are zero).
package main

import (
	"fmt"
	"os"
	"strconv"
)

// int80 makes i386 syscall nr with the full 64-bit register values given
// and returns EAX sign-extended (the 32-bit ABI's return value).
func int80(nr, a0, a1, a2 uint64) int64

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: int80 NR ARG0...")
		os.Exit(2)
	}
	nr := parse(os.Args[1])
	for _, s := range os.Args[2:] {
		ret := int80(nr, parse(s), 0, 0)
		if ret < 0 && ret >= -4095 {
			fmt.Printf("%s errno=%d\n", s, -ret)
		} else {
			fmt.Printf("%s ok\n", s)
		}
	}
}

func parse(s string) uint64 {
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return v
}
