package initproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/caps"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/testutil/ccbuild"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// decodeCheck is cmd/berth-stage's decoder with its checker
// (check/check.c), built with the undefined-behaviour sanitizer, as
// internal/container builds berth-nsenter, once for all the tests that
// drive it.
var decodeCheck = ccbuild.Sanitized("decode-check", "cmd/berth-stage/check/check.c", "cmd/berth-stage/decode.c")

// TestMain removes the test's build of the decoder's checker.
func TestMain(m *testing.M) {
	code := m.Run()
	decodeCheck.Remove()
	os.Exit(code)
}

// runDecodeCheck feeds msg to the checker: exit 0 with the decoded config
// printed, or 2 with why it is invalid. Any other end (a sanitizer's
// abort, a signal) fails the test.
func runDecodeCheck(t testing.TB, msg []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(decodeCheck.Path(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(msg), &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	if code != 0 && code != 2 {
		t.Fatalf("decoder's checker ended with %v on %d bytes %x\n%s", cmd.ProcessState, len(msg), head(msg), errb.String())
	}
	return out.String(), errb.String(), code
}

// head is the start of a message, for failure messages.
func head(b []byte) []byte {
	if len(b) > 256 {
		return b[:256]
	}
	return b
}

// compactText is what print_config prints for the config cfg encodes to.
func compactText(cfg *Config) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	r, p := &cfg.Rootfs, &cfg.Process

	fifo, pidsFD, pidsValue := -1, -1, "null"
	if cfg.ExecFifoFD != 0 {
		fifo = cfg.ExecFifoFD
	}
	if cfg.PidsLimit != nil {
		pidsFD, pidsValue = cfg.PidsLimit.FD, cQuote(cfg.PidsLimit.Value)
	}
	line("die_with_parent %d\nexec_fifo_fd %d\npids_fd %d\npids_value %s", cBool(cfg.DieWithParent), fifo, pidsFD, pidsValue)
	for _, s := range cfg.CgroupTasks {
		line("cgroup_task %s", cQuote(s))
	}
	netnsFD := -1
	if cfg.NetNSFD != 0 {
		netnsFD = cfg.NetNSFD
	}
	line("new_cgroupns %d\nnew_netns %d\nnetns_fd %d\nnew_keyring %d", cBool(cfg.NewCgroupNS), cBool(cfg.NewNetNS), netnsFD, cBool(cfg.NewKeyring))
	line("hostname %s\ndomainname %s\nhook_pause %d", cOptQuote(cfg.Hostname), cOptQuote(cfg.Domain), cBool(cfg.HookPause))
	for _, k := range slices.Sorted(maps.Keys(cfg.Sysctl)) {
		line("sysctl %s %s", cQuote(k), cQuote(cfg.Sysctl[k]))
	}

	line("root %s\nreadonly_root %d\npropagation 0x%x\nroot_propagation 0x%x", cQuote(r.Root), cBool(r.Readonly), uint64(r.Propagation), uint64(r.RootPropagation))
	if o := r.Overlay; o != nil {
		line("overlay_dir %s\noverlay_data %s", cQuote(o.LayersDir), cQuote("lowerdir="+strings.Join(o.Lower, ":")+",upperdir="+o.Upper+",workdir="+o.Work))
	} else {
		line("overlay_dir null\noverlay_data null")
	}
	for _, m := range r.Mounts {
		typ := m.Type
		if m.IsBind() {
			typ = ""
		}
		var props []string
		for _, pr := range m.Propagation {
			props = append(props, fmt.Sprintf("0x%x", uint64(pr)))
		}
		line("mount kind=%d source=%s dest=%s type=%s data=%s flags=0x%x propagation=[%s] attr_set=0x%x attr_clr=0x%x",
			compactMountKind(m), cQuote(m.Source), cQuote(m.Destination), cQuote(typ), cQuote(m.Data),
			uint64(m.Flags), strings.Join(props, ","), m.RecAttrSet, m.RecAttrClr)
	}
	for _, d := range r.Devices {
		line("device %s mode=0%o major=%d minor=%d uid=%d gid=%d", cQuote(d.Path), d.Mode, d.Major, d.Minor, d.UID, d.GID)
	}
	for _, h := range r.CgroupHierarchies {
		line("cgroup_hierarchy %s", cQuote(h))
	}
	line("cgroup_path %s\nmkcwd %s", cOptQuote(r.CgroupPath), cOptQuote(r.Cwd))
	for _, s := range r.MaskedPaths {
		line("masked %s", cQuote(s))
	}
	for _, s := range r.ReadonlyPaths {
		line("readonly_path %s", cQuote(s))
	}

	for _, s := range p.Args {
		line("arg %s", cQuote(s))
	}
	for _, s := range p.Env {
		line("env %s", cQuote(s))
	}
	line("cwd %s\nuid %d\ngid %d", cQuote(p.Cwd), p.UID, p.GID)
	b.WriteString("gids")
	for _, g := range p.AdditionalGids {
		fmt.Fprintf(&b, " %d", g)
	}
	b.WriteString("\n")
	if p.Umask != nil {
		line("umask 0%o", *p.Umask)
	} else {
		line("umask none")
	}
	line("caps bounding=0x%x effective=0x%x inheritable=0x%x permitted=0x%x ambient=0x%x",
		p.Caps.Bounding, p.Caps.Effective, p.Caps.Inheritable, p.Caps.Permitted, p.Caps.Ambient)
	line("no_new_privs %d", cBool(p.NoNewPrivileges))
	for _, l := range p.Rlimits {
		line("rlimit resource=%d soft=%d hard=%d", l.Resource, l.Soft, l.Hard)
	}
	if p.OOMScoreAdj != nil {
		line("oom_score_adj %d", *p.OOMScoreAdj)
	} else {
		line("oom_score_adj none")
	}
	for _, fd := range p.DevNull {
		line("devnull %d", fd)
	}
	line("seccomp %d %x\nseccomp_flags 0x%x\npreserve_fds %d", len(p.Seccomp), nativeFilter(p.Seccomp), p.SeccompFlags, cfg.PreserveFDs)
	return b.String()
}

func cBool(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cQuote quotes s as print_config does.
func cQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\x%02x", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// cOptQuote is an optional string: NULL when not set.
func cOptQuote(s string) string {
	if s == "" {
		return "null"
	}
	return cQuote(s)
}

// nativeFilter is the filter as the wire carries it: struct sock_filter
// in the machine's byte order.
func nativeFilter(prog []byte) []byte {
	var out []byte
	for _, in := range decodeFilter(prog) {
		out = binary.NativeEndian.AppendUint16(out, in.Code)
		out = append(out, in.Jt, in.Jf)
		out = binary.NativeEndian.AppendUint32(out, in.K)
	}
	return out
}

func mustMount(t testing.TB, typ, source, dest string, options ...string) rootfs.Mount {
	t.Helper()
	m, err := rootfs.ParseMount(typ, source, dest, options)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func intPtr(v int) *int          { return &v }
func uint32Ptr(v uint32) *uint32 { return &v }

// testFilter is a small seccomp program: allow everything but one
// syscall, which fails with EPERM.
func testFilter() []byte {
	return EncodeFilter([]unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 4},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1, K: unix.AUDIT_ARCH_X86_64},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_KILL_PROCESS},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jf: 1, K: unix.SYS_KEXEC_LOAD},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	})
}

