package integration

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/zstd"
)

// hostBerth runs berth in the host's network namespace, where the test
// registries listen on loopback, with docker's config directory set to
// dockerConfig and no HOME: no credential of the host is read or written.
func hostBerth(t *testing.T, dockerConfig, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(berthBin, append([]string{"--root", storeRoot, "--runroot", stateRoot}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DOCKER_CONFIG=" + dockerConfig}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	return collect(t, cmd, "berth")
}

// imageID is the ID of the stored image ref names, "" if there is none.
func imageID(t *testing.T, ref string) string {
	t.Helper()
	r := berth(t, "", "image", "inspect", ref)
	if r.code != 0 {
		return ""
	}
	var out []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("image inspect %s: %v %q", ref, err, r.stdout)
	}
	for _, k := range []string{"Id", "ID"} {
		if id, ok := out[0][k].(string); ok {
			return id
		}
	}
	t.Fatalf("image inspect %s: no ID in %q", ref, r.stdout)
	return ""
}

// rmiQuiet removes images at the end of a test, whatever happened.
func rmiQuiet(t *testing.T, refs ...string) {
	t.Cleanup(func() {
		for _, r := range refs {
			berth(t, "", "rmi", "-f", r)
		}
	})
}

func singleLine(r result) bool { return strings.Count(r.stderr, "\n") == 1 }

var pushedLine = regexp.MustCompile(`^2: digest: (sha256:[0-9a-f]{64}) size: [0-9]+\n$`)

// TestImageCmdsTagPushPull: tag, then push to a registry the test serves,
// rmi, pull back: the same image ID, and it runs.
func TestImageCmdsTagPushPull(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	cfg := t.TempDir()
	src := newTestRegistry(t)
	dst := newTestRegistry(t)
	from := src.push(t, "test/src:1", appImage(t))
	to := dst.host + "/test/pushed:2"
	rmiQuiet(t, from, to)
	if r := pull(t, "--tls-verify=false", from); r.code != 0 {
		t.Fatalf("pull: %+v", r)
	}
	id := imageID(t, from)
	// Shell completion offers stored images' names.
	for _, c := range []string{"tag", "push", "history", "save", "rmi"} {
		if r := berth(t, "", "__complete", c, from[:len(from)-3]); r.code != 0 || !strings.Contains(r.stdout, from+"\n") {
			t.Errorf("completion of %s: %+v", c, r)
		}
	}

	if r := berth(t, "", "tag", from, "Bad/Name"); r.code != 125 || !singleLine(r) || !strings.Contains(r.stderr, "invalid image reference") {
		t.Errorf("tag to a malformed name: %+v", r)
	}
	if r := berth(t, "", "tag", "test/nothing:here", to); r.code != 1 || !singleLine(r) || !strings.Contains(r.stderr, "not found") {
		t.Errorf("tag of a missing image: %+v", r)
	}
	if r := berth(t, "", "image", "tag", from, to); r.code != 0 || r.stdout != "" {
		t.Fatalf("image tag: %+v", r)
	}
	if got := imageID(t, to); got != id {
		t.Fatalf("tag names %s, want %s", got, id)
	}
	if r := berth(t, "", "tag", from, to+"@sha256:"+strings.Repeat("0", 64)); r.code != 125 || !singleLine(r) || !strings.Contains(r.stderr, "digest") {
		t.Errorf("tag to a digest: %+v", r)
	}

	if r := hostBerth(t, cfg, "", "push", "-q", to); r.code != 1 || !singleLine(r) || !strings.Contains(r.stderr, "--tls-verify=false") {
		t.Errorf("push to plain http without --tls-verify=false: %+v", r)
	}
	r := hostBerth(t, cfg, "", "push", "--tls-verify=false", to)
	m := pushedLine.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || !strings.Contains(r.stderr, "The push refers to repository ["+dst.host+"/test/pushed]") ||
		strings.Count(r.stderr, ": Pushed\n") != 2 {
		t.Fatalf("push: %+v", r)
	}
	t.Logf("push:\n%s%s", r.stderr, r.stdout)
	// Blobs as stored: the manifest is the one pulled, byte for byte.
	srcRef, _ := name.ParseReference(from, name.Insecure)
	dstRef, _ := name.ParseReference(to, name.Insecure)
	sd, err := remote.Head(srcRef)
	if err != nil {
		t.Fatal(err)
	}
	dd, err := remote.Head(dstRef)
	if err != nil {
		t.Fatal(err)
	}
	if dd.Digest.String() != m[1] || dd.Digest != sd.Digest {
		t.Errorf("pushed manifest %s (push said %s), pulled %s", dd.Digest, m[1], sd.Digest)
	}
	// Again: every layer is there already.
	r = hostBerth(t, cfg, "", "image", "push", "--tls-verify=false", to)
	if r.code != 0 || strings.Count(r.stderr, ": Layer already exists\n") != 2 || !pushedLine.MatchString(r.stdout) {
		t.Errorf("second push: %+v", r)
	}
	if r := hostBerth(t, cfg, "", "push", "-q", "--tls-verify=false", dst.host+"/test/none:1"); r.code != 1 || !singleLine(r) || !strings.Contains(r.stderr, "does not exist locally") {
		t.Errorf("push of a missing tag: %+v", r)
	}

	if r := berth(t, "", "rmi", from, to); r.code != 0 {
		t.Fatalf("rmi: %+v", r)
	}
	if imageID(t, to) != "" {
		t.Fatal("rmi left the image")
	}
	if r := pull(t, "--tls-verify=false", to); r.code != 0 {
		t.Fatalf("pull back: %+v", r)
	}
	if got := imageID(t, to); got != id {
		t.Errorf("pulled back %s, pushed %s", got, id)
	}
	if r := berth(t, "", "run", "--rm", to); r.code != 0 || r.stdout != "cmd /srv/app app hello\nfrom the image\n1\n" {
		t.Errorf("run of the pulled-back image: %+v", r)
	}
}

// authRegistry is a registry on loopback that wants basic auth.
type authRegistry struct {
	host       string
	user, pass string
}

func newAuthRegistry(t *testing.T) *authRegistry {
	t.Helper()
	a := &authRegistry{user: "berth-it", pass: "s3cret:pw"}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != a.user || p != a.pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="berth-test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	a.host = u.Host
	return a
}

// TestImageCmdsLogin: login to a registry that wants basic auth refuses a
// wrong password (exit 1, nothing stored), stores the right one 0600 in
// docker's format; push and pull use it; logout removes it.
func TestImageCmdsLogin(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	cfg := t.TempDir()
	cfgFile := filepath.Join(cfg, "config.json")
	reg := newAuthRegistry(t)
	src := newTestRegistry(t)
	from := src.push(t, "test/src:1", appImage(t))
	to := reg.host + "/test/private:1"
	rmiQuiet(t, from, to)
	if r := pull(t, "--tls-verify=false", from); r.code != 0 {
		t.Fatalf("pull: %+v", r)
	}
	id := imageID(t, from)
	if r := berth(t, "", "tag", from, to); r.code != 0 {
		t.Fatalf("tag: %+v", r)
	}

	r := hostBerth(t, cfg, "", "push", "--tls-verify=false", to)
	if r.code != 1 || !strings.Contains(r.stderr, "berth login") || strings.Count(r.stderr, "berth:") != 1 {
		t.Errorf("push without credentials: %+v", r)
	}
	r = hostBerth(t, cfg, "wrong\n", "login", "--tls-verify=false", "-u", reg.user, "--password-stdin", reg.host)
	if r.code != 1 || !singleLine(r) || !strings.Contains(r.stderr, "incorrect username or password") || r.stdout != "" {
		t.Errorf("login with a wrong password: %+v", r)
	}
	if _, err := os.Stat(cfgFile); !os.IsNotExist(err) {
		t.Errorf("a refused login left %s: %v", cfgFile, err)
	}
	if r := hostBerth(t, cfg, "", "login", "-u", reg.user, reg.host); r.code != 125 || !singleLine(r) || !strings.Contains(r.stderr, "non TTY") {
		t.Errorf("login without a password and no terminal: %+v", r)
	}
	if r := hostBerth(t, cfg, "", "login", "-p", "x", "--password-stdin", "-u", "u", reg.host); r.code != 125 || !strings.Contains(r.stderr, "mutually exclusive") {
		t.Errorf("login -p with --password-stdin: %+v", r)
	}

	r = hostBerth(t, cfg, "", "login", "--tls-verify=false", "-u", reg.user, "-p", reg.pass, reg.host)
	if r.code != 0 || r.stdout != "Login Succeeded\n" || !strings.Contains(r.stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.") {
		t.Fatalf("login: %+v", r)
	}
	st, err := os.Stat(cfgFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", st, err)
	}
	var file struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	b, _ := os.ReadFile(cfgFile)
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got := file.Auths[reg.host].Auth; got != base64.StdEncoding.EncodeToString([]byte(reg.user+":"+reg.pass)) {
		t.Errorf("stored auth %q in %s", got, b)
	}
	// As docker login, a login without credentials checks the stored ones.
	if r := hostBerth(t, cfg, "", "login", "--tls-verify=false", reg.host); r.code != 0 || r.stdout != "Login Succeeded\n" || !strings.Contains(r.stderr, "existing credentials") {
		t.Errorf("login with stored credentials: %+v", r)
	}

	if r := hostBerth(t, cfg, "", "push", "--tls-verify=false", to); r.code != 0 || !regexp.MustCompile(`^1: digest: sha256:`).MatchString(r.stdout) {
		t.Fatalf("push with credentials: %+v", r)
	}
	// Go-containerregistry's client, with the same credentials, finds it.
	ref, _ := name.ParseReference(to, name.Insecure)
	if _, err := remote.Head(ref, remote.WithAuth(&authn.Basic{Username: reg.user, Password: reg.pass})); err != nil {
		t.Errorf("pushed image not in the registry: %v", err)
	}
	if r := berth(t, "", "rmi", from, to); r.code != 0 {
		t.Fatalf("rmi: %+v", r)
	}
	if r := hostBerth(t, cfg, "", "pull", "-q", "--tls-verify=false", to); r.code != 0 {
		t.Fatalf("pull with credentials: %+v", r)
	}
	if got := imageID(t, to); got != id {
		t.Errorf("pulled %s, pushed %s", got, id)
	}

	if r := hostBerth(t, cfg, "", "logout", reg.host); r.code != 0 || r.stdout != "Removing login credentials for "+reg.host+"\n" {
		t.Errorf("logout: %+v", r)
	}
	b, _ = os.ReadFile(cfgFile)
	if strings.Contains(string(b), reg.host) {
		t.Errorf("logout left the credentials: %s", b)
	}
	if r := hostBerth(t, cfg, "", "logout", reg.host); r.code != 0 || r.stdout != "Not logged in to "+reg.host+"\n" {
		t.Errorf("second logout: %+v", r)
	}
	if r := hostBerth(t, cfg, "", "push", "--tls-verify=false", to); r.code != 1 || !strings.Contains(r.stderr, "berth login") {
		t.Errorf("push after logout: %+v", r)
	}
}

// busyboxImage is the suite's busybox as one layer, with a command.
func busyboxImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, rootfsLayer(t))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"/bin/echo", "busybox here"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// tarMembers lists the names in a tar file.
func tarMembers(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
}

