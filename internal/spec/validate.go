package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/caps"
	"github.com/berth-runtime/berth/internal/rootfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrInvalid marks a config that cannot run; the message says why.
var ErrInvalid = errors.New("invalid config")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// SupportedMountTypes are the file system types a config may mount.
var SupportedMountTypes = map[string]bool{
	"bind": true, "rbind": true, "tmpfs": true, "proc": true, "sysfs": true,
	"cgroup": true, "cgroup2": true, "mqueue": true, "devpts": true,
	"overlay": true, "none": true, "": true,
}

// Validate checks a config before anything is created for it. rootfs paths
// must already be absolute.
func Validate(s *specs.Spec) error {
	if s.Root == nil || s.Root.Path == "" {
		return invalid("root.path is not set: name the container's root filesystem directory")
	}
	if !filepath.IsAbs(s.Root.Path) {
		return invalid("root.path %q must be absolute here", s.Root.Path)
	}
	if st, err := os.Stat(s.Root.Path); err != nil {
		return invalid("rootfs %q does not exist: create it or point root.path at the container's files", s.Root.Path)
	} else if !st.IsDir() {
		return invalid("rootfs %q is not a directory", s.Root.Path)
	}
	if s.Linux == nil {
		return invalid("the linux section is missing")
	}
	checks := []func(*specs.Spec) error{validateProcess, validateNamespaces, validateMounts, validateSysctls, validateDevices, validateResources, validateUnsupported, validateSELinux}
	for _, check := range checks {
		if err := check(s); err != nil {
			return err
		}
	}
	return nil
}

func validateProcess(s *specs.Spec) error { return ValidateProcess(s.Process) }

// ValidateProcess checks a process: the container's, or one to exec.
func ValidateProcess(p *specs.Process) error {
	if p == nil {
		return invalid("process is not set: give the program to run in process.args")
	}
	if len(p.Args) == 0 || p.Args[0] == "" {
		return invalid("process.args is empty: give the program to run")
	}
	if !filepath.IsAbs(p.Cwd) {
		return invalid("process.cwd %q must be an absolute path", p.Cwd)
	}
	for _, kv := range p.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsRune(kv, 0) {
			return invalid("process.env entry %q is not KEY=VALUE", kv)
		}
	}
	for _, id := range append([]uint32{p.User.UID, p.User.GID}, p.User.AdditionalGids...) {
		if id > MaxID {
			return invalid("process.user id %d is out of range: uids and gids must be in range 0-%d", id, MaxID)
		}
	}
	if c := p.Capabilities; c != nil {
		for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
			if _, err := caps.Mask(set); err != nil {
				return invalid("process.capabilities: %v", err)
			}
		}
	}
	return checkProcessLabel(p)
}

var namespaceTypes = map[specs.LinuxNamespaceType]bool{
	specs.PIDNamespace: true, specs.NetworkNamespace: true, specs.MountNamespace: true,
	specs.IPCNamespace: true, specs.UTSNamespace: true, specs.UserNamespace: true,
	specs.CgroupNamespace: true, specs.TimeNamespace: true,
}

// HasNamespace reports whether the config asks for a namespace of type t.
func HasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// NewNamespace reports whether the config creates a namespace of type t
// (asks for one without a path to join).
func NewNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t && ns.Path == "" {
			return true
		}
	}
	return false
}

func joinsUserNamespace(s *specs.Spec) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			return ns.Path != ""
		}
	}
	return false
}

func validateNamespaces(s *specs.Spec) error {
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range s.Linux.Namespaces {
		if !namespaceTypes[ns.Type] {
			return invalid("unknown namespace type %q", ns.Type)
		}
		if seen[ns.Type] {
			return invalid("namespace %q is listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if msg := namespaceRefused(ns.Type); msg != "" {
			return invalid("%s", msg)
		}
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return invalid("namespace path %q must be absolute", ns.Path)
		}
	}
	mapped := len(s.Linux.UIDMappings) > 0 && len(s.Linux.GIDMappings) > 0
	// A user namespace joined by path has its mappings already; the
	// config's, if any, describe it (for the owner of what berth creates).
	if seen[specs.UserNamespace] && !mapped && !joinsUserNamespace(s) {
		return invalid("a new user namespace needs linux.uidMappings and linux.gidMappings")
	}
	if !seen[specs.UserNamespace] && len(s.Linux.UIDMappings)+len(s.Linux.GIDMappings) > 0 {
		return invalid("linux.uidMappings and gidMappings need a user namespace in linux.namespaces")
	}
	if s.Hostname != "" && !seen[specs.UTSNamespace] {
		return invalid("hostname is set but there is no uts namespace: the host's name would change")
	}
	return nil
}

