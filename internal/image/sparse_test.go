package image

import (
	"bytes"
	"github.com/berth-runtime/berth/internal/image/imagetest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// segment is a stretch of data in a sparse file; the rest is holes.
type segment struct {
	off  int64
	data string
}

// sparseFormats are the ways GNU tar writes a sparse file.
var sparseFormats = imagetest.SparseFormats

// sparseTar builds a tar stream holding one sparse file of size bytes in
// format, byte for byte as GNU tar writes it (imagetest.SparseTar).
func sparseTar(t testing.TB, format, name string, size int64, segs ...segment) []byte {
	t.Helper()
	out := make([]imagetest.Segment, len(segs))
	for i, s := range segs {
		out[i] = imagetest.Segment{Off: s.off, Data: s.data}
	}
	return imagetest.SparseTar(t, format, name, size, out...)
}

// TestUnpackSparseStaysSparse: a sparse file of every GNU format unpacks
// to its contents and its size, and takes the disk its data needs, not
// its size in zeros.
func TestUnpackSparseStaysSparse(t *testing.T) {
	const size = 64 << 20
	segs := []segment{{0, "head"}, {size / 2, strings.Repeat("m", 5000)}, {size - 3, "end"}}
	for _, format := range sparseFormats {
		t.Run(format, func(t *testing.T) {
			layer := t.TempDir()
			b := sparseTar(t, format, "disk.img", size, segs...)
			if _, err := unpackLimited(bytes.NewReader(b), layer, Limits{ImageBytes: 1 << 30, LayerEntries: 100}); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(layer, "disk.img")
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, s := range segs {
				got := make([]byte, len(s.data))
				if _, err := f.ReadAt(got, s.off); err != nil || string(got) != s.data {
					t.Errorf("at %d: %.10q %v, want %.10q", s.off, got, err, s.data)
				}
			}
			zero := make([]byte, 4096)
			if _, err := f.ReadAt(zero, size/4); err != nil || !bytes.Equal(zero, make([]byte, 4096)) {
				t.Errorf("a hole reads %v %v", zero[:8], err)
			}
			var st unix.Stat_t
			if err := unix.Stat(p, &st); err != nil {
				t.Fatal(err)
			}
			if st.Size != size {
				t.Errorf("size %d, want %d", st.Size, size)
			}
			if used := st.Blocks * 512; used > 1<<20 {
				t.Errorf("the sparse file takes %d bytes of disk for %d bytes of data: its holes were written as zeros", used, 5007)
			}
		})
	}
}

// TestMaterializeSparseStaysSparse: the vfs driver's copy of a layer
// keeps a sparse file's holes too (copy_file_range alone writes them
// out as zeros).
func TestMaterializeSparseStaysSparse(t *testing.T) {
	const size = 64 << 20
	segs := []segment{{0, "head"}, {size / 2, "middle"}, {size - 3, "end"}}
	reg := newRegistry(t, false)
	reg.push(t, "sparse:1", mkImage(t, "amd64", sparseTar(t, "pax1.0", "disk.img", size, segs...)))
	s := newStore(t)
	pull(t, s, reg.host+"/sparse:1")
	dst := filepath.Join(t.TempDir(), "rootfs")
	if err := s.Materialize(reg.host+"/sparse:1", dst); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dst, "disk.img")
	b, err := os.ReadFile(p)
	if err != nil || len(b) != size {
		t.Fatalf("read %d bytes: %v", len(b), err)
	}
	for _, s := range segs {
		if got := string(b[s.off : s.off+int64(len(s.data))]); got != s.data {
			t.Errorf("at %d: %q, want %q", s.off, got, s.data)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	if used := st.Blocks * 512; used > 1<<20 {
		t.Errorf("the copy takes %d bytes of disk: its holes were written as zeros", used)
	}
}
