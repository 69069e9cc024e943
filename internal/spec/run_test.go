package spec_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func noHostEnv(string) (string, bool) { return "", false }

// runOpts returns options for a fresh empty rootfs running /bin/sh, with
// the host environment hidden.
func runOpts(t *testing.T) spec.RunOptions {
	t.Helper()
	return spec.RunOptions{Rootfs: t.TempDir(), Args: []string{"/bin/sh"}, LookupEnv: noHostEnv}
}

func mustFromRunOptions(t *testing.T, o spec.RunOptions) *specs.Spec {
	t.Helper()
	s, err := spec.FromRunOptions(o)
	if err != nil {
		t.Fatalf("FromRunOptions(%+v) error: %v", o, err)
	}
	if err := spec.Validate(s); err != nil {
		t.Fatalf("Validate(FromRunOptions(%+v)) error: %v", o, err)
	}
	return s
}

func TestFromRunOptionsDefaults(t *testing.T) {
	o := runOpts(t)
	s := mustFromRunOptions(t, o)

	if s.Root == nil || s.Root.Path != o.Rootfs {
		t.Errorf("root = %+v, want path %s", s.Root, o.Rootfs)
	}
	p := s.Process
	if !reflect.DeepEqual(p.Args, []string{"/bin/sh"}) {
		t.Errorf("args = %q", p.Args)
	}
	if p.Cwd != "/" {
		t.Errorf("cwd = %q, want /", p.Cwd)
	}
	if p.Terminal {
		t.Error("terminal is set without --tty")
	}
	if p.User.UID != 0 || p.User.GID != 0 || len(p.User.AdditionalGids) != 0 {
		t.Errorf("user = %+v, want root", p.User)
	}
	if !p.NoNewPrivileges {
		t.Error("NoNewPrivileges is false by default")
	}
	c := p.Capabilities
	if c == nil {
		t.Fatal("no capabilities")
	}
	for name, set := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted} {
		if !reflect.DeepEqual(set, spec.DefaultCapabilities) {
			t.Errorf("%s capabilities = %q, want Docker's defaults %q", name, set, spec.DefaultCapabilities)
		}
		for _, forbidden := range []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE", "CAP_DAC_READ_SEARCH"} {
			if slices.Contains(set, forbidden) {
				t.Errorf("%s capabilities contain %s", name, forbidden)
			}
		}
	}
	if len(spec.DefaultCapabilities) != 14 {
		t.Errorf("DefaultCapabilities has %d entries, Docker's default set has 14", len(spec.DefaultCapabilities))
	}
	if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
		t.Errorf("inheritable = %q, ambient = %q; want both empty", c.Inheritable, c.Ambient)
	}

	for _, want := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"} {
		if !slices.Contains(s.Linux.MaskedPaths, want) {
			t.Errorf("masked paths %q lack %s", s.Linux.MaskedPaths, want)
		}
	}
	for _, want := range []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"} {
		if !slices.Contains(s.Linux.ReadonlyPaths, want) {
			t.Errorf("read-only paths %q lack %s", s.Linux.ReadonlyPaths, want)
		}
	}

	var ns []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		if n.Path != "" {
			t.Errorf("namespace %s joins path %s", n.Type, n.Path)
		}
		ns = append(ns, n.Type)
	}
	wantNS := []specs.LinuxNamespaceType{specs.PIDNamespace, specs.MountNamespace, specs.UTSNamespace, specs.IPCNamespace, specs.NetworkNamespace, specs.CgroupNamespace}
	if !sameElements(ns, wantNS) {
		t.Errorf("namespaces = %q, want %q", ns, wantNS)
	}

	wantEnv := []string{"PATH=" + spec.DefaultPath, "HOSTNAME=berth", "HOME=/"}
	if !reflect.DeepEqual(p.Env, wantEnv) {
		t.Errorf("env = %q, want %q", p.Env, wantEnv)
	}
	if s.Hostname != "berth" {
		t.Errorf("hostname = %q, want berth", s.Hostname)
	}

	if m := findMount(s, "/sys"); m == nil || !slices.Contains(m.Options, "ro") {
		t.Errorf("/sys mount = %+v, want read-only", m)
	}
	if m := findMount(s, "/proc"); m == nil || m.Type != "proc" {
		t.Errorf("/proc mount = %+v", m)
	}

	rules := s.Linux.Resources.Devices
	if len(rules) == 0 || rules[0].Allow || rules[0].Access != "rwm" || rules[0].Type != "" && rules[0].Type != "a" {
		t.Errorf("first device cgroup rule = %+v, want deny all", rules)
	}
	for _, r := range rules {
		if r.Allow && r.Type == "b" && strings.ContainsAny(r.Access, "rw") {
			t.Errorf("device cgroup allows block device access: %+v", r)
		}
	}
	r := s.Linux.Resources
	if r.Memory != nil || r.CPU != nil || r.Pids != nil {
		t.Errorf("resources set without flags: memory %+v cpu %+v pids %+v", r.Memory, r.CPU, r.Pids)
	}
}