// TestImageCmdsSaveLoad: save of two images to one tar, rmi, load: the
// same IDs and names, from a file and from standard input.
func TestImageCmdsSaveLoad(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	reg := newTestRegistry(t)
	a := reg.push(t, "test/a:1", appImage(t))
	b := reg.push(t, "test/b:1", busyboxImage(t))
	rmiQuiet(t, a, b)
	for _, ref := range []string{a, b} {
		if r := pull(t, "--tls-verify=false", ref); r.code != 0 {
			t.Fatalf("pull %s: %+v", ref, r)
		}
	}
	ida, idb := imageID(t, a), imageID(t, b)
	dir := t.TempDir()
	archive := filepath.Join(dir, "two.tar")
	if r := berth(t, "", "save", "-o", archive, a, b); r.code != 0 || r.stdout != "" {
		t.Fatalf("save: %+v", r)
	}
	members := tarMembers(t, archive)
	for _, want := range []string{"manifest.json", "repositories", "index.json", "oci-layout"} {
		if !members[want] {
			t.Errorf("the archive has no %s: %v", want, members)
		}
	}
	if r := berth(t, "", "save", "test/none:1"); r.code != 1 || !singleLine(r) || !strings.Contains(r.stderr, "not found") {
		t.Errorf("save of a missing image: %+v", r)
	}

	want := "Loaded image: " + a + "\nLoaded image: " + b + "\n"
	for _, how := range []string{"file", "stdin"} {
		if r := berth(t, "", "rmi", a, b); r.code != 0 {
			t.Fatalf("rmi: %+v", r)
		}
		var r result
		if how == "file" {
			r = berth(t, "", "load", "-i", archive)
		} else {
			cmd := berthCommand("image", "load", "-q")
			f, err := os.Open(archive)
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdin = f
			r = collect(t, cmd, "berth")
			f.Close()
		}
		if r.code != 0 || r.stdout != want {
			t.Fatalf("load from %s: %+v", how, r)
		}
		if imageID(t, a) != ida || imageID(t, b) != idb {
			t.Errorf("load from %s: IDs %s %s, saved %s %s", how, imageID(t, a), imageID(t, b), ida, idb)
		}
	}
	if r := berth(t, "", "run", "--rm", b); r.code != 0 || r.stdout != "busybox here\n" {
		t.Errorf("run of a loaded image: %+v", r)
	}

	// An image saved by ID loads untagged, as docker says it.
	byID := filepath.Join(dir, "byid.tar")
	if r := berth(t, "", "image", "save", "-o", byID, idb); r.code != 0 {
		t.Fatalf("save by ID: %+v", r)
	}
	if r := berth(t, "", "rmi", b); r.code != 0 {
		t.Fatalf("rmi: %+v", r)
	}
	if r := berth(t, "", "load", "-i", byID); r.code != 0 || r.stdout != "Loaded image ID: "+idb+"\n" {
		t.Errorf("load of an untagged image: %+v", r)
	}
	berth(t, "", "rmi", idb)
	if _, err := os.Stat(archive); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(storeRoot, "images", "tmp")); len(ents) != 0 {
		t.Errorf("load left files in the store's tmp/: %v", ents)
	}
}

