// Package imagetest builds what the image store's tests and the
// registry's feed it: tar streams, sparse files as GNU tar writes them,
// gzip layers and hostile manifests. Imported by tests only.
package imagetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// Ent is one tar entry for MkTar.
type Ent struct {
	Name, Body, Link string
	Type             byte
	Mode             int64
	UID              int
	Size             int64 // overrides len(Body) in the header when set
	Major, Minor     int64
	PAX              map[string]string
}

// MkTar builds a tar stream. An entry with size set and no body writes its
// header only and ends the stream there (a lying header).
func MkTar(t testing.TB, es ...Ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: e.Type, Mode: e.Mode, Uid: e.UID,
			Size: int64(len(e.Body)), Devmajor: e.Major, Devminor: e.Minor, ModTime: time.Unix(1700000000, 0),
			PAXRecords: e.PAX, Format: tar.FormatPAX}
		if e.Type != tar.TypeReg {
			h.Size = 0
		}
		if e.Size != 0 {
			h.Size = e.Size
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			tw.Flush()
			return buf.Bytes()
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Gz compresses b with gzip.
func Gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// Snapshot lists every path under dir with its size, to show that
// nothing changed there.
func Snapshot(t testing.TB, dir string, skip string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if p == skip {
			return filepath.SkipDir
		}
		info, _ := d.Info()
		out = append(out, p+" "+info.Mode().String())
		return nil
	})
	sort.Strings(out)
	return out
}

// ReadDirNames lists dir's entries by name.
func ReadDirNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range ents {
		ns = append(ns, e.Name())
	}
	return ns
}

// File, Dir, Symlink, Hardlink and Whiteout are the common entries.
func File(name, body string) Ent { return Ent{Name: name, Body: body, Type: tar.TypeReg, Mode: 0o644} }
func Dir(name string) Ent        { return Ent{Name: name, Type: tar.TypeDir, Mode: 0o755} }
func Symlink(name, to string) Ent {
	return Ent{Name: name, Link: to, Type: tar.TypeSymlink, Mode: 0o777}
}
func Hardlink(name, to string) Ent { return Ent{Name: name, Link: to, Type: tar.TypeLink, Mode: 0o644} }
func Whiteout(name string) Ent     { return File(name, "") }
