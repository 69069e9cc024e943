package ipam

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/statefile"
	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary, re-executed, act as another berth
// process: os.Args[1:] are mode, dir, subnet and the mode's arguments.
const helperEnv = "BERTH_IPAM_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		if err := runHelper(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runHelper runs one helper mode:
//
//	alloc DIR SUBNET N PREFIX  wait for a line on stdin, then allocate for
//	                           owners PREFIX-0..N-1, printing each result
//	hold DIR SUBNET            take the pool's lock, leave a half-written
//	                           temporary state file, print "locked", block
func runHelper(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("usage: MODE DIR SUBNET ...")
	}
	p, err := Open(args[1], netip.MustParsePrefix(args[2]))
	if err != nil {
		return err
	}
	switch args[0] {
	case "alloc":
		n, _ := strconv.Atoi(args[3])
		bufio.NewReader(os.Stdin).ReadString('\n')
		return allocateN(p, args[4], n, func(r result) { fmt.Println(r) })
	case "hold":
		lock, err := p.lock(unix.LOCK_EX, false)
		if err != nil {
			return err
		}
		defer lock.Close() // also keeps the file from being finalized
		os.WriteFile(filepath.Join(p.dir, statefile.TempName(stateName)), []byte(`{"version":1,"subn`), 0o600)
		fmt.Println("locked")
		time.Sleep(time.Hour)
		return nil
	}
	return fmt.Errorf("unknown mode %q", args[0])
}

// result is one allocation attempt: an address, or none if the pool was full.
type result struct {
	owner string
	addr  netip.Addr
}

func (r result) String() string {
	if !r.addr.IsValid() {
		return "FULL " + r.owner
	}
	return "OK " + r.owner + " " + r.addr.String()
}

func parseResult(line string) (result, error) {
	f := strings.Fields(line)
	switch {
	case len(f) == 2 && f[0] == "FULL":
		return result{owner: f[1]}, nil
	case len(f) == 3 && f[0] == "OK":
		a, err := netip.ParseAddr(f[2])
		return result{owner: f[1], addr: a}, err
	}
	return result{}, fmt.Errorf("bad helper output %q", line)
}

func allocateN(p *Pool, prefix string, n int, report func(result)) error {
	for i := range n {
		owner := fmt.Sprintf("%s-%d", prefix, i)
		a, err := p.Allocate(owner, allAlive)
		if err != nil && !errors.Is(err, ErrFull) {
			return err
		}
		report(result{owner: owner, addr: a})
	}
	return nil
}

// helper is a running helper process.
type helper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Scanner
	stderr bytes.Buffer
}

func startHelper(t *testing.T, args ...string) *helper {
	t.Helper()
	h := &helper{cmd: exec.Command(os.Args[0], args...)}
	h.cmd.Env = append(os.Environ(), helperEnv+"=1")
	h.cmd.Stderr = &h.stderr
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.out = bufio.NewScanner(stdout)
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.cmd.Process.Kill(); h.cmd.Wait() })
	return h
}

// results reads the helper's output to the end and waits for it.
func (h *helper) results() ([]result, error) {
	var rs []result
	for h.out.Scan() {
		r, err := parseResult(h.out.Text())
		if err != nil {
			return rs, err
		}
		rs = append(rs, r)
	}
	if err := h.cmd.Wait(); err != nil {
		return rs, fmt.Errorf("helper %v: %w: %s", h.cmd.Args[1:], err, h.stderr.Bytes())
	}
	return rs, nil
}

