package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
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
	// The security review's hostile configs: host sysctls, mounts inside
	// /proc in the spellings that get around a plain prefix check, SELinux
	// labels, a cgroupsPath naming someone else's cgroup, no device rules.
	const base = `"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["true"],"cwd":"/"}`
	for _, hostile := range []string{
		`"linux":{"namespaces":[{"type":"mount"},{"type":"network"},{"type":"ipc"},{"type":"uts"}],"sysctl":{"kernel.core_pattern":"|/tmp/x"}}`,
		`"linux":{"namespaces":[{"type":"mount"}],"sysctl":{"net.ipv4.ip_forward":"1"}}`,
		`"linux":{"namespaces":[{"type":"mount"},{"type":"network","path":"/proc/self/ns/net"}],"sysctl":{"net.ipv4.ip_forward":"1"}}`,
		`"linux":{"namespaces":[{"type":"mount"},{"type":"ipc"}],"sysctl":{"kernel.shmmax":"1","fs.mqueue.msg_max":"20","vm.swappiness":"0"}}`,
		`"linux":{"namespaces":[{"type":"mount"},{"type":"network"}],"sysctl":{"net/ipv4/../../kernel/core_pattern":"x","kernel..core_pattern":"x"}}`,
		`"linux":{"namespaces":[{"type":"mount"},{"type":"uts"}],"sysctl":{"kernel.hostname":"h","kernel.domainname":"d"}}`,
		`"mounts":[{"destination":"/proc/sys/net","type":"bind","source":"/tmp","options":["rbind"]}],"linux":{"namespaces":[{"type":"mount"}]}`,
		`"mounts":[{"destination":"/proc/./sys/net/","type":"bind","source":"/tmp","options":["rbind"]},{"destination":"//proc/../proc/sys","type":"tmpfs"}],"linux":{"namespaces":[{"type":"mount"}]}`,
		`"mounts":[{"destination":"/proc/meminfo","type":"bind","source":"/tmp/meminfo","options":["bind","ro"]},{"destination":"/proc","type":"proc","source":"proc"}],"linux":{"namespaces":[{"type":"mount"}]}`,
		`"mounts":[{"destination":"/proc","type":"tmpfs","source":"tmpfs"},{"destination":"/proc/self/attr/exec","type":"bind","source":"/tmp/x"}],"linux":{"namespaces":[{"type":"mount"}]}`,
		`"linux":{"namespaces":[{"type":"mount"}],"mountLabel":"system_u:object_r:container_file_t:s0"}`,
		`"linux":{"namespaces":[{"type":"mount"}],"cgroupsPath":"/"}`,
		`"linux":{"namespaces":[{"type":"mount"}],"cgroupsPath":"../../system.slice"}`,
		`"linux":{"namespaces":[{"type":"mount"}],"resources":{}}`,
	} {
		f.Add([]byte("{" + base + "," + hostile + "}"))
	}
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
		if s.Linux == nil {
			return
		}
		if err := spec.Validate(s); err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("validation error of more than one line: %q", err)
			}
			return
		}
		checkAccepted(t, s)
		cfg, err := initConfig(s, cg, Options{ID: "fuzz"})
		if err != nil {
			return
		}
		if len(cfg.Process.Args) == 0 || cfg.Rootfs.Root == "" || len(cfg.Process.Seccomp)%8 != 0 {
			t.Fatalf("malformed init config from a valid spec: %+v", cfg)
		}
	})
}

// checkAccepted states, independently of the validator, what a config that
// passed validation cannot hold: a sysctl outside a namespace of the
// container's own, a sysctl key that is not a plain dotted name, or a
// mount destination inside /proc other than runc's allow-list.
func checkAccepted(t *testing.T, s *specs.Spec) {
	t.Helper()
	own := func(typ specs.LinuxNamespaceType) bool {
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == typ {
				return ns.Path == "" || !strings.HasPrefix(ns.Path, "/proc/self/")
			}
		}
		return false
	}
	for key := range s.Linux.Sysctl {
		if strings.ContainsAny(key, "/\x00") || strings.Contains(key, "..") || strings.HasPrefix(key, ".") || strings.HasSuffix(key, ".") {
			t.Errorf("accepted sysctl key %q", key)
		}
		var ns specs.LinuxNamespaceType
		switch {
		case strings.HasPrefix(key, "net."):
			ns = specs.NetworkNamespace
		case strings.HasPrefix(key, "kernel.shm"), strings.HasPrefix(key, "kernel.msg"), key == "kernel.sem", strings.HasPrefix(key, "fs.mqueue."):
			ns = specs.IPCNamespace
		case key == "kernel.hostname", key == "kernel.domainname":
			ns = specs.UTSNamespace
		case strings.HasPrefix(key, "user."):
			ns = specs.UserNamespace
		default:
			t.Errorf("accepted sysctl %q, which is not namespaced", key)
			continue
		}
		if !own(ns) {
			t.Errorf("accepted sysctl %q without a %s namespace of the container's own", key, ns)
		}
	}
	for _, m := range s.Mounts {
		d := filepath.Clean(m.Destination)
		if d != "/proc" && !strings.HasPrefix(d, "/proc/") {
			continue
		}
		if d == "/proc" && (m.Type == "proc" || spec.IsBind(m)) {
			continue
		}
		allowed := false
		for _, f := range rootfs.LxcfsProcFiles {
			allowed = allowed || d == f
		}
		if !allowed {
			t.Errorf("accepted a mount on %q, inside /proc", m.Destination)
		}
	}
}
