package container

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/berth-runtime/berth/internal/caps"
	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/initproc"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/seccomp"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// namespaceFlags maps the namespaces created at clone time to their flags.
// The cgroup namespace is not among them: the init stage creates it after
// joining its cgroups, so that they become its root.
var namespaceFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
}

// joinFlags are the namespaces the init stage can enter by path itself.
var joinFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
}

// cloneFlags are the new namespaces created at fork: those without a path.
func cloneFlags(s *specs.Spec) uintptr {
	var flags uintptr
	for _, ns := range s.Linux.Namespaces {
		if ns.Path == "" {
			flags |= namespaceFlags[ns.Type]
		}
	}
	return flags
}

// joinedNamespaces are the namespaces entered by path, in an order that
// works: the mount namespace last, since entering it changes the root.
func joinedNamespaces(s *specs.Spec) []initproc.Namespace {
	var out []initproc.Namespace
	var mnt *initproc.Namespace
	for _, ns := range s.Linux.Namespaces {
		flag, ok := joinFlags[ns.Type]
		if ns.Path == "" || !ok {
			continue
		}
		if flag == unix.CLONE_NEWNS {
			mnt = &initproc.Namespace{Type: flag, Path: ns.Path}
			continue
		}
		out = append(out, initproc.Namespace{Type: flag, Path: ns.Path})
	}
	if mnt != nil {
		out = append(out, *mnt)
	}
	return out
}

