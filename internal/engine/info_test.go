package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/managed"
)

func TestVersionOf(t *testing.T) {
	v := VersionOf("1.2.3", "0123456789abcdef", "2024-09-20T11:39:44Z").Client
	want := ClientVersion{Version: "1.2.3", ApiVersion: "n/a", GoVersion: runtime.Version(), GitCommit: "0123456",
		BuildTime: "Fri Sep 20 11:39:44 2024", Os: runtime.GOOS, Arch: runtime.GOARCH}
	if v != want {
		t.Errorf("VersionOf:\n%+v\nwant\n%+v", v, want)
	}
}

func TestInfoCountsAndHost(t *testing.T) {
	e := New(Options{Root: t.TempDir(), Runroot: t.TempDir(), StorageDriver: "vfs"})
	for i, st := range []managed.Status{managed.Created, managed.Exited, managed.Running} {
		rec, err := e.CreateStored(managed.Config{Rootfs: "/", Cmd: []string{"true"}}, CreateOptions{Name: "c" + string(rune('0'+i))})
		if err != nil {
			t.Fatal(err)
		}
		if st == managed.Running {
			// Running for as long as its owner holds the lock.
			owner, err := e.Containers().Own(rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer owner.Release()
		}
		if _, err := e.Containers().Update(rec.ID, func(r *managed.Record) { r.State.Status = st }); err != nil {
			t.Fatal(err)
		}
	}
	in := e.Info(InfoOptions{Version: "9.9", UsernsDefault: "auto"})
	if in.Containers != 3 || in.ContainersRunning != 1 || in.ContainersStopped != 2 || in.ContainersPaused != 0 {
		t.Errorf("counts: %+v", in)
	}
	if in.Driver != "vfs" || in.ServerVersion != "9.9" || in.UsernsDefault != "auto" || in.DockerRootDir != e.Root || in.NCPU < 1 || in.MemTotal <= 0 {
		t.Errorf("info: %+v", in)
	}
	if in := e.Info(InfoOptions{}); in.UsernsDefault != "host" {
		t.Errorf("no default userns: %q, want host", in.UsernsDefault)
	}
}

func TestSecurityOptions(t *testing.T) {
	if got := securityOptions(false, false, cgroups.V1); !reflect.DeepEqual(got, []string{"name=seccomp,profile=builtin"}) {
		t.Errorf("root, v1: %v", got)
	}
	want := []string{"name=seccomp,profile=builtin", "name=rootless", "name=userns", "name=cgroupns"}
	if got := securityOptions(true, true, cgroups.V2); !reflect.DeepEqual(got, want) {
		t.Errorf("rootless, userns, v2: %v", got)
	}
}

func TestOSReleaseAndMemTotal(t *testing.T) {
	dir := t.TempDir()
	osr, mem := filepath.Join(dir, "os-release"), filepath.Join(dir, "meminfo")
	os.WriteFile(osr, []byte("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"), 0o644)
	os.WriteFile(mem, []byte("MemTotal:       16303412 kB\nMemFree: 1 kB\n"), 0o644)
	if got := osRelease(osr); got != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("osRelease: %q", got)
	}
	if got := memTotal(mem); got != 16303412*1024 {
		t.Errorf("memTotal: %d", got)
	}
	if osRelease(filepath.Join(dir, "none")) != "n/a" || memTotal(filepath.Join(dir, "none")) != 0 {
		t.Error("missing files")
	}
}