// dockerDefaultCaps are Docker's default capabilities.
func dockerDefaultCaps(t testing.TB) caps.Sets {
	t.Helper()
	m, err := caps.Mask([]string{"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
		"SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"})
	if err != nil {
		t.Fatal(err)
	}
	return caps.Sets{Bounding: m, Effective: m, Permitted: m}
}

// runConfig is what berth run builds for a Docker image with its default
// mounts, devices, masks and profile, in an overlay of its layers.
func runConfig(t testing.TB) *Config {
	rw := []string{"nosuid", "noexec", "nodev"}
	return &Config{
		Rootfs: rootfs.Config{
			Root: "/var/lib/berth/containers/4f2a/rootfs",
			Overlay: &rootfs.Overlay{
				LayersDir: "/var/lib/berth/layers",
				Lower:     []string{"sha256-1a2b", "sha256-3c4d", "sha256-5e6f"},
				Upper:     "/var/lib/berth/containers/4f2a/upper",
				Work:      "/var/lib/berth/containers/4f2a/work",
			},
			Cwd:         "/app",
			Propagation: unix.MS_REC | unix.MS_PRIVATE,
			Mounts: []rootfs.Mount{
				mustMount(t, "proc", "proc", "/proc", rw...),
				mustMount(t, "tmpfs", "tmpfs", "/dev", "nosuid", "strictatime", "mode=755", "size=65536k"),
				mustMount(t, "devpts", "devpts", "/dev/pts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
				mustMount(t, "sysfs", "sysfs", "/sys", "nosuid", "noexec", "nodev", "ro"),
				mustMount(t, "cgroup2", "cgroup", "/sys/fs/cgroup", "ro", "nosuid", "noexec", "nodev"),
				mustMount(t, "mqueue", "mqueue", "/dev/mqueue", rw...),
				mustMount(t, "tmpfs", "shm", "/dev/shm", "nosuid", "noexec", "nodev", "mode=1777", "size=67108864"),
				mustMount(t, "bind", "/var/lib/berth/containers/4f2a/resolv.conf", "/etc/resolv.conf", "rbind", "rprivate"),
				mustMount(t, "bind", "/var/lib/berth/containers/4f2a/hosts", "/etc/hosts", "rbind", "rprivate", "ro"),
				mustMount(t, "bind", "/srv/data", "/data", "rbind", "rslave", "rro", "rnosuid", "rrelatime"),
			},
			Devices: []rootfs.Device{
				{Path: "/dev/null", Mode: unix.S_IFCHR | 0o666, Major: 1, Minor: 3},
				{Path: "/dev/zero", Mode: unix.S_IFCHR | 0o666, Major: 1, Minor: 5},
				{Path: "/dev/full", Mode: unix.S_IFCHR | 0o666, Major: 1, Minor: 7},
				{Path: "/dev/tty", Mode: unix.S_IFCHR | 0o666, Major: 5, Minor: 0},
				{Path: "/dev/random", Mode: unix.S_IFCHR | 0o666, Major: 1, Minor: 8},
				{Path: "/dev/urandom", Mode: unix.S_IFCHR | 0o666, Major: 1, Minor: 9},
				{Path: "/dev/fuse", Mode: unix.S_IFCHR | 0o600, Major: 10, Minor: 229, UID: 1000, GID: 1000},
			},
			CgroupPath: "/berth/4f2a",
			MaskedPaths: []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
		Hostname:      "4f2a9c0d1e2b",
		HookPause:     true,
		Sysctl:        map[string]string{"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647", "kernel.shm_rmid_forced": "1"},
		NewNetNS:      true,
		DieWithParent: true,
		PidsLimit:     &DeferredLimit{FD: 7, Value: "max"},
		PreserveFDs:   2,
		Process: Process{
			Args:            []string{"/usr/local/bin/app", "--listen", ":8080", "quote\" back\\slash", "tab\tnewline\n\xff"},
			Env:             []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=4f2a9c0d1e2b", "EMPTY="},
			Cwd:             "/app",
			UID:             1000,
			GID:             1000,
			AdditionalGids:  []uint32{10, 1000, 65534},
			Umask:           uint32Ptr(0o027),
			Caps:            dockerDefaultCaps(t),
			NoNewPrivileges: true,
			Rlimits: []Rlimit{
				{Resource: unix.RLIMIT_NOFILE, Soft: 1024, Hard: 1048576},
				{Resource: unix.RLIMIT_CORE, Soft: math.MaxUint64, Hard: math.MaxUint64},
			},
			OOMScoreAdj:  intPtr(-500),
			DevNull:      []int{0},
			Seccomp:      testFilter(),
			SeccompFlags: unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW | unix.SECCOMP_FILTER_FLAG_LOG,
		},
	}
}

// v1Config is berth-oci create on a cgroup v1 host: no overlay, a
// read-only root of a bundle, a new cgroup namespace, the exec FIFO.
func v1Config(t testing.TB) *Config {
	return &Config{
		Rootfs: rootfs.Config{
			Root:              "/run/bundles/c1/rootfs",
			Readonly:          true,
			Propagation:       unix.MS_REC | unix.MS_SLAVE,
			RootPropagation:   unix.MS_REC | unix.MS_SLAVE,
			CgroupHierarchies: []string{"cpu,cpuacct", "memory", "pids", "name=systemd"},
			Mounts: []rootfs.Mount{
				mustMount(t, "proc", "proc", "/proc"),
				mustMount(t, "tmpfs", "tmpfs", "/dev", "nosuid", "strictatime", "mode=755", "size=65536k"),
				mustMount(t, "cgroup", "cgroup", "/sys/fs/cgroup", "nosuid", "noexec", "nodev", "relatime", "ro"),
			},
			MaskedPaths: []string{"/proc/kcore"},
		},
		CgroupTasks: []string{"/sys/fs/cgroup/cpu,cpuacct/c1/tasks", "/sys/fs/cgroup/memory/c1/tasks", "/sys/fs/cgroup/pids/c1/tasks"},
		NewCgroupNS: true,
		NewKeyring:  true,
		Hostname:    "c1",
		Domain:      "example.org",
		ExecFifoFD:  5,
		Process: Process{
			Args: []string{"sh"},
			Cwd:  "/",
			Caps: caps.Sets{Bounding: 1<<41 - 1, Effective: 1<<41 - 1, Permitted: 1<<41 - 1, Inheritable: 1 << 5, Ambient: 1 << 10},
			// The stage's own: berth sets none of these for an OCI
			// create, but the decoder must keep them.
			DevNull: []int{0, 1, 2},
		},
	}
}

// minimalConfig has only what the wire requires.
// withNetNSFD is cfg entering a network namespace berth made (a bridged
// berth run).
func withNetNSFD(cfg *Config, fd int) *Config {
	cfg.NewNetNS, cfg.NetNSFD = false, fd
	return cfg
}

func minimalConfig() *Config {
	return &Config{
		Rootfs:  rootfs.Config{Root: "/r"},
		Process: Process{Args: []string{"x"}, Cwd: "/"},
	}
}

func TestCompactRoundTrip(t *testing.T) {
	for name, cfg := range map[string]*Config{
		"run":     runConfig(t),
		"oci v1":  v1Config(t),
		"minimal": minimalConfig(),
		"bridge":  withNetNSFD(runConfig(t), 7),
	} {
		t.Run(name, func(t *testing.T) {
			msg, err := EncodeCompact(cfg)
			if err != nil {
				t.Fatal(err)
			}
			out, errOut, code := runDecodeCheck(t, msg)
			if code != 0 {
				t.Fatalf("refused: %s", errOut)
			}
			if want := compactText(cfg); out != want {
				t.Errorf("decoded config differs:\n%s", lineDiff(out, want))
			}
		})
	}
}

// TestCompactOneAllocation: the encoding is one slice of the exact size,
// and the only other allocations are the overlay's data (strings.Join and
// the concatenation) and the sysctls' sorted names: EncodeCompact runs on every container start.
func TestCompactOneAllocation(t *testing.T) {
	for name, c := range map[string]struct {
		cfg    *Config
		allocs float64
	}{
		"run":    {runConfig(t), 4},
		"oci v1": {v1Config(t), 1},
	} {
		msg, err := EncodeCompact(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(msg) != cap(msg) {
			t.Errorf("%s: %d bytes in a slice of %d", name, len(msg), cap(msg))
		}
		if n := testing.AllocsPerRun(20, func() { EncodeCompact(c.cfg) }); n > c.allocs {
			t.Errorf("%s: %v allocations, want at most %v", name, n, c.allocs)
		}
	}
}

// lineDiff shows the lines that differ between got and want.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			fmt.Fprintf(&b, "line %d:\n got  %s\n want %s\n", i+1, gl, wl)
		}
	}
	return b.String()
}