// race runs procs helper processes and goroutines goroutines, each
// allocating perWorker addresses from one pool at the same moment, and
// returns every result.
func race(t *testing.T, subnet string, procs, goroutines, perWorker int) (*Pool, []result) {
	p := openPool(t, subnet)
	var helpers []*helper
	for i := range procs {
		helpers = append(helpers, startHelper(t, "alloc", p.dir, subnet, strconv.Itoa(perWorker), fmt.Sprint("proc", i)))
	}
	var (
		mu   sync.Mutex
		all  []result
		errs []error
		wg   sync.WaitGroup
	)
	start := make(chan struct{})
	for i := range goroutines {
		wg.Go(func() {
			<-start
			err := allocateN(p, fmt.Sprint("goroutine", i), perWorker, func(r result) {
				mu.Lock()
				all = append(all, r)
				mu.Unlock()
			})
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	for _, h := range helpers {
		io.WriteString(h.stdin, "go\n")
	}
	close(start)
	var fromHelpers []result
	var helperErrs []error
	for _, h := range helpers {
		rs, err := h.results()
		fromHelpers = append(fromHelpers, rs...)
		helperErrs = append(helperErrs, err)
	}
	wg.Wait()
	all, errs = append(all, fromHelpers...), append(errs, helperErrs...)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if len(all) != (procs+goroutines)*perWorker {
		t.Fatalf("%d results, want %d", len(all), (procs+goroutines)*perWorker)
	}
	return p, all
}

// checkConsistent verifies that the addresses handed out are distinct
// container addresses and exactly what the state records.
func checkConsistent(t *testing.T, p *Pool, all []result) (allocated int) {
	t.Helper()
	owners, err := p.Owners()
	if err != nil {
		t.Fatal(err)
	}
	byAddr := map[netip.Addr]string{}
	for _, r := range all {
		if !r.addr.IsValid() {
			continue
		}
		allocated++
		if other, dup := byAddr[r.addr]; dup {
			t.Errorf("%s handed to both %s and %s", r.addr, other, r.owner)
		}
		byAddr[r.addr] = r.owner
		if !p.usable(r.addr) {
			t.Errorf("%s got %s: not a container address of %s", r.owner, r.addr, p.subnet)
		}
		if owners[r.owner] != r.addr {
			t.Errorf("%s got %s, state says %s", r.owner, r.addr, owners[r.owner])
		}
	}
	if len(owners) != allocated {
		t.Errorf("state holds %d owners, %d addresses were handed out", len(owners), allocated)
	}
	return allocated
}

func TestConcurrentAllocation(t *testing.T) {
	// 6 processes and 16 goroutines, 880 addresses from a /22 (1021).
	p, all := race(t, "10.77.0.0/22", 6, 16, 40)
	if n := checkConsistent(t, p, all); n != len(all) {
		t.Errorf("%d of %d allocations succeeded", n, len(all))
	}
}

func TestConcurrentAllocationUntilFull(t *testing.T) {
	// 60 requests for the 29 container addresses of a /27: exactly 29
	// succeed, whoever wins, and the others are told the pool is full.
	p, all := race(t, "10.77.0.32/27", 4, 4, 8)
	if n := checkConsistent(t, p, all); n != 29 {
		t.Errorf("%d allocations succeeded, want 29", n)
	}
}

func TestLockReleasedWhenHolderKilled(t *testing.T) {
	p := openPool(t, "10.77.0.0/24")
	before := mustAllocate(t, p, "before", allAlive)
	h := startHelper(t, "hold", p.dir, p.subnet.String())
	if !h.out.Scan() || h.out.Text() != "locked" {
		t.Fatalf("helper did not take the lock: %q %s", h.out.Text(), h.stderr.Bytes())
	}
	done := make(chan error, 1)
	go func() { _, err := p.Allocate("after", allAlive); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("Allocate did not wait for the lock holder: %v", err)
	case <-time.After(300 * time.Millisecond):
	}

	h.cmd.Process.Signal(syscall.SIGKILL)
	h.cmd.Wait()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Allocate after the holder was killed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lock still held after its holder was killed")
	}
	owners, err := p.Owners()
	if err != nil || owners["before"].String() != before || !p.usable(owners["after"]) {
		t.Errorf("after the kill: %v, %v", owners, err)
	}
}

func TestKilledAllocatorsLoseNothing(t *testing.T) {
	// Helpers killed at arbitrary points of their allocations leave a
	// readable state that holds at least every address they reported.
	p := openPool(t, "10.77.0.0/22")
	var reported []result
	for i := range 4 {
		h := startHelper(t, "alloc", p.dir, p.subnet.String(), "1000", fmt.Sprint("killed", i))
		io.WriteString(h.stdin, "go\n")
		for j := 0; j < 5+7*i && h.out.Scan(); j++ {
			r, err := parseResult(h.out.Text())
			if err != nil {
				t.Fatal(err)
			}
			reported = append(reported, r)
		}
		h.cmd.Process.Signal(syscall.SIGKILL)
		h.cmd.Wait()
	}
	owners, err := p.Owners()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reported {
		if owners[r.owner] != r.addr {
			t.Errorf("%s reported %s, state says %s", r.owner, r.addr, owners[r.owner])
		}
	}
	// The killed helpers' owners are dead: the next allocation reclaims all.
	alive := func(o string) bool { return !strings.HasPrefix(o, "killed") }
	mustAllocate(t, p, "next", alive)
	if owners, _ := p.Owners(); len(owners) != 1 {
		t.Errorf("after reclaiming: %d owners, want 1", len(owners))
	}
}
