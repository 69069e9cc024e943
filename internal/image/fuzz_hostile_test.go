package image

import (
	"context"
	"github.com/berth-runtime/berth/internal/image/imagetest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Fuzz tests for what a registry or an archive hands berth: references,
// manifests, indexes, configs, docker save's manifest.json. Whatever the
// input, nothing panics, an error is one line, and an image that is
// accepted is within the limits and usable. Run one with, e.g.,
//
//	go test -run '^$' -fuzz '^FuzzPull$' -fuzztime 30s ./internal/image/
//
// Plain go test runs the seeds only, which are the review's cases.

// FuzzParseName: a reference is refused with one line, or accepted in a
// form Docker takes, whose canonical name parses back to itself.
func FuzzParseName(f *testing.F) {
	for _, s := range append(hostileRefs, "alpine", "docker.io/library/alpine:3.20", "localhost:5000/a/b:c",
		"[::1]:5000/x@sha256:"+strings.Repeat("0", 64), "ghcr.io/o/r:v1.2.3-rc_1", "a:tag@sha256:"+strings.Repeat("a", 64)) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseName(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r\x00") {
				t.Fatalf("error of several lines: %q", err)
			}
			return
		}
		c := r.Name()
		if strings.Contains(c, "/../") || strings.Contains(c, "//") || strings.ContainsAny(c, " \t\n\r\x00\\") {
			t.Fatalf("%q accepted as %q", s, c)
		}
		again, err := ParseName(c)
		if err != nil || again.Name() != c {
			t.Fatalf("%q: canonical %q does not parse back: %v", s, c, err)
		}
		FamiliarName(c)
		SplitName(c)
		m := &meta{Images: map[string]*record{}, Tags: map[string]string{c: "sha256:" + strings.Repeat("0", 64)}}
		m.resolve(s)
	})
}

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

// FuzzManifest: a manifest is parsed and checked against the limits
// without panicking, and one that passes is within them.
func FuzzManifest(f *testing.F) {
	fl := newFuzzLayer(f)
	for _, m := range hostileManifests {
		f.Add(imagetest.Fill([]byte(m), "{{C}}", fl.diffID.String(), "{{CS}}", "100", "{{L}}", fl.digest.String(), "{{LS}}", strconv.Itoa(len(fl.gz))),
			string(types.OCIManifestSchema1))
	}
	f.Add([]byte(hostileManifests[0]), string(types.DockerManifestSchema2))
	f.Add([]byte(hostileManifests[0]), string(types.OCIImageIndex))
	f.Fuzz(func(t *testing.T, raw []byte, mt string) {
		m, err := parseImageManifest(raw, mt)
		if err != nil {
			return
		}
		if err := checkManifest(m, DefaultLimits); err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error of several lines: %q", err)
			}
			return
		}
		if len(m.Layers) > MaxLayers || checkDigest(m.Config.Digest) != nil || m.Config.Size > MaxManifestBytes || m.Config.Size < 0 {
			t.Fatalf("accepted %+v", m)
		}
		for _, l := range m.Layers {
			if checkDigest(l.Digest) != nil || l.Size < 0 || l.Size > MaxLayerBlobBytes {
				t.Fatalf("accepted layer %+v", l)
			}
		}
	})
}

// FuzzImportLayout: an OCI layout of a fuzzed index.json, manifest and
// config (and a real layer) is imported or refused, never more.
func FuzzImportLayout(f *testing.F) {
	for i, idx := range hostileIndexes {
		f.Add([]byte(idx), []byte(hostileManifests[0]), []byte(hostileConfigs[0]))
		f.Add([]byte(hostileIndexes[0]), []byte(hostileManifests[i%len(hostileManifests)]), []byte(hostileConfigs[i%len(hostileConfigs)]))
	}
	for _, m := range hostileManifests[1:] {
		f.Add([]byte(hostileIndexes[0]), []byte(m), []byte(hostileConfigs[0]))
	}
	for _, c := range hostileConfigs[1:] {
		f.Add([]byte(hostileIndexes[0]), []byte(hostileManifests[0]), []byte(c))
	}
	fl := newFuzzLayer(f)
	f.Fuzz(func(t *testing.T, index, manifest, config []byte) {
		dir := t.TempDir()
		blobs := filepath.Join(dir, "blobs", "sha256")
		os.MkdirAll(blobs, 0o755)
		put := func(b []byte) v1.Descriptor {
			d := descriptorOf(b, "")
			os.WriteFile(filepath.Join(blobs, d.Digest.Hex), b, 0o644)
			return d
		}
		put(fl.gz)
		cfg := imagetest.Fill(config, "{{D}}", fl.diffID.String())
		cd := put(cfg)
		man := imagetest.Fill(manifest, "{{C}}", cd.Digest.String(), "{{CS}}", strconv.Itoa(len(cfg)),
			"{{L}}", fl.digest.String(), "{{LS}}", strconv.Itoa(len(fl.gz)))
		md := put(man)
		os.WriteFile(filepath.Join(dir, "index.json"), imagetest.Fill(index, "{{M}}", md.Digest.String(), "{{MS}}", strconv.Itoa(len(man))), 0o644)
		os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
		s := newStore(t)
		s.Limits = fuzzLimits
		_, err := s.Import(context.Background(), dir, ImportOptions{})
		checkAfterAdd(t, s, err)
	})
}

// FuzzImportDockerSave: a docker save archive with a fuzzed manifest.json
// and config, its layer file real.
func FuzzImportDockerSave(f *testing.F) {
	saves := []string{
		`[{"Config":"cfg.json","RepoTags":["saved:1"],"Layers":["l/layer.tar"]}]`,
		`[{"Config":"cfg.json","RepoTags":["a/../../b:1","evil\nline:1"],"Layers":["l/layer.tar"]}]`,
		`[{"Config":"../../../etc/passwd","Layers":["l/layer.tar"]}]`,
		`[{"Config":"cfg.json","Layers":["/l/../../l/layer.tar"]}]`,
		`[{"Config":"cfg.json","Layers":["l"]}]`,
		`[{"Config":"cfg.json","Layers":[` + strings.TrimSuffix(strings.Repeat(`"l/layer.tar",`, MaxLayers+1), ",") + `]}]`,
		`[{"Config":"cfg.json","Layers":null},{"Config":"cfg.json"}]`,
		`{}`,
		`[]`,
		`[{"Config":"cfg\njson","Layers":["l/layer\n.tar"]}]`,
	}
	for i, m := range saves {
		f.Add([]byte(m), []byte(hostileConfigs[i%len(hostileConfigs)]))
		f.Add([]byte(m), []byte(hostileConfigs[0]))
	}
	fl := newFuzzLayer(f)
	f.Fuzz(func(t *testing.T, manifest, config []byte) {
		cfg := imagetest.Fill(config, "{{D}}", fl.diffID.String())
		b := mkTar(t, file("cfg.json", string(cfg)), dir("l"), file("l/layer.tar", string(fl.tar)), file("manifest.json", string(manifest)))
		s := newStore(t)
		s.Limits = fuzzLimits
		_, err := s.Import(context.Background(), writeFile(t, b), ImportOptions{})
		checkAfterAdd(t, s, err)
	})
}
