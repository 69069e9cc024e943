package engine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"golang.org/x/sys/unix"
)

// TestCreateRefusesBadOptions: a bad option is refused by Create with
// invalid argument, and no record is made.
func TestCreateRefusesBadOptions(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	bad := -2
	for _, cfg := range []managed.Config{
		{CapAdd: []string{"CAP_NOPE"}}, {StopSignal: "SIGNOPE"}, {StopTimeout: &bad},
		{SecurityOpt: []string{"apparmor=docker-default"}}, {Sysctls: map[string]string{"vm.overcommit_memory": "1"}},
		{ExtraHosts: []string{"db:10.0.0.1"}}, {DNS: []string{"1.1.1.1"}}, {IpcMode: "bogus"}, {UTSMode: "host", Hostname: "box"},
	} {
		cfg.Rootfs, cfg.NetworkMode = "/", "none"
		if _, _, err := e.Create(cfg, CreateOptions{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%+v: %v, want invalid argument", cfg, err)
		}
	}
	if recs := e.Containers().List(); len(recs) != 0 {
		t.Errorf("records left: %d", len(recs))
	}
}

// TestStopTimeoutAndSignal: the container's own --stop-timeout and
// --stop-signal come before the defaults.
func TestStopTimeoutAndSignal(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	five, forever := 5, -1
	for _, c := range []struct {
		cfg  *managed.Config
		want time.Duration
	}{{nil, DefaultStopTimeout}, {&managed.Config{}, DefaultStopTimeout}, {&managed.Config{StopTimeout: &five}, 5 * time.Second}, {&managed.Config{StopTimeout: &forever}, -1}} {
		if got := StopTimeout(managed.Record{Config: c.cfg}); got != c.want {
			t.Errorf("%+v: %v, want %v", c.cfg, got, c.want)
		}
	}
	if sig := e.StopSignal(managed.Record{Config: &managed.Config{StopSignal: "usr1"}}); sig != unix.SIGUSR1 {
		t.Errorf("stop signal %v", sig)
	}
	if sig := e.StopSignal(managed.Record{Config: &managed.Config{}}); sig != unix.SIGTERM {
		t.Errorf("default stop signal %v", sig)
	}
}

// TestCIDFile: written once, refused when it exists (and then left
// alone), and removed when the container was not made.
func TestCIDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cid")
	c, err := CreateCIDFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write("abc"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "abc" {
		t.Errorf("cidfile holds %q", b)
	}
	if _, err := CreateCIDFile(path); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("existing cidfile: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "abc" {
		t.Errorf("existing cidfile changed: %q", b)
	}
	other := filepath.Join(t.TempDir(), "cid2")
	c, _ = CreateCIDFile(other)
	c.Discard()
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("discarded cidfile: %v", err)
	}
	if c, err := CreateCIDFile(""); c != nil || err != nil {
		t.Errorf("no --cidfile: %v %v", c, err)
	}
}

func TestMergeLabels(t *testing.T) {
	got := mergeLabels(map[string]string{"a": "image", "b": "image"}, map[string]string{"b": "own"})
	if len(got) != 2 || got["a"] != "image" || got["b"] != "own" {
		t.Errorf("merged %v", got)
	}
}
