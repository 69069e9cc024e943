package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// oldDockerSave is a docker save archive of before Docker 25: plain tar
// layers, which berth stores uncompressed. The config has history.
func oldDockerSave(t *testing.T, tag string, history []v1.History, layers ...[]byte) (path, id string) {
	t.Helper()
	var diffs []string
	var files []string
	var ents []ent
	for i, l := range layers {
		diffs = append(diffs, fmt.Sprintf("sha256:%x", sha256.Sum256(l)))
		files = append(files, fmt.Sprintf("l%d/layer.tar", i))
		ents = append(ents, dir(fmt.Sprintf("l%d", i)), file(files[i], string(l)))
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "history": history,
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffs}})
	man, _ := json.Marshal([]dockerManifest{{Config: "cfg.json", RepoTags: []string{tag}, Layers: files}})
	ents = append(ents, file("cfg.json", string(cfg)), file("manifest.json", string(man)))
	return writeFile(t, mkTar(t, ents...)), fmt.Sprintf("sha256:%x", sha256.Sum256(cfg))
}

func TestHistoryMatchesConfig(t *testing.T) {
	h := []v1.History{
		{CreatedBy: "ADD one /", Comment: "first"},
		{CreatedBy: "ENV A=b", EmptyLayer: true},
		{CreatedBy: "COPY two /"},
	}
	path, id := oldDockerSave(t, "hist:1", h, mkTar(t, file("one", "1")), mkTar(t, file("two", "22")))
	s := newStore(t)
	img := importOne(t, s, path, ImportOptions{})
	got, err := s.History("hist:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != id || got[1].ID != Missing || got[2].ID != Missing {
		t.Fatalf("%+v", got)
	}
	for i, e := range got {
		if e.CreatedBy != h[2-i].CreatedBy || e.Comment != h[2-i].Comment {
			t.Errorf("step %d: %+v, config %+v", i, e, h[2-i])
		}
	}
	if got[1].Size != 0 || got[0].Size != s.layerSize(img.Layers[1].DiffID) || got[2].Size != s.layerSize(img.Layers[0].DiffID) || got[0].Size <= 0 {
		t.Errorf("sizes %d %d %d", got[0].Size, got[1].Size, got[2].Size)
	}

	// A history naming more layers than the image has is refused, as
	// Docker refuses it; one without history shows a step per layer.
	bad, _ := oldDockerSave(t, "bad:1", []v1.History{{}, {}}, mkTar(t, file("x", "x")))
	importOne(t, s, bad, ImportOptions{})
	if _, err := s.History("bad:1"); err == nil {
		t.Error("history of too many layers")
	}
	none, _ := oldDockerSave(t, "none:1", nil, mkTar(t, file("y", "y")), mkTar(t, file("z", "z")))
	importOne(t, s, none, ImportOptions{})
	if got, err := s.History("none:1"); err != nil || len(got) != 2 {
		t.Errorf("history without history: %+v %v", got, err)
	}
}

func TestLoadArchivesOnly(t *testing.T) {
	s := newStore(t)
	rootfs := writeFile(t, mkTar(t, file("etc/hostname", "h")))
	if _, err := s.LoadFile(context.Background(), rootfs, ImportOptions{}); !errors.Is(err, errNotArchive) {
		t.Errorf("load of a rootfs tarball: %v", err)
	}
	path, id := oldDockerSave(t, "loaded:1", nil, mkTar(t, file("a", "a")))
	b, _ := os.ReadFile(path)
	imgs, err := s.Load(context.Background(), bytes.NewReader(gz(t, b)), ImportOptions{})
	if err != nil || len(imgs) != 1 || imgs[0].ID != id {
		t.Fatalf("load of a gzip'd archive: %+v %v", imgs, err)
	}
	if ents := readDirNames(t, s.path("tmp")); len(ents) != 0 {
		t.Errorf("load left %v in tmp/", ents)
	}
	s.Limits.ImageBytes = 100
	if _, err := s.Load(context.Background(), bytes.NewReader(b), ImportOptions{}); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "archive is larger") {
		t.Errorf("load over ImageBytes: %v", err)
	}
}
