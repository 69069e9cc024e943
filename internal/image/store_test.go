package image

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// twoImages pushes a:1 and b:1 sharing their bottom layer and pulls both.
func twoImages(t *testing.T) (*Store, *testRegistry, v1.Image, v1.Image) {
	reg := newRegistry(t, false)
	base := mkTar(t, file("base", randomBytes(1000)))
	a := mkImage(t, "amd64", base, mkTar(t, file("a", "a")))
	b := mkImage(t, "amd64", base, mkTar(t, file("b", "b")))
	reg.push(t, "a:1", a)
	reg.push(t, "b:1", b)
	s := newStore(t)
	pull(t, s, reg.host+"/a:1")
	pull(t, s, reg.host+"/b:1")
	return s, reg, a, b
}

func diffIDs(t *testing.T, img v1.Image) []v1.Hash {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.RootFS.DiffIDs
}

func TestRemove(t *testing.T) {
	s, reg, a, b := twoImages(t)
	idA := configDigest(t, a)
	if err := s.Tag(reg.host+"/a:1", "other/a:2"); err != nil {
		t.Fatal(err)
	}
	// One of two names: untagged only, even in use.
	r, err := s.Remove(reg.host+"/a:1", false, func(string) bool { return true })
	if err != nil || len(r.Deleted) != 0 || !slices.Equal(r.Untagged, []string{reg.host + "/a:1"}) {
		t.Fatalf("untag: %+v %v", r, err)
	}
	inUse := func(id string) bool { return id == idA }
	if _, err := s.Remove("other/a:2", false, inUse); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("in-use image removed: %v", err)
	}
	r, err = s.Remove("other/a:2", true, inUse)
	if err != nil || len(r.Deleted) != 0 {
		t.Fatalf("-f on an image in use: %+v %v", r, err)
	}
	img, err := s.Get(idA)
	if err != nil || len(img.Names) != 0 {
		t.Fatalf("an image in use must stay, untagged: %v", err)
	}
	for _, d := range diffIDs(t, a) {
		if !s.hasLayer(d) {
			t.Errorf("layer %s of an image in use deleted", d)
		}
	}
	r, err = s.Remove(idA[7:19], false, func(string) bool { return false })
	if err != nil || !slices.Equal(r.Deleted, []string{idA}) || r.Layers != 1 || r.Blobs != 3 {
		t.Fatalf("remove by ID: %+v %v", r, err)
	}
	da, db := diffIDs(t, a), diffIDs(t, b)
	if !s.hasLayer(da[0]) || s.hasLayer(da[1]) || !s.hasLayer(db[1]) {
		t.Error("wrong layers deleted")
	}
	if _, err := s.Get(idA); !errors.Is(err, ErrNotFound) {
		t.Error("removed image still found")
	}
	if _, err := s.LowerDirs(reg.host + "/b:1"); err != nil {
		t.Error(err)
	}
}

