package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

var testLimits = Limits{ImageBytes: 1 << 20, LayerEntries: 100}

// unpackLimited unpacks r into layer as a store does, the stream and the
// sparse files charged to one image's budget of lim.ImageBytes.
func unpackLimited(r io.Reader, layer string, lim Limits) (unpackStats, error) {
	b := newBudget(lim.ImageBytes)
	return unpack(&capReader{r: r, b: b}, layer, lim, b)
}

// unpackIn unpacks b into a layer directory inside a sentinel directory
// and checks that nothing outside the layer changed, whatever happened.
func unpackIn(t *testing.T, b []byte) (string, unpackStats, error) {
	t.Helper()
	base := t.TempDir()
	os.WriteFile(filepath.Join(base, "secret"), []byte("host"), 0o600)
	os.Mkdir(filepath.Join(base, "etc"), 0o755)
	layer := filepath.Join(base, "l1", "l2", "layer")
	os.MkdirAll(layer, 0o700)
	before := snapshot(t, base, layer)
	st, err := unpackLimited(bytes.NewReader(b), layer, testLimits)
	if after := snapshot(t, base, layer); !slices.Equal(before, after) {
		t.Errorf("outside the layer changed:\nbefore %v\nafter  %v", before, after)
	}
	return layer, st, err
}

func TestUnpackRefusesEscapes(t *testing.T) {
	sentinel := t.TempDir()
	cases := map[string][]ent{
		"dotdot":             {file("../../etc/x", "x")},
		"dotdot inside":      {dir("a"), file("a/../../secret", "x")},
		"through abs link":   {symlink("a", "/etc"), file("a/passwd", "x")},
		"through abs link 2": {symlink("a", sentinel), file("a/x", "x")},
		"through rel link":   {symlink("b", "../../"), file("b/secret", "x")},
		"link dir chain":     {dir("d"), symlink("d/up", "../../.."), dir("d/up/etc")},
		"hardlink abs host":  {hardlink("pw", "/etc/passwd")},
		"hardlink outside":   {hardlink("x", "../outside")},
		"hardlink sentinel":  {hardlink("x", filepath.Join(sentinel, "f"))},
		"hardlink via link":  {symlink("a", sentinel), hardlink("x", "a/f")},
		"through a file":     {file("f", "x"), file("f/g", "y")},
		"whiteout dotdot":    {file(".wh..", "")},
		"root replaced":      {file(".", "x")},
	}
	os.WriteFile(filepath.Join(sentinel, "f"), []byte("host"), 0o600)
	for name, es := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := unpackIn(t, mkTar(t, es...))
			if !errors.Is(err, ErrUnsafeLayer) {
				t.Fatalf("want ErrUnsafeLayer, got %v", err)
			}
			if ns := readDirNames(t, sentinel); !slices.Equal(ns, []string{"f"}) {
				t.Fatalf("sentinel dir now has %v", ns)
			}
		})
	}
	var st unix.Stat_t
	unix.Stat("/etc/passwd", &st)
	if st.Nlink != 1 {
		t.Errorf("/etc/passwd has %d links", st.Nlink)
	}
}

