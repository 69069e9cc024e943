package container

import "runtime"

// parentThread is the OS thread a foreground container's init stage is
// forked on, kept until the container is gone. The parent-death signal
// the init stage sets (PR_SET_PDEATHSIG) watches the thread that forked
// it, not the process: were that thread to end while the container runs,
// the container would be killed. Go ends a thread when a goroutine that
// locked it returns without unlocking, as one that entered a container's
// network namespace does (link.handleAt); only this thread's own
// goroutine runs on it, so that cannot happen to it.
//
// Only the calls made through do run there. berth once locked the caller's
// goroutine for the whole run instead, which made each of its waits (a
// channel, the init stage's socket) a handoff between two OS threads:
// about 45 more context switches per start, and 0.95 of berth-oci's time
// back to back (docs/bench.md).
//
// The zero value starts its goroutine at the first call; a nil
// *parentThread runs calls on the caller's thread (a detached container,
// which outlives its creator anyway).
type parentThread struct {
	calls chan func()
}

// do runs f on the thread and waits for it. f may exec (a handoff to
// berth-monitor), leaving the thread's children to the new program.
func (t *parentThread) do(f func()) {
	if t == nil {
		f()
		return
	}
	done := make(chan struct{})
	call := func() {
		defer close(done)
		f()
	}
	if t.calls == nil {
		t.calls = make(chan func())
		go t.serve(call)
	} else {
		t.calls <- call
	}
	<-done
}

func (t *parentThread) serve(first func()) {
	runtime.LockOSThread()
	first()
	for f := range t.calls {
		f()
	}
	// A call that could not undo a change to the thread (forkInPidNamespace
	// failing to return to its own PID namespace) holds a lock of its
	// own, so the thread is still discarded with this goroutine.
	runtime.UnlockOSThread()
}

// release lets the thread go, once nothing forked on it is alive.
func (t *parentThread) release() {
	if t != nil && t.calls != nil {
		close(t.calls)
	}
}
