package imagetest

import (
	"crypto/rand"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/berth-runtime/berth/internal/progress"
)

// MkImage builds an image for linux/arch from tar streams, bottom first.
func MkImage(t testing.TB, arch string, layers ...[]byte) v1.Image {
	t.Helper()
	var ls []v1.Layer
	for _, b := range layers {
		ls = append(ls, LayerOf(t, b))
	}
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config = v1.Config{
		Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{"echo " + arch}, Env: []string{"PATH=/bin", "A=b"},
		WorkingDir: "/srv", User: "1000:1000", StopSignal: "SIGQUIT", Labels: map[string]string{"k": "v"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// ConfigDigest is img's config digest.
func ConfigDigest(t testing.TB, img v1.Image) string {
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// LayerDigests are img's layer digests, bottom first.
func LayerDigests(t testing.TB, img v1.Image) []v1.Hash {
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var hs []v1.Hash
	for _, l := range ls {
		h, _ := l.Digest()
		hs = append(hs, h)
	}
	return hs
}

// RandomBytes is n random bytes, a layer that compresses badly.
func RandomBytes(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return string(b)
}

// Events records progress.
type Events struct {
	mu sync.Mutex
	es []progress.Event
}

func (e *Events) Report(ev progress.Event) {
	e.mu.Lock()
	e.es = append(e.es, ev)
	e.mu.Unlock()
}

// Last is the last phase reported for id.
func (e *Events) Last(id string) progress.Phase {
	e.mu.Lock()
	defer e.mu.Unlock()
	var p progress.Phase
	for _, ev := range e.es {
		if ev.ID == id {
			p = ev.Phase
		}
	}
	return p
}
