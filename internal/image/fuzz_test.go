package image

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzUnpack feeds arbitrary tar streams to unpack: whatever it accepts
// or refuses, nothing may appear or change outside the layer directory.
func FuzzUnpack(f *testing.F) {
	seeds := [][]ent{
		{file("../../etc/x", "x")},
		{symlink("a", "/etc"), file("a/passwd", "x")},
		{symlink("b", "../../"), dir("b/c"), file("b/c/d", "x")},
		{file("t", "t"), hardlink("h", "../t"), hardlink("g", "/t")},
		{dir("d"), whiteout("d/.wh..wh..opq"), whiteout(".wh.d"), dir("d"), file("d/x", "x")},
		{ent{name: "dev", typ: tar.TypeBlock, major: 8}, ent{name: "p", typ: tar.TypeFifo, mode: 0o600}},
	}
	for _, es := range seeds {
		f.Add(mkTar(f, es...))
	}
	// Sparse files in each GNU format: one that fits, one claiming a
	// terabyte, one whose map overlaps and runs past its size.
	for _, format := range sparseFormats {
		f.Add(sparseTar(f, format, "s", 64<<10, segment{0, "a"}, segment{32 << 10, "b"}))
		f.Add(sparseTar(f, format, "bomb", 1<<40, segment{0, "x"}, segment{1<<40 - 1, "y"}))
		f.Add(sparseTar(f, format, "bad", 100, segment{50, "xxxxxxxx"}, segment{52, "yy"}, segment{99, "zz"}))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		base := t.TempDir()
		os.WriteFile(filepath.Join(base, "secret"), []byte("host"), 0o600)
		layer := filepath.Join(base, "a", "b", "layer")
		os.MkdirAll(layer, 0o700)
		before := snapshot(t, base, layer)
		unpackLimited(bytes.NewReader(b), layer, Limits{ImageBytes: 1 << 20, LayerEntries: 1000})
		if after := snapshot(t, base, layer); !slices.Equal(before, after) {
			t.Fatalf("outside the layer changed:\nbefore %v\nafter  %v", before, after)
		}
	})
}
