package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-runtime/berth/internal/progress"
)

func TestPull(t *testing.T) {
	reg := newRegistry(t, false)
	img := mkImage(t, runtime.GOARCH, mkTar(t, dir("bin"), file("bin/sh", "sh")), mkTar(t, file("srv/app", "app")))
	reg.push(t, "app:1", img)
	s := newStore(t)
	var ev events
	got, err := s.Pull(context.Background(), reg.host+"/app:1", PullOptions{Insecure: true, Progress: &ev})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != configDigest(t, img) || !slices.Equal(got.Names, []string{reg.host + "/app:1"}) {
		t.Fatalf("pulled %+v", got)
	}
	if len(got.Digests) != 1 || !strings.HasPrefix(got.Digests[0], reg.host+"/app@sha256:") {
		t.Errorf("digests %v", got.Digests)
	}
	for _, d := range layerDigests(t, img) {
		if p := ev.Last(d.Hex[:12]); p != progress.Done {
			t.Errorf("layer %s ended %q", d, p)
		}
	}
	dirs, err := s.LowerDirs(reg.host + "/app:1")
	if err != nil || len(dirs) != 2 {
		t.Fatalf("lower dirs %v %v", dirs, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dirs[0], "srv/app")); string(b) != "app" {
		t.Error("top layer first")
	}
	if b, _ := os.ReadFile(filepath.Join(dirs[1], "bin/sh")); string(b) != "sh" {
		t.Error("bottom layer last")
	}
	for _, ref := range []string{got.ID, got.ID[7:19], got.Digests[0]} {
		if i, err := s.Get(ref); err != nil || i.ID != got.ID {
			t.Errorf("Get(%s): %v", ref, err)
		}
	}
	c, err := s.Config(got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cmd[0] != "echo "+runtime.GOARCH || c.WorkingDir != "/srv" || c.User != "1000:1000" || c.StopSignal != "SIGQUIT" ||
		c.Labels["k"] != "v" || !slices.Equal(c.ExposedPorts, []string{"53/udp", "80/tcp"}) || c.Env[1] != "A=b" || c.Entrypoint[0] != "/bin/sh" {
		t.Errorf("config %+v", c)
	}
	if fi, _ := os.Stat(s.Root()); fi.Mode().Perm() != 0o700 {
		t.Errorf("store root %v", fi.Mode())
	}
	if _, err := s.Get("nosuch"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "berth pull nosuch") {
		t.Errorf("missing image: %v", err)
	}
}

func TestPullIndex(t *testing.T) {
	reg := newRegistry(t, false)
	archs := []string{"arm64", "amd64", "s390x"}
	if !slices.Contains(archs, runtime.GOARCH) {
		t.Skip("host architecture not in the test index")
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	want := map[string]string{}
	for _, a := range archs {
		img := mkImage(t, a, mkTar(t, file("arch", a)))
		want[a] = configDigest(t, img)
		plat := v1.Platform{OS: "linux", Architecture: a}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &plat}})
	}
	reg.pushIndex(t, "multi:latest", idx)
	s := newStore(t)
	if got := pull(t, s, reg.host+"/multi"); got.ID != want[runtime.GOARCH] {
		t.Errorf("picked %s, want the %s image %s", got.ID, runtime.GOARCH, want[runtime.GOARCH])
	}
	got, err := s.Pull(context.Background(), reg.host+"/multi", PullOptions{Insecure: true, Platform: "linux/s390x"})
	if err != nil || got.ID != want["s390x"] {
		t.Errorf("--platform: %v", err)
	}
	_, err = s.Pull(context.Background(), reg.host+"/multi", PullOptions{Insecure: true, Platform: "linux/riscv64"})
	if !errors.Is(err, ErrNoPlatform) {
		t.Errorf("missing platform: %v", err)
	}
}

func TestPullTamperedBlob(t *testing.T) {
	reg := newRegistry(t, false)
	img := mkImage(t, "amd64", mkTar(t, file("a", "a")), mkTar(t, file("b", randomBytes(4096))))
	reg.push(t, "app:1", img)
	bad := layerDigests(t, img)[1]
	reg.tamper[bad.String()] = true
	s := newStore(t)
	_, err := s.Pull(context.Background(), reg.host+"/app:1", PullOptions{Insecure: true})
	if err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("tampered blob: %v", err)
	}
	if exists(s.blobPath(bad.Hex)) || exists(s.path("tmp", "partial-"+bad.Hex)) {
		t.Error("the tampered blob was kept")
	}
	cf, _ := img.ConfigFile()
	if exists(s.layerPath(cf.RootFS.DiffIDs[1].Hex)) {
		t.Error("the tampered layer was unpacked")
	}
	if imgs, _ := s.List(); len(imgs) != 0 {
		t.Error("an image was recorded")
	}
	for _, n := range readDirNames(t, s.path("tmp")) {
		t.Errorf("left in tmp: %s", n)
	}
}

func TestPullPlainHTTPNeedsInsecure(t *testing.T) {
	reg := newRegistry(t, false)
	reg.push(t, "app:1", mkImage(t, "amd64"))
	s := newStore(t)
	_, err := s.Pull(context.Background(), reg.host+"/app:1", PullOptions{})
	if !errors.Is(err, ErrPlainHTTP) {
		t.Fatalf("got %v", err)
	}
	if want := "pull " + reg.host + "/app:1: registry speaks plain http: add --tls-verify=false"; err.Error() != want {
		t.Errorf("message %q", err)
	}
}