// idMappings turns the config's user namespace mappings into the form
// Go writes into the child's uid_map and gid_map before it runs.
func idMappings(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

// initConfig translates a validated OCI config into the init stage's
// compact form.
func initConfig(s *specs.Spec, cg *cgroups.Cgroup, o Options) (*initproc.Config, error) {
	fs, err := rootfsConfig(s, cg)
	if err != nil {
		return nil, err
	}
	if o.RootOverlay != nil {
		if fs.SharedMounts {
			return nil, fmt.Errorf("%w: an image's root filesystem needs a mount namespace", spec.ErrInvalid)
		}
		ov := *o.RootOverlay
		if spec.NewNamespace(s, specs.UserNamespace) && !ov.Shifted {
			// The image's files are host root's: shown through the
			// namespace's mapping, they are root's inside.
			ov.IDMap = &rootfs.IDMap{UIDs: idRanges(s.Linux.UIDMappings), GIDs: idRanges(s.Linux.GIDMappings)}
		}
		fs.Overlay = &ov
	}
	proc, err := processConfig(s.Process)
	if err != nil {
		return nil, err
	}
	if err := compileSeccompWith(s.Linux.Seccomp, proc, o.seccomp); err != nil {
		return nil, err
	}
	h := hooksOf(s)
	return &initproc.Config{
		Rootfs:               *fs,
		Hostname:             s.Hostname,
		Domain:               s.Domainname,
		CgroupTasks:          joinTasks(s, cg),
		NewCgroupNS:          spec.NewNamespace(s, specs.CgroupNamespace),
		NewNetNS:             spec.NewNamespace(s, specs.NetworkNamespace),
		Join:                 joinedNamespaces(s),
		Process:              *proc,
		DieWithParent:        o.Foreground,
		HookPause:            len(h.Prestart)+len(h.CreateRuntime) > 0 || o.Prepare != nil,
		CreateContainerHooks: h.CreateContainer,
		StartContainerHooks:  h.StartContainer,
		State:                specs.State{Version: specs.Version, ID: o.ID, Bundle: o.Bundle, Annotations: s.Annotations},
		NoPivot:              o.NoPivot,
		NewKeyring:           !o.NoNewKeyring,
		Sysctl:               s.Linux.Sysctl,
		PreserveFDs:          o.PreserveFDs,
	}, nil
}

func rootfsConfig(s *specs.Spec, cg *cgroups.Cgroup) (*rootfs.Config, error) {
	c := &rootfs.Config{
		Root:          s.Root.Path,
		Readonly:      s.Root.Readonly,
		SharedMounts:  !spec.HasNamespace(s, specs.MountNamespace),
		Propagation:   unix.MS_REC | unix.MS_PRIVATE,
		MaskedPaths:   s.Linux.MaskedPaths,
		ReadonlyPaths: s.Linux.ReadonlyPaths,
		Cwd:           s.Process.Cwd,
	}
	if p := s.Linux.RootfsPropagation; p != "" {
		flag, ok := rootfs.PropagationFlags[p]
		if !ok {
			return nil, fmt.Errorf("%w: rootfsPropagation %q is not one of private, shared, slave, unbindable (or r-prefixed)", spec.ErrInvalid, p)
		}
		// runc compat: rootfsPropagation is applied to / as given, before
		// anything is mounted (Kubernetes' Bidirectional mounts need an
		// rshared tree), not turned into rslave.
		c.RootPropagation = flag
		// An unbindable tree would refuse the rootfs's own bind (runc
		// fails so): / is made unbindable after pivot_root only.
		if flag&unix.MS_UNBINDABLE == 0 {
			c.Propagation = flag
		}
	}
	for _, m := range s.Mounts {
		parsed, err := parseMount(s, m)
		if err == nil {
			err = idmapOf(s, m, &parsed)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", spec.ErrInvalid, err)
		}
		c.Mounts = append(c.Mounts, parsed)
	}
	for _, d := range withDefaultDevices(s.Linux.Devices) {
		c.Devices = append(c.Devices, device(d))
	}
	if cg.Version == cgroups.V1 {
		for _, dir := range cg.Dirs {
			if dir == cg.UnifiedDir() {
				continue // a hybrid host's cgroup2: runc does not show it either
			}
			rel := strings.TrimPrefix(dir, cgroups.Root+"/")
			c.CgroupHierarchies = append(c.CgroupHierarchies, cgroups.MountData(strings.SplitN(rel, "/", 2)[0]))
		}
		if !spec.HasNamespace(s, specs.CgroupNamespace) {
			c.CgroupPath = cg.Path
		}
	} else {
		c.CgroupPath = cg.Path
	}
	return c, nil
}

// idmapOf gives an idmapped bind (idmap, ridmap, or a mount with its own
// uidMappings and gidMappings, as runc 1.2 reads them) its mapping: the
// mount's own, else the container's user namespace's.
func idmapOf(s *specs.Spec, m specs.Mount, parsed *rootfs.Mount) error {
	if parsed.IDMap == nil && m.UIDMappings == nil && m.GIDMappings == nil {
		return nil
	}
	if !parsed.IsBind() {
		return fmt.Errorf("mount %s: idmapped mounts need a bind mount", m.Destination)
	}
	if parsed.IDMap == nil {
		parsed.IDMap = &rootfs.IDMap{}
	}
	uids, gids := m.UIDMappings, m.GIDMappings
	if uids == nil && gids == nil && spec.NewNamespace(s, specs.UserNamespace) {
		uids, gids = s.Linux.UIDMappings, s.Linux.GIDMappings
	}
	if len(uids) == 0 || len(gids) == 0 {
		// runc compat: runc 1.2 refuses the same configs.
		return fmt.Errorf("mount %s: an idmapped mount needs both uidMappings and gidMappings, on the mount or from the container's user namespace", m.Destination)
	}
	for _, u := range uids {
		parsed.IDMap.UIDs = append(parsed.IDMap.UIDs, rootfs.IDRange{ContainerID: u.ContainerID, HostID: u.HostID, Size: u.Size})
	}
	for _, g := range gids {
		parsed.IDMap.GIDs = append(parsed.IDMap.GIDs, rootfs.IDRange{ContainerID: g.ContainerID, HostID: g.HostID, Size: g.Size})
	}
	return nil
}

// joinTasks are the v1 tasks files the init stage joins by itself. In a
// user namespace its root is not the host's root and may not write them:
// the parent moves it instead (a new user namespace), or berth-nsenter
// joins them before it enters the namespace (one joined by path).
func joinTasks(s *specs.Spec, cg *cgroups.Cgroup) []string {
	if spec.HasNamespace(s, specs.UserNamespace) {
		return nil
	}
	return cg.TasksFiles()
}

// withDefaultDevices adds the nodes the runtime spec says every container
// has (/dev/null, zero, full, random, urandom, tty) to the config's own;
// the config's entry wins where both name one path.
func withDefaultDevices(devices []specs.LinuxDevice) []specs.LinuxDevice {
	out := append([]specs.LinuxDevice(nil), devices...)
	for _, d := range spec.DefaultDevices() {
		listed := false
		for _, c := range devices {
			listed = listed || filepath.Clean(c.Path) == d.Path
		}
		if !listed {
			out = append(out, d)
		}
	}
	return out
}

// withDefaultDeviceRules appends to the config's device cgroup rules the
// ones the default devices need, and mknod of any node (opening one is
// what the rules guard), as runc does: every container can use its
// /dev/null, whatever its config's rules say. A config without rules gets
// these alone: the cgroup denies every other device (cgroups.Create starts
// from deny-all), as runc's does.
func withDefaultDeviceRules(r *specs.LinuxResources) *specs.LinuxResources {
	var out specs.LinuxResources
	if r != nil {
		out = *r
	}
	out.Devices = append([]specs.LinuxDeviceCgroup(nil), out.Devices...)
	for i := range out.Devices {
		// runc compat: an "a" in access is ignored (spec.Validate).
		out.Devices[i].Access = strings.ReplaceAll(out.Devices[i].Access, "a", "")
	}
	for _, d := range spec.DefaultDeviceRules()[1:] { // without the leading deny-all
		if !inEffect(out.Devices, d) {
			out.Devices = append(out.Devices, d)
		}
	}
	return &out
}

// inEffect reports whether allow rule d is among rules with nothing after
// it that could undo it: a deny of devices it covers, or a rule of every
// device type, which turns the list into allow-all or deny-all.
// Appending d again would change nothing, and most configs list the
// default rules already (Docker's, berth's own, runc spec's): each is a
// write into the cgroup on every start.
func inEffect(rules []specs.LinuxDeviceCgroup, d specs.LinuxDeviceCgroup) bool {
	found := false
	for _, r := range rules {
		switch {
		case r.Type == "" || r.Type == "a" || !r.Allow && overlaps(r, d):
			found = false
		case sameDeviceRule(r, d):
			found = true
		}
	}
	return found
}

func sameDeviceRule(a, b specs.LinuxDeviceCgroup) bool {
	same := func(x, y *int64) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	return a.Allow == b.Allow && a.Type == b.Type && a.Access == b.Access && same(a.Major, b.Major) && same(a.Minor, b.Minor)
}

// overlaps reports whether two rules of one device type may name a device
// in common (a missing or negative number is every number).
func overlaps(a, b specs.LinuxDeviceCgroup) bool {
	match := func(x, y *int64) bool { return x == nil || y == nil || *x < 0 || *y < 0 || *x == *y }
	return a.Type == b.Type && match(a.Major, b.Major) && match(a.Minor, b.Minor)
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

// RlimitResource is the resource number of an OCI rlimit type
// (RLIMIT_NOFILE, ...).
func RlimitResource(typ string) (int, bool) {
	res, ok := rlimitNames[typ]
	return res, ok
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

func compileSeccomp(profile *specs.LinuxSeccomp, p *initproc.Process) error {
	return compileSeccompWith(profile, p, nil)
}

// compileSeccompWith is compileSeccomp taking job's program when job
// compiles this very profile.
func compileSeccompWith(profile *specs.LinuxSeccomp, p *initproc.Process, job *seccompJob) error {
	if profile == nil {
		return nil
	}
	var c compiledSeccomp
	if job != nil && job.profile == profile {
		c = job.wait()
	} else {
		c = compileProfile(profile)
	}
	if c.err != nil {
		return c.err
	}
	p.Seccomp, p.SeccompFlags = initproc.EncodeFilter(c.prog), c.flags
	return nil
}

// compiledSeccomp is a profile's filter program and flags, or why it has
// none.
type compiledSeccomp struct {
	prog  []unix.SockFilter
	flags uint
	err   error
}

func compileProfile(profile *specs.LinuxSeccomp) compiledSeccomp {
	prog, err := seccomp.Compile(profile)
	if err != nil {
		return compiledSeccomp{err: fmt.Errorf("%w: %v", spec.ErrInvalid, err)}
	}
	flags, err := seccomp.Flags(profile)
	if err != nil {
		return compiledSeccomp{err: fmt.Errorf("%w: %v", spec.ErrInvalid, err)}
	}
	return compiledSeccomp{prog: prog, flags: flags}
}

// seccompJob compiles a config's seccomp profile on another goroutine
// while create checks the config, claims the cgroup and writes the state:
// Docker's default profile, which every berth run has, takes about a
// millisecond to compile, and a second CPU is usually idle then.
type seccompJob struct {
	profile *specs.LinuxSeccomp
	done    chan struct{}
	result  compiledSeccomp
}

// startSeccomp starts compiling s's seccomp profile; nil when it has none.
func startSeccomp(s *specs.Spec) *seccompJob {
	if s == nil || s.Linux == nil || s.Linux.Seccomp == nil {
		return nil
	}
	j := &seccompJob{profile: s.Linux.Seccomp, done: make(chan struct{})}
	go func() {
		defer close(j.done)
		j.result = compileProfile(j.profile)
	}()
	return j
}

// wait is the job's result, once it is done. A nil job has nothing to
// wait for; create waits on every return, so that no goroutine still
// reads the spec after it.
func (j *seccompJob) wait() compiledSeccomp {
	if j == nil {
		return compiledSeccomp{}
	}
	<-j.done
	return j.result
}

func idRanges(m []specs.LinuxIDMapping) []rootfs.IDRange {
	out := make([]rootfs.IDRange, len(m))
	for i, e := range m {
		out[i] = rootfs.IDRange{ContainerID: e.ContainerID, HostID: e.HostID, Size: e.Size}
	}
	return out
}

// parseMount translates one of the config's mounts; a relative bind
// source is relative to the bundle (the root's parent).
func parseMount(s *specs.Spec, m specs.Mount) (rootfs.Mount, error) {
	src := m.Source
	if spec.IsBind(m) && !filepath.IsAbs(src) {
		src = filepath.Join(filepath.Dir(s.Root.Path), src)
	}
	return rootfs.ParseMount(m.Type, src, m.Destination, m.Options)
}