// dockerArchive writes a docker save archive of the given layers (plain
// tar files) under the name repo:tag.
func dockerArchive(t *testing.T, path, repoTag string, layers [][]byte) {
	t.Helper()
	compressedArchive(t, path, repoTag, layers, nil)
}

// compressedArchive is dockerArchive with each layer stored as compress
// makes it (nil: plain); the diff IDs are of the plain tars.
func compressedArchive(t *testing.T, path, repoTag string, layers [][]byte, compress func([]byte) []byte) {
	t.Helper()
	var diffIDs []v1.Hash
	var files []string
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)})
		tw.Write(b)
	}
	for i, l := range layers {
		h, _, _ := v1.SHA256(bytes.NewReader(l))
		diffIDs = append(diffIDs, h)
		files = append(files, fmt.Sprintf("%d/layer.tar", i))
		if compress != nil {
			l = compress(l)
		}
		add(files[i], l)
	}
	cfg, _ := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs}})
	add("config.json", cfg)
	man, _ := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{repoTag}, "Layers": files}})
	add("manifest.json", man)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func layerTar(t *testing.T, name, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write([]byte(body))
	tw.Close()
	return buf.Bytes()
}

// storeEntries counts what the image store holds.
func storeEntries(t *testing.T) (blobs, layers, tmp int) {
	t.Helper()
	count := func(d string) int {
		ents, _ := os.ReadDir(filepath.Join(storeRoot, "images", d))
		return len(ents)
	}
	return count("blobs/sha256"), count("layers"), count("tmp")
}