func TestFromRunOptionsEnv(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "env")
	writeFile(t, envFile, "# env file\nFROMFILE=1\nSHARED=file\nHOSTVAR\n")
	host := mapLookup(map[string]string{"HOSTVAR": "h", "TERM": "host-term"})
	tests := []struct {
		name   string
		modify func(*spec.RunOptions)
		want   []string
	}{
		{
			name:   "tty adds TERM",
			modify: func(o *spec.RunOptions) { o.TTY = true },
			want:   []string{"PATH=" + spec.DefaultPath, "HOSTNAME=berth", "TERM=xterm", "HOME=/"},
		},
		{
			name:   "interactive alone adds no TERM",
			modify: func(o *spec.RunOptions) { o.Interactive = true },
			want:   []string{"PATH=" + spec.DefaultPath, "HOSTNAME=berth", "HOME=/"},
		},
		{
			name:   "-e PATH overrides in place",
			modify: func(o *spec.RunOptions) { o.Env = []string{"PATH=/opt/bin", "A=1"} },
			want:   []string{"PATH=/opt/bin", "HOSTNAME=berth", "A=1", "HOME=/"},
		},
		{
			name:   "-e HOME wins over passwd",
			modify: func(o *spec.RunOptions) { o.Env = []string{"HOME=/data"} },
			want:   []string{"PATH=" + spec.DefaultPath, "HOSTNAME=berth", "HOME=/data"},
		},
		{
			name:   "-e TERM overrides xterm",
			modify: func(o *spec.RunOptions) { o.TTY, o.Env = true, []string{"TERM=dumb"} },
			want:   []string{"PATH=" + spec.DefaultPath, "HOSTNAME=berth", "TERM=dumb", "HOME=/"},
		},
		{
			name:   "hostname",
			modify: func(o *spec.RunOptions) { o.Hostname = "web1" },
			want:   []string{"PATH=" + spec.DefaultPath, "HOSTNAME=web1", "HOME=/"},
		},
		{
			name:   "bare keys from host, unset dropped",
			modify: func(o *spec.RunOptions) { o.LookupEnv, o.Env = host, []string{"HOSTVAR", "UNSET"} },
			want:   []string{"PATH=" + spec.DefaultPath, "HOSTNAME=berth", "HOSTVAR=h", "HOME=/"},
		},
		{
			name: "env file then -e",
			modify: func(o *spec.RunOptions) {
				o.LookupEnv, o.EnvFiles, o.Env = host, []string{envFile}, []string{"SHARED=flag"}
			},
			want: []string{"PATH=" + spec.DefaultPath, "HOSTNAME=berth", "FROMFILE=1", "SHARED=flag", "HOSTVAR=h", "HOME=/"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := runOpts(t)
			tt.modify(&o)
			s := mustFromRunOptions(t, o)
			if !reflect.DeepEqual(s.Process.Env, tt.want) {
				t.Errorf("env = %q, want %q", s.Process.Env, tt.want)
			}
			if s.Process.Terminal != o.TTY {
				t.Errorf("terminal = %v, want %v", s.Process.Terminal, o.TTY)
			}
		})
	}
}

