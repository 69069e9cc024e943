package archive

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// overlayFixture mounts an overlay of a lower dir made by the test, lets
// change act on the merged tree, unmounts it and returns upper and lower.
func overlayFixture(t *testing.T, change func(merged string)) (upper string, lower []string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount overlay")
	}
	dir := t.TempDir()
	lo, up, work, merged := filepath.Join(dir, "lower"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{lo + "/etc", lo + "/gone/sub", lo + "/keep", up, work, merged} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(lo+"/etc/a", []byte("a\n"), 0o644))
	must(t, os.WriteFile(lo+"/etc/b", []byte("b\n"), 0o644))
	must(t, os.WriteFile(lo+"/gone/sub/old", []byte("old\n"), 0o644))
	must(t, os.WriteFile(lo+"/keep/k", []byte("k\n"), 0o644))
	opts := "lowerdir=" + lo + ",upperdir=" + up + ",workdir=" + work
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Skipf("overlay: %v", err)
	}
	mounted := true
	t.Cleanup(func() {
		if mounted {
			_ = unix.Unmount(merged, unix.MNT_DETACH)
		}
	})
	change(merged)
	must(t, unix.Unmount(merged, 0))
	mounted = false
	return up, []string{lo}
}

type entry struct {
	name     string
	typ      byte
	uid, gid int
	body     string
	link     string
	pax      map[string]string
	mtime    time.Time
}

func readTar(t *testing.T, b []byte) []entry {
	t.Helper()
	var out []entry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		must(t, err)
		body, err := io.ReadAll(tr)
		must(t, err)
		out = append(out, entry{h.Name, h.Typeflag, h.Uid, h.Gid, string(body), h.Linkname, h.PAXRecords, h.ModTime})
	}
}

func TestWriteLayerFromOverlay(t *testing.T) {
	upper, lower := overlayFixture(t, func(m string) {
		must(t, os.WriteFile(m+"/etc/a", []byte("changed\n"), 0o600))
		must(t, os.Remove(m+"/etc/b"))
		must(t, os.RemoveAll(m+"/gone"))
		must(t, os.MkdirAll(m+"/gone", 0o755)) // recreated: opaque
		must(t, os.WriteFile(m+"/gone/new", []byte("new\n"), 0o644))
		must(t, os.WriteFile(m+"/n1", []byte("linked\n"), 0o755))
		must(t, os.Link(m+"/n1", m+"/n2"))
		must(t, os.Symlink("/etc/shadow", m+"/sym"))
		must(t, unix.Setxattr(m+"/n1", "user.note", []byte("hi"), 0))
		must(t, os.Chown(m+"/n1", 100005, 100007))
		must(t, os.MkdirAll(m+"/mnt/vol", 0o755))
	})
	changes, err := Diff(upper, lower)
	must(t, err)
	changes = WithoutMountPoints(changes, []string{"/mnt/vol"}, upper, lower, IDMaps{})
	epoch := time.Unix(1700000000, 0)
	maps := IDMaps{UIDs: []IDMapping{{0, 100000, 65536}}, GIDs: []IDMapping{{0, 100000, 65536}}}
	var buf bytes.Buffer
	must(t, WriteLayer(&buf, upper, changes, LayerOptions{Maps: maps, ModTime: &epoch}))
	got := readTar(t, buf.Bytes())
	var names []string
	byName := map[string]entry{}
	for _, e := range got {
		names = append(names, e.name)
		byName[e.name] = e
		if !e.mtime.Equal(epoch) {
			t.Errorf("%s: mtime %v, want %v", e.name, e.mtime, epoch)
		}
	}
	want := []string{"etc/", "etc/a", "etc/.wh.b", "gone/", "gone/.wh..wh..opq", "gone/new", "n1", "n2", "sym"}
	if len(names) != len(want) {
		t.Fatalf("entries %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("entries %q, want %q", names, want)
		}
	}
	if e := byName["etc/a"]; e.body != "changed\n" || e.typ != tar.TypeReg {
		t.Errorf("etc/a: %+v", e)
	}
	if e := byName["n1"]; e.uid != 5 || e.gid != 7 || e.pax["SCHILY.xattr.user.note"] != "hi" {
		t.Errorf("n1: owner %d:%d (want 5:7 through the mapping), xattrs %v", e.uid, e.gid, e.pax)
	}
	if e := byName["n2"]; e.typ != tar.TypeLink || e.link != "n1" {
		t.Errorf("n2: want a hard link to n1, got %+v", e)
	}
	if e := byName["sym"]; e.typ != tar.TypeSymlink || e.link != "/etc/shadow" {
		t.Errorf("sym: %+v", e)
	}
	for _, e := range got {
		for k := range e.pax {
			if bytes.Contains([]byte(k), []byte("overlay")) {
				t.Errorf("%s carries overlay's xattr %s", e.name, k)
			}
		}
	}
	// The same upper layer, written again, is the same bytes.
	var again bytes.Buffer
	must(t, WriteLayer(&again, upper, changes, LayerOptions{Maps: maps, ModTime: &epoch}))
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two writes of the same layer differ")
	}
}

// A symlink in the upper layer that a later change path crosses stays
// inside the upper layer.
func TestWriteLayerStaysInUpper(t *testing.T) {
	dir := t.TempDir()
	upper := filepath.Join(dir, "upper")
	must(t, os.MkdirAll(upper, 0o755))
	secret := filepath.Join(dir, "secret")
	must(t, os.MkdirAll(secret, 0o755))
	must(t, os.WriteFile(secret+"/key", []byte("host secret"), 0o600))
	must(t, os.Symlink(secret, upper+"/d"))
	var buf bytes.Buffer
	err := WriteLayer(&buf, upper, []Change{{Added, "/d/key"}}, LayerOptions{})
	if err == nil && bytes.Contains(buf.Bytes(), []byte("host secret")) {
		t.Fatal("the layer holds a host file reached through the container's symlink")
	}
}

// A mount point's parents made for it alone are no change; one that
// holds a file of the container's is.
func TestWithoutMountParents(t *testing.T) {
	changes := []Change{{Added, "/a"}, {Added, "/a/b"}, {Added, "/a/b/mnt"}, {Added, "/keep"}, {Added, "/keep/f"}, {Added, "/keep/mnt"}, {Added, "/solo"}}
	got := WithoutMountPoints(changes, []string{"/a/b/mnt", "/keep/mnt"}, t.TempDir(), nil, IDMaps{})
	want := []Change{{Added, "/keep"}, {Added, "/keep/f"}, {Added, "/solo"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
