package imagetest

import (
	"bytes"
	"io"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// HostileManifests are the review's cases for manifests, as templates:
// {{C}} {{CS}} are the config's digest and size, {{L}} {{LS}} a real
// layer's.
var HostileManifests = []string{
	`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{C}}","size":{{CS}}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{L}}","size":{{LS}}}]}`,
	// a 50 GiB layer, a negative one, an absurd one
	`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{C}}","size":{{CS}}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{L}}","size":53687091200}]}`,
	`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{C}}","size":{{CS}}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{L}}","size":-1}]}`,
	`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{C}}","size":{{CS}}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{L}}","size":1e30}]}`,
	// a huge config, a config shorter than declared
	`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{C}}","size":1073741824},"layers":[]}`,
	`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{C}}","size":3},"layers":[]}`,
	// digests the store cannot name, or that walk out of it
	`{"schemaVersion":2,"config":{"digest":"sha256:../../../etc/passwd","size":10},"layers":[]}`,
	`{"schemaVersion":2,"config":{"digest":"sha512:` + strings.Repeat("a", 128) + `","size":10},"layers":[]}`,
	`{"schemaVersion":2,"config":{"digest":"{{C}}","size":{{CS}}},"layers":[{"digest":"","size":1}]}`,
	`{"schemaVersion":2,"layers":[]}`,
	// a foreign layer, the same layer twice
	`{"schemaVersion":2,"config":{"digest":"{{C}}","size":{{CS}}},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{{L}}","size":{{LS}},"urls":["http://169.254.169.254/"]}]}`,
	`{"schemaVersion":2,"config":{"digest":"{{C}}","size":{{CS}}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{L}}","size":{{LS}}},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{L}}","size":{{LS}}}]}`,
	// 129 layers
	`{"schemaVersion":2,"config":{"digest":"{{C}}","size":{{CS}}},"layers":[` + strings.TrimSuffix(strings.Repeat(`{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{L}}","size":{{LS}}},`, maxLayers+1), ",") + `]}`,
	// schema 1, not JSON, deep nesting
	`{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[{"blobSum":"{{L}}"}]}`,
	`not json`,
	strings.Repeat("[", 100000),
}

// HostileConfigs, with {{D}} the real layer's diff ID.
var HostileConfigs = []string{
	`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["{{D}}"]},"config":{"Cmd":["sh"]}}`,
	`{"rootfs":{"type":"layers","diff_ids":[]}}`,
	`{"rootfs":{"type":"layers","diff_ids":["sha256:../../x"]}}`,
	`{"rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("0", 64) + `"]}}`,
	`{"rootfs":{"type":"layers","diff_ids":["{{D}}","{{D}}"]},"config":{"ExposedPorts":{"80/tcp":{},"":{}},"Env":["A"],"User":"../../root"}}`,
	`{"rootfs":{"type":"layers","diff_ids":"{{D}}"}}`,
	`{"created":"not a time","rootfs":{"type":"layers","diff_ids":["{{D}}"]}}`,
	`null`,
}

// HostileIndexes, with {{M}} {{MS}} the manifest's digest and size.
var HostileIndexes = []string{
	`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{{M}}","size":{{MS}},"platform":{"architecture":"` + runtime.GOARCH + `","os":"linux"}}]}`,
	`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{{M}}","size":{{MS}},"annotations":{"io.containerd.image.name":"a/../../b:1","org.opencontainers.image.ref.name":"evil\nline"}}]}`,
	// an index naming itself (as a child index), one naming nothing
	`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{{M}}","size":{{MS}}}]}`,
	`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{{M}}","size":{{MS}},"platform":null}]}`,
	`{"schemaVersion":2,"manifests":[]}`,
	`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../../etc/shadow","size":1}]}`,
	`{"manifests":null}`,
	// platforms that would forge a line of output
	`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{{M}}","size":{{MS}},"platform":{"architecture":"amd64\nEVIL","os":"linux"}}]}`,
}

// Fill puts values into a template of HostileManifests: kv as for
// strings.NewReplacer ("{{C}}", digest, ...).
func Fill(tmpl []byte, kv ...string) []byte {
	return []byte(strings.NewReplacer(kv...).Replace(string(tmpl)))
}

// LayerOf makes a gzip layer of a tar stream.
func LayerOf(t testing.TB, b []byte) v1.Layer {
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// maxLayers is image.MaxLayers, which imagetest cannot import: image's
// own tests import imagetest.
const maxLayers = 128
