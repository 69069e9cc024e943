package image

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestCreateOnBase(t *testing.T) {
	s, reg, a, _ := twoImages(t)
	release, err := s.Hold()
	must(t, err)
	l, err := s.StoreLayer(func(w io.Writer) error {
		_, err := w.Write(mkTar(t, file("new", "new\n"), whiteout("base.wh")))
		return err
	})
	must(t, err)
	created := time.Unix(1700000000, 0).UTC()
	img, err := s.Create(context.Background(), NewImage{
		Base: reg.host + "/a:1", Layers: []Layer{l},
		Config:  v1.Config{Cmd: []string{"cat", "/new"}, Env: []string{"A=1"}},
		History: []v1.History{{Created: v1.Time{Time: created}, CreatedBy: "berth commit", Comment: "c"}},
		Author:  "me", Created: created, Names: []string{"made:1"},
	})
	release()
	must(t, err)
	if len(img.Layers) != len(diffIDs(t, a))+1 || img.Layers[len(img.Layers)-1] != l {
		t.Fatalf("layers %+v", img.Layers)
	}
	got, err := s.Get("made:1")
	must(t, err)
	if got.ID != img.ID {
		t.Fatalf("made:1 is %s, want %s", got.ID, img.ID)
	}
	cf, err := s.configFile(img.ID)
	must(t, err)
	if !slices.Equal(cf.Config.Cmd, []string{"cat", "/new"}) || cf.Author != "me" || !cf.Created.Equal(created) {
		t.Fatalf("config %+v", cf)
	}
	if n := len(cf.RootFS.DiffIDs); n != len(img.Layers) || cf.RootFS.DiffIDs[n-1].String() != l.DiffID {
		t.Fatalf("diff IDs %v", cf.RootFS.DiffIDs)
	}
	if h := cf.History[len(cf.History)-1]; h.CreatedBy != "berth commit" {
		t.Fatalf("history %+v", cf.History)
	}
	dirs, err := s.LowerDirs("made:1")
	must(t, err)
	if b, err := os.ReadFile(filepath.Join(dirs[0], "new")); err != nil || string(b) != "new\n" {
		t.Fatalf("top layer unpacked: %q %v", b, err)
	}
}

func TestCreateScratchAndFailedLayer(t *testing.T) {
	s := newStore(t)
	blobs := func() []string { return readDirNames(t, s.path("blobs", "sha256")) }
	before := blobs()
	_, err := s.StoreLayer(func(w io.Writer) error {
		w.Write(mkTar(t, file("x", "x")))
		return errors.New("walk failed")
	})
	if err == nil {
		t.Fatal("a failed write stored a layer")
	}
	if after := blobs(); len(after) != len(before) || len(readDirNames(t, s.path("tmp"))) != 0 {
		t.Fatalf("a failed layer left blobs %v, tmp %v", after, readDirNames(t, s.path("tmp")))
	}
	l, err := s.StoreLayer(func(w io.Writer) error { _, err := w.Write(mkTar(t, file("x", "x"))); return err })
	must(t, err)
	img, err := s.Create(context.Background(), NewImage{Layers: []Layer{l}, Created: time.Now()})
	must(t, err)
	cf, err := s.configFile(img.ID)
	must(t, err)
	if cf.OS != "linux" || len(cf.RootFS.DiffIDs) != 1 {
		t.Fatalf("scratch config %+v", cf)
	}
	// A layer no image took is discarded whole.
	l2, err := s.StoreLayer(func(w io.Writer) error { _, err := w.Write(mkTar(t, file("y", "y"))); return err })
	must(t, err)
	s.DiscardLayers([]Layer{l, l2})
	h, _ := v1.NewHash(l2.DiffID)
	if s.hasLayer(h) || exists(s.blobPath(hexOf(l2.Digest))) {
		t.Fatal("a discarded layer is still stored")
	}
	if _, err := s.Get(img.ID); err != nil || !exists(s.blobPath(hexOf(l.Digest))) {
		t.Fatalf("the image's own layer was discarded: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// An image with the same layer twice (two empty commits) names its
// directory once: overlay refuses a lower dir given twice.
func TestLowerDirsOnceEach(t *testing.T) {
	s := newStore(t)
	empty := func(w io.Writer) error { _, err := w.Write(mkTar(t)); return err }
	l, err := s.StoreLayer(empty)
	must(t, err)
	other, err := s.StoreLayer(func(w io.Writer) error { _, err := w.Write(mkTar(t, file("x", "x"))); return err })
	must(t, err)
	img, err := s.Create(context.Background(), NewImage{Layers: []Layer{l, other, l}, Created: time.Now()})
	must(t, err)
	dirs, err := s.LowerDirs(img.ID)
	must(t, err)
	if len(dirs) != 2 || dirs[0] != s.layerDir(mustHash(t, l.DiffID)) {
		t.Fatalf("lower dirs %v", dirs)
	}
}

func mustHash(t *testing.T, s string) v1.Hash {
	h, err := v1.NewHash(s)
	must(t, err)
	return h
}
