package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Configs a Kubernetes pod author controls (sysctls, mounts) must not
// reach the host: each one below is refused at create, with one line
// naming what is wrong, and nothing is left behind.

// hostSysctl reads a sysctl of the test's own namespaces.
func hostSysctl(t *testing.T, key string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// expectCreateRefused runs berth-oci create (through prefix, a command
// such as nsenter, when given) and expects it to fail with one line
// containing want, leaving no container behind.
func expectCreateRefused(t *testing.T, bundle, want string, prefix ...string) {
	t.Helper()
	args := append(append(prefix, ociBin, "--root", ociRoot, "create", "--bundle", bundle), "hostile")
	cmd := exec.Command(args[0], args[1:]...)
	// Files, not pipes: a container that was wrongly created keeps them.
	dir := t.TempDir()
	outFile, _ := os.Create(filepath.Join(dir, "stdout"))
	errFile, _ := os.Create(filepath.Join(dir, "stderr"))
	cmd.Stdout, cmd.Stderr = outFile, errFile
	err := cmd.Run()
	outFile.Close()
	errFile.Close()
	stdout, _ := os.ReadFile(outFile.Name())
	stderr, _ := os.ReadFile(errFile.Name())
	if err == nil {
		// Not fatal: the caller goes on to check what the container
		// changed.
		oci(t, "delete", "--force", "hostile")
		t.Errorf("create accepted the config (stdout %q stderr %q)", stdout, stderr)
		return
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatal(err)
	}
	t.Logf("refused: %s", stderr)
	if !strings.Contains(string(stderr), want) || strings.Count(string(stderr), "\n") != 1 {
		t.Errorf("stderr %q: want one line naming %q", stderr, want)
	}
	if r := oci(t, "state", "hostile"); r.code == 0 {
		oci(t, "delete", "--force", "hostile")
		t.Error("a refused create left a container behind")
	}
}

// withoutNamespace drops namespace typ from the config: the container
// shares the host's.
func withoutNamespace(s *specs.Spec, typ specs.LinuxNamespaceType) {
	var kept []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != typ {
			kept = append(kept, ns)
		}
	}
	s.Linux.Namespaces = kept
	if typ == specs.UTSNamespace {
		s.Hostname = ""
	}
}

// TestOCIRefusesHostSysctls: sysctls that are not namespaced, or whose
// namespace is the host's, would change the host for every process on it.
// Each is asked for with the host's current value, so that even a runtime
// that accepted it leaves the host as it was; the refusal is what is
// checked.
func TestOCIRefusesHostSysctls(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	cases := []struct {
		name, key string
		edit      func(*specs.Spec)
	}{
		{"core_pattern", "kernel.core_pattern", nil},
		{"vm", "vm.overcommit_memory", nil},
		{"fs other than mqueue", "fs.file-max", nil},
		{"shmmax in the host's ipc namespace", "kernel.shmmax", func(s *specs.Spec) { withoutNamespace(s, specs.IPCNamespace) }},
		{"mqueue in the host's ipc namespace", "fs.mqueue.msg_max", func(s *specs.Spec) { withoutNamespace(s, specs.IPCNamespace) }},
		{"domainname in the host's uts namespace", "kernel.domainname", func(s *specs.Spec) { withoutNamespace(s, specs.UTSNamespace) }},
		{"empty component", "kernel..core_pattern", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			value := hostSysctl(t, c.key)
			bundle := ociBundle(t, []string{"true"}, func(s *specs.Spec) {
				if c.edit != nil {
					c.edit(s)
				}
				s.Linux.Sysctl = map[string]string{c.key: value}
			})
			expectCreateRefused(t, bundle, c.key)
			if now := hostSysctl(t, c.key); now != value {
				t.Errorf("host %s is %q, was %q", c.key, now, value)
			}
		})
	}
	checkNoLeaks(t, before)
}

// TestOCIRefusesNetSysctlsInHostNetns runs berth-oci in a network
// namespace of the test's own, which plays the host: a net.* sysctl for a
// container that shares it, or joins it by path, must be refused, and the
// namespace's value stays as it was.
func TestOCIRefusesNetSysctlsInHostNetns(t *testing.T) {
	needRoot(t)
	netns := fmt.Sprintf("berth-sysctl-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", netns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", netns).Run() })
	before := snapshot(t)
	ttl := func() string {
		out, err := exec.Command("ip", "netns", "exec", netns, "cat", "/proc/sys/net/ipv4/ip_default_ttl").Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	want := ttl()
	for name, edit := range map[string]func(*specs.Spec){
		"no network namespace": func(s *specs.Spec) { withoutNamespace(s, specs.NetworkNamespace) },
		"the runtime's own network namespace by path": func(s *specs.Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = "/run/netns/" + netns
				}
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			bundle := ociBundle(t, []string{"true"}, func(s *specs.Spec) {
				edit(s)
				s.Linux.Sysctl = map[string]string{"net.ipv4.ip_default_ttl": "77"}
			})
			expectCreateRefused(t, bundle, "net.ipv4.ip_default_ttl", "nsenter", "--net=/run/netns/"+netns)
			if got := ttl(); got != want {
				t.Errorf("the runtime's network namespace has ip_default_ttl %s, was %s", got, want)
			}
		})
	}
	checkNoLeaks(t, before)
}

