package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func writeFile(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func importOne(t *testing.T, s *Store, path string, o ImportOptions) *Image {
	t.Helper()
	imgs, err := s.Import(context.Background(), path, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 {
		t.Fatalf("%d images", len(imgs))
	}
	return imgs[0]
}

func TestImportRootfs(t *testing.T) {
	s := newStore(t)
	p := writeFile(t, gz(t, mkTar(t, dir("bin"), file("bin/sh", "sh"), file("etc/hostname", "h"))))
	img := importOne(t, s, p, ImportOptions{Name: "myroot:1"})
	if !slices.Equal(img.Names, []string{"docker.io/library/myroot:1"}) || len(img.Layers) != 1 {
		t.Fatalf("%+v", img)
	}
	dirs, err := s.LowerDirs("myroot:1")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dirs[0], "bin/sh")); string(b) != "sh" {
		t.Error("rootfs content")
	}
	c, err := s.Config("myroot:1")
	if err != nil || c.OS != "linux" || c.Architecture != runtime.GOARCH {
		t.Errorf("config %+v %v", c, err)
	}
	// Untagged without a name.
	if img := importOne(t, s, writeFile(t, mkTar(t, file("x", "y"))), ImportOptions{}); len(img.Names) != 0 {
		t.Errorf("names %v", img.Names)
	}
}

func TestImportRefusesHostileLayer(t *testing.T) {
	zeros := string(make([]byte, 4<<20))
	cases := map[string][]byte{
		"escape":        mkTar(t, file("ok", "ok"), file("../../x", "x")),
		"big file":      gz(t, mkTar(t, file("bomb", zeros))),
		"after the end": gz(t, append(mkTar(t, file("ok", "ok")), zeros...)),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			s.Limits.ImageBytes = 1 << 20
			_, err := s.Import(context.Background(), writeFile(t, b), ImportOptions{Name: "bad"})
			if !errors.Is(err, ErrUnsafeLayer) && !errors.Is(err, ErrLimit) {
				t.Fatalf("got %v", err)
			}
			nothingLeft(t, s)
		})
	}
}

func TestImportOCILayout(t *testing.T) {
	img := mkImage(t, "amd64", mkTar(t, file("a", "a")))
	other := mkImage(t, "arm64", mkTar(t, file("b", "b")))
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{annotationRefName: "docker.io/library/lay:1"})); err != nil {
		t.Fatal(err)
	}
	var idx v1.ImageIndex = empty.Index
	for _, i := range []v1.Image{img, other} {
		cf, _ := i.ConfigFile()
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: i, Descriptor: v1.Descriptor{Platform: cf.Platform()}})
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{annotationName: "docker.io/library/multi:1"})); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	imgs, err := s.Import(context.Background(), dir, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 || imgs[0].ID != configDigest(t, img) || !slices.Equal(imgs[0].Names, []string{"docker.io/library/lay:1"}) {
		t.Fatalf("%+v", imgs)
	}
	if runtime.GOARCH == "amd64" && imgs[1].ID != configDigest(t, img) {
		t.Errorf("index: picked %s", imgs[1].ID)
	}
	// The same layout as a tar.
	s2 := newStore(t)
	imgs2, err := s2.Import(context.Background(), writeFile(t, tarDir(t, dir)), ImportOptions{})
	if err != nil || len(imgs2) != 2 || imgs2[0].ID != imgs[0].ID {
		t.Fatalf("layout tar: %v", err)
	}
}

// tarDir tars a directory's files.
func tarDir(t *testing.T, dir string) []byte {
	var es []ent
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if rel != "." {
				es = append(es, ent{name: rel + "/", typ: tar.TypeDir, mode: 0o755})
			}
			return nil
		}
		b, _ := os.ReadFile(p)
		es = append(es, file(rel, string(b)))
		return nil
	})
	return mkTar(t, es...)
}

func TestImportDockerSave(t *testing.T) {
	img := mkImage(t, "amd64", mkTar(t, file("a", "a")), mkTar(t, file("b", "b")))
	tag, _ := name.NewTag("saved:1")
	p := filepath.Join(t.TempDir(), "save.tar")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	got := importOne(t, s, p, ImportOptions{})
	if got.ID != configDigest(t, img) || !slices.Equal(got.Names, []string{"docker.io/library/saved:1"}) {
		t.Fatalf("%+v", got)
	}
	if dirs, err := s.LowerDirs("saved:1"); err != nil || len(dirs) != 2 {
		t.Fatal(err)
	}
}

// TestImportOldDockerSave reads the layout of docker save before Docker
// 25: uncompressed layer.tar files, a repeated layer as a symlink.
func TestImportOldDockerSave(t *testing.T) {
	l1 := mkTar(t, file("one", "1"))
	diff := fmt.Sprintf("sha256:%x", sha256.Sum256(l1))
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diff, diff}}})
	man, _ := json.Marshal([]dockerManifest{{Config: "cfg.json", RepoTags: []string{"old:1"}, Layers: []string{"aa/layer.tar", "bb/layer.tar"}}})
	b := mkTar(t, file("cfg.json", string(cfg)), dir("aa"), file("aa/layer.tar", string(l1)), dir("bb"),
		symlink("bb/layer.tar", "../aa/layer.tar"), file("manifest.json", string(man)))
	s := newStore(t)
	got := importOne(t, s, writeFile(t, b), ImportOptions{})
	if got.ID != fmt.Sprintf("sha256:%x", sha256.Sum256(cfg)) || got.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar" {
		t.Fatalf("%+v", got)
	}
}

func TestExportRoundTrip(t *testing.T) {
	reg := newRegistry(t, false)
	img := mkImage(t, "amd64", mkTar(t, file("a", "a")), mkTar(t, file("b", randomBytes(5000))))
	reg.push(t, "app:1", img)
	s := newStore(t)
	orig := pull(t, s, reg.host+"/app:1")
	s.Tag(orig.ID, "docker.io/library/second:2")
	var buf bytes.Buffer
	if err := s.Export(&buf, []string{reg.host + "/app:1", "second:2"}); err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, buf.Bytes())
	s2 := newStore(t)
	imgs, err := s2.Import(context.Background(), p, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 || imgs[0].ID != orig.ID || imgs[1].ID != orig.ID {
		t.Fatalf("%+v", imgs)
	}
	got, _ := s2.Get(orig.ID)
	if !slices.Equal(got.Names, []string{reg.host + "/app:1", "docker.io/library/second:2"}) {
		t.Errorf("names %v", got.Names)
	}
	// Docker's reader (go-containerregistry's tarball) sees the same image.
	tag, _ := name.NewTag("second:2")
	ti, err := tarball.ImageFromPath(p, &tag)
	if err != nil {
		t.Fatal(err)
	}
	if id := configDigest(t, ti); id != orig.ID {
		t.Errorf("docker view: %s", id)
	}
	// And as an OCI layout, with the manifest byte for byte.
	ents := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		ents[h.Name] = true
	}
	if !ents["oci-layout"] || !ents["index.json"] || !ents[blobName(orig.Manifest)] {
		t.Errorf("not an OCI layout: %v", ents)
	}
}
