package spec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// withNamespaces returns an edit that keeps only the namespaces of the
// given types (new ones, no path) in the default config.
func withNamespaces(types ...specs.LinuxNamespaceType) func(*specs.Spec) {
	return func(s *specs.Spec) {
		s.Linux.Namespaces = nil
		for _, t := range types {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
		}
		s.Hostname = ""
	}
}

// joinNamespace makes the config join namespace t at path.
func joinNamespace(t specs.LinuxNamespaceType, path string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == t {
				s.Linux.Namespaces[i].Path = path
			}
		}
	}
}

func withUserNamespace(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
}

func TestValidateSysctls(t *testing.T) {
	all := []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace}
	noNet := withNamespaces(specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace)
	noIPC := withNamespaces(specs.PIDNamespace, specs.NetworkNamespace, specs.UTSNamespace, specs.MountNamespace)
	noUTS := withNamespaces(specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.MountNamespace)
	tests := []struct {
		name  string
		key   string
		edit  func(*specs.Spec)
		error string // "" when the sysctl is allowed
	}{
		// Namespaced, in a namespace of the container's own.
		{"net in a new netns", "net.ipv4.ip_default_ttl", nil, ""},
		{"net.core in a new netns", "net.core.somaxconn", nil, ""},
		{"interface sysctl", "net.ipv6.conf.eth0.disable_ipv6", nil, ""},
		{"shmmax", "kernel.shmmax", nil, ""},
		{"shmall", "kernel.shmall", nil, ""},
		{"shmmni", "kernel.shmmni", nil, ""},
		{"shm_rmid_forced", "kernel.shm_rmid_forced", nil, ""},
		{"msgmax", "kernel.msgmax", nil, ""},
		{"msgmnb", "kernel.msgmnb", nil, ""},
		{"msgmni", "kernel.msgmni", nil, ""},
		{"sem", "kernel.sem", nil, ""},
		{"mqueue", "fs.mqueue.msg_max", nil, ""},
		{"domainname", "kernel.domainname", nil, ""},
		{"hostname without the hostname field", "kernel.hostname", func(s *specs.Spec) { s.Hostname = "" }, ""},
		{"user namespace counts", "user.max_user_namespaces", withUserNamespace, ""},
		{"all namespaces listed", "kernel.sem", withNamespaces(all...), ""},

		// Not namespaced: they would change the host.
		{"core_pattern", "kernel.core_pattern", nil, `sysctl "kernel.core_pattern"`},
		{"modprobe", "kernel.modprobe", nil, "not namespaced"},
		{"randomize_va_space", "kernel.randomize_va_space", nil, "not namespaced"},
		{"vm", "vm.overcommit_memory", nil, "not namespaced"},
		{"fs other than mqueue", "fs.file-max", nil, "not namespaced"},
		{"fs.mqueue prefix without dot", "fs.mqueuex", nil, "not namespaced"},
		{"kernel shm lookalike", "kernel.shmmax_x", nil, "not namespaced"},
		{"upper case", "Kernel.shmmax", nil, "not namespaced"},
		{"bare net", "net", nil, "not namespaced"},
		{"dev", "dev.tty.legacy_tiocsti", nil, "not namespaced"},

		// Namespaced, but the container shares the host's namespace.
		{"net without a netns", "net.ipv4.ip_forward", noNet, "network namespace"},
		{"net in the host's netns by path", "net.ipv4.ip_forward", joinNamespace(specs.NetworkNamespace, "/proc/self/ns/net"), "host's network namespace"},
		{"shmmax without an ipc ns", "kernel.shmmax", noIPC, "ipc namespace"},
		{"mqueue without an ipc ns", "fs.mqueue.queues_max", noIPC, "ipc namespace"},
		{"shmmax in the host's ipc ns by path", "kernel.shmmax", joinNamespace(specs.IPCNamespace, "/proc/self/ns/ipc"), "host's ipc namespace"},
		{"domainname without a uts ns", "kernel.domainname", noUTS, "uts namespace"},
		{"domainname in the host's uts ns by path", "kernel.domainname", joinNamespace(specs.UTSNamespace, "/proc/self/ns/uts"), "host's uts namespace"},
		{"user without a user ns", "user.max_user_namespaces", nil, "user namespace"},
		{"hostname and the hostname field", "kernel.hostname", nil, `"hostname"`},
		{"domainname and the domainname field", "kernel.domainname", func(s *specs.Spec) { s.Domainname = "example.org" }, `"domainname"`},

		// Keys that are not plain sysctl names.
		{"slash separated", "net/ipv4/ip_forward", nil, "dots"},
		{"slash escape", "net.ipv4/../../kernel/core_pattern", nil, "dots"},
		{"empty component", "kernel..core_pattern", nil, "empty"},
		{"net with empty component", "net.ipv4..ip_forward", nil, "empty"},
		{"trailing dot", "net.ipv4.", nil, "empty"},
		{"leading dot", ".net.ipv4.ip_forward", nil, "empty"},
		{"empty key", "", nil, "empty"},
		{"NUL", "net.ipv4.ip_forward\x00", nil, "NUL"},
		{"space", "net.ipv4.ip_forward ", nil, "white space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec.Default(t.TempDir(), []string{"/bin/sh"})
			if tt.edit != nil {
				tt.edit(s)
			}
			s.Linux.Sysctl = map[string]string{tt.key: "1"}
			err := spec.Validate(s)
			if tt.error == "" {
				if err != nil {
					t.Fatalf("sysctl %q refused: %v", tt.key, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("sysctl %q accepted", tt.key)
			}
			if !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), tt.error) || strings.Contains(err.Error(), "\n") {
				t.Errorf("sysctl %q: error %q, want one line containing %q", tt.key, err, tt.error)
			}
		})
	}
}