// TestOCINamespacedSysctlsApplied: sysctls of the container's own
// namespaces are still set, in the container only.
func TestOCINamespacedSysctlsApplied(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	sysctls := map[string]string{
		"net.ipv4.ip_default_ttl": "77",
		"kernel.shmmax":           "123456789",
		"kernel.msgmax":           "4096",
		"kernel.sem":              "250\t32000\t32\t100",
		"fs.mqueue.msg_max":       "20",
		"kernel.domainname":       "berth.test",
	}
	hostValues := map[string]string{}
	var script []string
	for key := range sysctls {
		hostValues[key] = hostSysctl(t, key)
		script = append(script, "echo "+key+"=$(cat /proc/sys/"+strings.ReplaceAll(key, ".", "/")+")")
	}
	bundle := ociBundle(t, []string{"sh", "-c", strings.Join(script, "; ")}, func(s *specs.Spec) {
		s.Linux.Sysctl = sysctls
	})
	r := oci(t, "run", "--bundle", bundle, "sysctls")
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	for key, value := range sysctls {
		// $(cat) in an unquoted echo turns the tabs of kernel.sem into spaces.
		if want := key + "=" + strings.ReplaceAll(value, "\t", " ") + "\n"; !strings.Contains(r.stdout, want) {
			t.Errorf("container output %q lacks %q", r.stdout, want)
		}
		if now := hostSysctl(t, key); now != hostValues[key] {
			t.Errorf("host %s changed from %q to %q", key, hostValues[key], now)
		}
	}
	checkNoLeaks(t, before)
}

// TestOCIRefusesMountsUnderProc: a mount inside /proc could hide or
// replace the kernel interfaces that masks and read-only paths protect;
// only runc's lxcfs allow-list may be mounted there, and only a procfs at
// /proc itself. Destinations are compared cleaned, and as resolved inside
// the rootfs at mount time, so neither spelling nor a symlink in the
// image gets around the check.
func TestOCIRefusesMountsUnderProc(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	host := t.TempDir()
	bindAt := func(dst string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "bind", Source: host, Options: []string{"rbind"}})
		}
	}
	cases := []struct {
		name string
		edit func(*specs.Spec)
		// rootfs prepares the bundle's rootfs (a symlink in the image).
		rootfs func(dir string) error
		want   string
	}{
		{"/proc/sys/net", bindAt("/proc/sys/net"), nil, "/proc/sys/net"},
		{"dot", bindAt("/proc/./sys/net"), nil, "/proc/sys/net"},
		{"double slash", bindAt("//proc//sys/net"), nil, "/proc/sys/net"},
		{"dot dot", bindAt("/proc/../proc/sys/net"), nil, "/proc/sys/net"},
		{"trailing slash", bindAt("/proc/sys/net/"), nil, "/proc/sys/net"},
		{"/proc/self/attr", bindAt("/proc/self/attr"), nil, "/proc/self/attr"},
		{"tmpfs at /proc", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc", Type: "tmpfs", Source: "tmpfs"})
		}, nil, "/proc"},
		{"bind of a directory at /proc", bindAt("/proc"), nil, "/proc"},
		{"bind of a procfs subdirectory at /proc", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc", Type: "bind", Source: "/proc/sys", Options: []string{"rbind"}})
		}, nil, "/proc"},
		{"symlink in the image into /proc", bindAt("/data/net"), func(dir string) error {
			return os.Symlink("/proc/sys", filepath.Join(dir, "data"))
		}, "/proc/sys/net"},
		{"relative symlink in the image into /proc", bindAt("/data/net"), func(dir string) error {
			return os.Symlink("../proc/sys", filepath.Join(dir, "data"))
		}, "/proc/sys/net"},
		{"dot dot after a symlink into /proc", bindAt("/link/../net"), func(dir string) error {
			return os.Symlink("/proc/sys/kernel", filepath.Join(dir, "link"))
		}, "/proc/sys/net"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bundle := ociBundle(t, []string{"true"}, c.edit)
			if c.rootfs != nil {
				if err := c.rootfs(filepath.Join(bundle, "rootfs")); err != nil {
					t.Fatal(err)
				}
			}
			expectCreateRefused(t, bundle, c.want)
		})
	}
	checkNoLeaks(t, before)
}