// TestImageCmdsLoadHostile: load refuses an archive over berth's limits
// and one whose layer reaches out of its directory, with one line naming
// the problem, and stores nothing of them; and a root filesystem tarball
// (import's, not load's).
func TestImageCmdsLoadHostile(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	dir := t.TempDir()
	images := berth(t, "", "images", "-q").stdout
	blobs, layers, tmp := storeEntries(t)
	check := func(what string, r result, want string) {
		t.Helper()
		if r.code != 1 || !singleLine(r) || !strings.Contains(r.stderr, want) || r.stdout != "" {
			t.Errorf("load of %s: %+v", what, r)
		}
		t.Logf("%s: %s", what, r.stderr)
		if now := berth(t, "", "images", "-q").stdout; now != images {
			t.Errorf("load of %s: images now %q, before %q", what, now, images)
		}
		if b, l, tm := storeEntries(t); b != blobs || l != layers || tm != tmp {
			t.Errorf("load of %s left blobs %d→%d, layers %d→%d, tmp %d→%d", what, blobs, b, layers, l, tmp, tm)
		}
	}

	var many [][]byte
	for i := 0; i < 129; i++ {
		many = append(many, layerTar(t, fmt.Sprint(i), "x"))
	}
	deep := filepath.Join(dir, "deep.tar")
	dockerArchive(t, deep, "hostile/deep:1", many)
	check("129 layers", berth(t, "", "load", "-q", "-i", deep), "image.MaxLayers")
	f, err := os.Open(deep)
	if err != nil {
		t.Fatal(err)
	}
	cmd := berthCommand("load", "-q")
	cmd.Stdin = f
	check("129 layers on stdin", collect(t, cmd, "berth"), "image.MaxLayers")
	f.Close()

	escape := filepath.Join(dir, "escape.tar")
	dockerArchive(t, escape, "hostile/escape:1", [][]byte{layerTar(t, "../../../../../tmp/berth-load-escaped", "pwned")})
	check("an escaping layer", berth(t, "", "load", "-q", "-i", escape), "berth-load-escaped")
	if _, err := os.Stat("/tmp/berth-load-escaped"); err == nil {
		os.Remove("/tmp/berth-load-escaped")
		t.Error("the hostile layer wrote /tmp/berth-load-escaped on the host")
	}

	rootfs := filepath.Join(dir, "rootfs.tar")
	os.WriteFile(rootfs, layerTar(t, "etc/hostname", "x"), 0o600)
	check("a root filesystem tarball", berth(t, "", "load", "-q", "-i", rootfs), "berth image import")
}