func TestFromRunOptionsHomeFromPasswd(t *testing.T) {
	o := runOpts(t)
	o.Rootfs = fakeRootfs(t, testPasswd, testGroup)
	o.User = "alice"
	s := mustFromRunOptions(t, o)
	if !slices.Contains(s.Process.Env, "HOME=/home/alice") {
		t.Errorf("env = %q, want HOME=/home/alice", s.Process.Env)
	}
	want := specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{50, 999, 10}}
	if !reflect.DeepEqual(s.Process.User, want) {
		t.Errorf("user = %+v, want %+v", s.Process.User, want)
	}
}

func TestFromRunOptionsResources(t *testing.T) {
	ptr := func(v int64) *int64 { return &v }
	uptr := func(v uint64) *uint64 { return &v }
	tests := []struct {
		name   string
		modify func(*spec.RunOptions)
		check  func(*testing.T, *specs.LinuxResources)
	}{
		{
			name:   "memory 256m",
			modify: func(o *spec.RunOptions) { o.Memory = "256m" },
			check: func(t *testing.T, r *specs.LinuxResources) {
				want := &specs.LinuxMemory{Limit: ptr(268435456), Swap: ptr(2 * 268435456)}
				if !reflect.DeepEqual(r.Memory, want) {
					t.Errorf("memory = %s, want limit 268435456 swap 536870912", fmtMemory(r.Memory))
				}
			},
		},
		{
			name:   "memory minimum 6m",
			modify: func(o *spec.RunOptions) { o.Memory = "6m" },
			check: func(t *testing.T, r *specs.LinuxResources) {
				if r.Memory == nil || r.Memory.Limit == nil || *r.Memory.Limit != spec.MinMemory {
					t.Errorf("memory = %s, want limit %d", fmtMemory(r.Memory), spec.MinMemory)
				}
			},
		},
		{
			name:   "cpus 0.5",
			modify: func(o *spec.RunOptions) { o.CPUs = "0.5" },
			check: func(t *testing.T, r *specs.LinuxResources) {
				want := &specs.LinuxCPU{Quota: ptr(50000), Period: uptr(100000)}
				if !reflect.DeepEqual(r.CPU, want) {
					t.Errorf("cpu = %+v, want quota 50000 period 100000", r.CPU)
				}
			},
		},
		{
			name:   "cpu shares",
			modify: func(o *spec.RunOptions) { o.CPUShares = 512 },
			check: func(t *testing.T, r *specs.LinuxResources) {
				if r.CPU == nil || r.CPU.Shares == nil || *r.CPU.Shares != 512 || r.CPU.Quota != nil {
					t.Errorf("cpu = %+v, want shares 512 only", r.CPU)
				}
			},
		},
		{
			name:   "cpus and shares",
			modify: func(o *spec.RunOptions) { o.CPUs, o.CPUShares = "1", 2 },
			check: func(t *testing.T, r *specs.LinuxResources) {
				want := &specs.LinuxCPU{Quota: ptr(100000), Period: uptr(100000), Shares: uptr(2)}
				if !reflect.DeepEqual(r.CPU, want) {
					t.Errorf("cpu = %+v, want quota 100000 period 100000 shares 2", r.CPU)
				}
			},
		},
		{
			name:   "pids 64",
			modify: func(o *spec.RunOptions) { o.PidsLimit = 64 },
			check: func(t *testing.T, r *specs.LinuxResources) {
				if r.Pids == nil || r.Pids.Limit == nil || *r.Pids.Limit != 64 {
					t.Errorf("pids = %+v, want 64", r.Pids)
				}
			},
		},
		{
			name:   "pids negative is unlimited",
			modify: func(o *spec.RunOptions) { o.PidsLimit = -5 },
			check: func(t *testing.T, r *specs.LinuxResources) {
				if r.Pids == nil || r.Pids.Limit == nil || *r.Pids.Limit != -1 {
					t.Errorf("pids = %+v, want -1", r.Pids)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := runOpts(t)
			tt.modify(&o)
			s := mustFromRunOptions(t, o)
			tt.check(t, s.Linux.Resources)
		})
	}
}

func fmtMemory(m *specs.LinuxMemory) string {
	if m == nil {
		return "<nil>"
	}
	f := func(p *int64) string {
		if p == nil {
			return "<nil>"
		}
		return fmt.Sprint(*p)
	}
	return "limit " + f(m.Limit) + " swap " + f(m.Swap)
}

// TestFromRunOptionsHugeMemorySwap: swap is 2*limit; for a limit above
// MaxInt64/2 the doubling overflows into a negative swap that Validate lets
// through.
func TestFromRunOptionsHugeMemorySwap(t *testing.T) {
	o := runOpts(t)
	o.Memory = "4194304t" // 2^62 bytes
	s, err := spec.FromRunOptions(o)
	if err != nil {
		return // rejecting an absurd limit is fine too
	}
	m := s.Linux.Resources.Memory
	if m == nil || m.Limit == nil || m.Swap == nil {
		t.Fatalf("memory = %s", fmtMemory(m))
	}
	if *m.Swap != -1 && *m.Swap < *m.Limit {
		t.Errorf("memory = %s: 2*limit overflowed; want swap -1 (unlimited) or >= limit, or an error", fmtMemory(m))
	}
}

func TestFromRunOptionsUser(t *testing.T) {
	for _, user := range []string{"1000", "1000:1000", "alice"} {
		t.Run(user, func(t *testing.T) {
			o := runOpts(t)
			o.Rootfs = fakeRootfs(t, testPasswd, testGroup)
			o.User = user
			s := mustFromRunOptions(t, o)
			c := s.Process.Capabilities
			if len(c.Effective) != 0 || len(c.Permitted) != 0 {
				t.Errorf("non-root user: effective = %q, permitted = %q; want both empty", c.Effective, c.Permitted)
			}
			if !reflect.DeepEqual(c.Bounding, spec.DefaultCapabilities) {
				t.Errorf("non-root user: bounding = %q, want the defaults", c.Bounding)
			}
			if s.Process.User.UID != 1000 {
				t.Errorf("uid = %d, want 1000", s.Process.User.UID)
			}
			if !s.Process.NoNewPrivileges {
				t.Error("NoNewPrivileges false for a non-root user")
			}
		})
	}
	t.Run("explicit root keeps caps", func(t *testing.T) {
		o := runOpts(t)
		o.User = "0:0"
		s := mustFromRunOptions(t, o)
		if !reflect.DeepEqual(s.Process.Capabilities.Effective, spec.DefaultCapabilities) {
			t.Errorf("root: effective = %q", s.Process.Capabilities.Effective)
		}
	})
}

func TestFromRunOptionsWorkdir(t *testing.T) {
	o := runOpts(t)
	o.Workdir = "/srv/app/../data/"
	s := mustFromRunOptions(t, o)
	if s.Process.Cwd != "/srv/data" {
		t.Errorf("cwd = %q, want /srv/data", s.Process.Cwd)
	}
}

func TestFromRunOptionsPrivileged(t *testing.T) {
	o := runOpts(t)
	o.Privileged = true
	s := mustFromRunOptions(t, o)
	all := spec.AllCapabilities()
	if !slices.Contains(all, "CAP_SYS_ADMIN") || len(all) < 38 {
		t.Fatalf("AllCapabilities() = %q, want every capability", all)
	}
	c := s.Process.Capabilities
	for name, set := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted} {
		if !reflect.DeepEqual(set, all) {
			t.Errorf("privileged %s = %q, want all %d capabilities", name, set, len(all))
		}
	}
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("privileged masked = %q, readonly = %q; want none", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	for _, dest := range []string{"/sys", "/sys/fs/cgroup"} {
		m := findMount(s, dest)
		if m == nil {
			t.Errorf("no %s mount", dest)
		} else if slices.Contains(m.Options, "ro") {
			t.Errorf("privileged %s options = %q, want writable", dest, m.Options)
		}
	}
	want := []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	if !reflect.DeepEqual(s.Linux.Resources.Devices, want) {
		t.Errorf("privileged device cgroup = %+v, want allow all", s.Linux.Resources.Devices)
	}
	if s.Process.NoNewPrivileges {
		t.Error("privileged NoNewPrivileges is true")
	}
	seen := map[string]bool{}
	for _, d := range s.Linux.Devices {
		if seen[d.Path] {
			t.Errorf("device %s listed twice", d.Path)
		}
		seen[d.Path] = true
	}
	if !seen["/dev/null"] {
		t.Error("privileged devices lack /dev/null")
	}

	// The default config is not changed by building a privileged one.
	d := mustFromRunOptions(t, runOpts(t))
	if m := findMount(d, "/sys"); m == nil || !slices.Contains(m.Options, "ro") {
		t.Error("building a privileged config made the next default /sys writable")
	}
}

func TestFromRunOptionsPrivilegedNonRoot(t *testing.T) {
	o := runOpts(t)
	o.Privileged, o.User = true, "1000"
	s := mustFromRunOptions(t, o)
	c := s.Process.Capabilities
	if !reflect.DeepEqual(c.Bounding, spec.AllCapabilities()) {
		t.Errorf("privileged non-root bounding = %q, want all", c.Bounding)
	}
	if len(c.Effective) != 0 || len(c.Permitted) != 0 {
		t.Errorf("privileged non-root effective = %q, permitted = %q; want empty", c.Effective, c.Permitted)
	}
}

func TestFromRunOptionsErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "x")
	missing := filepath.Join(t.TempDir(), "missing")
	envFile := filepath.Join(t.TempDir(), "bad.env")
	writeFile(t, envFile, "BAD NAME=1\n")
	tests := []struct {
		name   string
		modify func(*spec.RunOptions)
		parts  []string
	}{
		{"no args", func(o *spec.RunOptions) { o.Args = nil }, []string{"no command"}},
		{"empty args", func(o *spec.RunOptions) { o.Args = []string{} }, []string{"no command"}},
		{"no rootfs", func(o *spec.RunOptions) { o.Rootfs = "" }, []string{"no root filesystem", "--rootfs"}},
		{"missing rootfs", func(o *spec.RunOptions) { o.Rootfs = missing }, []string{missing, "does not exist"}},
		{"rootfs is a file", func(o *spec.RunOptions) { o.Rootfs = file }, []string{file, "is not a directory"}},
		{"memory 1m", func(o *spec.RunOptions) { o.Memory = "1m" }, []string{"--memory", "minimum is 6m"}},
		{"memory just below 6m", func(o *spec.RunOptions) { o.Memory = "6143k" }, []string{"--memory", "minimum is 6m"}},
		{"memory garbage", func(o *spec.RunOptions) { o.Memory = "lots" }, []string{"--memory", "lots"}},
		{"cpus 0.001", func(o *spec.RunOptions) { o.CPUs = "0.001" }, []string{"--cpus", "0.01"}},
		{"cpus abc", func(o *spec.RunOptions) { o.CPUs = "abc" }, []string{"--cpus"}},
		{"cpu shares 1", func(o *spec.RunOptions) { o.CPUShares = 1 }, []string{"--cpu-shares", "2 to 262144"}},
		{"cpu shares negative", func(o *spec.RunOptions) { o.CPUShares = -1 }, []string{"--cpu-shares"}},
		{"cpu shares too large", func(o *spec.RunOptions) { o.CPUShares = 262145 }, []string{"--cpu-shares"}},
		{"relative workdir", func(o *spec.RunOptions) { o.Workdir = "app" }, []string{"--workdir", "absolute"}},
		{"bad -e", func(o *spec.RunOptions) { o.Env = []string{"=x"} }, []string{"invalid environment variable"}},
		{"missing env file", func(o *spec.RunOptions) { o.EnvFiles = []string{missing} }, []string{"env file"}},
		{"bad env file", func(o *spec.RunOptions) { o.EnvFiles = []string{envFile} }, []string{envFile, "white space"}},
		{"unknown user", func(o *spec.RunOptions) { o.User = "nobody" }, []string{"unable to find user nobody"}},
		{"bad user", func(o *spec.RunOptions) { o.User = "1:2:3" }, []string{"--user"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := runOpts(t)
			tt.modify(&o)
			s, err := spec.FromRunOptions(o)
			if err == nil {
				t.Fatalf("FromRunOptions succeeded (%+v), want an error", s.Process)
			}
			for _, part := range tt.parts {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			}
		})
	}
}

