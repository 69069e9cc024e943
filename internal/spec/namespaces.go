package spec

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CheckNamespaceModes checks --ipc, --pid and --uts as docker run takes
// them: ipc private|shareable|host|container:NAME, pid host|container:NAME,
// uts host; and that --hostname and --domainname need a UTS namespace of
// the container's own.
func CheckNamespaceModes(x Extras, hostnameSet bool) error {
	switch {
	case x.IPC == "", x.IPC == "private", x.IPC == "shareable", x.IPC == "host", containerRef(x.IPC):
	default:
		return invalidOpt("invalid --ipc %q: use private, shareable, host or container:NAME", x.IPC)
	}
	switch {
	case x.PID == "", x.PID == "host", containerRef(x.PID):
	default:
		return invalidOpt("invalid --pid %q: use host or container:NAME", x.PID)
	}
	switch x.UTS {
	case "":
	case "host":
		if hostnameSet || x.Domainname != "" {
			return invalidOpt("conflicting options: --hostname or --domainname with --uts host, which keeps the host's names")
		}
	default:
		return invalidOpt("invalid --uts %q: use host", x.UTS)
	}
	return nil
}

func containerRef(mode string) bool {
	ref, ok := strings.CutPrefix(mode, "container:")
	return ok && ValidName(ref) || ok && len(ref) == 64
}

// applyNamespaceModes applies --ipc, --pid, --uts and --domainname; a
// container:NAME mode's namespace path (IPCFrom, PIDFrom) is resolved by
// the caller.
func applyNamespaceModes(s *specs.Spec, o RunOptions) error {
	if err := CheckNamespaceModes(o.Extras, false); err != nil {
		return err
	}
	if err := shareNamespace(s, specs.IPCNamespace, "--ipc", o.IPC, o.IPCFrom); err != nil {
		return err
	}
	if o.IPC == "host" {
		// The host's POSIX shared memory too, as Docker's --ipc host.
		for i, m := range s.Mounts {
			if m.Destination == "/dev/shm" {
				s.Mounts[i] = specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "nosuid", "noexec", "nodev"}}
			}
		}
	}
	if err := shareNamespace(s, specs.PIDNamespace, "--pid", o.PID, o.PIDFrom); err != nil {
		return err
	}
	if o.UTS == "host" {
		s.Hostname = ""
		removeNamespace(s, specs.UTSNamespace)
	}
	s.Domainname = o.Domainname
	return nil
}

// shareNamespace leaves the container its own namespace of type t
// (mode "", private, shareable), or gives it the host's or another
// container's (from, the pinned path of container:NAME's).
func shareNamespace(s *specs.Spec, t specs.LinuxNamespaceType, flag, mode, from string) error {
	switch {
	case mode == "host":
		removeNamespace(s, t)
	case strings.HasPrefix(mode, "container:"):
		if from == "" {
			return invalidOpt("%s %s: the container's namespace is unknown", flag, mode)
		}
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == t {
				s.Linux.Namespaces[i].Path = from
			}
		}
	}
	return nil
}

func removeNamespace(s *specs.Spec, t specs.LinuxNamespaceType) {
	kept := s.Linux.Namespaces[:0]
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != t {
			kept = append(kept, ns)
		}
	}
	s.Linux.Namespaces = kept
}
