package spec

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RunOptions are the settings of `berth run`, still as the user typed them.
type RunOptions struct {
	Rootfs      string
	Args        []string
	Hostname    string
	Env         []string // -e values: KEY=VALUE or KEY
	EnvFiles    []string
	Workdir     string
	User        string
	TTY         bool
	Interactive bool
	Privileged  bool
	Memory      string
	CPUs        string
	CPUShares   int64
	PidsLimit   int64 // 0: unset; negative: unlimited
	Network     string
	// NetworkFrom is the network namespace to join for --network
	// container:NAME, resolved by the caller (/proc/PID/ns/net).
	NetworkFrom string
	LookupEnv   func(string) (string, bool)
	// Image is the configuration of the image the container runs, nil
	// with --rootfs. Flags override it field by field, as in docker run.
	Image *ImageConfig
	// Entrypoint is --entrypoint, when EntrypointSet: it replaces the
	// image's entrypoint and, as in docker run, its Cmd.
	Entrypoint    string
	EntrypointSet bool
	// UserRoots are where /etc/passwd and /etc/group are looked up, top
	// first: an image's layers, whose union is not mounted on the host.
	// Empty: the rootfs.
	UserRoots []string
	// Mounts are -v, --mount and --tmpfs, volumes already resolved to
	// binds of their directories.
	Mounts []MountRequest
	// ReadOnly is --read-only: the root filesystem is mounted read-only.
	ReadOnly bool
	// UIDMap and GIDMap, when set, give the container a user namespace
	// with these mappings (--userns other than host, resolved by the
	// caller to host IDs).
	UIDMap, GIDMap []specs.LinuxIDMapping
	// IPCFrom and PIDFrom are the namespaces to join for --ipc and --pid
	// container:NAME, resolved by the caller.
	IPCFrom, PIDFrom string
	// Extras are the security, process and metadata options.
	Extras
	// ResourceOptions are the resource and device options beyond the
	// four above.
	ResourceOptions
}

// ImageConfig is what an image says about how to run it.
type ImageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string // KEY=VALUE
	WorkingDir string
	User       string
}

// FromRunOptions builds the OCI config for `berth run`. It is the only way
// flags become a container: from here on berth and berth-oci share one path.
func FromRunOptions(o RunOptions) (*specs.Spec, error) {
	args := commandOf(o)
	if len(args) == 0 {
		if o.Image != nil {
			return nil, fmt.Errorf("no command given: the image has no Cmd or Entrypoint; name the program to run after the image")
		}
		return nil, fmt.Errorf("no command given: name the program to run after the root filesystem, e.g. berth run --rootfs DIR /bin/sh")
	}
	rootfs, err := checkRootfs(o.Rootfs)
	if err != nil {
		return nil, err
	}
	s := Default(rootfs, args)
	if o.Hostname != "" {
		s.Hostname = o.Hostname
	}
	applyUserNamespace(s, o)
	if err := applyNamespaceModes(s, o); err != nil {
		return nil, err
	}
	if err := applyNetwork(s, o.Network, o.NetworkFrom); err != nil {
		return nil, err
	}
	bindSysInUserNamespace(s)
	if err := applyResources(s, o); err != nil {
		return nil, err
	}
	if err := applyProcess(s, o); err != nil {
		return nil, err
	}
	if o.Privileged {
		makePrivileged(s)
	} else if err := applyCaps(s, o); err != nil {
		return nil, err
	}
	if err := applyExtras(s, o, true); err != nil {
		return nil, err
	}
	// After makePrivileged, which makes the default /sys writable, not
	// the user's mounts.
	if err := applyMounts(s, o); err != nil {
		return nil, err
	}
	return s, nil
}

