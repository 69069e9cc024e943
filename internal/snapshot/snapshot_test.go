package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func layers(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for _, name := range []string{"top", "bottom"} {
		p := filepath.Join(dir, name, "diff")
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestCreateOverlay(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	lower := layers(t)
	snap, err := s.Create("c1", "sha256:img", lower, Overlay, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := snap.Overlay
	if o == nil || o.LayersDir != filepath.Dir(filepath.Dir(lower[0])) || strings.Join(o.Lower, ":") != "top/diff:bottom/diff" {
		t.Fatalf("overlay %+v", o)
	}
	for _, d := range []string{snap.Rootfs, o.Upper, o.Work} {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	if !s.InUse("sha256:img") || s.InUse("sha256:other") {
		t.Error("InUse does not see the live snapshot's image")
	}
	s.Collect()
	if _, err := os.Stat(snap.Rootfs); err != nil {
		t.Errorf("Collect removed a snapshot whose owner is alive: %v", err)
	}
	if _, err := s.Create("c1", "sha256:img", lower, Overlay, nil); err == nil {
		t.Error("a second snapshot with the same ID was created")
	}
	if err := snap.Remove(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(s.Dir); len(ents) != 0 {
		t.Errorf("left after Remove: %v", ents)
	}
}

func TestCreateCopy(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	snap, err := s.Create("c2", "sha256:img", layers(t), Copy, func(dst string) error {
		return os.WriteFile(filepath.Join(dst, "hello"), []byte("hi"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Overlay != nil {
		t.Error("a copy has an overlay")
	}
	if b, err := os.ReadFile(filepath.Join(snap.Rootfs, "hello")); err != nil || string(b) != "hi" {
		t.Errorf("copied file: %q %v", b, err)
	}
	snap.Remove()
}

func TestFailedCopyLeavesNothing(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	_, err := s.Create("c3", "sha256:img", layers(t), Copy, func(string) error { return os.ErrPermission })
	if err == nil {
		t.Fatal("no error")
	}
	if ents, _ := os.ReadDir(s.Dir); len(ents) != 0 {
		t.Errorf("left after a failed create: %v", ents)
	}
}

// TestCollectDeadOwner: a snapshot whose lock is free (its berth died:
// the kernel dropped the lock) is collected, and no longer counts as a
// use of its image.
func TestCollectDeadOwner(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	snap, err := s.Create("c4", "sha256:img", layers(t), Overlay, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap.lock.Close() // what the kernel does when the owner dies
	if s.InUse("sha256:img") {
		t.Error("a dead owner's snapshot counts as in use")
	}
	s.Collect()
	if ents, _ := os.ReadDir(s.Dir); len(ents) != 0 {
		t.Errorf("not collected: %v", ents)
	}
}

func TestParseDriver(t *testing.T) {
	for in, want := range map[string]Driver{"overlay": Overlay, "vfs": Copy, "": DefaultDriver()} {
		if got, err := ParseDriver(in); err != nil || got != want {
			t.Errorf("ParseDriver(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseDriver("btrfs"); err == nil || !strings.Contains(err.Error(), "use overlay or vfs") {
		t.Errorf("ParseDriver(btrfs): %v", err)
	}
}