// TestCompactRoundTripLimits: strings and lists at the wire's limits pass.
func TestCompactRoundTripLimits(t *testing.T) {
	cfg := minimalConfig()
	cfg.Rootfs.Root = "/" + strings.Repeat("r", wireMaxPath-1)
	cfg.Process.Args = []string{strings.Repeat("a", wireMaxArg)}
	for i := 0; i < wireMaxList; i++ {
		cfg.Process.Env = append(cfg.Process.Env, fmt.Sprintf("V%d=%d", i, i))
		cfg.Process.AdditionalGids = append(cfg.Process.AdditionalGids, uint32(i))
	}
	cfg.Process.Seccomp = bytes.Repeat(testFilter()[48:56], wireMaxSeccomp)
	cfg.Rootfs.Mounts = []rootfs.Mount{mustMount(t, "bind", "/a", "/b", "rbind", "private", "rprivate", "slave", "rslave")}
	msg, err := EncodeCompact(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runDecodeCheck(t, msg)
	if code != 0 {
		t.Fatalf("refused: %s", errOut)
	}
	if want := compactText(cfg); out != want {
		t.Errorf("decoded config differs:\n%s", lineDiff(out, want))
	}
}

func TestCompactRefused(t *testing.T) {
	big := strings.Repeat("x", wireMaxArg)
	for _, c := range []struct {
		why    string
		change func(c *Config)
	}{
		{"exec", func(c *Config) { c.Exec = true }},
		{"exec", func(c *Config) { c.Target = &Target{PidFD: 3} }},
		{"namespaces to join", func(c *Config) { c.Join = []Namespace{{Type: unix.CLONE_NEWNET, Path: "/run/netns/a"}} }},
		{"container hooks", func(c *Config) { c.CreateContainerHooks = []specs.Hook{{Path: "/bin/true"}} }},
		{"container hooks", func(c *Config) { c.StartContainerHooks = []specs.Hook{{Path: "/bin/true"}} }},
		{"no pivot_root", func(c *Config) { c.NoPivot = true }},
		{"no mount namespace", func(c *Config) { c.Rootfs.SharedMounts = true }},
		{"a terminal", func(c *Config) { c.Process.Terminal = true }},
		{`sysctl "net..ip_forward"`, func(c *Config) { c.Sysctl = map[string]string{"net..ip_forward": "1"} }},
		{`sysctl "net.ipv4."`, func(c *Config) { c.Sysctl = map[string]string{"net.ipv4.": "1"} }},
		{"sysctl net.x of 4097 bytes", func(c *Config) { c.Sysctl = map[string]string{"net.x": strings.Repeat("1", wireMaxPath-4)} }},
		{"idmapped or shifted overlay", func(c *Config) { c.Rootfs.Overlay.IDMap = &rootfs.IDMap{} }},
		{"idmapped or shifted overlay", func(c *Config) { c.Rootfs.Overlay.Shifted = true }},
		{"idmapped or shifted overlay", func(c *Config) { c.Rootfs.Overlay.TreeFD = 9 }},
		{"cloned cgroup trees", func(c *Config) { c.Rootfs.CgroupTreeFDs = []int{9} }},
		{"copy-symlink", func(c *Config) { c.Rootfs.Mounts[7].CopySymlink = true }},
		{"tmpcopyup", func(c *Config) { c.Rootfs.Mounts[1].CopyUp = true }},
		{"an idmapped mount", func(c *Config) { c.Rootfs.Mounts[9].IDMap = &rootfs.IDMap{Recursive: true} }},
		{"a cloned tree", func(c *Config) { c.Rootfs.Mounts[9].TreeFD = 9 }},
		{"5 propagation options", func(c *Config) {
			c.Rootfs.Mounts[9].Propagation = make([]uintptr, 5)
		}},
		{"seccomp flags 0x8", func(c *Config) { c.Process.SeccompFlags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER }},
		{"seccomp flags 0x1", func(c *Config) { c.Process.SeccompFlags |= unix.SECCOMP_FILTER_FLAG_TSYNC }},
		{"a seccomp program of 12 bytes", func(c *Config) { c.Process.Seccomp = make([]byte, 12) }},
		{"a seccomp program of 32776 bytes", func(c *Config) { c.Process.Seccomp = make([]byte, 8*wireMaxSeccomp+8) }},
		{"no program arguments", func(c *Config) { c.Process.Args = nil }},
		{"exec FIFO descriptor -1", func(c *Config) { c.ExecFifoFD = -1 }},
		{"network namespace descriptor -1", func(c *Config) { c.NetNSFD = -1 }},
		{"pids limit descriptor -1", func(c *Config) { c.PidsLimit.FD = -1 }},
		{"-1 preserved descriptors", func(c *Config) { c.PreserveFDs = -1 }},
		{"oom_score_adj", func(c *Config) { c.Process.OOMScoreAdj = intPtr(math.MaxInt32 + 1) }},
		{"/dev/null on descriptor 3", func(c *Config) { c.Process.DevNull = []int{3} }},
		{"rlimit resource -1", func(c *Config) { c.Process.Rlimits[0].Resource = -1 }},
		{"too many image layers", func(c *Config) {
			for i := 0; i < 400; i++ {
				c.Rootfs.Overlay.Lower = append(c.Rootfs.Overlay.Lower, fmt.Sprintf("sha256-%010d", i))
			}
		}},
		{"the rootfs path with a NUL byte", func(c *Config) { c.Rootfs.Root = "/a\x00b" }},
		{"an argument with a NUL byte", func(c *Config) { c.Process.Args[1] = "a\x00" }},
		{"a device path with a NUL byte", func(c *Config) { c.Rootfs.Devices[0].Path = "/dev/\x00" }},
		{"mount data with a NUL byte", func(c *Config) { c.Rootfs.Mounts[1].Data = "mode=755\x00" }},
		{"the hostname of 4097 bytes", func(c *Config) { c.Hostname = strings.Repeat("h", wireMaxPath+1) }},
		{"a masked path of 4097 bytes", func(c *Config) { c.Rootfs.MaskedPaths[0] = strings.Repeat("m", wireMaxPath+1) }},
		{"an environment entry of 131073 bytes", func(c *Config) { c.Process.Env[0] = big + "x" }},
		{"4097 masked paths, above 4096", func(c *Config) { c.Rootfs.MaskedPaths = make([]string, wireMaxList+1) }},
		{"4097 mounts, above 4096", func(c *Config) {
			c.Rootfs.Mounts = make([]rootfs.Mount, wireMaxList+1)
		}},
		{"4097 additional groups", func(c *Config) { c.Process.AdditionalGids = make([]uint32, wireMaxList+1) }},
		{"a config of", func(c *Config) {
			for i := 0; i < 40; i++ {
				c.Process.Env = append(c.Process.Env, big)
			}
		}},
	} {
		cfg := runConfig(t)
		c.change(cfg)
		_, err := EncodeCompact(cfg)
		if !errors.Is(err, ErrNotCompact) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: got %v", c.why, err)
		}
	}
}