func TestValidateMountsUnderProc(t *testing.T) {
	bind := func(dst string) specs.Mount {
		return specs.Mount{Destination: dst, Type: "bind", Source: "/tmp", Options: []string{"rbind"}}
	}
	tests := []struct {
		name  string
		mount specs.Mount
		error string
	}{
		// runc's allow-list: files lxcfs emulates, and a procfs at /proc.
		{"cpuinfo", bind("/proc/cpuinfo"), ""},
		{"diskstats", bind("/proc/diskstats"), ""},
		{"meminfo", bind("/proc/meminfo"), ""},
		{"stat", bind("/proc/stat"), ""},
		{"swaps", bind("/proc/swaps"), ""},
		{"uptime", bind("/proc/uptime"), ""},
		{"loadavg", bind("/proc/loadavg"), ""},
		{"slabinfo", bind("/proc/slabinfo"), ""},
		{"ns_last_pid", bind("/proc/sys/kernel/ns_last_pid"), ""},
		{"fips_enabled", bind("/proc/sys/crypto/fips_enabled"), ""},
		{"allowed file, unclean", bind("/proc/./meminfo/"), ""},
		{"allowed file by bind option", specs.Mount{Destination: "/proc/uptime", Source: "/tmp/up", Options: []string{"bind"}}, ""},
		{"procfs at /proc", specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"}, ""},
		{"procfs at /proc, unclean", specs.Mount{Destination: "//proc/", Type: "proc", Source: "proc"}, ""},
		// A bind at /proc is checked at mount time: its source must be the
		// root of a procfs.
		{"bind at /proc", specs.Mount{Destination: "/proc", Type: "bind", Source: "/proc", Options: []string{"rbind"}}, ""},
		{"next to /proc", bind("/procfoo"), ""},
		{"proc elsewhere", bind("/data/proc/sys/net"), ""},
		{"procfs elsewhere", specs.Mount{Destination: "/host-proc", Type: "proc", Source: "proc"}, ""},

		{"/proc/sys/net", bind("/proc/sys/net"), "/proc/sys/net"},
		{"dot", bind("/proc/./sys/net"), "/proc/sys/net"},
		{"double slash", bind("//proc//sys/net"), "/proc/sys/net"},
		{"dot dot", bind("/proc/../proc/sys/net"), "/proc/sys/net"},
		{"dot dot above root", bind("/../proc/sys/net"), "/proc/sys/net"},
		{"trailing slash", bind("/proc/sys/net/"), "/proc/sys/net"},
		{"/proc/sys", bind("/proc/sys"), "inside /proc"},
		{"core_pattern", bind("/proc/sys/kernel/core_pattern"), "inside /proc"},
		{"sysrq-trigger", bind("/proc/sysrq-trigger"), "inside /proc"},
		{"self attr", bind("/proc/self/attr/exec"), "inside /proc"},
		{"pid 1", bind("/proc/1"), "inside /proc"},
		{"below an allowed file", bind("/proc/meminfo/x"), "inside /proc"},
		{"allowed file's parent", bind("/proc/sys/kernel"), "inside /proc"},
		{"tmpfs at /proc", specs.Mount{Destination: "/proc", Type: "tmpfs", Source: "tmpfs"}, "/proc"},
		{"tmpfs at /proc, unclean", specs.Mount{Destination: "/proc/sys/..", Type: "tmpfs", Source: "tmpfs"}, "/proc"},
		{"procfs under /proc", specs.Mount{Destination: "/proc/sys", Type: "proc", Source: "proc"}, "inside /proc"},
		{"sysfs at /proc", specs.Mount{Destination: "/proc", Type: "sysfs", Source: "sysfs"}, "/proc"},
		{"NUL", bind("/proc/meminfo\x00"), "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec.Default(t.TempDir(), []string{"/bin/sh"})
			s.Mounts = append(s.Mounts, tt.mount)
			err := spec.Validate(s)
			if tt.error == "" {
				if err != nil {
					t.Fatalf("mount on %q refused: %v", tt.mount.Destination, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("mount on %q accepted", tt.mount.Destination)
			}
			if !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), tt.error) || strings.Contains(err.Error(), "\n") {
				t.Errorf("mount on %q: error %q, want one line containing %q", tt.mount.Destination, err, tt.error)
			}
		})
	}
}