// TestImageCmdsLoadZstd: a zstd layer is unpacked (by berth-registry, for
// berth links no zstd decoder: internal/image/zstd.go), and a corrupt one
// is refused in one line that says so, leaving nothing in the store.
func TestImageCmdsLoadZstd(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	dir := t.TempDir()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	plain := layerTar(t, "hello", "zstd-ok")
	good := filepath.Join(dir, "good.tar")
	compressedArchive(t, good, "zstd/test:1", [][]byte{plain}, func(b []byte) []byte { return enc.EncodeAll(b, nil) })
	defer rmiQuiet(t, "zstd/test:1")
	if r := berth(t, "", "load", "-i", good); r.code != 0 || !strings.Contains(r.stdout, "zstd/test:1") {
		t.Fatalf("load of a zstd layer: %+v", r)
	}
	h, _, _ := v1.SHA256(bytes.NewReader(plain))
	if b, err := os.ReadFile(filepath.Join(storeRoot, "images", "layers", h.Hex, "diff", "hello")); err != nil || string(b) != "zstd-ok" {
		t.Errorf("the unpacked zstd layer holds %q (%v), want zstd-ok", b, err)
	}

	images := berth(t, "", "images", "-q").stdout
	blobs, layers, tmp := storeEntries(t)
	bad := filepath.Join(dir, "bad.tar")
	corrupt := func(b []byte) []byte {
		z := enc.EncodeAll(b, nil)
		for i := 8; i < len(z); i++ {
			z[i] ^= 0x5a
		}
		return z
	}
	compressedArchive(t, bad, "zstd/bad:1", [][]byte{layerTar(t, "other", "x")}, corrupt)
	r := berth(t, "", "load", "-q", "-i", bad)
	t.Logf("corrupt: %s", r.stderr)
	if r.code != 1 || !singleLine(r) || !strings.Contains(r.stderr, "zstd") {
		t.Errorf("load of a corrupt zstd layer: %+v, want one line about zstd", r)
	}
	if now := berth(t, "", "images", "-q").stdout; now != images {
		t.Errorf("the corrupt load left images: %q, before %q", now, images)
	}
	if b, l, tm := storeEntries(t); b != blobs || l != layers || tm != tmp {
		t.Errorf("the corrupt load left blobs %d→%d, layers %d→%d, tmp %d→%d", blobs, b, layers, l, tmp, tm)
	}
}

