package integration

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestHostnamePidAndProcessList(t *testing.T) {
	needRoot(t)
	hostBefore, _ := os.Hostname()
	before := snapshot(t)
	out := runIn(t, "hostname; echo pid=$$; ps -o pid,comm; true", "--hostname", "box")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "box" {
		t.Errorf("hostname inside = %q, want box", lines[0])
	}
	if lines[1] != "pid=1" {
		t.Errorf("shell is not PID 1: %q", lines[1])
	}
	// ps sees only the shell and itself.
	if procs := lines[3:]; len(procs) != 2 || !strings.HasPrefix(strings.TrimSpace(procs[0]), "1 ") {
		t.Errorf("process list inside = %q, want PID 1 and ps only", procs)
	}
	if hostAfter, _ := os.Hostname(); hostAfter != hostBefore {
		t.Errorf("host name changed from %q to %q", hostBefore, hostAfter)
	}
	checkNoLeaks(t, before)
}

func TestDefaultHostnameIsIDPrefix(t *testing.T) {
	needRoot(t)
	name := strings.TrimSpace(runIn(t, "hostname"))
	if len(name) != 12 || strings.Trim(name, "0123456789abcdef") != "" {
		t.Errorf("default hostname %q is not 12 hex digits", name)
	}
}

func TestNamespacesDifferFromHost(t *testing.T) {
	needRoot(t)
	out := runIn(t, "for n in pid mnt uts ipc net cgroup; do echo $n $(readlink /proc/self/ns/$n); done")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		host, err := os.Readlink("/proc/self/ns/" + f[0])
		if err != nil {
			t.Fatal(err)
		}
		if f[1] == host {
			t.Errorf("%s namespace is the host's (%s)", f[0], host)
		}
	}
}

func TestNetworkNoneHasOnlyLoopbackUp(t *testing.T) {
	needRoot(t)
	out := runIn(t, "ls /sys/class/net; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags; ping -c1 -W2 127.0.0.1 >/dev/null && echo ping-ok", "--network", "none")
	fields := strings.Fields(out)
	if fields[0] != "lo" || fields[1] == "eth0" {
		t.Errorf("interfaces inside: %q, want lo only", out)
	}
	flags, _ := strconv.ParseUint(strings.TrimPrefix(fields[2], "0x"), 16, 32)
	if flags&1 == 0 && fields[1] != "up" && fields[1] != "unknown" {
		t.Errorf("loopback is not up: %q", out)
	}
	if !strings.Contains(out, "ping-ok") {
		t.Errorf("loopback does not answer: %q", out)
	}
}

func TestMountsInside(t *testing.T) {
	needRoot(t)
	out := runIn(t, "cat /proc/self/mounts")
	want := map[string]string{
		"/":              "",
		"/proc":          "proc",
		"/dev":           "tmpfs",
		"/dev/pts":       "devpts",
		"/dev/shm":       "tmpfs",
		"/dev/mqueue":    "mqueue",
		"/sys":           "sysfs",
		"/sys/fs/cgroup": "",
	}
	seen := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		seen[f[1]] = f[2] + " " + f[3]
		// Nothing of the host's other mounts may show through.
		if strings.HasPrefix(f[1], "/sys/fs/cgroup/unified") || strings.Contains(f[1], "berth-it-") {
			t.Errorf("host mount visible inside: %s", line)
		}
	}
	for dst, typ := range want {
		got, ok := seen[dst]
		if !ok {
			t.Errorf("%s is not mounted inside", dst)
			continue
		}
		if typ != "" && !strings.HasPrefix(got, typ+" ") {
			t.Errorf("%s is %q, want %s", dst, got, typ)
		}
	}
	if !strings.Contains(seen["/sys"], "ro") {
		t.Errorf("/sys is not read-only: %q", seen["/sys"])
	}
	if !strings.Contains(seen["/dev/pts"], "ptmxmode=666") {
		t.Errorf("/dev/pts is not a new instance with ptmxmode=666: %q", seen["/dev/pts"])
	}
}

func TestDevices(t *testing.T) {
	needRoot(t)
	out := runIn(t, "cd /dev && for f in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' $f; done; for l in fd stdin stdout stderr ptmx; do echo $l $(readlink $l); done; ls -d pts shm mqueue; echo x > /dev/null && head -c4 /dev/zero | wc -c")
	for _, want := range []string{
		"null character special file 1:3 666", "zero character special file 1:5 666",
		"full character special file 1:7 666", "random character special file 1:8 666",
		"urandom character special file 1:9 666", "tty character special file 5:0 666",
		"fd /proc/self/fd", "stdin /proc/self/fd/0", "stdout /proc/self/fd/1", "stderr /proc/self/fd/2",
		"ptmx pts/ptmx", "pts", "shm", "mqueue",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/dev lacks %q; got:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(out), "4") {
		t.Errorf("/dev/zero not readable: %q", out)
	}
}

