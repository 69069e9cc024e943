package container

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestForwardingFansOut: every run subscribed gets each forwarded signal,
// one unsubscribed gets none, and with no run subscribed the signal is
// dropped rather than taking its default action (SIGUSR2's would end the
// test binary).
func TestForwardingFansOut(t *testing.T) {
	a, b := make(chan os.Signal, 1), make(chan os.Signal, 1)
	subscribeSignals(a)
	subscribeSignals(b)
	recv := func(c chan os.Signal, who string) {
		t.Helper()
		select {
		case sig := <-c:
			if sig != unix.SIGUSR2 {
				t.Errorf("%s got %v, want SIGUSR2", who, sig)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s got no signal", who)
		}
	}
	if err := unix.Kill(os.Getpid(), unix.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	recv(a, "a")
	recv(b, "b")
	unsubscribeSignals(a)
	if err := unix.Kill(os.Getpid(), unix.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	recv(b, "b")
	select {
	case sig := <-a:
		t.Errorf("a got %v after it unsubscribed", sig)
	default:
	}
	unsubscribeSignals(b)
	if err := unix.Kill(os.Getpid(), unix.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // still here
}