// TestValidateSELinuxLabels: labels are ignored where SELinux is disabled
// (nothing to label), refused where it is enabled (berth cannot apply
// them, and running without them would confine the container less than
// asked).
func TestValidateSELinuxLabels(t *testing.T) {
	const processLabel, mountLabel = "system_u:system_r:container_t:s0:c1,c2", "system_u:object_r:container_file_t:s0:c1,c2"
	labels := map[string]func(*specs.Spec){
		"process.selinuxLabel": func(s *specs.Spec) { s.Process.SelinuxLabel = processLabel },
		"linux.mountLabel":     func(s *specs.Spec) { s.Linux.MountLabel = mountLabel },
	}
	for _, enabled := range []bool{false, true} {
		restore := spec.SetSELinuxEnabled(enabled)
		for name, set := range labels {
			s := spec.Default(t.TempDir(), []string{"/bin/true"})
			set(s)
			err := spec.Validate(s)
			switch {
			case !enabled && err != nil:
				t.Errorf("%s on a host without SELinux: %v", name, err)
			case enabled && (!errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "SELinux is enabled")):
				t.Errorf("%s on a host with SELinux: error %v, want a refusal naming it", name, err)
			}
		}
		// A process to exec is checked alike.
		p := spec.Default(t.TempDir(), []string{"/bin/true"}).Process
		p.SelinuxLabel = processLabel
		if err := spec.ValidateProcess(p); (err != nil) != enabled {
			t.Errorf("exec process with a label, SELinux enabled %v: %v", enabled, err)
		}
		// Without labels, nothing changes.
		if err := spec.Validate(spec.Default(t.TempDir(), []string{"/bin/true"})); err != nil {
			t.Errorf("no labels, SELinux enabled %v: %v", enabled, err)
		}
		restore()
	}
}