func TestUnpackPolicy(t *testing.T) {
	b := mkTar(t,
		file("/abs", "stripped"),
		file("./dot/./f", "dot"),
		ent{name: "suid", body: "#!", typ: tar.TypeReg, mode: 0o4755, uid: 1000},
		ent{name: "null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		ent{name: "sda", typ: tar.TypeBlock, mode: 0o660, major: 8},
		ent{name: "fifo", typ: tar.TypeFifo, mode: 0o640},
		symlink("etc", "/etc"),
		symlink("up", "../../.."),
		file("target", "t"),
		hardlink("hl", "/target"),
		hardlink("hlsym", "up"),
		ent{name: "x", body: "x", typ: tar.TypeReg, mode: 0o644, pax: map[string]string{
			"SCHILY.xattr.user.keep": "1", "SCHILY.xattr.trusted.overlay.redirect": "/etc"}},
	)
	layer, st, err := unpackIn(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(layer, "abs")); string(got) != "stripped" {
		t.Errorf("/abs: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(layer, "dot/f")); string(got) != "dot" {
		t.Errorf("./dot/./f: %q", got)
	}
	var s unix.Stat_t
	if err := unix.Lstat(filepath.Join(layer, "suid"), &s); err != nil || s.Mode&0o7777 != 0o4755 || s.Uid != 1000 {
		t.Errorf("suid: mode %o uid %d err %v", s.Mode&0o7777, s.Uid, err)
	}
	if exists(filepath.Join(layer, "null")) || exists(filepath.Join(layer, "sda")) || st.DroppedDevices != 2 {
		t.Errorf("devices: dropped %d", st.DroppedDevices)
	}
	if unix.Lstat(filepath.Join(layer, "fifo"), &s) != nil || s.Mode&unix.S_IFMT != unix.S_IFIFO || s.Mode&0o777 != 0o640 {
		t.Errorf("fifo: mode %o", s.Mode)
	}
	if l, _ := os.Readlink(filepath.Join(layer, "up")); l != "../../.." {
		t.Errorf("symlink kept verbatim: %q", l)
	}
	var a, h unix.Stat_t
	unix.Lstat(filepath.Join(layer, "target"), &a)
	unix.Lstat(filepath.Join(layer, "hl"), &h)
	if a.Ino != h.Ino {
		t.Error("hardlink does not share the inode")
	}
	if unix.Lstat(filepath.Join(layer, "hlsym"), &s) != nil || s.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Error("a hardlink to a symlink must link the symlink")
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(layer, "x"), "user.keep", buf); err != nil || string(buf[:n]) != "1" {
		t.Errorf("user xattr: %v", err)
	}
	if _, err := unix.Lgetxattr(filepath.Join(layer, "x"), "trusted.overlay.redirect", buf); err == nil || st.DroppedXattrs != 1 {
		t.Errorf("trusted.overlay xattr kept (dropped %d)", st.DroppedXattrs)
	}
	if fi, _ := os.Stat(layer); fi.Mode().Perm() != 0o755 {
		t.Errorf("layer root mode %v", fi.Mode())
	}
}

func TestUnpackWhiteouts(t *testing.T) {
	b := mkTar(t,
		dir("d"),
		whiteout("d/.wh..wh..opq"),
		file("d/keep", "k"),
		whiteout(".wh.gone"),
		whiteout("sub/.wh.deep"),
		whiteout(".wh..wh.plnk"),
		whiteout(".wh.redo"), dir("redo"),
	)
	layer, _, err := unpackIn(t, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"gone", "sub/deep"} {
		var s unix.Stat_t
		if err := unix.Lstat(filepath.Join(layer, p), &s); err != nil || !isWhiteout(&s) {
			t.Errorf("%s: not a whiteout (%v)", p, err)
		}
	}
	if !isOpaque(filepath.Join(layer, "d")) || !exists(filepath.Join(layer, "d/keep")) {
		t.Error("d: not opaque, or lost its own file")
	}
	if exists(filepath.Join(layer, ".wh..wh.plnk")) || exists(filepath.Join(layer, ".wh.gone")) {
		t.Error(".wh. files left as files")
	}
	if !isOpaque(filepath.Join(layer, "redo")) {
		t.Error("a directory made again after its whiteout must be opaque")
	}
}

func TestUnpackReplaces(t *testing.T) {
	b := mkTar(t, dir("a"), file("a/x", "1"), file("a", "now a file"), file("b", "f"), dir("b"), file("b/y", "2"))
	layer, _, err := unpackIn(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(layer, "a")); string(got) != "now a file" {
		t.Errorf("a: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(layer, "b/y")); string(got) != "2" {
		t.Errorf("b/y: %q", got)
	}
}

func TestUnpackLimits(t *testing.T) {
	var es []ent
	for i := 0; i < testLimits.LayerEntries+1; i++ {
		es = append(es, file(strings.Repeat("f", 1+i%50)+string(rune('a'+i%26))+string(rune('a'+i/26)), ""))
	}
	_, _, err := unpackIn(t, mkTar(t, es...))
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "more than 100 entries, berth's limit (image.MaxLayerEntries)") {
		t.Errorf("entry cap: %v", err)
	}
	// A header claiming more than the image may still unpack is refused
	// before the file is created.
	layer, _, err := unpackIn(t, mkTar(t, file("a", "x"), ent{name: "big", typ: tar.TypeReg, mode: 0o644, size: 1 << 40}))
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), `entry "big": file of 1.0 TiB: image unpacks to more than berth's limit of 1.0 MiB (image.MaxImageBytes)`) {
		t.Errorf("size lie: %v", err)
	}
	if exists(filepath.Join(layer, "big")) {
		t.Error("the file claiming too much was created")
	}
	long := strings.Repeat("d/", maxPath/2+1) + "f"
	if _, _, err := unpackIn(t, mkTar(t, file(long, ""))); !errors.Is(err, ErrUnsafeLayer) {
		t.Errorf("long path: %v", err)
	}
}
