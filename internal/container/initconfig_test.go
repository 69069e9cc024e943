package container

import (
	"bytes"
	"testing"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/seccomp"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestInitConfigFromDefaultSpec(t *testing.T) {
	s := spec.Default(t.TempDir(), []string{"/bin/true"})
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}}
	cg := &cgroups.Cgroup{Version: cgroups.V1, Path: "/berth/x", Dirs: []string{"/sys/fs/cgroup/pids/berth/x", "/sys/fs/cgroup/cpu,cpuacct/berth/x"}}
	cfg, err := initConfig(s, cg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cloneFlags(s) != unix.CLONE_NEWPID|unix.CLONE_NEWNS|unix.CLONE_NEWUTS|unix.CLONE_NEWIPC|unix.CLONE_NEWNET {
		t.Errorf("clone flags %#x", cloneFlags(s))
	}
	if !cfg.NewCgroupNS || !cfg.NewNetNS {
		t.Error("cgroup or network namespace not requested")
	}
	if len(cfg.CgroupTasks) != 2 || cfg.CgroupTasks[0] != "/sys/fs/cgroup/pids/berth/x/tasks" {
		t.Errorf("tasks files %v", cfg.CgroupTasks)
	}
	if h := cfg.Rootfs.CgroupHierarchies; len(h) != 2 || h[1] != "cpu,cpuacct" {
		t.Errorf("hierarchies %v", h)
	}
	if cfg.Process.Caps.Bounding != 0xa80425fb || cfg.Process.Caps.Effective != 0xa80425fb || cfg.Process.Caps.Inheritable != 0 {
		t.Errorf("capability masks %+v", cfg.Process.Caps)
	}
	if len(cfg.Process.Rlimits) != 1 || cfg.Process.Rlimits[0].Resource != unix.RLIMIT_NOFILE {
		t.Errorf("rlimits %+v", cfg.Process.Rlimits)
	}
	for _, m := range cfg.Rootfs.Mounts {
		if m.Destination == "/sys" && m.Flags&unix.MS_RDONLY == 0 {
			t.Error("/sys is not mounted read-only")
		}
	}
	if len(cfg.Rootfs.Devices) != 6 || cfg.Rootfs.Devices[0].Mode != unix.S_IFCHR|0o666 {
		t.Errorf("devices %+v", cfg.Rootfs.Devices)
	}
}

func TestInitConfigRejectsBadValues(t *testing.T) {
	cg := &cgroups.Cgroup{Version: cgroups.V2, Dirs: []string{"/sys/fs/cgroup/berth/x"}}
	s := spec.Default(t.TempDir(), []string{"/bin/true"})
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}}
	if _, err := initConfig(s, cg, Options{}); !IsInvalid(err) {
		t.Errorf("unknown rlimit: %v", err)
	}
	s = spec.Default(t.TempDir(), []string{"/bin/true"})
	s.Linux.RootfsPropagation = "sideways"
	if _, err := initConfig(s, cg, Options{}); !IsInvalid(err) {
		t.Errorf("bad rootfsPropagation: %v", err)
	}
}

// TestRootfsPropagation: the tree is made what rootfsPropagation asks for
// before anything is mounted (rprivate without one), except unbindable,
// which would refuse the rootfs's own bind; / gets it again after
// pivot_root.
func TestRootfsPropagation(t *testing.T) {
	cg := &cgroups.Cgroup{Version: cgroups.V2, Dirs: []string{"/sys/fs/cgroup/berth/x"}}
	for prop, want := range map[string][2]uintptr{
		"":            {unix.MS_REC | unix.MS_PRIVATE, 0},
		"rshared":     {unix.MS_REC | unix.MS_SHARED, unix.MS_REC | unix.MS_SHARED},
		"shared":      {unix.MS_SHARED, unix.MS_SHARED},
		"rslave":      {unix.MS_REC | unix.MS_SLAVE, unix.MS_REC | unix.MS_SLAVE},
		"private":     {unix.MS_PRIVATE, unix.MS_PRIVATE},
		"runbindable": {unix.MS_REC | unix.MS_PRIVATE, unix.MS_REC | unix.MS_UNBINDABLE},
	} {
		s := spec.Default(t.TempDir(), []string{"/bin/true"})
		s.Linux.RootfsPropagation = prop
		cfg, err := initConfig(s, cg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := [2]uintptr{cfg.Rootfs.Propagation, cfg.Rootfs.RootPropagation}; got != want {
			t.Errorf("rootfsPropagation %q: tree %#x, root %#x; want %#x, %#x", prop, got[0], got[1], want[0], want[1])
		}
	}
}

// TestSeccompJob: initConfig takes the program compiled meanwhile for the
// spec's profile, the same as compiling it there; a profile the job did
// not compile (the spec's was replaced) is compiled anew; a bad profile's
// error comes from initConfig, as an invalid config.
func TestSeccompJob(t *testing.T) {
	cg := &cgroups.Cgroup{Version: cgroups.V2, Dirs: []string{"/sys/fs/cgroup/berth/x"}}
	s := spec.Default(t.TempDir(), []string{"/bin/true"})
	s.Linux.Seccomp = seccomp.DockerDefault(s.Process.Capabilities.Bounding)
	want, err := initConfig(s, cg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	job := startSeccomp(s)
	got, err := initConfig(s, cg, Options{seccomp: job})
	if err != nil || len(got.Process.Seccomp) == 0 || !bytes.Equal(got.Process.Seccomp, want.Process.Seccomp) {
		t.Fatalf("with the job: %d bytes, %v; want %d bytes", len(got.Process.Seccomp), err, len(want.Process.Seccomp))
	}
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	got, err = initConfig(s, cg, Options{seccomp: job})
	if err != nil || bytes.Equal(got.Process.Seccomp, want.Process.Seccomp) {
		t.Errorf("another profile than the job's: got the job's program (%v)", err)
	}
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"}
	if _, err := initConfig(s, cg, Options{seccomp: startSeccomp(s)}); !IsInvalid(err) {
		t.Errorf("bad profile compiled meanwhile: %v", err)
	}
	if startSeccomp(&specs.Spec{}) != nil || (*seccompJob)(nil).wait().err != nil {
		t.Error("a spec without a profile has a job")
	}
}
