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

func TestPrepareOverlay(t *testing.T) {
	dir, lower := t.TempDir(), layers(t)
	snap, err := Prepare(dir, lower, Overlay, nil)
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
	// Prepared again (a restart), the writable layer is kept.
	if err := os.WriteFile(filepath.Join(o.Upper, "changed"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(dir, lower, Overlay, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(o.Upper, "changed")); err != nil {
		t.Errorf("a second Prepare lost the container's changes: %v", err)
	}
	if _, err := Prepare(dir, lower, Copy, nil); err == nil || !strings.Contains(err.Error(), "other storage driver") {
		t.Errorf("copy over an overlay snapshot: %v", err)
	}
}

func TestPrepareCopy(t *testing.T) {
	dir := t.TempDir()
	copies := 0
	fill := func(dst string) error {
		copies++
		return os.WriteFile(filepath.Join(dst, "hello"), []byte("hi"), 0o644)
	}
	snap, err := Prepare(dir, layers(t), Copy, fill)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Overlay != nil {
		t.Error("a copy has an overlay")
	}
	if b, err := os.ReadFile(filepath.Join(snap.Rootfs, "hello")); err != nil || string(b) != "hi" {
		t.Errorf("copied file: %q %v", b, err)
	}
	if _, err := Prepare(dir, layers(t), Copy, fill); err != nil || copies != 1 {
		t.Errorf("second Prepare: %v, %d copies", err, copies)
	}
}

func TestFailedCopyIsRedone(t *testing.T) {
	dir := t.TempDir()
	if _, err := Prepare(dir, layers(t), Copy, func(string) error { return os.ErrPermission }); err == nil {
		t.Fatal("no error")
	}
	if _, err := os.Stat(filepath.Join(dir, copiedMarker)); err == nil {
		t.Error("a failed copy is marked done")
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

// TestMadeWith: what a snapshot was made with is read back as recorded;
// a copy made before the record says the copy driver; none, nothing.
func TestMadeWith(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := MadeWith(dir); ok || err != nil {
		t.Fatalf("nothing made: ok %v %v", ok, err)
	}
	os.WriteFile(filepath.Join(dir, copiedMarker), nil, 0o600)
	if m, ok, err := MadeWith(dir); !ok || err != nil || m.Driver != Copy {
		t.Fatalf("an old copy: %+v %v %v", m, ok, err)
	}
	want := Made{Driver: Overlay, ChownCache: "abc"}
	if err := Record(dir, want); err != nil {
		t.Fatal(err)
	}
	if m, ok, err := MadeWith(dir); !ok || err != nil || m != want {
		t.Fatalf("recorded %+v, read %+v %v %v", want, m, ok, err)
	}
	os.WriteFile(filepath.Join(dir, madeFile), []byte("{"), 0o600)
	if _, _, err := MadeWith(dir); err == nil {
		t.Error("a broken record read without error")
	}
}
