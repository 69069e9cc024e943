package registry

import (
	"context"
	"github.com/berth-runtime/berth/internal/image/imagetest"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// hostileManifests are the review's cases for manifests (imagetest).
var hostileManifests = imagetest.HostileManifests

var hostileConfigs = imagetest.HostileConfigs

var hostileIndexes = imagetest.HostileIndexes

// fuzzLayer is a real layer the templates can name.
type fuzzLayer struct {
	tar, gz []byte
	diffID  v1.Hash
	digest  v1.Hash
}

func newFuzzLayer(t testing.TB) fuzzLayer {
	b := mkTar(t, dir("bin"), file("bin/sh", "sh"))
	z := gz(t, b)
	return fuzzLayer{tar: b, gz: z, diffID: descriptorOf(b, "").Digest, digest: descriptorOf(z, "").Digest}
}

// fuzzLimits keep a fuzzed image small and fast.
var fuzzLimits = Limits{Layers: 8, ImageBytes: 1 << 20, LayerBlobBytes: 1 << 20, LayerEntries: 100}

// checkAfterAdd holds after any pull or import: an error is one line;
// every recorded image is within the limits and usable; tmp/ holds only
// partial downloads.
func checkAfterAdd(t *testing.T, s *Store, err error) {
	t.Helper()
	if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
		t.Fatalf("error of several lines: %q", err)
	}
	imgs, lerr := s.List()
	if lerr != nil {
		t.Fatal(lerr)
	}
	for _, img := range imgs {
		if len(img.Layers) > s.Limits.Layers || img.Size > s.Limits.ImageBytes {
			t.Fatalf("image over the limits accepted: %d layers, %d bytes", len(img.Layers), img.Size)
		}
		if _, err := s.LowerDirs(img.ID); err != nil {
			t.Fatalf("accepted image unusable: %v", err)
		}
		if _, err := s.Config(img.ID); err != nil {
			t.Fatalf("accepted image has no config: %v", err)
		}
	}
	for _, n := range readDirNames(t, s.path("tmp")) {
		if !strings.HasPrefix(n, "partial-") {
			t.Fatalf("left in tmp: %s", n)
		}
	}
}

// FuzzPull: a registry on loopback serves a fuzzed manifest (or index),
// under a fuzzed media type, with a fuzzed config and a real layer.
func FuzzPull(f *testing.F) {
	oci, docker, index := string(types.OCIManifestSchema1), string(types.DockerManifestSchema2), string(types.OCIImageIndex)
	for i, m := range hostileManifests {
		f.Add([]byte(m), []byte(hostileConfigs[i%len(hostileConfigs)]), oci)
	}
	for _, c := range hostileConfigs {
		f.Add([]byte(hostileManifests[0]), []byte(c), docker)
	}
	for _, idx := range hostileIndexes {
		f.Add([]byte(idx), []byte(hostileConfigs[0]), index)
	}
	f.Add([]byte(hostileManifests[0]), []byte(hostileConfigs[0]), "application/vnd.docker.distribution.manifest.v1+prettyjws")
	f.Add([]byte(hostileManifests[0]), []byte(hostileConfigs[0]), "text/html\r\nX-Evil: 1")
	reg := newRegistry(f, false)
	// One connection per request: a fuzz worker runs thousands of pulls a
	// second, and connections a pull leaves for the server to close would
	// use up loopback's ephemeral ports and stall the worker.
	reg.srv.Config.SetKeepAlivesEnabled(false)
	fl := newFuzzLayer(f)
	reg.putBlob(f, "f", fl.gz, types.OCILayer)
	f.Fuzz(func(t *testing.T, manifest, config []byte, mt string) {
		cfg := imagetest.Fill(config, "{{D}}", fl.diffID.String())
		cd := reg.putBlob(t, "f", cfg, types.OCIConfigJSON)
		man := imagetest.Fill(manifest, "{{C}}", cd.Digest.String(), "{{CS}}", strconv.Itoa(len(cfg)),
			"{{L}}", fl.digest.String(), "{{LS}}", strconv.Itoa(len(fl.gz)))
		// An index's {{M}} names the manifest itself, so it is served by
		// its digest too: an index that contains itself.
		md := descriptorOf(man, "")
		man = imagetest.Fill(man, "{{M}}", md.Digest.String(), "{{MS}}", strconv.Itoa(len(man)))
		if strings.ContainsAny(mt, "\r\n\x00") {
			mt = strings.Map(func(r rune) rune {
				if r == '\r' || r == '\n' || r == 0 {
					return -1
				}
				return r
			}, mt)
		}
		reg.mu.Lock()
		reg.manifests["f/manifests/1"] = servedManifest{man, mt}
		reg.manifests["f/manifests/"+md.Digest.String()] = servedManifest{man, mt}
		reg.mu.Unlock()
		s := newStore(t)
		s.Limits = fuzzLimits
		_, err := s.Pull(context.Background(), reg.host+"/f:1", PullOptions{Insecure: true})
		checkAfterAdd(t, s, err)
	})
}
