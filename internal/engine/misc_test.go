package engine

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/volume"
	"golang.org/x/sys/unix"
)

// TestCheckPlatform: --platform takes the host's platform in Docker's
// forms and refuses another in one line that names both.
func TestCheckPlatform(t *testing.T) {
	arch := runtime.GOARCH
	accepted := []string{"", "linux", arch, "linux/" + arch, "LINUX/" + strings.ToUpper(arch)}
	if arch == "amd64" {
		accepted = append(accepted, "x86_64", "linux/x86-64", "linux/amd64/v3")
	}
	for _, p := range accepted {
		if err := CheckPlatform(p); err != nil {
			t.Errorf("--platform %q: %v", p, err)
		}
	}
	other := "arm64"
	if arch == "arm64" {
		other = "amd64"
	}
	for _, p := range []string{"linux/" + other, other, "aarch64", "windows", "windows/" + arch, "linux/" + arch + "/bogus/x", "linux/" + arch + "/v9", "/", "linux/"} {
		err := CheckPlatform(p)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--platform %q: %v", p, err)
			continue
		}
		want := "berth runs linux/" + arch + " images on this host; --platform " + p + " needs emulation berth does not provide"
		if err.Error() != want {
			t.Errorf("--platform %q: %q, want %q", p, err, want)
		}
	}
}

// TestCheckImagePlatform: an image for another platform is refused at
// create; one that names none, or the host's, is run.
func TestCheckImagePlatform(t *testing.T) {
	for _, ic := range []image.Config{{}, {OS: "linux", Architecture: runtime.GOARCH}, {OS: "linux"}} {
		if err := checkImagePlatform("img", &ic); err != nil {
			t.Errorf("%+v: %v", ic, err)
		}
	}
	err := checkImagePlatform("img", &image.Config{OS: "linux", Architecture: "s390x"})
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "image img is for linux/s390x: berth runs linux/"+runtime.GOARCH) {
		t.Errorf("s390x: %v", err)
	}
}

// TestResolveVolumesFrom: --volumes-from copies another container's
// volumes (an anonymous one by its name) and binds, not its tmpfs; :ro
// makes them read-only, a read-only one stays so; the container's own
// mounts win their destinations; bad values and missing containers are
// refused.
func TestResolveVolumesFrom(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	src := managed.Record{ID: strings.Repeat("a", 64), Name: "src", Config: &managed.Config{Mounts: []spec.MountRequest{
		{Type: spec.MountVolume, Destination: "/anon"},
		{Type: spec.MountVolume, Source: "data", Destination: "/data"},
		{Type: spec.MountBind, Source: "/srv", Destination: "/srv", ReadOnly: true, CreateSource: true},
		{Type: spec.MountBind, Source: "/opt", Destination: "/mine"},
		{Type: spec.MountTmpfs, Destination: "/tmp"},
	}}}
	owner, err := e.Containers().Create(src)
	if err != nil {
		t.Fatal(err)
	}
	owner.Release()

	cfg := managed.Config{Mounts: []spec.MountRequest{{Type: spec.MountBind, Source: "/etc", Destination: "/mine"}}}
	if err := e.ResolveVolumesFrom(&cfg, []string{"src"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]spec.MountRequest{}
	for _, m := range cfg.Mounts {
		got[m.Destination] = m
	}
	if len(cfg.Mounts) != 4 || got["/mine"].Source != "/etc" {
		t.Fatalf("mounts: %+v", cfg.Mounts)
	}
	if m := got["/anon"]; m.Type != spec.MountVolume || m.Source != volume.AnonymousName(src.ID, "/anon") || m.ReadOnly {
		t.Errorf("anonymous volume: %+v", m)
	}
	if m := got["/data"]; m.Source != "data" || m.ReadOnly {
		t.Errorf("named volume: %+v", m)
	}
	if m := got["/srv"]; m.Source != "/srv" || !m.ReadOnly || m.CreateSource {
		t.Errorf("read-only bind: %+v", m)
	}
	if names := cfg.Volumes("new", volume.AnonymousName); len(names) != 2 {
		t.Errorf("the new container does not name the volumes: %q", names)
	}

	ro := managed.Config{}
	if err := e.ResolveVolumesFrom(&ro, []string{"src:ro"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range ro.Mounts {
		if !m.ReadOnly {
			t.Errorf(":ro: %+v is writable", m)
		}
	}

	for v, want := range map[string]error{"src:rx": errdefs.ErrInvalidArgument, ":ro": errdefs.ErrInvalidArgument, "nope": errdefs.ErrNotFound} {
		var c managed.Config
		if err := e.ResolveVolumesFrom(&c, []string{v}); !errors.Is(err, want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--volumes-from %q: %v, want %v", v, err, want)
		}
	}
}

// TestCheckUlimitsRaisable: a hard limit above this process's own is
// refused in one line without the capability to raise it, and taken
// with it; a lower one is always taken; nofile is capped by fs.nr_open.
func TestCheckUlimitsRaisable(t *testing.T) {
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &cur); err != nil {
		t.Fatal(err)
	}
	yes, no := func() bool { return true }, func() bool { return false }
	if err := checkUlimitsRaisable([]string{"nproc=1:2", "core=0"}, no); err != nil {
		t.Errorf("lower limits: %v", err)
	}
	if cur.Max == unix.RLIM_INFINITY {
		t.Skip("this process's nproc hard limit is unlimited already")
	}
	err := checkUlimitsRaisable([]string{"nproc=-1"}, no)
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), fmt.Sprintf("use at most nproc=%d", cur.Max)) || strings.Contains(err.Error(), "\n") {
		t.Errorf("nproc=-1 without CAP_SYS_RESOURCE: %v", err)
	}
	if err := checkUlimitsRaisable([]string{"nproc=-1"}, yes); err != nil {
		t.Errorf("nproc=-1 with CAP_SYS_RESOURCE: %v", err)
	}
	if err := checkUlimitsRaisable([]string{"nofile=-1"}, yes); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "fs.nr_open") {
		t.Errorf("nofile=-1: %v", err)
	}
}

// TestVolumeAt: cp's paths of a stopped container go to the deepest
// volume whose destination holds them, lexically, keeping docker cp's
// trailing "/." and "/"; others stay in the container's root.
func TestVolumeAt(t *testing.T) {
	rec := managed.Record{Config: &managed.Config{Mounts: []spec.MountRequest{
		{Type: spec.MountVolume, Source: "data", Destination: "/data"},
		{Type: spec.MountVolume, Source: "deep", Destination: "/data/deep"},
		{Type: spec.MountBind, Source: "/srv", Destination: "/srv"},
	}}}
	for p, want := range map[string][2]string{
		"/data": {"data", "/"}, "/data/": {"data", "/"}, "/data/.": {"data", "/."}, "data/x/y": {"data", "/x/y"},
		"/data/x/": {"data", "/x/"}, "/data/x/.": {"data", "/x/."}, "/data/deep/f": {"deep", "/f"}, "/data/deeper": {"data", "/deeper"},
		"/data/../etc/passwd": {"", ""}, "/datum": {"", ""}, "/srv/f": {"", ""}, "/": {"", ""},
	} {
		m, rest := volumeAt(rec, p)
		got := [2]string{"", rest}
		if m != nil {
			got[0] = m.Source
		}
		if got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
}