func TestFromRunOptionsRelativeRootfs(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	o := spec.RunOptions{Rootfs: "rootfs", Args: []string{"/bin/true"}, LookupEnv: noHostEnv}
	s := mustFromRunOptions(t, o)
	if !filepath.IsAbs(s.Root.Path) || filepath.Base(s.Root.Path) != "rootfs" {
		t.Errorf("root path = %q, want an absolute path to rootfs", s.Root.Path)
	}
}

// TestFromRunOptionsCPUsRange: 2 CPUs is accepted only when the machine has them.
func TestFromRunOptionsCPUsRange(t *testing.T) {
	o := runOpts(t)
	o.CPUs = "2"
	_, err := spec.FromRunOptions(o)
	if runtime.NumCPU() >= 2 && err != nil {
		t.Errorf("--cpus 2 with %d CPUs: %v", runtime.NumCPU(), err)
	}
	if runtime.NumCPU() < 2 && err == nil {
		t.Errorf("--cpus 2 with %d CPU accepted", runtime.NumCPU())
	}
}

func findMount(s *specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

func sameElements[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[T]int{}
	for _, v := range a {
		count[v]++
	}
	for _, v := range b {
		count[v]--
		if count[v] < 0 {
			return false
		}
	}
	return true
}

func TestFromRunOptionsUserNamespace(t *testing.T) {
	o := runOpts(t)
	if s := mustFromRunOptions(t, o); spec.HasNamespace(s, specs.UserNamespace) || len(s.Linux.UIDMappings) != 0 {
		t.Fatal("--userns=host (no mappings) made a user namespace")
	}
	o.UIDMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	o.GIDMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	s := mustFromRunOptions(t, o)
	if !spec.HasNamespace(s, specs.UserNamespace) || s.Linux.UIDMappings[0].HostID != 100000 || s.Linux.GIDMappings[0].HostID != 200000 {
		t.Fatalf("namespaces %v, uid %v, gid %v", s.Linux.Namespaces, s.Linux.UIDMappings, s.Linux.GIDMappings)
	}
	sysType := func(s *specs.Spec) string {
		for _, m := range s.Mounts {
			if m.Destination == "/sys" {
				return m.Type
			}
		}
		return ""
	}
	if got := sysType(s); got != "sysfs" {
		t.Errorf("own network namespace: /sys is %q, want sysfs", got)
	}
	o.Network = "host"
	if got := sysType(mustFromRunOptions(t, o)); got != "bind" {
		t.Errorf("--network host in a user namespace: /sys is %q, want the host's bound", got)
	}
}

func TestVolumeFlagIDMap(t *testing.T) {
	m, err := spec.ParseVolumeFlag("/srv/data:/data:ro,idmap")
	if err != nil || !m.IDMap || !m.ReadOnly {
		t.Fatalf("%+v, %v", m, err)
	}
	if _, err := spec.ParseVolumeFlag("/srv/data:/data:idmap,idmap"); err == nil {
		t.Error("idmap twice accepted")
	}
	o := runOpts(t)
	o.Mounts = []spec.MountRequest{m}
	m.Source = t.TempDir()
	o.Mounts = []spec.MountRequest{m}
	if _, err := spec.FromRunOptions(o); err == nil || !strings.Contains(err.Error(), "--userns=auto") {
		t.Errorf("idmap without a user namespace: %v", err)
	}
	o.UIDMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	o.GIDMap = o.UIDMap
	s := mustFromRunOptions(t, o)
	for _, mt := range s.Mounts {
		if mt.Destination == "/data" && !slices.Contains(mt.Options, "idmap") {
			t.Errorf("the bind lost idmap: %v", mt.Options)
		}
	}
}
