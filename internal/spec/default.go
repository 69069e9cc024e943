// Package spec owns the OCI runtime-spec configuration berth runs: the
// secure defaults a container gets, the translation of `berth run` flags
// into a config, and the validation every config passes before anything is
// created on the host. It never touches the kernel.
package spec

import (
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultPath is the PATH a container gets unless the user sets one,
// the same as Docker's.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultCapabilities is Docker's default capability set. Everything else
// is dropped from every set.
var DefaultCapabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// DefaultMaskedPaths hide kernel information and interfaces a container has
// no business reading.
var DefaultMaskedPaths = []string{
	"/proc/asound",
	"/proc/acpi",
	"/proc/interrupts",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
}

// DefaultReadonlyPaths are kernel interfaces a container may read but must
// not write: writing them would change the host.
var DefaultReadonlyPaths = []string{
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
	"/proc/sysrq-trigger",
}

// DefaultMounts is the file system layout every container gets.
func DefaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
}

func devicePtr(v int64) *int64 { return &v }

func fileMode(m os.FileMode) *os.FileMode { return &m }

// DefaultDevices are the device nodes created in every container's /dev.
func DefaultDevices() []specs.LinuxDevice {
	uid, gid := uint32(0), uint32(0)
	dev := func(path string, major, minor int64) specs.LinuxDevice {
		return specs.LinuxDevice{Path: path, Type: "c", Major: major, Minor: minor, FileMode: fileMode(0o666), UID: &uid, GID: &gid}
	}
	return []specs.LinuxDevice{
		dev("/dev/null", 1, 3),
		dev("/dev/zero", 1, 5),
		dev("/dev/full", 1, 7),
		dev("/dev/random", 1, 8),
		dev("/dev/urandom", 1, 9),
		dev("/dev/tty", 5, 0),
	}
}

// DefaultDeviceRules is the device cgroup allow list: nothing but the
// default nodes and terminals may be opened, so CAP_MKNOD cannot be used to
// reach the host's disks.
func DefaultDeviceRules() []specs.LinuxDeviceCgroup {
	allow := func(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: true, Type: typ, Access: access}
		if major >= 0 {
			r.Major = devicePtr(major)
		}
		if minor >= 0 {
			r.Minor = devicePtr(minor)
		}
		return r
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		allow("c", -1, -1, "m"),
		allow("b", -1, -1, "m"),
		allow("c", 1, 3, "rwm"),
		allow("c", 1, 5, "rwm"),
		allow("c", 1, 7, "rwm"),
		allow("c", 1, 8, "rwm"),
		allow("c", 1, 9, "rwm"),
		allow("c", 5, 0, "rwm"),
		allow("c", 5, 1, "rwm"),
		allow("c", 5, 2, "rwm"),
		allow("c", 136, -1, "rwm"),
		allow("c", 10, 200, "rwm"),
	}
}

// DefaultNamespaces are the namespaces a container gets by default: all but
// the user and time namespaces, as Docker does.
func DefaultNamespaces() []specs.LinuxNamespace {
	return []specs.LinuxNamespace{
		{Type: specs.PIDNamespace},
		{Type: specs.MountNamespace},
		{Type: specs.UTSNamespace},
		{Type: specs.IPCNamespace},
		{Type: specs.NetworkNamespace},
		{Type: specs.CgroupNamespace},
	}
}

// Default returns the secure default config for a container whose root
// filesystem is rootfs and whose process runs args.
func Default(rootfs string, args []string) *specs.Spec {
	caps := append([]string(nil), DefaultCapabilities...)
	return &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: rootfs},
		Hostname: "berth",
		Process: &specs.Process{
			Args: args,
			Env:  []string{"PATH=" + DefaultPath},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: caps,
				Permitted: caps,
			},
			NoNewPrivileges: true,
		},
		Mounts: DefaultMounts(),
		Linux: &specs.Linux{
			Namespaces:    DefaultNamespaces(),
			Devices:       DefaultDevices(),
			Resources:     &specs.LinuxResources{Devices: DefaultDeviceRules()},
			MaskedPaths:   append([]string(nil), DefaultMaskedPaths...),
			ReadonlyPaths: append([]string(nil), DefaultReadonlyPaths...),
		},
	}
}
