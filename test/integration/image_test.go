package integration

import (
	"archive/tar"
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testRegistry is a registry on the host's loopback, served by this test
// process (go-containerregistry's in-memory registry). Pulls run berth in
// the host's network namespace, where that loopback is; everything else
// runs in the suite's.
type testRegistry struct{ host string }

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &testRegistry{host: u.Host}
}

// push uploads img as repo:tag and returns its reference.
func (r *testRegistry) push(t *testing.T, repo string, img v1.Image) string {
	t.Helper()
	ref := r.host + "/" + repo
	tag, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref
}

// pull runs berth pull on the host's loopback.
func pull(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(berthBin, append([]string{"--root", storeRoot, "--runroot", stateRoot, "pull", "-q"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// tarLayer makes a layer from tar entries; a nil body with a Typeflag of
// 0 is a directory.
func tarLayer(t *testing.T, entries ...tarEntry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.body)), Linkname: e.link}
		if e.typ != 0 {
			hdr.Typeflag, hdr.Size = e.typ, 0
		}
		if e.typ == tar.TypeDir {
			hdr.Mode = 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type tarEntry struct {
	name, body, link string
	typ              byte
}

// rootfsLayer is the suite's busybox root filesystem as one layer.
func rootfsLayer(t *testing.T) v1.Layer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfsDir, "-cf", path, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	l, err := tarball.LayerFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// appImage is busybox plus a layer that adds /srv/app/motd and deletes
// /bin/vi, run as user app in /srv/app with a greeting in its env.
func appImage(t *testing.T) v1.Image {
	t.Helper()
	app := tarLayer(t,
		tarEntry{name: "srv/", typ: tar.TypeDir}, tarEntry{name: "srv/app/", typ: tar.TypeDir},
		tarEntry{name: "srv/app/motd", body: "from the image\n"},
		tarEntry{name: "bin/.wh.vi", body: ""})
	img, err := mutate.AppendLayers(empty.Image, rootfsLayer(t), app)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Entrypoint = []string{"/bin/sh", "-c"}
	cf.Config.Cmd = []string{`echo "cmd $(pwd) $(id -un) $GREETING"; cat motd; ls /bin/vi 2>&1 | grep -c 'No such'`}
	cf.Config.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello"}
	cf.Config.WorkingDir = "/srv/app"
	cf.Config.User = "app"
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// A pulled image's zstd layer is unpacked where berth-registry fetched it
// (its own decoder, internal/image/zstdlocal), and the container sees it.
func TestImagePullZstdLayer(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	reg := newTestRegistry(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := "from a zstd layer\n"
	tw.WriteHeader(&tar.Header{Name: "zmotd", Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(body))})
	tw.Write([]byte(body))
	tw.Close()
	b := buf.Bytes()
	z, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, rootfsLayer(t), z)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.push(t, "test/zstd:1", img)
	defer rmiQuiet(t, ref)
	if r := pull(t, "--tls-verify=false", ref); r.code != 0 {
		t.Fatalf("pull: %+v", r)
	}
	if r := berth(t, "", "run", "--rm", ref, "cat", "/zmotd"); r.code != 0 || r.stdout != body {
		t.Errorf("run %s: %+v", ref, r)
	}
}

func TestImagePullRun(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	before := snapshot(t)
	reg := newTestRegistry(t)
	ref := reg.push(t, "test/app:1", appImage(t))

	r := pull(t, ref)
	if r.code != 125 || !strings.Contains(r.stderr, "--tls-verify=false") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("pull from a plain-http registry without --tls-verify=false: %+v", r)
	}
	if r := pull(t, "--tls-verify=false", ref); r.code != 0 || strings.TrimSpace(r.stdout) != ref {
		t.Fatalf("pull: %+v", r)
	}
	if r := berth(t, "", "images"); !strings.Contains(r.stdout, reg.host+"/test/app") || !strings.Contains(r.stdout, "1 ") {
		t.Errorf("images: %+v", r)
	}

	// The image's entrypoint, cmd, env, working directory and user; its
	// second layer's file, and its whiteout hiding the first layer's vi.
	r = berth(t, "", "run", "--rm", ref)
	if r.code != 0 || r.stdout != "cmd /srv/app app hello\nfrom the image\n1\n" {
		t.Errorf("run %s: %+v", ref, r)
	}
	// Flags override the image.
	r = berth(t, "", "run", "--rm", "-u", "root", "-w", "/tmp", "-e", "GREETING=hi", "--entrypoint", "/bin/sh", ref, "-c", "echo $(id -u) $(pwd) $GREETING")
	if r.code != 0 || r.stdout != "0 /tmp hi\n" {
		t.Errorf("run with overrides: %+v", r)
	}
	// Copy on write: a change stays in its container.
	for _, driver := range []string{"overlay", "vfs"} {
		r = berth(t, "", "--storage-driver", driver, "run", "--rm", "-u", "root", ref, "echo changed > motd; rm /bin/ls; cat motd")
		if r.code != 0 || r.stdout != "changed\n" {
			t.Errorf("%s: write in the container: %+v", driver, r)
		}
		r = berth(t, "", "run", "--rm", "--entrypoint", "/bin/cat", ref, "/srv/app/motd", "/bin/ls")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "from the image\n") {
			t.Errorf("%s: the image changed: %+v", driver, r)
		}
	}
	if r := berth(t, "", "image", "inspect", ref); r.code != 0 || !strings.Contains(r.stdout, `"8080/tcp"`) || !strings.Contains(r.stdout, `"/srv/app"`) {
		t.Errorf("image inspect: %+v", r)
	}

	// rmi refuses while a container uses the image.
	c := startBerth(t, "run", "--rm", "--entrypoint", "/bin/sh", ref, "-c", idle)
	if r := berth(t, "", "rmi", ref); r.code == 0 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("rmi of an image in use: %+v", r)
	}
	c.cmd.Process.Signal(os.Interrupt)
	c.wait(t)
	if r := berth(t, "", "rmi", ref); r.code != 0 || !strings.Contains(r.stdout, "Deleted") {
		t.Errorf("rmi: %+v", r)
	}
	if r := berth(t, "", "run", "--rm", "--pull", "never", ref); r.code != 125 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("run of a removed image with --pull never: %+v", r)
	}
	if ents := containerDirs(); len(ents) != 0 {
		t.Errorf("container layers left: %v", ents)
	}
	checkNoLeaks(t, before)
}