// TestImageCmdsHistory: history shows the config's history, newest
// first, each step that made a layer with that layer's size.
func TestImageCmdsHistory(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	reg := newTestRegistry(t)
	img := appImage(t)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	long := "/bin/sh -c echo a command far longer than forty-five characters"
	cf.History = []v1.History{
		{Created: v1.Time{Time: t0}, CreatedBy: "ADD rootfs.tar / # buildkit"},
		{Created: v1.Time{Time: t0.Add(time.Hour)}, CreatedBy: "ENV GREETING=hello", EmptyLayer: true},
		{Created: v1.Time{Time: t0.Add(2 * time.Hour)}, CreatedBy: long, Comment: "the app"},
	}
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.push(t, "test/hist:1", img)
	rmiQuiet(t, ref)
	if r := pull(t, "--tls-verify=false", ref); r.code != 0 {
		t.Fatalf("pull: %+v", r)
	}
	id := imageID(t, ref)

	r := berth(t, "", "history", ref)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 0 || len(lines) != 4 || !regexp.MustCompile(`^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$`).MatchString(lines[0]) {
		t.Fatalf("history: %+v", r)
	}
	if !strings.HasPrefix(lines[1], id[7:19]+" ") || !strings.Contains(lines[1], long[:44]+"…") || !strings.Contains(lines[1], "the app") ||
		!strings.HasPrefix(lines[2], "<missing> ") || !strings.Contains(lines[2], "ENV GREETING=hello") || !strings.Contains(lines[2], " 0B ") ||
		!strings.HasPrefix(lines[3], "<missing> ") || !strings.Contains(lines[3], "ADD rootfs.tar") {
		t.Errorf("history:\n%s", r.stdout)
	}

	r = berth(t, "", "image", "history", "--no-trunc", "-H=false", "--format", `{{.ID}}|{{.CreatedAt}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}`, ref)
	lines = strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 0 || len(lines) != 3 {
		t.Fatalf("history --format: %+v", r)
	}
	var sizes [3]int64
	for i, l := range lines {
		f := strings.Split(l, "|")
		if len(f) != 5 {
			t.Fatalf("history --format line %q", l)
		}
		fmt.Sscan(f[3], &sizes[i])
		h := cf.History[2-i]
		if f[1] != h.Created.Time.Format(time.RFC3339) || f[2] != h.CreatedBy || f[4] != h.Comment {
			t.Errorf("history line %d %q, config %+v", i, l, h)
		}
	}
	if lines[0][:strings.Index(lines[0], "|")] != id || !strings.HasPrefix(lines[1], "<missing>|") {
		t.Errorf("history --no-trunc IDs:\n%s", r.stdout)
	}
	var info []struct{ Size int64 }
	json.Unmarshal([]byte(berth(t, "", "image", "inspect", ref).stdout), &info)
	if len(info) != 1 || sizes[1] != 0 || sizes[0] <= 0 || sizes[2] <= 0 || sizes[0]+sizes[2] != info[0].Size {
		t.Errorf("history sizes %v, image size %+v", sizes, info)
	}

	if r := berth(t, "", "history", "-q", ref); r.code != 0 || r.stdout != id[7:19]+"\n<missing>\n<missing>\n" {
		t.Errorf("history -q: %+v", r)
	}
	r = berth(t, "", "history", "--format", "json", ref)
	lines = strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	var first map[string]string
	if r.code != 0 || len(lines) != 3 || json.Unmarshal([]byte(lines[0]), &first) != nil || first["CreatedBy"] != long[:44]+"…" || first["Comment"] != "the app" {
		t.Errorf("history --format json: %+v", r)
	}
	if r := berth(t, "", "history", "--format", "table {{.ID}}\\t{{.Size}}", ref); r.code != 0 || !regexp.MustCompile(`^IMAGE +SIZE\n`).MatchString(r.stdout) {
		t.Errorf("history --format table: %+v", r)
	}
	if r := berth(t, "", "history", "test/none:1"); r.code != 1 || !singleLine(r) || !strings.Contains(r.stderr, "not found") {
		t.Errorf("history of a missing image: %+v", r)
	}
}