// applyUserNamespace gives the container a user namespace of its own
// when the caller resolved --userns to mappings; without, container root
// is host root (--userns=host, Docker's default).
func applyUserNamespace(s *specs.Spec, o RunOptions) {
	if len(o.UIDMap) == 0 {
		return
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = append([]specs.LinuxIDMapping(nil), o.UIDMap...)
	s.Linux.GIDMappings = append([]specs.LinuxIDMapping(nil), o.GIDMap...)
}

// bindSysInUserNamespace binds the host's /sys where the container has a
// user namespace but shares a network namespace it does not own
// (--network host, container:NAME): the kernel refuses a new sysfs
// there, as it does to runc's rootless configs, which bind it the same
// way.
func bindSysInUserNamespace(s *specs.Spec) {
	if !HasNamespace(s, specs.UserNamespace) {
		return
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace && ns.Path == "" {
			return // its own network namespace: its own sysfs
		}
	}
	for i, m := range s.Mounts {
		if m.Destination == "/sys" && m.Type == "sysfs" {
			s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
		}
	}
}

// commandOf is the container's argv: the image's entrypoint followed by
// the command given, or the image's Cmd when none is, as in docker run.
func commandOf(o RunOptions) []string {
	if o.Image == nil {
		return o.Args
	}
	entrypoint, cmd := o.Image.Entrypoint, o.Image.Cmd
	if o.EntrypointSet {
		entrypoint, cmd = nil, nil
		if o.Entrypoint != "" {
			entrypoint = []string{o.Entrypoint}
		}
	}
	if len(o.Args) > 0 {
		cmd = o.Args
	}
	return append(append([]string{}, entrypoint...), cmd...)
}

func checkRootfs(dir string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("no root filesystem given: use --rootfs DIR")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("rootfs %q: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if os.IsNotExist(err) {
		return "", fmt.Errorf("rootfs %s does not exist: give --rootfs a directory holding the container's files", abs)
	}
	if err != nil {
		return "", fmt.Errorf("rootfs %s: %w", abs, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("rootfs %s is not a directory: give --rootfs a directory holding the container's files", abs)
	}
	return abs, nil
}

// ValidName reports whether s can name a network (and other objects
// named like Docker's): 1 to 64 letters, digits, _ . -, not starting with
// one of _ . -. A plain loop, not a regexp: a compiled bounded repetition
// costs hundreds of allocations at init in every berth process, the
// init stage included.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i, c := range s {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '_' && c != '.' && c != '-')) {
			return false
		}
	}
	return true
}

// applyNetwork sets up the network mode. none: a network namespace with
// loopback only; bridge: the same, plugged into berth's bridge by the
// caller; host: the host's network namespace, as docker run --network
// host; container:NAME: the network namespace of that container.
func applyNetwork(s *specs.Spec, mode, from string) error {
	switch {
	case mode == "" || mode == "none":
		return nil
	case mode == "host":
		var kept []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != specs.NetworkNamespace {
				kept = append(kept, ns)
			}
		}
		s.Linux.Namespaces = kept
		return nil
	case strings.HasPrefix(mode, "container:"):
		if from == "" {
			return fmt.Errorf("--network %s: the container's network namespace is unknown", mode)
		}
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
				s.Linux.Namespaces[i].Path = from
			}
		}
		return nil
	case ValidName(mode):
		// bridge, or a user-defined network: the caller plugs the new
		// network namespace into it (and says so if it does not exist).
		return nil
	}
	return fmt.Errorf("invalid --network %q: use bridge, none, host, container:NAME or a network's name", mode)
}

func applyResources(s *specs.Spec, o RunOptions) error {
	r := s.Linux.Resources
	if o.Memory != "" {
		limit, err := ParseSize(o.Memory)
		if err != nil {
			return fmt.Errorf("invalid --memory: %w", err)
		}
		if limit < MinMemory {
			return fmt.Errorf("invalid --memory %q: the minimum is 6m", o.Memory)
		}
		// Docker's default: as much swap as memory.
		swap := int64(-1)
		if limit <= math.MaxInt64/2 {
			swap = 2 * limit
		}
		r.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &swap}
	}
	if o.CPUs != "" || o.CPUShares != 0 {
		r.CPU = &specs.LinuxCPU{}
	}
	if o.CPUs != "" {
		quota, err := ParseCPUs(o.CPUs)
		if err != nil {
			return err
		}
		period := uint64(CPUPeriod)
		r.CPU.Quota, r.CPU.Period = &quota, &period
	}
	if o.CPUShares != 0 {
		if o.CPUShares < 2 || o.CPUShares > 262144 {
			return fmt.Errorf("invalid --cpu-shares %d: use a value from 2 to 262144 (1024 is the default weight)", o.CPUShares)
		}
		shares := uint64(o.CPUShares)
		r.CPU.Shares = &shares
	}
	if o.PidsLimit != 0 {
		limit := o.PidsLimit
		if limit < 0 {
			limit = -1
		}
		r.Pids = &specs.LinuxPids{Limit: &limit}
	}
	return applyResourceOptions(s, o)
}

