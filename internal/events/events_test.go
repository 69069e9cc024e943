package events

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentAppendsStayWhole: lines written at once by many writers
// are each whole (one O_APPEND write under PIPE_BUF), and an event too
// long for one write loses its labels, not its name.
func TestConcurrentAppendsStayWhole(t *testing.T) {
	j := At(t.TempDir())
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				j.Emit(Container, "start", strings.Repeat("a", 64), map[string]string{"name": "c", "pad": strings.Repeat("x", 1000)})
			}
		}()
	}
	wg.Wait()
	j.Emit(Container, "create", "big", map[string]string{"name": "big", "label": strings.Repeat("y", 5000)})
	var n int
	var last Event
	err := j.Read(context.Background(), ReadOptions{Since: time.Unix(1, 0)}, nil, func(e Event) error {
		n++
		last = e
		return nil
	})
	if err != nil || n != 1601 {
		t.Fatalf("read %d events, %v; want 1601 whole ones", n, err)
	}
	if last.Actor.Attributes["name"] != "big" || last.Actor.Attributes["label"] != "" {
		t.Errorf("long event: %+v", last.Actor)
	}
}

// TestRotationBounded: past MaxSize the journal moves to .1 and a new one
// starts; a reader sees both, oldest first, within --since and --until.
func TestRotationBounded(t *testing.T) {
	j := At(t.TempDir())
	pad := map[string]string{"pad": strings.Repeat("x", 3000)}
	for i := 0; i < 3*MaxSize/3000; i++ {
		j.Emit(Volume, "create", "v", pad)
	}
	st, err := os.Stat(j.Path)
	if err != nil || st.Size() > MaxSize+4096 {
		t.Fatalf("journal %v %v: want it rotated", st, err)
	}
	old, err := os.Stat(j.Path + ".1")
	if err != nil || old.Size() > MaxSize+4096 {
		t.Fatalf("rotated journal %v %v", old, err)
	}
	mid := time.Now()
	time.Sleep(time.Millisecond)
	j.Emit(Network, "create", "n1", nil)
	j.Emit(Network, "destroy", "n1", nil)
	var got []string
	err = j.Read(context.Background(), ReadOptions{Since: mid, Until: time.Now()}, func(e Event) bool { return e.Type == Network }, func(e Event) error {
		got = append(got, e.Action)
		return nil
	})
	if err != nil || strings.Join(got, " ") != "create destroy" {
		t.Errorf("since/until: %v %v", got, err)
	}
}

// TestFollowSeesNewEvents: a follower without --since skips what was
// there, shows what comes next, and ends when its context does.
func TestFollowSeesNewEvents(t *testing.T) {
	j := At(t.TempDir())
	j.Emit(Container, "create", "old", nil)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 4)
	done := make(chan error, 1)
	go func() {
		done <- j.Read(ctx, ReadOptions{Follow: true}, nil, func(e Event) error {
			got <- e.Actor.ID
			return nil
		})
	}()
	// The follower may start after this write: retry until seen.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for seen := false; !seen; {
		select {
		case id := <-got:
			if id != "new" {
				t.Fatalf("follower saw %q", id)
			}
			seen = true
		case <-tick.C:
			j.Emit(Container, "start", "new", nil)
		case <-deadline:
			t.Fatal("follower saw nothing")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("follow ended with %v", err)
	}
}

// BenchmarkEmit is one container event's cost on the start path: an
// open, a write and a close of the journal.
func BenchmarkEmit(b *testing.B) {
	j := At(b.TempDir())
	attrs := map[string]string{"name": "web", "image": "alpine"}
	for i := 0; i < b.N; i++ {
		j.Emit(Container, "start", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", attrs)
	}
}