func TestRemoveSeveralNamesByID(t *testing.T) {
	s, reg, a, _ := twoImages(t)
	s.Tag(reg.host+"/a:1", "x:1")
	if _, err := s.Remove(configDigest(t, a), false, nil); err == nil {
		t.Fatal("removed an image with two names by ID without -f")
	}
	if r, err := s.Remove(configDigest(t, a), true, nil); err != nil || len(r.Untagged) != 2 || len(r.Deleted) != 1 {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestPrune(t *testing.T) {
	s, reg, a, b := twoImages(t)
	// a:1 moves to b's image: a's image is dangling.
	if err := s.Tag(reg.host+"/b:1", reg.host+"/a:1"); err != nil {
		t.Fatal(err)
	}
	junk := strings.Repeat("ab", 32)
	os.WriteFile(s.blobPath(junk), []byte("junk"), 0o600)
	os.WriteFile(s.path("tmp", "partial-"+junk), []byte("half"), 0o600)
	os.MkdirAll(s.layerPath(strings.Repeat("cd", 32))+"/diff", 0o755)
	r, err := s.Prune(false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Deleted, []string{configDigest(t, a)}) || r.Layers != 2 || r.Blobs != 4 {
		t.Errorf("pruned %+v", r)
	}
	if len(readDirNames(t, s.path("tmp"))) != 0 {
		t.Error("interrupted downloads not pruned")
	}
	for _, d := range diffIDs(t, b) {
		if !s.hasLayer(d) {
			t.Errorf("a used layer pruned: %s", d)
		}
	}
	for _, n := range readDirNames(t, s.path("locks")) {
		if strings.Contains(n, junk) {
			t.Errorf("lock of a pruned blob kept: %s", n)
		}
	}
	// -a removes tagged images too, unless in use.
	if r, err := s.Prune(true, func(string) bool { return true }); err != nil || len(r.Deleted) != 0 {
		t.Errorf("prune -a of an image in use: %+v %v", r, err)
	}
	if r, err := s.Prune(true, nil); err != nil || len(r.Deleted) != 1 {
		t.Errorf("prune -a: %+v %v", r, err)
	}
	if n := readDirNames(t, s.path("layers")); len(n) != 0 {
		t.Errorf("layers left: %v", n)
	}
}

func TestHoldDelaysPrune(t *testing.T) {
	s, _, _, _ := twoImages(t)
	release, err := s.Hold()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Removed)
	go func() {
		r, _ := s.Prune(true, nil)
		done <- r
	}()
	select {
	case <-done:
		t.Fatal("prune ran during a hold")
	case <-time.After(100 * time.Millisecond):
	}
	release()
	if r := <-done; len(r.Deleted) != 2 {
		t.Errorf("after the hold: %+v", r)
	}
}

func TestOpenCollectsTemp(t *testing.T) {
	s := newStore(t)
	os.MkdirAll(s.path("tmp", "layer-0123-xyz", "diff", "d"), 0o755)
	os.WriteFile(s.path("tmp", "partial-"+strings.Repeat("a", 64)), []byte("x"), 0o600)
	release, err := s.Hold()
	if err != nil {
		t.Fatal(err)
	}
	Open(s.Root())
	if !exists(s.path("tmp", "layer-0123-xyz")) {
		t.Fatal("collected a temp dir while someone was working")
	}
	release()
	Open(s.Root())
	if got := readDirNames(t, s.path("tmp")); !slices.Equal(got, []string{"partial-" + strings.Repeat("a", 64)}) {
		t.Fatalf("tmp after collection: %v", got)
	}
}

// whiteoutImage is two layers: the top deletes /gone, makes /d opaque
// and replaces /d's contents, and changes /f.
func whiteoutImage(t *testing.T) v1.Image {
	return mkImage(t, "amd64",
		mkTar(t, file("gone", "g"), file("kept", "k"), dir("d"), file("d/old", "o"), file("f", "v1"),
			file("l1", "hard"), hardlink("l2", "l1"), symlink("s", "/etc/passwd")),
		mkTar(t, whiteout(".wh.gone"), dir("d"), whiteout("d/.wh..wh..opq"), file("d/new", "n"), file("f", "v2")),
	)
}

func checkWhiteoutView(t *testing.T, root string) {
	t.Helper()
	for p, want := range map[string]string{"kept": "k", "d/new": "n", "f": "v2", "l2": "hard"} {
		if b, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(b) != want {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	for _, p := range []string{"gone", "d/old"} {
		if exists(filepath.Join(root, p)) {
			t.Errorf("%s is visible", p)
		}
	}
	if l, _ := os.Readlink(filepath.Join(root, "s")); l != "/etc/passwd" {
		t.Errorf("symlink %q", l)
	}
}

func TestOverlayOfLowerDirs(t *testing.T) {
	reg := newRegistry(t, false)
	reg.push(t, "w:1", whiteoutImage(t))
	s := newStore(t)
	pull(t, s, reg.host+"/w:1")
	dirs, err := s.LowerDirs(reg.host + "/w:1")
	if err != nil {
		t.Fatal(err)
	}
	merged := t.TempDir()
	if err := unix.Mount("overlay", merged, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(dirs, ":")); err != nil {
		t.Skipf("overlay: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(merged, unix.MNT_DETACH) })
	checkWhiteoutView(t, merged)
}

func TestMaterialize(t *testing.T) {
	reg := newRegistry(t, false)
	reg.push(t, "w:1", whiteoutImage(t))
	s := newStore(t)
	pull(t, s, reg.host+"/w:1")
	dst := filepath.Join(t.TempDir(), "rootfs")
	if err := s.Materialize(reg.host+"/w:1", dst); err != nil {
		t.Fatal(err)
	}
	checkWhiteoutView(t, dst)
	var a, b unix.Stat_t
	unix.Lstat(filepath.Join(dst, "l1"), &a)
	unix.Lstat(filepath.Join(dst, "l2"), &b)
	if a.Ino != b.Ino {
		t.Error("hardlink became a copy")
	}
	filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if d != nil && d.Type()&os.ModeCharDevice != 0 {
			t.Errorf("whiteout device copied: %s", p)
		}
		if d != nil && d.IsDir() && isOpaque(p) {
			t.Errorf("opaque xattr copied: %s", p)
		}
		return nil
	})
	if err := s.Materialize(reg.host+"/w:1", dst); err == nil {
		t.Error("materialized into a non-empty directory")
	}
}

// TestMaterializeShifted: the chowned copy has every owner shifted, and
// keeps what a chown clears (setuid bits, file capabilities), the
// layers' whiteouts, hardlinks, symlinks and extended attributes.
func TestMaterializeShifted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	reg := newRegistry(t, false)
	suid := ent{name: "su", body: "x", typ: tar.TypeReg, mode: 0o4755}
	app := ent{name: "home", typ: tar.TypeDir, mode: 0o700, uid: 1000}
	xa := ent{name: "xa", body: "x", typ: tar.TypeReg, mode: 0o644, pax: map[string]string{"SCHILY.xattr.user.k": "v"}}
	reg.push(t, "s:1", mkImage(t, "amd64",
		mkTar(t, file("gone", "g"), file("l1", "hard"), hardlink("l2", "l1"), symlink("s", "/etc/passwd"), suid, app, xa),
		mkTar(t, whiteout(".wh.gone"))))
	s := newStore(t)
	pull(t, s, reg.host+"/s:1")
	dst := filepath.Join(t.TempDir(), "rootfs")
	shift := func(uid, gid uint32) (uint32, uint32) { return uid + 100000, gid + 200000 }
	if err := s.MaterializeShifted(reg.host+"/s:1", dst, shift); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string][2]uint32{".": {100000, 200000}, "su": {100000, 200000}, "home": {101000, 200000}, "s": {100000, 200000}, "l2": {100000, 200000}} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dst, p), &st); err != nil || [2]uint32{st.Uid, st.Gid} != want {
			t.Errorf("%s: owner %d:%d %v, want %v", p, st.Uid, st.Gid, err, want)
		}
	}
	var su, a, b unix.Stat_t
	unix.Lstat(filepath.Join(dst, "su"), &su)
	unix.Lstat(filepath.Join(dst, "l1"), &a)
	unix.Lstat(filepath.Join(dst, "l2"), &b)
	if su.Mode&0o7777 != 0o4755 {
		t.Errorf("setuid file has mode %o after the chown", su.Mode&0o7777)
	}
	if a.Ino != b.Ino {
		t.Error("hardlink became a copy")
	}
	if exists(filepath.Join(dst, "gone")) {
		t.Error("a whited-out file is in the copy")
	}
	if v := readXattrs(filepath.Join(dst, "xa")); v["user.k"] != "v" {
		t.Errorf("xattrs %v", v)
	}
	// The layers keep their owners.
	dirs, _ := s.LowerDirs(reg.host + "/s:1")
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dirs[len(dirs)-1], "su"), &st); err != nil || st.Uid != 0 {
		t.Errorf("the layer's file changed owner: %d %v", st.Uid, err)
	}
}
