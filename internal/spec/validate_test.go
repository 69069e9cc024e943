package spec_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidateAcceptsDefault(t *testing.T) {
	s := spec.Default(t.TempDir(), []string{"/bin/sh"})
	if err := spec.Validate(s); err != nil {
		t.Fatalf("Validate(Default) error: %v", err)
	}
	if !spec.HasNamespace(s, specs.UTSNamespace) || spec.HasNamespace(s, specs.UserNamespace) {
		t.Error("HasNamespace gives the wrong answer for the default config")
	}
}

func TestValidateAccepts(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	tests := []struct {
		name   string
		modify func(*specs.Spec)
	}{
		{"no hostname without uts", func(s *specs.Spec) {
			s.Hostname = ""
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}}
		}},
		{"lower-case capability names", func(s *specs.Spec) { s.Process.Capabilities.Ambient = []string{"net_bind_service"} }},
		{"nil capabilities", func(s *specs.Spec) { s.Process.Capabilities = nil }},
		{"bind mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind", "ro"}})
		}},
		{"bind by option", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"bind"}})
		}},
		{"every device type", func(s *specs.Spec) {
			s.Linux.Devices = append(s.Linux.Devices,
				specs.LinuxDevice{Path: "/dev/sda", Type: "b", Major: 8},
				specs.LinuxDevice{Path: "/dev/u", Type: "u", Major: 1, Minor: 1},
				specs.LinuxDevice{Path: "/dev/fifo", Type: "p"})
		}},
		{"device cgroup allow all", func(s *specs.Spec) {
			s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Type: "a", Access: "rwm"}, {Allow: true, Type: "c", Access: "mw"}}
		}},
		{"nil resources", func(s *specs.Spec) { s.Linux.Resources = nil }},
		{"swap equal to memory", func(s *specs.Spec) {
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: i64(1 << 30), Swap: i64(1 << 30)}
		}},
		{"unlimited swap", func(s *specs.Spec) {
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: i64(1 << 30), Swap: i64(-1)}
		}},
		{"cpu quota", func(s *specs.Spec) {
			s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec.Default(t.TempDir(), []string{"/bin/sh"})
			tt.modify(s)
			if err := spec.Validate(s); err != nil {
				t.Errorf("Validate error: %v", err)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "x")
	tests := []struct {
		name   string
		modify func(*specs.Spec)
		part   string
	}{
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path"},
		{"empty root path", func(s *specs.Spec) { s.Root.Path = "" }, "root.path"},
		{"relative root path", func(s *specs.Spec) { s.Root.Path = "rootfs" }, "absolute"},
		{"missing rootfs", func(s *specs.Spec) { s.Root.Path = filepath.Join(s.Root.Path, "missing") }, "does not exist"},
		{"rootfs is a file", func(s *specs.Spec) { s.Root.Path = file }, "is not a directory"},
		{"no linux section", func(s *specs.Spec) { s.Linux = nil }, "linux"},
		{"no process", func(s *specs.Spec) { s.Process = nil }, "process"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "app" }, "cwd"},
		{"empty cwd", func(s *specs.Spec) { s.Process.Cwd = "" }, "cwd"},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, "args"},
		{"empty program", func(s *specs.Spec) { s.Process.Args = []string{""} }, "args"},
		{"env without =", func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "NOVALUE") }, "NOVALUE"},
		{"env with empty name", func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "=x") }, "env"},
		{"unknown capability in bounding", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append([]string{"CAP_TEST"}, s.Process.Capabilities.Bounding...)
		}, "CAP_TEST"},
		{"unknown capability in ambient", func(s *specs.Spec) { s.Process.Capabilities.Ambient = []string{"CAP_TEST"} }, "CAP_TEST"},
		{"unknown capability in inheritable", func(s *specs.Spec) { s.Process.Capabilities.Inheritable = []string{"CAP_TEST"} }, "CAP_TEST"},
		{"unknown namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, "bogus"},
		{"duplicate namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, "twice"},
		{"relative namespace path", func(s *specs.Spec) { s.Linux.Namespaces[4].Path = "proc/1/ns/net" }, "absolute"},
		{"user namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "user"},
		{"user namespace without mappings", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "uidMappings"},
		{"hostname without uts", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}}
		}, "uts"},
		{"relative mount destination", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "data", Type: "tmpfs", Source: "tmpfs"})
		}, "data"},
		{"unsupported mount type", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "nfs", Source: "server:/x"})
		}, "nfs"},
		{"bind without source", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind"})
		}, "source"},
		{"rbind option without source", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "none", Options: []string{"rbind"}})
		}, "source"},
		{"bad device type", func(s *specs.Spec) {
			s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/x", Type: "x"})
		}, `"x"`},
		{"relative device path", func(s *specs.Spec) {
			s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "dev/x", Type: "c"})
		}, "dev/x"},
		{"device cgroup access rwx", func(s *specs.Spec) {
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Access: "rwx"})
		}, "rwx"},
		{"device cgroup access with inner junk", func(s *specs.Spec) {
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Access: "rxw"})
		}, "rxw"},
		{"device cgroup access of a alone", func(s *specs.Spec) {
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Access: "a"})
		}, `"a"`},
		{"device cgroup type", func(s *specs.Spec) {
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "p", Access: "r"})
		}, `"p"`},
		{"swap below memory", func(s *specs.Spec) {
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: i64(1 << 30), Swap: i64(1 << 20)}
		}, "swap"},
		{"quota with zero period", func(s *specs.Spec) {
			s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: i64(50000), Period: u64(0)}
		}, "period"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec.Default(t.TempDir(), []string{"/bin/sh"})
			tt.modify(s)
			err := spec.Validate(s)
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			if !errors.Is(err, spec.ErrInvalid) {
				t.Errorf("Validate error %q does not wrap spec.ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.part) {
				t.Errorf("Validate error %q does not contain %q", err, tt.part)
			}
		})
	}
}

func TestValidateRefusesUnsupportedSettings(t *testing.T) {
	for name, edit := range map[string]func(s *specs.Spec){
		"apparmorProfile": func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" },
		"personality":     func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX32"} },
		"intelRdt":        func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "x"} },
		"netDevices":      func(s *specs.Spec) { s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth1": {}} },
	} {
		s := spec.Default(t.TempDir(), []string{"/bin/true"})
		edit(s)
		err := spec.Validate(s)
		if !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestNewNamespace: a namespace without a path is new, one with a path
// is joined, one not asked for is neither; a config without a Linux
// section creates none.
func TestNewNamespace(t *testing.T) {
	s := &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"}}}}
	if !spec.NewNamespace(s, specs.PIDNamespace) {
		t.Error("a PID namespace without a path is not new")
	}
	if spec.NewNamespace(s, specs.NetworkNamespace) {
		t.Error("a network namespace joined by path is new")
	}
	if spec.NewNamespace(s, specs.UserNamespace) {
		t.Error("a user namespace not asked for is new")
	}
	if spec.NewNamespace(&specs.Spec{}, specs.PIDNamespace) {
		t.Error("a config without a Linux section creates a namespace")
	}
}
