package container

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/spec"
)

// FuzzConfig feeds hostile config.json files through everything that reads
// them before a container exists: bundle loading, validation and the
// translation into the init stage's config. None of it may panic, and a
// config that passes must produce a well-formed init config.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"},"linux":{"namespaces":[{"type":"mount"}]}}`))
	f.Add([]byte(`{"ociVersion":"1.2.0","root":{"path":"rootfs"},"process":{"args":["true"],"cwd":"/","capabilities":{"bounding":["CAP_KILL"]},"rlimits":[{"type":"RLIMIT_NOFILE","hard":10,"soft":5}]},"mounts":[{"destination":"/x","type":"bind","source":"/tmp","options":["rbind","ro","mode=1"]}],"linux":{"namespaces":[{"type":"mount"},{"type":"pid"},{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_GT"}]}]},"devices":[{"path":"/dev/x","type":"c","major":1,"minor":3}],"resources":{"devices":[{"allow":false,"access":"rwm"}]}}}`))
	f.Add([]byte(`{"ociVersion":"9.9","root":{"path":"../../etc"}}`))
	f.Add([]byte(`{"ociVersion":"1.0.0","root":{"path":"rootfs"},"process":{"args":"sh"}}`))
	dir := f.TempDir()
	os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755)
	cg := &cgroups.Cgroup{Version: cgroups.V2, Path: "/berth/fuzz", Dirs: []string{"/sys/fs/cgroup/berth/fuzz"}}
	f.Fuzz(func(t *testing.T, config []byte) {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := spec.LoadBundle(dir)
		if err != nil {
			return
		}
		if s.Linux == nil || spec.Validate(s) != nil {
			return
		}
		cfg, err := initConfig(s, cg, Options{ID: "fuzz"})
		if err != nil {
			return
		}
		if len(cfg.Process.Args) == 0 || cfg.Rootfs.Root == "" || len(cfg.Process.Seccomp)%8 != 0 {
			t.Fatalf("malformed init config from a valid spec: %+v", cfg)
		}
	})
}