func applyProcess(s *specs.Spec, o RunOptions) error {
	p := s.Process
	lookup := o.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var userEnv []string
	for _, file := range o.EnvFiles {
		lines, err := ReadEnvFile(file)
		if err != nil {
			return err
		}
		userEnv = append(userEnv, lines...)
	}
	userEnv = append(userEnv, o.Env...)
	expanded, err := ExpandEnv(userEnv, lookup)
	if err != nil {
		return err
	}
	userSpec, roots := o.User, o.UserRoots
	if len(roots) == 0 {
		roots = []string{s.Root.Path}
	}
	if userSpec == "" && o.Image != nil {
		userSpec = o.Image.User
	}
	user, err := resolveUserIn(roots, userSpec)
	if err != nil {
		return err
	}
	p.User = specs.User{UID: user.UID, GID: user.GID, AdditionalGids: user.AdditionalGids}
	if err := applyGroupAdd(p, roots, o.GroupAdd); err != nil {
		return err
	}
	if user.UID != 0 {
		// A non-root user gets no effective capabilities, as in Docker:
		// the bounding set still caps what a setuid binary could gain.
		p.Capabilities.Effective, p.Capabilities.Permitted = nil, nil
	}
	base := []string{"PATH=" + DefaultPath, "HOSTNAME=" + hostnameOf(s, o)}
	if o.TTY {
		base = append(base, "TERM=xterm")
	}
	if o.Image != nil {
		base = MergeEnv(base, o.Image.Env...)
	}
	p.Env = MergeEnv(base, expanded...)
	if !HasEnv(p.Env, "HOME") {
		p.Env = append(p.Env, "HOME="+user.Home)
	}
	if o.Workdir == "" && o.Image != nil && o.Image.WorkingDir != "" {
		p.Cwd = filepath.Join("/", o.Image.WorkingDir)
	}
	if o.Workdir != "" {
		if !filepath.IsAbs(o.Workdir) {
			return fmt.Errorf("invalid --workdir %q: the working directory must be an absolute path", o.Workdir)
		}
		p.Cwd = filepath.Clean(o.Workdir)
	}
	p.Terminal = o.TTY
	return nil
}

// hostnameOf is the name the container sees: its own, or with --uts
// host the host's (o.Hostname, which the caller set to it).
func hostnameOf(s *specs.Spec, o RunOptions) string {
	if s.Hostname == "" {
		return o.Hostname
	}
	return s.Hostname
}

// makePrivileged lifts the confinement as docker run --privileged does: all
// capabilities, no masked or read-only paths, writable /sys, every host
// device and no device cgroup restriction.
func makePrivileged(s *specs.Spec) {
	all := AllCapabilities()
	p := s.Process
	p.Capabilities.Bounding = all
	if p.User.UID == 0 {
		p.Capabilities.Effective, p.Capabilities.Permitted = all, all
	}
	p.NoNewPrivileges = false
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	for i := range s.Mounts {
		if s.Mounts[i].Destination == "/sys" || s.Mounts[i].Destination == "/sys/fs/cgroup" {
			s.Mounts[i].Options = removeOption(s.Mounts[i].Options, "ro")
		}
	}
	s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	s.Linux.Devices = mergeDevices(s.Linux.Devices, HostDevices())
}

func removeOption(opts []string, drop string) []string {
	out := opts[:0:0]
	for _, o := range opts {
		if o != drop {
			out = append(out, o)
		}
	}
	return out
}

func mergeDevices(base, extra []specs.LinuxDevice) []specs.LinuxDevice {
	seen := make(map[string]bool, len(base))
	for _, d := range base {
		seen[d.Path] = true
	}
	for _, d := range extra {
		if !seen[d.Path] {
			seen[d.Path] = true
			base = append(base, d)
		}
	}
	return base
}