// TestImageCmdsPodmanInterop: podman load reads what berth save writes,
// and berth load reads podman save's docker archive, with the same image
// IDs both ways (docker's reader is the same format; podman is the one
// on this machine).
func TestImageCmdsPodmanInterop(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	p := newPodman(t)
	reg := newTestRegistry(t)
	ref := reg.push(t, "test/interop:1", appImage(t))
	rmiQuiet(t, ref, p.image)
	if r := pull(t, "--tls-verify=false", ref); r.code != 0 {
		t.Fatalf("pull: %+v", r)
	}
	id := imageID(t, ref)
	saved := filepath.Join(p.dir, "tmp", "berth-saved.tar")
	if r := berth(t, "", "save", "-o", saved, ref); r.code != 0 {
		t.Fatalf("save: %+v", r)
	}
	if out := p.must(t, "load", "--signature-policy", p.dir+"/policy.json", "-i", saved); !strings.Contains(out, ref) {
		t.Errorf("podman load: %s", out)
	}
	if got := p.must(t, "images", "--no-trunc", "--format", "{{.ID}}", ref); got != id {
		t.Errorf("podman loaded %s, berth saved %s", got, id)
	}

	theirs := filepath.Join(p.dir, "tmp", "podman-saved.tar")
	// --signature-policy: the host's /etc/containers need not exist.
	p.must(t, "save", "--signature-policy", p.dir+"/policy.json", "--format", "docker-archive", "-o", theirs, p.image)
	pid := p.must(t, "images", "--no-trunc", "--format", "{{.ID}}", p.image)
	if r := berth(t, "", "load", "-q", "-i", theirs); r.code != 0 || r.stdout != "Loaded image: "+p.image+"\n" {
		t.Fatalf("load of podman's archive: %+v", r)
	}
	if got := imageID(t, p.image); got != pid && got != "sha256:"+pid {
		t.Errorf("berth loaded %s, podman saved %s", got, pid)
	}
	if r := berth(t, "", "run", "--rm", p.image, "echo", "from podman"); r.code != 0 || r.stdout != "from podman\n" {
		t.Errorf("run of podman's image: %+v", r)
	}

	// An OCI archive (no manifest.json) loads too.
	if r := berth(t, "", "rmi", p.image); r.code != 0 {
		t.Fatalf("rmi: %+v", r)
	}
	oci := filepath.Join(p.dir, "tmp", "podman-oci.tar")
	p.must(t, "save", "--signature-policy", p.dir+"/policy.json", "--format", "oci-archive", "-o", oci, p.image)
	r := berth(t, "", "load", "-q", "-i", oci)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Loaded image") {
		t.Fatalf("load of podman's OCI archive: %+v", r)
	}
	t.Logf("OCI archive: %s", r.stdout)
	loaded := strings.TrimSpace(r.stdout[strings.LastIndex(r.stdout, ": ")+2:])
	rmiQuiet(t, loaded)
	if got := imageID(t, loaded); got != pid && got != "sha256:"+pid {
		t.Errorf("berth loaded %s from the OCI archive, podman saved %s", got, pid)
	}
}
