package container

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/caps"
	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/initproc"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// namespaceFlags maps the namespaces created at clone time to their flags.
// The cgroup namespace is not among them: the init stage creates it after
// joining its cgroups, so that they become its root.
var namespaceFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
}

func cloneFlags(s *specs.Spec) uintptr {
	var flags uintptr
	for _, ns := range s.Linux.Namespaces {
		flags |= namespaceFlags[ns.Type]
	}
	return flags
}

// initConfig translates a validated OCI config into the init stage's
// compact form.
func initConfig(s *specs.Spec, cg *cgroups.Cgroup) (*initproc.Config, error) {
	fs, err := rootfsConfig(s, cg)
	if err != nil {
		return nil, err
	}
	proc, err := processConfig(s.Process)
	if err != nil {
		return nil, err
	}
	return &initproc.Config{
		Rootfs:      *fs,
		Hostname:    s.Hostname,
		Domain:      s.Domainname,
		CgroupTasks: cg.TasksFiles(),
		NewCgroupNS: spec.HasNamespace(s, specs.CgroupNamespace),
		NewNetNS:    spec.HasNamespace(s, specs.NetworkNamespace),
		Process:     *proc,
	}, nil
}

func rootfsConfig(s *specs.Spec, cg *cgroups.Cgroup) (*rootfs.Config, error) {
	c := &rootfs.Config{
		Root:          s.Root.Path,
		Readonly:      s.Root.Readonly,
		Propagation:   unix.MS_REC | unix.MS_PRIVATE,
		MaskedPaths:   s.Linux.MaskedPaths,
		ReadonlyPaths: s.Linux.ReadonlyPaths,
	}
	if p := s.Linux.RootfsPropagation; p != "" {
		flag, ok := rootfs.PropagationFlags[p]
		if !ok {
			return nil, fmt.Errorf("%w: rootfsPropagation %q is not one of private, shared, slave, unbindable (or r-prefixed)", spec.ErrInvalid, p)
		}
		c.RootPropagation = flag
		if flag&(unix.MS_SHARED|unix.MS_SLAVE) != 0 {
			c.Propagation = unix.MS_REC | unix.MS_SLAVE
		}
	}
	for _, m := range s.Mounts {
		src := m.Source
		if spec.IsBind(m) && !filepath.IsAbs(src) {
			src = filepath.Join(filepath.Dir(s.Root.Path), src)
		}
		parsed, err := rootfs.ParseMount(m.Type, src, m.Destination, m.Options)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", spec.ErrInvalid, err)
		}
		c.Mounts = append(c.Mounts, parsed)
	}
	for _, d := range s.Linux.Devices {
		c.Devices = append(c.Devices, device(d))
	}
	if cg.Version == cgroups.V1 {
		for _, dir := range cg.Dirs {
			rel := strings.TrimPrefix(dir, cgroups.Root+"/")
			c.CgroupHierarchies = append(c.CgroupHierarchies, strings.SplitN(rel, "/", 2)[0])
		}
	}
	return c, nil
}

func device(d specs.LinuxDevice) rootfs.Device {
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(d.FileMode.Perm())
	}
	switch d.Type {
	case "b":
		mode |= unix.S_IFBLK
	case "p":
		mode |= unix.S_IFIFO
	default:
		mode |= unix.S_IFCHR
	}
	dev := rootfs.Device{Path: d.Path, Mode: mode, Major: uint32(d.Major), Minor: uint32(d.Minor)}
	if d.UID != nil {
		dev.UID = *d.UID
	}
	if d.GID != nil {
		dev.GID = *d.GID
	}
	return dev
}

var rlimitNames = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

func processConfig(p *specs.Process) (*initproc.Process, error) {
	out := &initproc.Process{
		Args:            p.Args,
		Env:             p.Env,
		Cwd:             p.Cwd,
		UID:             p.User.UID,
		GID:             p.User.GID,
		AdditionalGids:  p.User.AdditionalGids,
		Umask:           p.User.Umask,
		NoNewPrivileges: p.NoNewPrivileges,
		OOMScoreAdj:     p.OOMScoreAdj,
		Terminal:        p.Terminal,
	}
	if p.ConsoleSize != nil {
		out.ConsoleSize.Rows, out.ConsoleSize.Cols = uint16(p.ConsoleSize.Height), uint16(p.ConsoleSize.Width)
	}
	if c := p.Capabilities; c != nil {
		var err error
		sets := []struct {
			dst *uint64
			src []string
		}{{&out.Caps.Bounding, c.Bounding}, {&out.Caps.Effective, c.Effective}, {&out.Caps.Permitted, c.Permitted}, {&out.Caps.Inheritable, c.Inheritable}, {&out.Caps.Ambient, c.Ambient}}
		for _, s := range sets {
			if *s.dst, err = caps.Mask(s.src); err != nil {
				return nil, fmt.Errorf("%w: %v", spec.ErrInvalid, err)
			}
		}
	}
	for _, r := range p.Rlimits {
		res, ok := rlimitNames[r.Type]
		if !ok {
			return nil, fmt.Errorf("%w: unknown rlimit %q", spec.ErrInvalid, r.Type)
		}
		out.Rlimits = append(out.Rlimits, initproc.Rlimit{Resource: res, Soft: r.Soft, Hard: r.Hard})
	}
	return out, nil
}