// TestImageImportExport: a root filesystem tarball imported under a name
// runs, and an export imports back as the same image.
func TestImageImportExport(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	dir := t.TempDir()
	tgz := filepath.Join(dir, "rootfs.tar.gz")
	if out, err := exec.Command("tar", "-C", rootfsDir, "-czf", tgz, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	if r := berth(t, "", "image", "import", tgz, "bbox:imported"); r.code != 0 || r.stdout != "bbox:imported\n" {
		t.Fatalf("import: %+v", r)
	}
	if r := berth(t, "", "run", "--rm", "bbox:imported", "echo", "imported runs"); r.code != 0 || r.stdout != "imported runs\n" {
		t.Errorf("run imported: %+v", r)
	}
	archive := filepath.Join(dir, "saved.tar")
	if r := berth(t, "", "image", "export", "-o", archive, "bbox:imported"); r.code != 0 {
		t.Fatalf("export: %+v", r)
	}
	id := berth(t, "", "images", "-q").stdout
	if r := berth(t, "", "rmi", "bbox:imported"); r.code != 0 {
		t.Fatalf("rmi: %+v", r)
	}
	if r := berth(t, "", "image", "import", archive); r.code != 0 || r.stdout != "bbox:imported\n" {
		t.Fatalf("import of the export: %+v", r)
	}
	if again := berth(t, "", "images", "-q").stdout; again != id {
		t.Errorf("image IDs after the round trip: %q, before %q", again, id)
	}
	berth(t, "", "rmi", "bbox:imported")
	if r := berth(t, "", "image", "import", filepath.Join(dir, "missing.tar")); r.code != 125 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("import of a missing file: %+v", r)
	}
}

// TestImageHostileLayer: a layer that reaches out of its directory is
// refused whole; nothing of it lands anywhere.
func TestImageHostileLayer(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	reg := newTestRegistry(t)
	img, err := mutate.AppendLayers(empty.Image, tarLayer(t, tarEntry{name: "ok", body: "fine"}, tarEntry{name: "../../../../../tmp/berth-escaped", body: "pwned"}))
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.push(t, "test/hostile:1", img)
	r := pull(t, "--tls-verify=false", ref)
	if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "berth-escaped") {
		t.Errorf("pull of a hostile layer: %+v", r)
	}
	t.Logf("hostile layer: %s", r.stderr)
	if _, err := os.Stat("/tmp/berth-escaped"); err == nil {
		os.Remove("/tmp/berth-escaped")
		t.Fatal("the hostile layer wrote /tmp/berth-escaped on the host")
	}
	layers, _ := os.ReadDir(filepath.Join(storeRoot, "images", "layers"))
	for _, l := range layers {
		if _, err := os.Stat(filepath.Join(storeRoot, "images", "layers", l.Name(), "ok")); err == nil {
			t.Errorf("a half of the hostile layer is stored: %s", l.Name())
		}
	}
}