// rec is one record of the wire form.
func rec(tag uint32, payload ...any) []byte {
	var p []byte
	for _, v := range payload {
		switch v := v.(type) {
		case uint32:
			p = binary.NativeEndian.AppendUint32(p, v)
		case int:
			p = binary.NativeEndian.AppendUint32(p, uint32(v))
		case uint64:
			p = binary.NativeEndian.AppendUint64(p, v)
		case string:
			p = append(p, v...)
		case []byte:
			p = append(p, v...)
		default:
			panic(fmt.Sprintf("rec: %T", v))
		}
	}
	return recLen(tag, uint32(len(p)), p)
}

// recLen is a record whose header claims n bytes, whatever follows.
func recLen(tag, n uint32, payload []byte) []byte {
	b := binary.NativeEndian.AppendUint32(nil, tag)
	b = binary.NativeEndian.AppendUint32(b, n)
	return append(b, payload...)
}

// message is the magic number and records.
func message(records ...[]byte) []byte {
	b := binary.NativeEndian.AppendUint32(nil, wireMagic)
	for _, r := range records {
		b = append(b, r...)
	}
	return b
}

// required are the records a message needs.
func required() [][]byte {
	return [][]byte{rec(tRoot, "/r"), rec(tArg, "x"), rec(tCwd, "/"), rec(tUser, 0, 0)}
}

