package container

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A process forked through a parentThread, whose parent-death signal
// watches the forking thread, outlives goroutines that end their threads
// (as link.handleAt does after entering a container's network namespace)
// while the calling goroutine itself is not locked: none of them is ever
// given the thread it was forked on, and later calls run there too.
func TestParentThreadKeepsItsChildren(t *testing.T) {
	var thread parentThread
	defer thread.release()
	var child *exec.Cmd
	var forkTid int
	var err error
	thread.do(func() {
		forkTid = unix.Gettid()
		child = exec.Command("sleep", "60")
		child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		err = child.Start()
	})
	if err != nil {
		t.Skip(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	for round := 0; round < 4; round++ {
		var wg sync.WaitGroup
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
			}()
		}
		wg.Wait()
		runtime.Gosched()
	}
	var ws unix.WaitStatus
	if pid, err := unix.Wait4(child.Process.Pid, &ws, unix.WNOHANG, nil); err != nil || pid != 0 {
		t.Fatalf("the child forked on the parent thread ended (%v, %v): its thread was ended", ws, err)
	}
	thread.do(func() {
		if tid := unix.Gettid(); tid != forkTid {
			t.Errorf("a later call ran on thread %d, the fork on %d", tid, forkTid)
		}
	})
}

// A nil parentThread (a detached container) runs calls on the caller's
// goroutine.
func TestNilParentThreadRunsInline(t *testing.T) {
	var thread *parentThread
	ran := false
	thread.do(func() { ran = true })
	thread.release()
	if !ran {
		t.Fatal("the call did not run")
	}
}
