package registry

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/berth-runtime/berth/internal/image/imagetest"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// oldDockerSave is a docker save archive of before Docker 25: plain tar
// layers, which berth stores uncompressed. The config has history.
func oldDockerSave(t *testing.T, tag string, history []v1.History, layers ...[]byte) (path, id string) {
	t.Helper()
	var diffs []string
	var files []string
	var ents []imagetest.Ent
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

// anonymous keeps the tests from reading the host's credentials.
var anonymous = authn.NewMultiKeychain()

// TestPushRecompressesUncompressedLayers: an image stored with plain tar
// layers is pushed gzip'd under a new manifest, the same bytes every
// time, and the registry's image has berth's config: the same image ID.
func TestPushRecompressesUncompressedLayers(t *testing.T) {
	reg := newRegistry(t, false)
	ref := reg.host + "/plain:1"
	path, id := oldDockerSave(t, ref, nil, mkTar(t, file("one", "1")), mkTar(t, file("two", randomBytes(4000))))
	s := newStore(t)
	img := importOne(t, s, path, ImportOptions{})
	if img.ID != id || img.Layers[0].MediaType != string(types.OCIUncompressedLayer) {
		t.Fatalf("imported %+v", img)
	}
	var digests []string
	for i := 0; i < 2; i++ {
		p, err := s.Push(context.Background(), ref, PushOptions{Insecure: true, Keychain: anonymous})
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, p.Digest)
	}
	if digests[0] != digests[1] {
		t.Errorf("two pushes of one image gave two manifests: %v", digests)
	}
	r, _ := name.ParseReference(ref, name.Insecure)
	ri, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := configDigest(t, ri); got != id {
		t.Errorf("registry's image ID %s, stored %s", got, id)
	}
	ls, _ := ri.Layers()
	for i, l := range ls {
		mt, _ := l.MediaType()
		diff, err := l.DiffID() // decompresses and hashes
		if mt != types.OCILayer || err != nil || diff.String() != img.Layers[i].DiffID {
			t.Errorf("layer %d: %s %v %s, want gzip of %s", i, mt, err, diff, img.Layers[i].DiffID)
		}
	}
	if d, _ := ri.Digest(); d.String() != digests[0] {
		t.Errorf("registry has %s, push said %s", d, digests[0])
	}
	got, _ := s.Get(ref)
	if !slices.Contains(got.Digests, reg.host+"/plain@"+digests[0]) {
		t.Errorf("repo digest not recorded: %v", got.Digests)
	}
	if ents := readDirNames(t, s.path("tmp")); len(ents) != 0 {
		t.Errorf("push left %v in tmp/", ents)
	}
	// Pulled into another store, it is the same image.
	if back := pull(t, newStore(t), ref); back.ID != id {
		t.Errorf("pulled back %s", back.ID)
	}
}

func TestPushNeedsALocalTag(t *testing.T) {
	reg := newRegistry(t, false)
	s := newStore(t)
	for _, ref := range []string{reg.host + "/none:1", reg.host + "/none@sha256:" + fmt.Sprintf("%064x", 0)} {
		if _, err := s.Push(context.Background(), ref, PushOptions{Insecure: true, Keychain: anonymous}); !errors.Is(err, ErrNotTagged) {
			t.Errorf("push %s: %v", ref, err)
		}
	}
}
