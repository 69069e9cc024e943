package nft

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Every test that touches nftables or links runs in network namespaces
// it creates, never in the host's: the test's goroutine is locked to its
// thread, the thread unshares its network namespace, and the goroutine
// never unlocks, so the thread exits with the test instead of going back
// to the scheduler. Processes started from a locked goroutine are forked
// by its thread and inherit its namespace.

// privateNetns moves the calling test goroutine into a new network
// namespace for the rest of the test.
func privateNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	runtime.LockOSThread() // never unlocked: the thread dies with the test
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare(CLONE_NEWNET): %v", err)
	}
	run(t, "ip", "link", "set", "lo", "up")
}

// run runs a command in the calling goroutine's namespace.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := command(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func command(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// netns is another namespace, held by a goroutine locked to a thread
// that unshared it; do runs functions on that thread.
type netns struct {
	path string // /proc/PID/task/TID/ns/net
	do   chan func()
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	ns := &netns{do: make(chan func())}
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked, as in privateNetns
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		ns.path = fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		ready <- nil
		for f := range ns.do {
			f()
		}
	}()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(ns.do) })
	ns.run(t, "ip", "link", "set", "lo", "up")
	return ns
}

// call runs f in the namespace and returns its error.
func (ns *netns) call(f func() error) error {
	errc := make(chan error)
	ns.do <- func() { errc <- f() }
	return <-errc
}

// run runs a command in the namespace.
func (ns *netns) run(t *testing.T, name string, args ...string) {
	t.Helper()
	if err := ns.call(func() error { _, err := command(name, args...); return err }); err != nil {
		t.Fatal(err)
	}
}

// nftList returns `nft list table ip berth` in the calling goroutine's
// namespace, or "" when nft is not installed.
func nftList(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		return ""
	}
	return run(t, "nft", "list", "table", "ip", TableName)
}
