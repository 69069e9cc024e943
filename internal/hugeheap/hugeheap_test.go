package hugeheap

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/berth-runtime/berth/internal/cpubusy"
)

// TestMain runs the tests again in a process of their own if this one
// started on busy CPUs, where the package leaves the heap as it is
// (cpubusy): with GOMAXPROCS in its environment, as a user who chose
// it, it does not look.
func TestMain(m *testing.M) {
	if cpubusy.Busy {
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(runtime.NumCPU()))
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				os.Exit(ee.ExitCode())
			}
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The test binary imports the package too, so its init has run: the heap
// region holding heapProbe must be one huge page now.
func TestHeapIsHuge(t *testing.T) {
	needTHP(t)
	needHugePage(t)
	if !collapsed {
		t.Fatalf("the heap's first 2 MiB were not collapsed into a huge page: %v", collapseErr)
	}
	addr := uintptr(unsafe.Pointer(heapProbe))
	kb, err := anonHugeKB(addr)
	if err != nil {
		t.Fatal(err)
	}
	if kb < hugePage>>10 {
		t.Fatalf("the mapping holding the heap at %#x has %d kB of huge pages, want at least %d", addr, kb, hugePage>>10)
	}
}

// needTHP skips where the kernel or GODEBUG turns huge pages off.
func needTHP(t *testing.T) {
	t.Helper()
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		t.Skip("transparent huge pages are off on this kernel")
	}
	if disabled(syscall.Getenv) {
		t.Skip(DisableEnv + " turns the package off")
	}
}

// anonHugeKB reads AnonHugePages of the mapping that holds addr.
func anonHugeKB(addr uintptr) (int, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		// A mapping's header starts with its range; its fields with a name.
		if rng, _, _ := strings.Cut(line, " "); strings.Contains(rng, "-") {
			var start, end uintptr
			if _, err := fmt.Sscanf(rng, "%x-%x", &start, &end); err != nil {
				return 0, fmt.Errorf("smaps line %q: %w", line, err)
			}
			in = start <= addr && addr < end
			continue
		}
		if in && strings.HasPrefix(line, "AnonHugePages:") {
			var kb int
			_, err := fmt.Sscanf(strings.TrimPrefix(line, "AnonHugePages:"), "%d", &kb)
			return kb, err
		}
	}
	return 0, fmt.Errorf("no mapping in /proc/self/smaps holds %#x", addr)
}

func TestDisabled(t *testing.T) {
	for _, tc := range []struct {
		godebug string
		set     bool
		want    bool
	}{
		{"", false, false},
		{"disablethp=1", true, true},
		{"gctrace=1, disablethp=1", true, true},
		{"disablethp=0", true, false},
		{"xdisablethp=1", true, false},
	} {
		got := disabled(func(string) (string, bool) { return tc.godebug, tc.set })
		if got != tc.want {
			t.Errorf("GODEBUG=%q: disabled %v, want %v", tc.godebug, got, tc.want)
		}
	}
}

// needHugePage skips where the kernel had no huge page to give when the
// package's init asked (EAGAIN twice, or ENOMEM): a state of the
// machine's memory, not of the code; any other failure fails the test.
func needHugePage(t *testing.T) {
	t.Helper()
	if errors.Is(collapseErr, syscall.EAGAIN) || errors.Is(collapseErr, syscall.ENOMEM) {
		t.Skipf("no huge page to be had at init: %v", collapseErr)
	}
}
