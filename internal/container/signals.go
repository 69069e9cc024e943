package container

import (
	"os"
	"os/signal"
	"sync"
)

// forwarding is the process's one registration of ForwardedSignals with
// the Go runtime, made by its first foreground run and kept for the
// process's life; each run subscribes to it and unsubscribes again.
//
// Each signal's first signal.Notify in a process, and its last
// signal.Stop, is a round trip with the Go runtime's signal goroutine,
// which is locked to an OS thread of its own: two thread switches per
// signal, six signals. A run that registered and dropped them itself paid
// twelve round trips, and every foreground berth and berth-oci run is
// one; a process that runs many (a monitor's restarts, a build's steps)
// paid them each time. Kept registered, a forwarded signal that comes
// when no run is subscribed is dropped here: berth cleaning up after its
// container is not killed by a late SIGTERM or SIGHUP halfway through.
var forwarding struct {
	once sync.Once
	mu   sync.Mutex
	subs map[chan<- os.Signal]struct{}
}

// subscribeSignals has c receive each forwarded signal from now on, as
// signal.Notify would; the first call in the process registers them with
// the runtime. Like signal.Notify it does not block sending: c needs a
// buffer.
func subscribeSignals(c chan<- os.Signal) {
	forwarding.once.Do(func() {
		forwarding.subs = map[chan<- os.Signal]struct{}{}
		all := make(chan os.Signal, 16)
		signal.Notify(all, ForwardedSignals...)
		go fanOut(all)
	})
	forwarding.mu.Lock()
	forwarding.subs[c] = struct{}{}
	forwarding.mu.Unlock()
}

// unsubscribeSignals ends what subscribeSignals began: c receives no
// signal after it returns.
func unsubscribeSignals(c chan<- os.Signal) {
	forwarding.mu.Lock()
	delete(forwarding.subs, c)
	forwarding.mu.Unlock()
}

// fanOut passes each signal of all to every subscriber, dropping it for
// one whose buffer is full, as the runtime does.
func fanOut(all <-chan os.Signal) {
	for sig := range all {
		forwarding.mu.Lock()
		for c := range forwarding.subs {
			select {
			case c <- sig:
			default:
			}
		}
		forwarding.mu.Unlock()
	}
}