// withRequired is a valid message plus records.
func withRequired(records ...[]byte) []byte {
	return message(append(required(), records...)...)
}

func repeat(n int, r []byte) []byte { return bytes.Repeat(r, n) }

func TestDecodeCompactMalformed(t *testing.T) {
	mount := rec(tMount, mountBind)
	dest := rec(tMDest, "/d")
	for _, c := range []struct {
		name, why string
		msg       []byte
	}{
		{"empty", "no magic number", nil},
		{"short magic", "no magic number", []byte("BSC")},
		{"bad magic", "no magic number", append([]byte("BSC2"), withRequired()[4:]...)},
		{"truncated header", "truncated record header", append(withRequired(), 1, 0, 0)},
		{"truncated payload", "longer than the message", withRequired(recLen(tRoot, 10, []byte("/r")))},
		{"huge length", "longer than the message", withRequired(recLen(tEnv, math.MaxUint32, []byte("x")))},
		{"huge gids", "longer than the message", withRequired(recLen(tGids, math.MaxUint32-7, nil))},
		{"unknown tag 0", "unknown tag", withRequired(rec(0))},
		{"unknown tag 13", "unknown tag", withRequired(rec(13))},
		{"hook pause with payload", "does not fit", withRequired(rec(tHookPause, 1))},
		{"sysctl key length 0", "key length does not fit", withRequired(rec(tSysctl, 0, "v"))},
		{"sysctl key longer than the record", "key length does not fit", withRequired(rec(tSysctl, 3, "ab"))},
		{"short sysctl", "does not fit", withRequired(rec(tSysctl, "ab"))},
		{"unknown tag 64", "unknown tag", withRequired(rec(64))},
		{"unknown tag max", "unknown tag", withRequired(rec(math.MaxUint32))},
		{"flag with payload", "does not fit", withRequired(rec(tNoNewPrivs, 1))},
		{"short u32", "does not fit", withRequired(recLen(tUmask, 3, []byte{1, 2, 3}))},
		{"long u64", "does not fit", withRequired(rec(tPropagation, uint64(1), 0))},
		{"short user", "does not fit", message(rec(tRoot, "/r"), rec(tArg, "x"), rec(tCwd, "/"), rec(tUser, 0))},
		{"short caps", "does not fit", withRequired(rec(tCaps, uint64(1), uint64(2)))},
		{"short device", "does not fit", withRequired(rec(tDevice, 1, 2, 3))},
		{"short pids", "does not fit", withRequired(rec(tPidsLimit, "ab"))},
		{"gids not u32s", "does not fit", withRequired(rec(tGids, []byte{1, 2, 3, 4, 5}))},
		{"gids empty", "does not fit", withRequired(rec(tGids))},
		{"gids over limit", "does not fit", withRequired(rec(tGids, make([]byte, 4*wireMaxList+4)))},
		{"seccomp not instructions", "does not fit", withRequired(rec(tSeccomp, make([]byte, 12)))},
		{"seccomp empty", "does not fit", withRequired(rec(tSeccomp))},
		{"seccomp over limit", "does not fit", withRequired(rec(tSeccomp, make([]byte, 8*wireMaxSeccomp+8)))},
		{"duplicate root", "given twice", withRequired(rec(tRoot, "/s"))},
		{"duplicate flag", "given twice", withRequired(rec(tNewNetNS), rec(tNewNetNS))},
		{"duplicate cwd", "given twice", withRequired(rec(tCwd, "/"))},
		{"duplicate mount dest", "mount field given twice", withRequired(mount, dest, dest)},
		{"duplicate mount flags", "mount field given twice", withRequired(mount, dest, rec(tMFlags, uint64(0)), rec(tMFlags, uint64(0)))},
		{"mount field first", "before any MOUNT", withRequired(dest)},
		{"mount without dest at end", "without a destination", withRequired(mount, dest, mount, rec(tMSource, "/s"))},
		{"mount without dest before another", "without a destination", withRequired(mount, mount, dest)},
		{"mount kind 0", "unknown mount kind", withRequired(rec(tMount, 0), dest)},
		{"mount kind 4", "unknown mount kind", withRequired(rec(tMount, 4), dest)},
		{"five propagations", "MAX_PROPAGATION", withRequired(mount, dest, repeat(5, rec(tMPropagation, uint64(unix.MS_PRIVATE))))},
		{"NUL in root", "NUL byte", message(rec(tRoot, "/r\x00"), rec(tArg, "x"), rec(tCwd, "/"), rec(tUser, 0, 0))},
		{"NUL in arg", "NUL byte", withRequired(rec(tArg, "\x00"))},
		{"NUL in env", "NUL byte", withRequired(rec(tEnv, "A=\x00B"))},
		{"NUL in device path", "NUL byte", withRequired(rec(tDevice, 0, 1, 3, 0, 0, "/dev/n\x00"))},
		{"NUL in pids value", "NUL byte", withRequired(rec(tPidsLimit, 7, "ma\x00"))},
		{"NUL in mount data", "NUL byte", withRequired(mount, dest, rec(tMData, "a\x00"))},
		{"path over limit", "string over its limit", withRequired(rec(tMasked, strings.Repeat("m", wireMaxPath+1)))},
		{"device path over limit", "string over its limit", withRequired(rec(tDevice, 0, 1, 3, 0, 0, strings.Repeat("d", wireMaxPath+1)))},
		{"arg over limit", "string over its limit", withRequired(rec(tArg, strings.Repeat("a", wireMaxArg+1)))},
		{"too many tasks", "list over its limit", withRequired(repeat(wireMaxList+1, rec(tCgroupTask, "t")))},
		{"too many mounts", "list over its limit", withRequired(repeat(wireMaxList+1, append(rec(tMount, mountFS), dest...)))},
		{"too many devnull", "list over its limit", withRequired(repeat(wireMaxList+1, rec(tDevNull, 0)))},
		{"missing root", "required record missing", message(rec(tArg, "x"), rec(tCwd, "/"), rec(tUser, 0, 0))},
		{"missing arg", "required record missing", message(rec(tRoot, "/r"), rec(tCwd, "/"), rec(tUser, 0, 0))},
		{"missing cwd", "required record missing", message(rec(tRoot, "/r"), rec(tArg, "x"), rec(tUser, 0, 0))},
		{"missing user", "required record missing", message(rec(tRoot, "/r"), rec(tArg, "x"), rec(tCwd, "/"))},
		{"overlay dir alone", "overlay without", withRequired(rec(tOverlayDir, "/l"))},
		{"overlay data alone", "overlay without", withRequired(rec(tOverlayData, "lowerdir=a"))},
		{"devnull 3", "other than 0, 1 or 2", withRequired(rec(tDevNull, 3))},
		{"devnull -1", "other than 0, 1 or 2", withRequired(rec(tDevNull, -1))},
		{"seccomp tsync", "seccomp flags", withRequired(rec(tSeccompFlags, unix.SECCOMP_FILTER_FLAG_TSYNC))},
		{"seccomp listener", "seccomp flags", withRequired(rec(tSeccompFlags, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER|unix.SECCOMP_FILTER_FLAG_LOG))},
		{"rlimit padding", "padding", withRequired(rec(tRlimit, 7, 1, uint64(1), uint64(1)))},
		{"fifo fd over int", "out of range", withRequired(rec(tExecFifoFD, uint32(math.MaxInt32)+1))},
		{"netns fd over int", "out of range", withRequired(rec(tNetNSFD, uint32(math.MaxInt32)+1))},
		{"netns fd twice", "given twice", withRequired(rec(tNetNSFD, 4), rec(tNetNSFD, 5))},
		{"pids fd over int", "out of range", withRequired(rec(tPidsLimit, uint32(math.MaxUint32), "max"))},
		{"preserve fds overflow", "out of range", withRequired(rec(tPreserveFDs, math.MaxInt32-2))},
		{"over the message limit", "over WIRE_MAX_MESSAGE", withRequired(repeat(33, rec(tEnv, strings.Repeat("e", wireMaxArg))))},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, code := runDecodeCheck(t, c.msg)
			if code != 2 || !strings.HasPrefix(errOut, "invalid: ") || !strings.Contains(errOut, c.why) {
				t.Errorf("exit %d, %q; want exit 2 for %q", code, errOut, c.why)
			}
		})
	}
}