// TestImageSnapshotCollectedAfterBerthKilled: the writable layer of a
// container whose berth was killed with -9 is collected by the next run.
func TestImageSnapshotCollectedAfterBerthKilled(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	dir := t.TempDir()
	tgz := filepath.Join(dir, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfsDir, "-cf", tgz, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	if r := berth(t, "", "image", "import", tgz, "killme"); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	defer berth(t, "", "rmi", "-f", "killme")
	c := startBerth(t, "run", "--rm", "killme", "/bin/sh", "-c", idle)
	if ents := containerDirs(); len(ents) != 1 {
		t.Fatalf("container layers while running: %v", ents)
	}
	c.cmd.Process.Kill()
	c.wait(t)
	if r := berth(t, "", "run", "--rm", "killme", "true"); r.code != 0 {
		t.Fatalf("next run: %+v", r)
	}
	if ents := containerDirs(); len(ents) != 0 {
		t.Errorf("the killed container's layer was not collected: %v", ents)
	}
}

// TestImageConcurrentPulls: two berth pulls of one image at once both
// succeed and store its layers once, while a container runs the image.
func TestImageConcurrentPulls(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	reg := newTestRegistry(t)
	ref := reg.push(t, "test/twice:1", appImage(t))
	if r := pull(t, "--tls-verify=false", ref); r.code != 0 {
		t.Fatalf("pull: %+v", r)
	}
	c := startBerth(t, "run", "--rm", "--entrypoint", "/bin/sh", ref, "-c", idle)
	if r := berth(t, "", "rmi", ref); r.code == 0 {
		t.Fatalf("rmi of an image in use succeeded: %+v", r)
	}
	// A new tag with one more layer: both pulls fetch and unpack it.
	extra, err := mutate.AppendLayers(appImage(t), tarLayer(t, tarEntry{name: "extra", body: "more"}))
	if err != nil {
		t.Fatal(err)
	}
	ref2 := reg.push(t, "test/twice:2", extra)
	results := make(chan result, 2)
	for i := 0; i < 2; i++ {
		go func() { results <- pull(t, "--tls-verify=false", ref2) }()
	}
	for i := 0; i < 2; i++ {
		if r := <-results; r.code != 0 {
			t.Errorf("concurrent pull: %+v", r)
		}
	}
	r := berth(t, "", "run", "--rm", "--entrypoint", "/bin/cat", ref2, "/extra")
	if r.code != 0 || r.stdout != "more" {
		t.Errorf("run of the concurrently pulled image: %+v", r)
	}
	c.cmd.Process.Signal(os.Interrupt)
	c.wait(t)
	for _, ref := range []string{ref, ref2} {
		if r := berth(t, "", "rmi", ref); r.code != 0 {
			t.Errorf("rmi %s: %+v", ref, r)
		}
	}
}

// containerDirs are the containers' directories in the store (their
// records, snapshots and logs).
func containerDirs() []string {
	ents, _ := os.ReadDir(filepath.Join(storeRoot, "containers"))
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestWithoutHelpers: a berth without berth-registry beside it
// (copied alone) refuses a pull in one line naming the fix, and runs a
// container from a rootfs as ever: only the registry commands need it.
// Without berth-format, ps prints its table and the formats berth runs
// itself, and a template with a function fails in one line.
func TestWithoutHelpers(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	if out, err := exec.Command("cp", berthBin, dir).CombinedOutput(); err != nil {
		t.Fatalf("copy berth: %v %s", err, out)
	}
	alone := func(args ...string) result {
		cmd := berthCommand(args...)
		for i, a := range cmd.Args {
			if a == berthBin {
				cmd.Args[i] = filepath.Join(dir, filepath.Base(berthBin))
			}
		}
		return collect(t, cmd, "berth")
	}
	oneLine(t, "pull without berth-registry", alone("pull", "--tls-verify=false", "localhost:1/none:1"), "berth-registry is not installed beside "+dir)
	if r := alone("run", "--rm", "--network", "none", "--rootfs", rootfsDir, "true"); r.code != 0 {
		t.Errorf("run --rootfs without berth-registry: %+v", r)
	}
	const name = "no-format-helper"
	if r := alone("create", "--name", name, "--network", "none", "--rootfs", rootfsDir, "true"); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	defer alone("rm", "-f", name)
	for _, args := range [][]string{{"ps", "-a"}, {"ps", "-a", "--format", "table {{.Names}}\t{{.Status}}"}, {"inspect", "-f", "{{.Name}} {{json .State.Status}}", name}} {
		if r := alone(args...); r.code != 0 || !strings.Contains(r.stdout, name) {
			t.Errorf("%v without berth-format: %+v", args, r)
		}
	}
	oneLine(t, "ps --format with a function, without berth-format", alone("ps", "-a", "--format", "{{upper .Names}}"), "berth-format is not installed beside "+dir)
}