func TestOldRootIsGone(t *testing.T) {
	needRoot(t)
	marker, err := os.CreateTemp("", "berth-host-only-")
	if err != nil {
		t.Fatal(err)
	}
	marker.Close()
	defer os.Remove(marker.Name())
	out := runIn(t, fmt.Sprintf("ls %s 2>&1; grep -c . /proc/self/mountinfo; cat /proc/self/mountinfo | awk '{print $5}'", marker.Name()))
	if !strings.Contains(out, "No such file") {
		t.Errorf("host file %s is visible inside: %q", marker.Name(), out)
	}
	for _, mp := range strings.Fields(out) {
		if strings.HasPrefix(mp, "/oldroot") || strings.HasPrefix(mp, "/.pivot") || strings.HasPrefix(mp, "/home") || strings.HasPrefix(mp, "/boot") {
			t.Errorf("old root mount %s still reachable", mp)
		}
	}
}

func TestMountsStayInsideWhileRunning(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	c := startContainer(t, idle)
	host, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(host), rootfsDir) {
		t.Errorf("container mounts propagated to the host:\n%s", host)
	}
	c.cmd.Process.Signal(os.Interrupt)
	c.wait(t)
	checkNoLeaks(t, before)
}

func TestEnvironment(t *testing.T) {
	needRoot(t)
	envFile := t.TempDir() + "/env"
	os.WriteFile(envFile, []byte("# comment\nFROM_FILE=yes\n\nHOST_ONLY\n"), 0o644)
	r := berth(t, "", "run", "--rm", "--rootfs", rootfsDir, "--hostname", "h1", "-e", "FOO=bar", "-e", "HOST_ONLY", "-e", "UNSET_ON_HOST", "--env-file", envFile, "env")
	if r.code != 0 {
		t.Fatalf("env failed: %+v", r)
	}
	got := strings.Split(strings.TrimSpace(r.stdout), "\n")
	sort.Strings(got)
	want := []string{"FOO=bar", "FROM_FILE=yes", "HOME=/root", "HOSTNAME=h1", "HOST_ONLY=from-host", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("environment inside:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	tty := runPTY(t, nil, "run", "--rm", "-t", "--rootfs", rootfsDir, "env")
	if !strings.Contains(tty.output, "xterm") {
		t.Errorf("TERM with -t = %q, want xterm", tty.output)
	}
}

func TestWorkdirAndUser(t *testing.T) {
	needRoot(t)
	out := runIn(t, "pwd; id -u; id -g; id -G; echo $HOME; grep CapEff /proc/self/status", "-w", "/tmp", "--user", "app")
	f := strings.Fields(out)
	if f[0] != "/tmp" || f[1] != "1000" || f[2] != "1000" {
		t.Errorf("pwd/uid/gid = %v, want /tmp 1000 1000", f[:3])
	}
	if !strings.Contains(out, "10") || !strings.Contains(out, "/home/app") {
		t.Errorf("supplementary group wheel (10) or HOME missing: %q", out)
	}
	if !strings.Contains(out, "CapEff:\t0000000000000000") {
		t.Errorf("non-root user has effective capabilities: %q", out)
	}
	out = runIn(t, "id -u; id -g", "--user", "4242:4343")
	if strings.Fields(out)[0] != "4242" || strings.Fields(out)[1] != "4343" {
		t.Errorf("numeric --user gave %q", out)
	}
}

// Docker's default capability set as a bit mask.
const dockerCaps = "00000000a80425fb"

func TestSecureDefaults(t *testing.T) {
	needRoot(t)
	out := runIn(t, "grep -E '^(Cap|NoNewPrivs)' /proc/self/status")
	for _, want := range []string{"CapInh:\t0000000000000000", "CapPrm:\t" + dockerCaps, "CapEff:\t" + dockerCaps, "CapBnd:\t" + dockerCaps, "CapAmb:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	out = runIn(t, `
		for p in /proc/keys /proc/timer_list /proc/sched_debug /proc/kcore; do [ -e $p ] && echo "$p size=$(wc -c < $p)"; done
		ls -A /sys/firmware | wc -l
		for p in /proc/sys/kernel/hostname /proc/sysrq-trigger; do (echo x > $p) 2>/dev/null && echo "$p writable"; done
		grep -E ' /proc/(sys|bus|fs|irq|sysrq-trigger) ' /proc/self/mounts | grep -vc ' ro,'; true`)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "/proc/") && !strings.HasSuffix(line, "size=0") {
			t.Errorf("not masked: %s", line)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[len(lines)-1] != "0" {
		t.Errorf("read-only paths are writable mounts: %q", out)
	}
	if strings.Contains(out, "writable") {
		t.Errorf("kernel interface writable: %q", out)
	}
}

func TestPrivilegedLiftsConfinement(t *testing.T) {
	needRoot(t)
	out := runIn(t, "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; grep -c ' /proc/sys ' /proc/self/mounts; grep ' /sys ' /proc/self/mounts", "--privileged")
	hostBnd := hostCapBnd(t)
	if !strings.Contains(out, "CapEff:\t"+hostBnd) || !strings.Contains(out, "NoNewPrivs:\t0") {
		t.Errorf("privileged container lacks the host's capabilities (%s): %q", hostBnd, out)
	}
	if !strings.Contains(out, "\n0\n") || strings.Contains(out, " ro,") {
		t.Errorf("privileged container still has read-only kernel paths: %q", out)
	}
}

func hostCapBnd(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:\t"); ok {
			return v
		}
	}
	t.Fatal("no CapBnd")
	return ""
}

func TestNoHostFileDescriptorOrCwd(t *testing.T) {
	needRoot(t)
	leak, err := os.Open("/proc/version")
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	cmd := berthCommand("run", "--rm", "--rootfs", rootfsDir, "/bin/sh", "-c", "ls /proc/self/fd; readlink /proc/self/cwd; readlink /proc/1/cwd")
	cmd.ExtraFiles = []*os.File{leak, leak, leak} // fds 3, 4, 5 in berth, not close-on-exec
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	f := strings.Fields(string(out))
	// ls shows 0, 1, 2 and the directory it is listing.
	if len(f) != 6 || f[0] != "0" || f[1] != "1" || f[2] != "2" {
		t.Errorf("file descriptors inside: %q, want 0 1 2 and ls's own", f)
	}
	if f[len(f)-1] != "/" || f[len(f)-2] != "/" {
		t.Errorf("working directory inside is not /: %q", f)
	}
}

// TestBerthBinaryNotWritableFromInside replays CVE-2019-5736: a process
// that reaches the container's init stage (berth-oci create leaves it
// waiting as the container's PID 1) keeps an O_PATH handle to its
// executable through /proc/PID/exe and, once the container is gone,
// reopens the handle for writing. The attacker here is root on the host,
// stronger than anything inside; the write must still fail. The handle
// must also be the init stage's binary: berth-stage (or berth-init)
// beside berth-oci.
func TestBerthBinaryNotWritableFromInside(t *testing.T) {
	needRoot(t)
	bundle := ociBundle(t, []string{"true"}, nil)
	ociCreate(t, "cve-2019-5736", bundle)
	pid := ociState(t, "cve-2019-5736").Pid
	exe, err := os.OpenFile(fmt.Sprintf("/proc/%d/exe", pid), unix.O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	var got, want unix.Stat_t
	if err := unix.Fstat(int(exe.Fd()), &got); err != nil {
		t.Fatal(err)
	}
	initBin := initStageBinary(t, "berth-stage", "berth-init")
	if err := unix.Stat(initBin, &want); err != nil {
		t.Fatal(err)
	}
	if got.Ino != want.Ino || got.Dev != want.Dev {
		t.Fatalf("the init stage does not run %s (inode %d, want %d)", initBin, got.Ino, want.Ino)
	}
	if r := oci(t, "delete", "--force", "cve-2019-5736"); r.code != 0 {
		t.Fatalf("delete: %+v", r)
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", exe.Fd()), os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		t.Fatal("the init stage's binary could be opened for writing")
	}
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("reopening the init stage's binary for writing failed with %v, want EROFS", err)
	}
}

func TestSeccompDefaultProfile(t *testing.T) {
	needRoot(t)
	// Creating a user namespace needs no capability, so only the seccomp
	// profile stops it; --privileged runs unconfined.
	script := "grep '^Seccomp:' /proc/self/status; unshare -U true 2>&1; echo rc=$?"
	out := runIn(t, script)
	if !strings.Contains(out, "Seccomp:\t2") || !strings.Contains(out, "Operation not permitted") || !strings.Contains(out, "rc=1") {
		t.Errorf("default container is not filtered: %q", out)
	}
	out = runIn(t, script, "--privileged")
	if !strings.Contains(out, "Seccomp:\t0") || !strings.Contains(out, "rc=0") {
		t.Errorf("privileged container is filtered: %q", out)
	}
}

func TestNetworkModes(t *testing.T) {
	needRoot(t)
	// berth's host is the suite's network namespace.
	var ns unix.Stat_t
	if err := unix.Stat("/run/netns/"+suiteNetns, &ns); err != nil {
		t.Fatal(err)
	}
	hostNet := fmt.Sprintf("net:[%d]", ns.Ino)
	out := runIn(t, "readlink /proc/self/ns/net; ls /sys/class/net; ip -4 -o addr show eth0; ip route")
	if strings.HasPrefix(out, hostNet) || !strings.Contains(out, "inet 10.88.") || !strings.Contains(out, "default via 10.88.0.1") {
		t.Errorf("default network: %q, want eth0 on the bridge with a default route", out)
	}
	out = runIn(t, "readlink /proc/self/ns/net", "--network", "host")
	if strings.TrimSpace(out) != hostNet {
		t.Errorf("--network host: namespace %q, want the host's %s", out, hostNet)
	}
	out = runIn(t, "readlink /proc/self/ns/net; ls /sys/class/net", "--network", "none")
	if strings.HasPrefix(out, hostNet) || strings.TrimSpace(strings.SplitN(out, "\n", 2)[1]) != "lo" {
		t.Errorf("--network none: %q", out)
	}
	r := berth(t, "", "run", "--rm", "--network", "nosuchnet", "--rootfs", rootfsDir, "true")
	if r.code != 125 || !strings.Contains(r.stderr, `network "nosuchnet" not found`) {
		t.Errorf("unknown network: %+v", r)
	}
}
