// Package hugeheap backs the first 2 MiB of a short-lived Go process's heap
// with one transparent huge page, as the process starts.
//
// Importing it (for its side effect) is all a command does; berth does.
// berth is a short-lived process whose start is what users time, and on a
// virtual machine a page fault is dear: here 1.2 to 2.3 µs per fault
// taken in a loop, more in a process's first moments. A Go
// runtime spreads even a small heap over many pages (one span per size
// class), so package init and the command's own work touch some 300 heap
// pages one fault at a time. One huge page maps them all at once: the
// runtime's first pages are copied into it (MADV_COLLAPSE, Linux 6.1) and
// every later allocation in those 2 MiB is already mapped.
//
// Measured with bench/ab.py, interleaved, 100–150 runs: `berth run --rm
// true` 0.92× back to back and 0.88× cold; berth-oci run 0.95× and 0.93×.
// The price is resident memory: the whole 2 MiB counts, about 1.3 MiB more
// than the pages a run touched before. berth once took the whole first
// 4 MiB chunk; since the registry client and text/template's executor
// left its binary its heap spreads no wider than berth-oci's, and the
// second huge page cost more than the faults it saved (0.98× without it,
// docs/bench.md).
//
// Measured again later (docs/bench.md, 2026-12-07), it saved less: berth
// run 0.994× back to back and 0.987× cold, berth-oci nothing (1.01× and
// 1.00×), and berth-oci dropped it. Most heap faults come before any
// package's init, in the Go runtime's own (about 120–140 of berth's 350),
// and Go 1.26 starts the heap at a random place in its first 4 MiB, so
// that what berth allocates after its init falls, half the time, in the
// next 2 MiB, outside the huge page.
//
// It does nothing where the kernel cannot (no THP, older kernels, a memory
// cgroup without room): the calls fail and the heap stays as it was. Nor
// when the process started on busy CPUs (internal/cpubusy): the collapse
// copies and zeroes 2 MiB in the system call, and when many starts share
// the CPUs that costs more than the faults it saves (fifty berth-oci
// starts at once took 0.86 of the time without it, docs/bench.md).
// GODEBUG=disablethp=1, the Go runtime's own switch against huge pages for
// its heap, turns it off.
package hugeheap

import (
	"strings"
	"syscall"
	"unsafe"

	"github.com/berth-runtime/berth/internal/cpubusy"
)

const (
	hugePage = 2 << 20

	madvHugepage = 14 // MADV_HUGEPAGE
	madvCollapse = 25 // MADV_COLLAPSE

)

// DisableEnv, in a process's environment, turns the package off there:
// the Go runtime's own switch against huge pages for its heap.
const DisableEnv = "GODEBUG=disablethp=1"

// collapsed reports whether the heap's first 2 MiB became a huge page;
// collapseErr is why not (EAGAIN or ENOMEM: the kernel had no huge page
// to give at that moment, which a busy machine's fragmented memory does).
var (
	collapsed   bool
	collapseErr error
)

// heapProbe is a heap object whose address names the heap's first region.
// It is kept so that the compiler cannot put it on the stack.
var heapProbe *[64]byte

func init() {
	if disabled(syscall.Getenv) || cpubusy.Busy {
		return
	}
	heapProbe = new([64]byte)
	collapseErr = collapse(probeBase(), hugePage)
	collapsed = collapseErr == nil
}

// probeBase is the start of the 2 MiB that hold heapProbe.
func probeBase() uintptr {
	return uintptr(unsafe.Pointer(heapProbe)) &^ (hugePage - 1)
}

// disabled reports whether GODEBUG asks the runtime not to use huge pages.
func disabled(getenv func(string) (string, bool)) bool {
	v, _ := getenv("GODEBUG")
	for _, kv := range strings.Split(v, ",") {
		if "GODEBUG="+strings.TrimSpace(kv) == DisableEnv {
			return true
		}
	}
	return false
}

// collapse makes the size bytes at base huge pages. MADV_HUGEPAGE comes
// first so that khugepaged and later faults leave the region huge even
// where the kernel's THP mode is "madvise", as on Debian and Ubuntu.
// MADV_COLLAPSE's EAGAIN is transient (a page locked for a moment): it
// is tried once more.
func collapse(base, size uintptr) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, base, size, madvHugepage); e != 0 {
		return e
	}
	_, _, e := syscall.Syscall(syscall.SYS_MADVISE, base, size, madvCollapse)
	if e == syscall.EAGAIN {
		_, _, e = syscall.Syscall(syscall.SYS_MADVISE, base, size, madvCollapse)
	}
	if e != 0 {
		return e
	}
	return nil
}
