package main

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeArchive writes a tar.gz holding entries (name → content; a name
// ending in / is a directory).
func writeArchive(t *testing.T, path string, entries map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for name, body := range entries {
		h := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(name, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	f.Close()
}

func TestCheckpointTarballRoundTrip(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "images")
	os.WriteFile(filepath.Join(src, "inventory.img"), []byte("inv"), 0o600)
	os.WriteFile(filepath.Join(src, "descriptors.json"), []byte("[]"), 0o600)
	archive := filepath.Join(t.TempDir(), "c.tar.gz")
	if err := writeTarball(archive, src); err != nil {
		t.Fatal(err)
	}
	if err := readTarball(archive, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "inventory.img")); string(b) != "inv" {
		t.Errorf("inventory.img: %q", b)
	}
}

// TestImportRefusesEscapes: an archive cannot write outside the
// checkpoint directory, through a path, a hidden name or a directory.
func TestImportRefusesEscapes(t *testing.T) {
	for _, name := range []string{"../evil", "/etc/evil", "sub/x", ".hidden", "dir/"} {
		base := t.TempDir()
		dst := filepath.Join(base, "images")
		archive := filepath.Join(base, "c.tar.gz")
		writeArchive(t, archive, map[string]string{name: "x"})
		err := readTarball(archive, dst)
		if err == nil || !strings.Contains(err.Error(), "unexpected entry") {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(base, "evil")); err == nil {
			t.Errorf("%s: written outside the directory", name)
		}
	}
}