func TestPullTLS(t *testing.T) {
	reg := newRegistry(t, true)
	reg.push(t, "app:1", mkImage(t, "amd64", mkTar(t, file("a", "a"))))
	s := newStore(t)
	_, err := s.Pull(context.Background(), reg.host+"/app:1", PullOptions{})
	if !errors.Is(err, ErrUntrustedTLS) {
		t.Fatalf("self-signed certificate: %v", err)
	}
	pull(t, s, reg.host+"/app:1")
}

func TestPullResumes(t *testing.T) {
	reg := newRegistry(t, false)
	img := mkImage(t, "amd64", mkTar(t, file("small", "s")), mkTar(t, file("big", randomBytes(2<<20))))
	reg.push(t, "app:1", img)
	ds := layerDigests(t, img)
	small, big := ds[0], ds[1]
	reg.cut[big.String()] = 100 << 10
	s := newStore(t)
	if _, err := s.Pull(context.Background(), reg.host+"/app:1", PullOptions{Insecure: true}); err == nil {
		t.Fatal("a pull whose connection drops succeeded")
	}
	fi, err := os.Stat(s.path("tmp", "partial-"+big.Hex))
	if err != nil || fi.Size() == 0 {
		t.Fatalf("no partial download kept: %v", err)
	}
	if !exists(s.blobPath(small.Hex)) {
		t.Fatal("the completed blob was not kept")
	}
	if len(reg.ranges[big.String()]) != retries-1 {
		t.Errorf("retries within the pull did not resume: %v", reg.ranges[big.String()])
	}
	// A new store on the same root: as after berth was killed.
	s, err = Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	delete(reg.cut, big.String())
	pull(t, s, reg.host+"/app:1")
	if reg.count(small) != 1 {
		t.Errorf("completed blob fetched %d times", reg.count(small))
	}
	rs := reg.ranges[big.String()]
	if want := "bytes=" + strconv.FormatInt(fi.Size(), 10) + "-"; !strings.HasPrefix(rs[len(rs)-1], want) {
		t.Errorf("resumed with %q, want %s…", rs[len(rs)-1], want)
	}
}

func TestPullConcurrent(t *testing.T) {
	reg := newRegistry(t, false)
	img := mkImage(t, "amd64", mkTar(t, file("a", randomBytes(256<<10))), mkTar(t, file("b", randomBytes(256<<10))))
	reg.push(t, "app:1", img)
	s := newStore(t)
	s2, _ := Open(s.Root())
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, st := range []*Store{s, s2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.Pull(context.Background(), reg.host+"/app:1", PullOptions{Insecure: true})
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	for _, d := range layerDigests(t, img) {
		if n := reg.count(d); n != 1 {
			t.Errorf("blob %s fetched %d times", d, n)
		}
	}
	if n := len(readDirNames(t, s.path("layers"))); n != 2 {
		t.Errorf("%d layers", n)
	}
}

func TestSharedLayers(t *testing.T) {
	reg := newRegistry(t, false)
	base := mkTar(t, file("base", randomBytes(1000)))
	a := mkImage(t, "amd64", base, mkTar(t, file("a", "a")))
	b := mkImage(t, "amd64", base, mkTar(t, file("b", "b")))
	reg.push(t, "a:1", a)
	reg.push(t, "b:1", b)
	s := newStore(t)
	pull(t, s, reg.host+"/a:1")
	var ev events
	if _, err := s.Pull(context.Background(), reg.host+"/b:1", PullOptions{Insecure: true, Progress: &ev}); err != nil {
		t.Fatal(err)
	}
	shared := layerDigests(t, a)[0]
	if reg.count(shared) != 1 || ev.Last(shared.Hex[:12]) != progress.Exists {
		t.Errorf("shared layer fetched %d times, ended %q", reg.count(shared), ev.Last(shared.Hex[:12]))
	}
	da, _ := s.LowerDirs(reg.host + "/a:1")
	db, _ := s.LowerDirs(reg.host + "/b:1")
	if da[1] != db[1] || len(readDirNames(t, s.path("layers"))) != 3 {
		t.Errorf("shared layer not shared: %v %v", da, db)
	}
}

func TestPullLayerOverLimit(t *testing.T) {
	reg := newRegistry(t, false)
	// A valid tar followed by 4 MiB of zeros: small compressed, and past
	// the limit only after the tar's end.
	bomb := append(mkTar(t, file("ok", "ok")), make([]byte, 4<<20)...)
	reg.push(t, "bomb:1", mkImage(t, "amd64", bomb))
	s := newStore(t)
	s.Limits.ImageBytes = 1 << 20
	_, err := s.Pull(context.Background(), reg.host+"/bomb:1", PullOptions{Insecure: true})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("got %v", err)
	}
	if n := readDirNames(t, s.path("layers")); len(n) != 0 {
		t.Errorf("layers: %v", n)
	}
	if n := readDirNames(t, s.path("tmp")); len(n) != 0 {
		t.Errorf("tmp: %v", n)
	}
}