// TestDecodeCompactOrder: records may come in any order but M_* after
// their MOUNT, and repeated ones keep theirs.
func TestDecodeCompactOrder(t *testing.T) {
	msg := message(rec(tUser, 5, 6), rec(tArg, "b"), rec(tMount, mountFS), rec(tMDest, "/p"), rec(tMType, "proc"),
		rec(tCwd, "/w"), rec(tArg, "c"), rec(tRoot, "/r"), rec(tDevNull, 2), rec(tDevNull, 0))
	cfg := minimalConfig()
	cfg.Process.Args = []string{"b", "c"}
	cfg.Process.Cwd, cfg.Process.UID, cfg.Process.GID = "/w", 5, 6
	cfg.Process.DevNull = []int{2, 0}
	cfg.Rootfs.Mounts = []rootfs.Mount{{Destination: "/p", Type: "proc"}}
	out, errOut, code := runDecodeCheck(t, msg)
	if code != 0 {
		t.Fatalf("refused: %s", errOut)
	}
	// No CAPS record: all sets empty, as EncodeCompact's zero ones.
	if want := compactText(cfg); out != want {
		t.Errorf("decoded config differs:\n%s", lineDiff(out, want))
	}
}

// FuzzDecodeCompact: any message is decoded or refused with exit 2, never
// a crash or undefined behaviour (the sanitizer aborts on it).
func FuzzDecodeCompact(f *testing.F) {
	for _, cfg := range []*Config{runConfig(f), v1Config(f), minimalConfig()} {
		msg, err := EncodeCompact(cfg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
	f.Add(withRequired(rec(tMount, mountBind), rec(tMDest, "/d"), rec(tMPropagation, uint64(unix.MS_PRIVATE)),
		rec(tMAttr, uint64(1), uint64(2)), rec(tDevice, 0, 1, 3, 0, 0, "/dev/null"), rec(tGids, 1, 2), rec(tRlimit, 7, 0, uint64(1), uint64(2))))
	f.Add(framedSeed)
	magic := message()
	f.Fuzz(func(t *testing.T, msg []byte) {
		// One run an input: a message is decoded as it is; other bytes,
		// which would only be refused for their missing magic number,
		// are framed into one. runDecodeCheck checks the exit status.
		if bytes.HasPrefix(msg, magic) {
			runDecodeCheck(t, msg)
		} else {
			runDecodeCheck(t, msg, "--framed")
		}
	})
}

// framedSeed is, for the checker's --framed (check.c's frame), a bind mount with a destination and a
// propagation, a device, a gids list and a seccomp flag.
var framedSeed = []byte("\x1a\x04\x02\x00\x00\x00\x1c\x02/d\x20\x08\x00\x00\x04\x00\x00\x00\x00\x00" +
	"\x22\x18\xb6\x21\x00\x00\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00/dev" +
	"\x36\x08\x01\x00\x00\x00\x02\x00\x00\x00\x3e\x04\x04\x00\x00\x00")

// TestCompactFramedSeed: the framed seed decodes, so the fuzzer starts
// from a valid message.
func TestCompactFramedSeed(t *testing.T) {
	out, errOut, code := runDecodeCheck(t, framedSeed, "--framed")
	if code != 0 {
		t.Fatalf("refused: %s", errOut)
	}
	for _, want := range []string{"mount kind=2 source=\"\" dest=\"/d\"", "propagation=[0x40000]", "device \"/dev\" mode=020666 major=1 minor=3", "gids 1 2", "seccomp_flags 0x4"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

// TestCompactConstantsMatchC: every constant of wire.h and stage.h that
// the encoder uses has the same value here, and every tag is known.
func TestCompactConstantsMatchC(t *testing.T) {
	goValues := map[string]uint64{
		"WIRE_MAGIC": wireMagic, "WIRE_MAX_MESSAGE": wireMaxMessage, "WIRE_MAX_PATH": wireMaxPath,
		"WIRE_MAX_ARG": wireMaxArg, "WIRE_MAX_LIST": wireMaxList, "WIRE_MAX_SECCOMP": wireMaxSeccomp,
		"MAX_PROPAGATION": maxPropagation, "MOUNT_FS": mountFS, "MOUNT_BIND": mountBind, "MOUNT_CGROUP": mountCgroup,
		"T_DIE_WITH_PARENT": tDieWithParent, "T_EXEC_FIFO_FD": tExecFifoFD, "T_PIDS_LIMIT": tPidsLimit,
		"T_CGROUP_TASK": tCgroupTask, "T_NEW_CGROUPNS": tNewCgroupNS, "T_NEW_NETNS": tNewNetNS,
		"T_NEW_KEYRING": tNewKeyring, "T_HOSTNAME": tHostname, "T_DOMAINNAME": tDomainname, "T_SYSCTL": tSysctl, "T_HOOK_PAUSE": tHookPause, "T_NETNS_FD": tNetNSFD, "T_ROOT": tRoot,
		"T_READONLY_ROOT": tReadonlyRoot, "T_PROPAGATION": tPropagation, "T_ROOT_PROPAGATION": tRootPropagation,
		"T_OVERLAY_DIR": tOverlayDir, "T_OVERLAY_DATA": tOverlayData, "T_MOUNT": tMount, "T_M_SOURCE": tMSource,
		"T_M_DEST": tMDest, "T_M_TYPE": tMType, "T_M_DATA": tMData, "T_M_FLAGS": tMFlags,
		"T_M_PROPAGATION": tMPropagation, "T_M_ATTR": tMAttr, "T_DEVICE": tDevice,
		"T_CGROUP_HIERARCHY": tCgroupHierarchy, "T_CGROUP_PATH": tCgroupPath, "T_MASKED": tMasked,
		"T_READONLY_PATH": tReadonlyPath, "T_MKCWD": tMkcwd, "T_ARG": tArg, "T_ENV": tEnv, "T_CWD": tCwd,
		"T_USER": tUser, "T_GIDS": tGids, "T_UMASK": tUmask, "T_CAPS": tCaps, "T_NO_NEW_PRIVS": tNoNewPrivs,
		"T_RLIMIT": tRlimit, "T_OOM_SCORE_ADJ": tOOMScoreAdj, "T_DEVNULL": tDevNull, "T_SECCOMP": tSeccomp,
		"T_SECCOMP_FLAGS": tSeccompFlags, "T_PRESERVE_FDS": tPreserveFDs,
	}
	_, here, _, _ := runtime.Caller(0)
	var src []byte
	for _, f := range []string{"wire.h", "stage.h"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "../../cmd/berth-stage", f))
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	// "#define NAME VALUE" and "NAME = VALUE," with C's integer forms.
	re := regexp.MustCompile(`(?m)^\s*(?:#define\s+([A-Z_]+)\s+\(?(0x[0-9a-fA-F]+|\d+)u?(?:\s*<<\s*(\d+))?|([A-Z_]+)\s*=\s*(\d+),)`)
	found := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		name, value, shift := m[1], m[2], m[3]
		if name == "" {
			name, value = m[4], m[5]
		}
		v, err := strconv.ParseUint(value, 0, 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if shift != "" {
			s, _ := strconv.Atoi(shift)
			v <<= s
		}
		goValue, ok := goValues[name]
		if !ok {
			if strings.HasPrefix(name, "T_") || strings.HasPrefix(name, "WIRE_") || strings.HasPrefix(name, "MOUNT_") {
				t.Errorf("%s = %d: not in compact.go", name, v)
			}
			continue
		}
		found[name] = true
		if goValue != v {
			t.Errorf("%s: %d in C, %d in compact.go", name, v, goValue)
		}
	}
	for name := range goValues {
		if !found[name] {
			t.Errorf("%s: not found in wire.h or stage.h", name)
		}
	}
}