// lxcfsFiles are the /proc files runc lets a config bind-mount over, as
// lxcfs does, that exist on this kernel.
func lxcfsFiles(t *testing.T) []string {
	var files []string
	for _, f := range []string{"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
		"/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/sys/kernel/ns_last_pid", "/proc/sys/crypto/fips_enabled"} {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	if len(files) < 8 {
		t.Fatalf("only %v exist", files)
	}
	return files
}

// TestOCIProcAllowList: the lxcfs-style files can still be bind-mounted
// over, and a procfs bound at /proc works.
func TestOCIProcAllowList(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	host := t.TempDir()
	files := lxcfsFiles(t)
	var script []string
	bundle := ociBundle(t, nil, func(s *specs.Spec) {
		for i, f := range files {
			src := filepath.Join(host, fmt.Sprint(i))
			if err := os.WriteFile(src, []byte("lxcfs "+f+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: f, Type: "bind", Source: src, Options: []string{"bind", "ro"}})
			script = append(script, "cat "+f)
		}
		s.Process.Args = []string{"sh", "-c", strings.Join(script, "; ")}
	})
	r := oci(t, "run", "--bundle", bundle, "lxcfs")
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	for _, f := range files {
		if !strings.Contains(r.stdout, "lxcfs "+f+"\n") {
			t.Errorf("%s does not show the bound file: %q", f, r.stdout)
		}
	}

	// The host's procfs bound at /proc, as rootless engines do with a
	// host PID namespace; the masks still apply to it.
	bundle = ociBundle(t, []string{"sh", "-c", "test -d /proc/1 && wc -c < /proc/timer_list"}, func(s *specs.Spec) {
		withoutNamespace(s, specs.PIDNamespace)
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/proc" {
				s.Mounts[i] = specs.Mount{Destination: "/proc", Type: "bind", Source: "/proc", Options: []string{"rbind", "nosuid", "noexec", "nodev"}}
			}
		}
	})
	if r := oci(t, "run", "--bundle", bundle, "hostproc"); r.code != 0 || strings.TrimSpace(r.stdout) != "0" {
		t.Errorf("host /proc bound at /proc: %+v, want timer_list masked (0 bytes)", r)
	}
	checkNoLeaks(t, before)
}

// TestRunMountsUnderProc: berth run's -v, --mount and --tmpfs go through
// the same check: refused inside /proc with exit status 125 and one line,
// except the lxcfs-style files, which work as in docker run.
func TestRunMountsUnderProc(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	host := t.TempDir()
	for _, flags := range [][]string{
		{"-v", host + ":/proc/sys/net"},
		{"-v", host + ":/proc/./sys/net:ro"},
		{"--mount", "type=bind,source=" + host + ",target=/proc/../proc/sys/net"},
		{"--mount", "type=bind,source=" + host + ",target=//proc/sys/kernel/core_pattern"},
		{"--tmpfs", "/proc"},
		{"--tmpfs", "/proc/sys/"},
		{"-v", host + ":/proc"},
	} {
		r := berth(t, "", append(append([]string{"run", "--rm", "--network", "none", "--rootfs", rootfsDir}, flags...), "true")...)
		if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "/proc") {
			t.Errorf("%q: exit %d, stderr %q: want 125 and one line naming /proc", flags, r.code, r.stderr)
		}
	}

	// A symlink in the image that leads into /proc is caught when the
	// destination is resolved at mount time.
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if out, err := exec.Command("cp", "-a", rootfsDir, rootfs).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v %s", err, out)
	}
	if err := os.Symlink("/proc/sys", filepath.Join(rootfs, "data")); err != nil {
		t.Fatal(err)
	}
	r := berth(t, "", "run", "--rm", "--network", "none", "--rootfs", rootfs, "-v", host+":/data/net", "true")
	if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "/proc/sys/net") {
		t.Errorf("bind through a symlink into /proc: exit %d, stderr %q: want 125 and one line naming /proc/sys/net", r.code, r.stderr)
	}

	meminfo := filepath.Join(host, "meminfo")
	os.WriteFile(meminfo, []byte("MemTotal: 1 kB\n"), 0o644)
	uptime := filepath.Join(host, "uptime")
	os.WriteFile(uptime, []byte("1.00 1.00\n"), 0o644)
	out := runIn(t, "cat /proc/meminfo /proc/uptime", "--network", "none", "-v", meminfo+":/proc/meminfo:ro",
		"--mount", "type=bind,source="+uptime+",target=/proc/uptime,readonly")
	if out != "MemTotal: 1 kB\n1.00 1.00\n" {
		t.Errorf("lxcfs-style binds show %q", out)
	}
	checkNoLeaks(t, before)
}