// validateMounts checks each mount. Destinations inside /proc are
// compared cleaned (/proc/./sys, //proc, /proc/../proc/sys and trailing
// slashes all name /proc/sys); rootfs checks again where a destination
// resolves inside the rootfs at mount time, which only it can see (a
// symlink in the image).
func validateMounts(s *specs.Spec) error {
	for _, m := range s.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return invalid("mount destination %q must be an absolute path", m.Destination)
		}
		if strings.ContainsRune(m.Destination, 0) {
			return invalid("mount destination %q contains a NUL byte", m.Destination)
		}
		if err := rootfs.CheckProcDestination(filepath.Clean(m.Destination), m.Type, IsBind(m)); err != nil {
			return invalid("mount on %q: %v", m.Destination, err)
		}
		if !SupportedMountTypes[m.Type] {
			return invalid("mount %q: file system type %q is not supported", m.Destination, m.Type)
		}
		if IsBind(m) && m.Source == "" {
			return invalid("bind mount %q has no source", m.Destination)
		}
	}
	return nil
}

// IsBind reports whether a config mount is a bind mount, by type or option.
func IsBind(m specs.Mount) bool {
	if m.Type == "bind" || m.Type == "rbind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

func validateDevices(s *specs.Spec) error {
	for _, d := range s.Linux.Devices {
		if !filepath.IsAbs(d.Path) {
			return invalid("device path %q must be absolute", d.Path)
		}
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return invalid("device %q: type %q must be c, b, u or p", d.Path, d.Type)
		}
	}
	return nil
}

func validateResources(s *specs.Spec) error {
	r := s.Linux.Resources
	if r == nil {
		return nil
	}
	for _, d := range r.Devices {
		switch d.Type {
		case "", "a", "c", "b":
		default:
			return invalid("device cgroup rule type %q must be a, c or b", d.Type)
		}
		// runc compat: runc ignores letters other than r, w and m, and
		// its own tests write "rwa"; an "a" is accepted and dropped
		// (container.withDefaultDeviceRules), nothing else.
		if strings.Trim(d.Access, "rwma") != "" || d.Access != "" && strings.Trim(d.Access, "a") == "" {
			return invalid("device cgroup rule access %q must be made of r, w and m", d.Access)
		}
	}
	if m := r.Memory; m != nil && m.Limit != nil && *m.Limit > 0 && m.Swap != nil && *m.Swap > 0 && *m.Swap < *m.Limit {
		return invalid("memory.swap (%d) is memory plus swap and must not be below memory.limit (%d)", *m.Swap, *m.Limit)
	}
	if c := r.CPU; c != nil && c.Quota != nil && *c.Quota > 0 && c.Period != nil && *c.Period == 0 {
		return invalid("cpu.quota is set with a zero cpu.period")
	}
	return nil
}

// validateUnsupported refuses, by name, settings berth would otherwise
// have to ignore: a container must not silently run with less isolation
// or different behaviour than its config asks for. SELinux labels are
// validateSELinux's.
func validateUnsupported(s *specs.Spec) error {
	l, p := s.Linux, s.Process
	for name, set := range map[string]bool{
		"process.apparmorProfile (AppArmor is not supported)": p.ApparmorProfile != "",
		"process.scheduler":       p.Scheduler != nil,
		"process.ioPriority":      p.IOPriority != nil,
		"process.execCPUAffinity": p.ExecCPUAffinity != nil,
		"linux.intelRdt":          l.IntelRdt != nil,
		"linux.memoryPolicy":      l.MemoryPolicy != nil,
		"linux.personality":       l.Personality != nil,
		"linux.timeOffsets":       len(l.TimeOffsets) > 0,
		"linux.netDevices":        len(l.NetDevices) > 0,
	} {
		if set {
			return invalid("%s is not supported by berth: remove it from the config", name)
		}
	}
	return nil
}
