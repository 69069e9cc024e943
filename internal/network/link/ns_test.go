package link

import (
	"runtime"
	"testing"

	"github.com/vishvananda/netns"
)

// newNS creates an unnamed network namespace that lives until the test
// ends. The calling thread is put back in its own namespace before return.
func newNS(tb testing.TB) netns.NsHandle {
	tb.Helper()
	var ns netns.NsHandle
	inNewThread(tb, func() error {
		var err error
		ns, err = netns.New()
		return err
	})
	tb.Cleanup(func() { ns.Close() })
	return ns
}

// inNewThread runs fn on a fresh locked thread that is thrown away
// afterwards, so a namespace switch inside fn cannot leak to other code.
func inNewThread(tb testing.TB, fn func() error) {
	tb.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
}

// inNS runs fn on a throwaway thread inside ns. fn reports failures by
// returning an error (t.Fatal must stay on the test goroutine).
func inNS(tb testing.TB, ns netns.NsHandle, fn func() error) {
	tb.Helper()
	inNewThread(tb, func() error {
		if err := netns.Set(ns); err != nil {
			return err
		}
		return fn()
	})
}
