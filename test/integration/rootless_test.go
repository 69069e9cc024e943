package integration

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"
)

// rootlessUser is an ordinary user the test creates, with a subordinate
// ID range of its own, and removes at the end with everything it made.
type rootlessUser struct {
	name     string
	uid, gid int
	subStart int // first subordinate uid and gid
	home     string
	runtime  string // XDG_RUNTIME_DIR
	// cgroup, once delegate gave the user a subtree, is its leaf, where
	// each of the user's commands starts.
	cgroup *os.File
}

const rootlessSubCount = 65536

// newRootlessUser creates user berth-it-XXXX with a home and a runtime
// directory in a fresh directory, and /etc/subuid and /etc/subgid lines
// of its own, all removed at the end even when the test fails. shadow's
// own tools add and remove the lines (usermod -v/-w, userdel), under the
// files' locks: other lines of those files are never touched.
func newRootlessUser(t *testing.T) *rootlessUser {
	t.Helper()
	for _, tool := range []string{"useradd", "usermod", "userdel", "newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("rootless tests need %s (Debian's passwd and uidmap packages)", tool)
		}
	}
	b := make([]byte, 3)
	rand.Read(b)
	u := &rootlessUser{name: "berth-it-" + hex.EncodeToString(b)}
	base, err := os.MkdirTemp("", "berth-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755)
	t.Cleanup(func() { os.RemoveAll(base) })
	u.home, u.runtime = filepath.Join(base, "home"), filepath.Join(base, "run")
	// No subordinate IDs from useradd's defaults: only the test's own.
	if out, err := exec.Command("useradd", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", "-U", "-m", "-d", u.home, "-s", "/bin/sh", u.name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	t.Cleanup(func() { u.remove(t) })
	if u.uid, u.gid, err = userIDs(u.name); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(u.runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chown(u.runtime, u.uid, u.gid)
	u.subStart = freeSubordinateStart(t)
	r := fmt.Sprintf("%d-%d", u.subStart, u.subStart+rootlessSubCount-1)
	if out, err := exec.Command("usermod", "-v", r, "-w", r, u.name).CombinedOutput(); err != nil {
		t.Fatalf("usermod: %v %s", err, out)
	}
	return u
}

// remove ends what the user still runs (only the test's own processes
// run as this fresh user), then removes the user, its home, its lines in
// /etc/subuid and /etc/subgid, and its files.
func (u *rootlessUser) remove(t *testing.T) {
	for _, pid := range processesOf(u.uid) {
		unix.Kill(pid, unix.SIGKILL)
	}
	time.Sleep(100 * time.Millisecond)
	r := fmt.Sprintf("%d-%d", u.subStart, u.subStart+rootlessSubCount-1)
	if u.subStart != 0 {
		exec.Command("usermod", "-V", r, "-W", r, u.name).Run()
	}
	if out, err := exec.Command("userdel", "-r", u.name).CombinedOutput(); err != nil {
		t.Errorf("userdel %s: %v %s", u.name, err, out)
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(u.name+":")) {
			t.Errorf("%s still lists %s", f, u.name)
		}
	}
}

func userIDs(name string) (uid, gid int, err error) {
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		return 0, 0, err
	}
	uid, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	out, err = exec.Command("id", "-g", name).Output()
	if err != nil {
		return 0, 0, err
	}
	gid, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	return uid, gid, nil
}

// freeSubordinateStart is a range start above every range /etc/subuid and
// /etc/subgid list, plus a random step so that concurrent tests differ.
func freeSubordinateStart(t *testing.T) int {
	end := 1 << 20
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		b, _ := os.ReadFile(f)
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			p := strings.Split(sc.Text(), ":")
			if len(p) != 3 {
				continue
			}
			s, err1 := strconv.Atoi(p[1])
			n, err2 := strconv.Atoi(p[2])
			if err1 == nil && err2 == nil && s+n > end {
				end = s + n
			}
		}
	}
	b := make([]byte, 1)
	rand.Read(b)
	return (end/rootlessSubCount + 1 + int(b[0])) * rootlessSubCount
}

// processesOf lists the living processes of uid.
func processesOf(uid int) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", e.Name()), &st) != nil || int(st.Uid) != uid {
			continue
		}
		// A zombie holds nothing; this host's PID 1 reaps orphans late.
		if stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); strings.Contains(string(stat), ") Z ") {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// command is berth run as the user, in the host's network namespace (a
// rootless berth never changes it), with a minimal login environment.
func (u *rootlessUser) command(args ...string) *exec.Cmd {
	cmd := exec.Command(berthBin, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + u.home, "XDG_RUNTIME_DIR=" + u.runtime, "USER=" + u.name}
	cmd.Dir = u.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}}}
	if u.cgroup != nil {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(u.cgroup.Fd())
	}
	return cmd
}

// delegate gives the user a cgroup v2 subtree as systemd's Delegate=yes
// gives user@UID.service: a cgroup beside the test's own with memory,
// pids, cpu and io enabled for its children; it and the files systemd
// chowns (cgroup.procs, cgroup.subtree_control, cgroup.threads) the
// user's; and a leaf, session, where each of the user's later commands
// starts, as a login's processes start in its session's scope. Skips the
// test on cgroup v1, which cannot delegate. At the end of the test what
// still runs there is killed, the subtree removed, and the user's
// commands start in the test's cgroup again.
func (u *rootlessUser) delegate(t *testing.T) string {
	t.Helper()
	if cgroupVersion(t) != "v2" {
		t.Skip("cgroup v1 cannot delegate to ordinary users: the cgroup v2 VM runs this (make test-v2)")
	}
	top := filepath.Join("/sys/fs/cgroup", "berth-it-deleg-"+strconv.Itoa(u.uid))
	leaf := filepath.Join(top, "session")
	if err := os.Mkdir(top, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { undelegate(t, top) })
	if err := os.Mkdir(leaf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "cgroup.subtree_control"), []byte("+memory +pids +cpu +io"), 0); err != nil {
		t.Fatalf("enable controllers in %s: %v", top, err)
	}
	for _, d := range []string{top, leaf} {
		for _, f := range []string{"", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"} {
			if err := os.Chown(filepath.Join(d, f), u.uid, u.gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	fd, err := unix.Open(leaf, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	u.cgroup = os.NewFile(uintptr(fd), leaf)
	t.Cleanup(func() {
		u.cgroup.Close()
		u.cgroup = nil
	})
	return top
}

// undelegate kills what still runs in the delegated subtree top and
// removes its cgroups, deepest first.
func undelegate(t *testing.T, top string) {
	if err := os.WriteFile(filepath.Join(top, "cgroup.kill"), []byte("1"), 0); err != nil {
		t.Errorf("kill what runs in %s: %v", top, err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ev, _ := os.ReadFile(filepath.Join(top, "cgroup.events")); !strings.Contains(string(ev), "populated 1") {
			break
		}
	}
	var dirs []string
	filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := unix.Rmdir(dirs[i]); err != nil {
			t.Errorf("remove the delegated cgroup: %v", err)
		}
	}
}

func (u *rootlessUser) berth(t *testing.T, args ...string) result {
	t.Helper()
	return collect(t, u.command(args...), "berth as "+u.name)
}

// oneLine checks a refusal: exit 125 and one line naming want.
func oneLine(t *testing.T, what string, r result, want string) {
	t.Helper()
	if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("%s: %+v, want exit 125 and one line naming %q", what, r, want)
	}
}

// TestRootless runs berth as an ordinary user with subordinate IDs: pull
// and import unpack with the image's owners, containers run as root of a
// user namespace mapped from the user's IDs, -it, -d, ps, logs, stop, rm,
// --network none and host work; what needs privilege it lacks (limits on
// cgroup v1 or without delegation, networks of berth network create,
// a missing newuidmap) is refused in one line; given a delegated cgroup
// v2 subtree (the v2 VM), the limits hold; exec joins a detached
// container's namespaces, user namespace included; nothing is left
// behind.
func TestRootless(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	u := newRootlessUser(t)
	data := filepath.Join(u.home, ".local", "share", "berth")
	state := filepath.Join(u.runtime, "berth")

	reg := newTestRegistry(t)
	img, err := mutate.AppendLayers(empty.Image, rootfsLayer(t))
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.push(t, "rootless/busybox:1", img)
	if r := u.berth(t, "pull", "-q", "--tls-verify=false", ref); r.code != 0 || strings.TrimSpace(r.stdout) != ref {
		t.Fatalf("pull as %s: %+v", u.name, r)
	}

	r := u.berth(t, "run", "--rm", ref, "echo", "hi")
	if r.code != 0 || r.stdout != "hi\n" || r.stderr != "" {
		t.Fatalf("run --rm echo hi: %+v", r)
	}

	// Root inside, the user outside; the image's files keep their owners
	// as seen inside (root's and app's), and belong to the user's
	// subordinate IDs on the host.
	r = u.berth(t, "run", "--rm", ref, "sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; stat -c '%u:%g' /bin/busybox /home/app")
	want := fmt.Sprintf("0\n0\n0 %d 1\n1 %d %d\n0 %d 1\n1 %d %d\n0:0\n1000:1000\n", u.uid, u.subStart, rootlessSubCount, u.gid, u.subStart, rootlessSubCount)
	if got := squeezeSpaces(r.stdout); r.code != 0 || got != want {
		t.Errorf("identity inside: %+v\ngot  %q\nwant %q", r, got, want)
	}
	apps, _ := filepath.Glob(filepath.Join(data, "images", "layers", "*", "diff", "home", "app"))
	if len(apps) != 1 {
		t.Fatalf("unpacked /home/app in %s: %v", data, apps)
	}
	var st unix.Stat_t
	if err := unix.Stat(apps[0], &st); err != nil || int(st.Uid) != u.subStart+999 || int(st.Gid) != u.subStart+999 {
		t.Errorf("unpacked /home/app is %d:%d on the host, want %d:%d (%v)", st.Uid, st.Gid, u.subStart+999, u.subStart+999, err)
	}
	if err := unix.Stat(filepath.Join(data, "images"), &st); err != nil || int(st.Uid) != u.uid {
		t.Errorf("the user's image store belongs to %d, want %d (%v)", st.Uid, u.uid, err)
	}

	// image import, unpacked the same way.
	tgz := filepath.Join(u.home, "rootfs.tar.gz")
	if out, err := exec.Command("tar", "-C", rootfsDir, "--numeric-owner", "-czf", tgz, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	os.Chown(tgz, u.uid, u.gid)
	if r := u.berth(t, "image", "import", tgz, "rl:imported"); r.code != 0 || r.stdout != "rl:imported\n" {
		t.Fatalf("image import: %+v", r)
	}
	if r := u.berth(t, "run", "--rm", "rl:imported", "stat", "-c", "%u", "/home/app"); r.code != 0 || r.stdout != "1000\n" {
		t.Errorf("run the imported image: %+v", r)
	}

	// A named volume keeps what the container wrote, owners included.
	if r := u.berth(t, "run", "--rm", "-v", "rlvol:/data", ref, "sh", "-c", "echo kept > /data/f && chown 1000:1000 /data/f"); r.code != 0 {
		t.Errorf("write a volume: %+v", r)
	}
	if r := u.berth(t, "run", "--rm", "-v", "rlvol:/data", ref, "sh", "-c", "cat /data/f; stat -c %u:%g /data/f"); r.code != 0 || r.stdout != "kept\n1000:1000\n" {
		t.Errorf("read the volume back: %+v", r)
	}
	if r := u.berth(t, "volume", "rm", "rlvol"); r.code != 0 {
		t.Errorf("volume rm: %+v", r)
	}
	// The copy (vfs) root filesystem, where overlay is not wanted.
	r = u.berth(t, "--storage-driver", "vfs", "run", "--rm", ref, "sh", "-c", "stat -c %u /home/app; grep -c ' / overlay ' /proc/self/mountinfo")
	if r.stdout != "1000\n0\n" {
		t.Errorf("--storage-driver vfs: %+v", r)
	}

	// Networks: none by default (loopback only), host on request.
	if r := u.berth(t, "run", "--rm", ref, "ls", "/sys/class/net"); r.code != 0 || r.stdout != "lo\n" {
		t.Errorf("default network: %+v, want loopback only", r)
	}
	hostLinks, _ := os.ReadDir("/sys/class/net")
	// The host's /sys, bound read-only: a user namespace cannot mount a
	// sysfs of the host's network namespace.
	r = u.berth(t, "run", "--rm", "--network", "host", ref, "sh", "-c", "ls /sys/class/net; if touch /sys/kernel/berth 2>/dev/null; then echo sys-writable; fi")
	if r.code != 0 || len(strings.Fields(r.stdout)) != len(hostLinks) || strings.Contains(r.stdout, "sys-writable") {
		t.Errorf("--network host: %+v, want the host's %d links and a read-only /sys", r, len(hostLinks))
	}

	// A terminal.
	tty := u.runPTY(t, "run", "--rm", "-it", ref, "sh", "-c", "tty; stty size")
	if tty.code != 0 || !strings.Contains(tty.output, "/dev/pts/0") || !strings.Contains(tty.output, "33 111") {
		t.Errorf("run -it: %+v", tty)
	}

	// Refusals, each one line naming what is missing.
	r = u.berth(t, "run", "--rm", "--memory", "64m", ref, "true")
	oneLine(t, "--memory", r, "resource limits need a cgroup the user may write")
	if !strings.Contains(r.stderr, "cgroup v1") && !strings.Contains(r.stderr, "delegat") {
		t.Errorf("--memory refusal does not say what to enable: %q", r.stderr)
	}
	oneLine(t, "--pids-limit", u.berth(t, "run", "--rm", "--pids-limit", "10", ref, "true"), "resource limits need a cgroup")
	oneLine(t, "--cpus", u.berth(t, "run", "--rm", "--cpus", "0.5", ref, "true"), "resource limits need a cgroup")
	oneLine(t, "a named network", u.berth(t, "run", "--rm", "--network", "mynet", ref, "true"), "--network mynet needs root")
	// Without newuidmap (not on PATH here), the package to install.
	cmd := u.command("run", "--rm", ref, "true")
	cmd.Env[0] = "PATH=/nonexistent"
	out, err := cmd.CombinedOutput()
	oneLine(t, "no newuidmap", result{stderr: string(out), code: cmd.ProcessState.ExitCode()}, "install Debian's uidmap package")
	// Given a delegated cgroup v2 subtree, the same limits hold (the v2
	// VM; cgroup v1 cannot delegate, so this is skipped there).
	t.Run("delegated", func(t *testing.T) { checkRootlessLimits(t, u, ref) })

	// Detached: ps, logs, stop, rm, from outside and inside its namespace.
	r = u.berth(t, "run", "-d", "--name", "rl-web", "--hostname", "rl-host", ref, "sh", "-c", "echo started; trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done")
	if r.code != 0 || len(strings.TrimSpace(r.stdout)) != 64 {
		t.Fatalf("run -d: %+v", r)
	}
	waitFor(t, "logs say started", func() bool { return u.berth(t, "logs", "rl-web").stdout == "started\n" })
	if r := u.berth(t, "ps"); r.code != 0 || !strings.Contains(r.stdout, "rl-web") || !strings.Contains(r.stdout, "Up ") {
		t.Errorf("ps: %+v", r)
	}
	// A template berth does not run itself: berth-format, vouched for
	// into the user namespace as the stages are.
	if r := u.berth(t, "ps", "--format", "{{upper .Names}}"); r.code != 0 || r.stdout != "RL-WEB\n" {
		t.Errorf("ps --format with a function: %+v", r)
	}
	checkRootlessExec(t, u)
	if r := u.berth(t, "stop", "rl-web"); r.code != 0 || r.stdout != "rl-web\n" {
		t.Errorf("stop: %+v", r)
	}
	if r := u.berth(t, "logs", "rl-web"); r.stdout != "started\nbye\n" {
		t.Errorf("logs after stop: %+v", r)
	}
	if r := u.berth(t, "rm", "rl-web"); r.code != 0 {
		t.Errorf("rm: %+v", r)
	}
	if r := u.berth(t, "ps", "-a", "-q"); r.code != 0 || r.stdout != "" {
		t.Errorf("ps -a after rm: %+v", r)
	}
	// A container running as another of the user's IDs: rm -f and
	// restart reach it (signals from a sibling user namespace do not).
	if r := u.berth(t, "run", "-d", "--name", "rl-app", "--user", "1000", ref, "sleep", "1000"); r.code != 0 {
		t.Fatalf("run -d --user 1000: %+v", r)
	}
	for _, args := range [][]string{{"restart", "-t", "1", "rl-app"}, {"rm", "-f", "rl-app"}} {
		cmd := u.command(args...)
		cmd.WaitDelay = time.Second // its child in the namespace holds the output open
		timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
		out, err := cmd.CombinedOutput()
		timer.Stop()
		if err != nil || string(out) != "rl-app\n" {
			t.Errorf("%v of a container running as uid 1000 inside: %v %q", args, err, out)
		}
	}
	for _, img := range []string{ref, "rl:imported"} {
		if r := u.berth(t, "rmi", img); r.code != 0 {
			t.Errorf("rmi %s: %+v", img, r)
		}
	}

	// Nothing left: no process of the user, no mount, no container
	// directory, record or layer, and nothing of the host's.
	if pids := processesOf(u.uid); len(pids) > 0 {
		var left []string
		for _, pid := range pids {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			left = append(left, fmt.Sprintf("%d %q %q", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}), stat))
		}
		t.Errorf("processes of %s left: %v", u.name, left)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), u.home) || strings.Contains(string(mi), u.runtime) {
		t.Errorf("host mounts under the user's directories:\n%s", mi)
	}
	for _, pattern := range []string{filepath.Join(data, "containers", "[0-9a-f]*"), filepath.Join(state, "[0-9a-f]*"), filepath.Join(data, "images", "layers", "*")} {
		if left, _ := filepath.Glob(pattern); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	}
	checkNoLeaks(t, before)
}

// checkRootlessLimits delegates a cgroup v2 subtree to u and runs a
// detached container of image ref with --memory, --pids-limit and --cpus:
// its cgroup is below the subtree, holds its processes and has the
// limits, which the container sees as its own; rm removes it.
func checkRootlessLimits(t *testing.T, u *rootlessUser, ref string) {
	top := u.delegate(t)
	r := u.berth(t, "run", "-d", "--name", "rl-limits", "--memory", "64m", "--pids-limit", "20", "--cpus", "0.5", ref, "sleep", "1000")
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || len(id) != 64 {
		t.Fatalf("run -d with limits in the delegated subtree: %+v", r)
	}
	cg := filepath.Join(top, "berth", id)
	want := map[string]string{"memory.max": "67108864", "pids.max": "20", "cpu.max": "50000 100000"}
	for f, v := range want {
		if b, err := os.ReadFile(filepath.Join(cg, f)); err != nil || strings.TrimSpace(string(b)) != v {
			t.Errorf("%s of the container's cgroup: %q %v, want %q", f, b, err, v)
		}
	}
	var info []struct{ State struct{ Pid int } }
	if r := u.berth(t, "inspect", "rl-limits"); json.Unmarshal([]byte(r.stdout), &info) != nil || len(info) != 1 || info[0].State.Pid == 0 {
		t.Fatalf("inspect rl-limits: %+v", r)
	}
	own, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", info[0].State.Pid))
	if want := "0::/" + strings.TrimPrefix(cg, "/sys/fs/cgroup/") + "\n"; string(own) != want {
		t.Errorf("the container's PID 1 is in %q, want %q", own, want)
	}
	r = u.berth(t, "exec", "rl-limits", "cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/cpu.max")
	if r.code != 0 || r.stdout != "67108864\n20\n50000 100000\n" {
		t.Errorf("the limits as the container sees them: %+v", r)
	}
	if r := u.berth(t, "rm", "-f", "rl-limits"); r.code != 0 {
		t.Errorf("rm -f rl-limits: %+v", r)
	}
	if _, err := os.Stat(cg); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the container's cgroup is left: %v", err)
	}
}

// checkRootlessExec runs berth exec as the user into rl-web (a detached
// container, PID 1 a shell loop, hostname rl-host): the exec'd process is
// in the container's user namespace (root inside, the same ID maps), its
// UTS, PID and mount namespaces; -u, -it and the exit status work.
func checkRootlessExec(t *testing.T, u *rootlessUser) {
	t.Helper()
	r := u.berth(t, "exec", "rl-web", "id", "-u")
	if r.code != 0 || r.stdout != "0\n" || r.stderr != "" {
		t.Fatalf("exec id -u: %+v, want 0", r)
	}
	r = u.berth(t, "exec", "rl-web", "sh", "-c", "hostname; tr '\\0' ' ' </proc/1/cmdline; echo; cat /proc/self/uid_map; stat -c %u /home/app")
	want := fmt.Sprintf("rl-host\nsh -c echo started; trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done \n0 %d 1\n1 %d %d\n1000\n", u.uid, u.subStart, rootlessSubCount)
	if got := squeezeSpaces(r.stdout); r.code != 0 || got != squeezeSpaces(want) {
		t.Errorf("exec sees the container: %+v\ngot  %q\nwant %q", r, got, squeezeSpaces(want))
	}
	if r := u.berth(t, "exec", "-u", "1000", "rl-web", "id", "-u"); r.code != 0 || r.stdout != "1000\n" {
		t.Errorf("exec -u 1000 id -u: %+v", r)
	}
	if r := u.berth(t, "exec", "rl-web", "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("exec exit 7: %+v, want exit status 7", r)
	}
	tty := u.runPTY(t, "exec", "-it", "rl-web", "sh", "-c", "tty; stty size")
	if tty.code != 0 || !strings.Contains(tty.output, "/dev/pts/") || !strings.Contains(tty.output, "33 111") {
		t.Errorf("exec -it: %+v", tty)
	}
	if r := u.berth(t, "exec", "-d", "rl-web", "sh", "-c", "echo detached > /tmp/d"); r.code != 0 || r.stdout != "" {
		t.Errorf("exec -d: %+v", r)
	}
	waitFor(t, "exec -d wrote /tmp/d", func() bool { return u.berth(t, "exec", "rl-web", "cat", "/tmp/d").stdout == "detached\n" })

	// A berth without berth-nsenter beside it (root's, writable by root
	// alone) cannot join: one line naming it.
	dir := filepath.Join(u.home, "bin-without-nsenter")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if out, err := exec.Command("cp", berthBin, dir).CombinedOutput(); err != nil {
		t.Fatalf("copy berth: %v %s", err, out)
	}
	cmd := u.command("exec", "rl-web", "true")
	cmd.Path = filepath.Join(dir, filepath.Base(berthBin))
	out, _ := cmd.CombinedOutput()
	oneLine(t, "exec without berth-nsenter", result{stderr: string(out), code: cmd.ProcessState.ExitCode()}, "berth-nsenter is not installed")
}

// newBareUser is a uid no account has (so no subordinate IDs either),
// with a home and a runtime directory of its own: rootless berth needs no
// more, and the cgroup v2 VM, which has no useradd, can run it too.
func newBareUser(t *testing.T) *rootlessUser {
	t.Helper()
	passwd, _ := os.ReadFile("/etc/passwd")
	b := make([]byte, 2)
	rand.Read(b)
	uid := 40000 + int(b[0])<<8 + int(b[1])%256
	for strings.Contains(string(passwd), fmt.Sprintf(":%d:", uid)) {
		uid++
	}
	base, err := os.MkdirTemp("", "berth-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755)
	u := &rootlessUser{name: strconv.Itoa(uid), uid: uid, gid: uid, home: filepath.Join(base, "home"), runtime: filepath.Join(base, "run")}
	t.Cleanup(func() {
		for _, pid := range processesOf(u.uid) {
			unix.Kill(pid, unix.SIGKILL)
		}
		os.RemoveAll(base)
	})
	for _, d := range []string{u.home, u.runtime} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chown(d, uid, uid)
	}
	return u
}

// TestRootlessOwnIDOnly: a user without subordinate IDs gets its own ID
// mapped to root, and is told so once per state directory; limits are
// refused in one line saying what the host lacks (cgroup v1 here, no
// delegation in the v2 VM); -d, ps, stop and rm work; nothing is left.
func TestRootlessOwnIDOnly(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	u := newBareUser(t)
	dir := filepath.Join(u.home, "rootfs")
	if err := BuildBusyboxRootfs(dir); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.uid, u.gid), dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	first := u.berth(t, "run", "--rm", "--rootfs", dir, "sh", "-c", "id -u; cat /proc/self/uid_map; ls /sys/class/net")
	if first.code != 0 || squeezeSpaces(first.stdout) != fmt.Sprintf("0\n0 %d 1\nlo\n", u.uid) {
		t.Errorf("own ID only: %+v", first)
	}
	if strings.Count(first.stderr, "\n") != 1 || !strings.Contains(first.stderr, "no subordinate IDs") {
		t.Errorf("first run does not warn once: %q", first.stderr)
	}
	if second := u.berth(t, "run", "--rm", "--rootfs", dir, "true"); second.code != 0 || second.stderr != "" {
		t.Errorf("second run warns again: %+v", second)
	}
	r := u.berth(t, "run", "--rm", "--rootfs", dir, "--pids-limit", "10", "true")
	want := "delegat"
	if os.Getenv("BERTH_CGROUP_EXPECT") != "v2" {
		want = "cgroup v1"
	}
	oneLine(t, "--pids-limit", r, want)
	r = u.berth(t, "run", "-d", "--name", "own-d", "--rootfs", dir, "sleep", "1000")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	if r := u.berth(t, "ps", "-q"); r.code != 0 || len(strings.Fields(r.stdout)) != 1 {
		t.Errorf("ps: %+v", r)
	}
	// exec, with the user's own ID as the namespace's only one, and
	// (no cgroup) nothing to join but namespaces.
	if r := u.berth(t, "exec", "own-d", "sh", "-c", "id -u; cat /proc/self/uid_map; cat /proc/1/comm"); r.code != 0 || squeezeSpaces(r.stdout) != fmt.Sprintf("0\n0 %d 1\nsleep\n", u.uid) {
		t.Errorf("exec: %+v", r)
	}
	// Per-name failures exit 1, as docker's do.
	if r := u.berth(t, "pause", "own-d"); r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "pause needs the freezer") {
		t.Errorf("pause: %+v, want exit 1 and one line naming the freezer", r)
	}
	if r := u.berth(t, "stop", "-t", "1", "own-d"); r.code != 0 {
		t.Errorf("stop: %+v", r)
	}
	if r := u.berth(t, "rm", "own-d"); r.code != 0 {
		t.Errorf("rm: %+v", r)
	}
	if pids := processesOf(u.uid); len(pids) > 0 {
		t.Errorf("processes of uid %d left: %v", u.uid, pids)
	}
	if left, _ := filepath.Glob(filepath.Join(u.home, ".local", "share", "berth", "containers", "[0-9a-f]*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	checkNoLeaks(t, before)
}

// runPTY is runPTY (process_test.go) as the user.
func (u *rootlessUser) runPTY(t *testing.T, args ...string) ptyResult {
	t.Helper()
	master, slave := openPTY(t)
	defer master.Close()
	os.Chown(slave.Name(), u.uid, u.gid)
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 111}); err != nil {
		t.Fatal(err)
	}
	cmd := u.command(args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty = true, true
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&out, master)
		close(copied)
	}()
	err := cmd.Wait()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	return ptyResult{out.String(), code}
}

// squeezeSpaces turns the runs of blanks of /proc's ID maps into one
// space and trims each line.
func squeezeSpaces(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if line == "" {
			continue
		}
		b.WriteString(strings.Join(strings.Fields(line), " "))
		if strings.HasSuffix(line, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

// TestRootlessDelegatedV2: on cgroup v2, a user given a subtree as
// systemd's Delegate= gives user@UID.service (rootlessUser.delegate) gets
// its limits there: the container's cgroup is made below the subtree,
// with --memory, --pids-limit and --cpus in it, exec joins it, and it is
// removed with the container.
func TestRootlessDelegatedV2(t *testing.T) {
	needRoot(t)
	u := newBareUser(t)
	top := u.delegate(t)
	dir := filepath.Join(u.home, "rootfs")
	if err := BuildBusyboxRootfs(dir); err != nil {
		t.Fatal(err)
	}
	exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.uid, u.gid), dir).Run()
	r := u.berth(t, "run", "--rm", "--rootfs", dir, "--memory", "64m", "--pids-limit", "20", "--cpus", "0.5", "sh", "-c", "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max")
	if r.code != 0 || r.stdout != "67108864\n20\n50000 100000\n" {
		t.Errorf("limits in the delegated subtree: %+v, want 67108864, 20 and 50000 100000", r)
	}
	// exec, from the user's session, runs in the detached container's
	// delegated cgroup, under its limits. (WaitDelay: a container's
	// process may hold the output open.)
	inLeaf := func(args ...string) (string, error) {
		cmd := u.command(args...)
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := inLeaf("run", "-d", "--name", "rl-deleg", "--rootfs", dir, "--pids-limit", "20", "sleep", "1000"); err != nil {
		t.Fatalf("run -d --pids-limit 20: %v %q", err, out)
	}
	out2, err := inLeaf("exec", "rl-deleg", "sh", "-c", "cat /sys/fs/cgroup/pids.max; [ \"$(cat /proc/self/cgroup)\" = \"$(cat /proc/1/cgroup)\" ] && echo same-cgroup")
	if err != nil || out2 != "20\nsame-cgroup\n" {
		t.Errorf("exec into the delegated container: %v %q, want 20 and same-cgroup", err, out2)
	}
	if out, err := inLeaf("rm", "-f", "rl-deleg"); err != nil {
		t.Errorf("rm -f: %v %q", err, out)
	}
	if left, _ := filepath.Glob(filepath.Join(top, "berth", "*", "cgroup.procs")); len(left) > 0 {
		t.Errorf("container cgroups left in the delegated subtree: %v", left)
	}
}

// withTun is the user's berth run in a private mount namespace whose
// /dev/net/tun is a node open to every user, as Debian ships it, where
// the host's is not: the host's own device node is left as it is.
func (u *rootlessUser) withTun(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	argv := append([]string{"-m", "--propagation", "private", "--"}, u.tunScript(t, "")...)
	cmd := exec.Command("unshare", append(argv, args...)...)
	cmd.Env, cmd.Dir = u.command().Env, u.home
	return cmd
}

// tunScript is the sh command line, to be run as root in a private mount
// namespace and followed by berth's arguments, that makes /dev/net/tun
// there a node open to every user, runs more (sh, if not empty), and
// becomes the user to exec berth. The node is made on a tmpfs of that
// namespace's own, because the host's /tmp may be nodev (the v2 VM's is,
// as systemd's is), and a node there cannot be opened, even through a
// bind mount. util-linux's setpriv goes by its path: a busybox sh may
// prefer its own applet, which has no --reuid.
func (u *rootlessUser) tunScript(t *testing.T, more string) []string {
	t.Helper()
	dir := t.TempDir() // root's, 0700; the tmpfs is mounted on it in the namespace only
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	script := `mount -t tmpfs -o mode=0700 berth-tun "$0" && mknod -m 0666 "$0/tun" c 10 200 && mount --bind "$0/tun" /dev/net/tun && `
	if more != "" {
		script += more + ` && `
	}
	script += `exec ` + setpriv + ` --reuid=` + strconv.Itoa(u.uid) + ` --regid=` + strconv.Itoa(u.gid) + ` --clear-groups -- "$@"`
	return []string{"sh", "-c", script, dir, berthBin}
}

// TestRootlessBridge: a rootless --network slirp4netns (what --network
// bridge is where pasta is not installed; TestRootlessPasta tests pasta)
// is slirp4netns in the container's own network namespace (tap0 with
// 10.0.2.100, the gateway 10.0.2.2); -p publishes a host port ≥ 1024
// that reaches the container from the host's loopback; stop and rm leave
// no slirp4netns process and no API socket. Without access to
// /dev/net/tun it is refused in one line naming it.
func TestRootlessBridge(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("slirp4netns"); err != nil {
		t.Skip("needs slirp4netns")
	}
	u := newBareUser(t)
	dir := filepath.Join(u.home, "rootfs")
	if err := BuildBusyboxRootfs(dir); err != nil {
		t.Fatal(err)
	}
	exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.uid, u.gid), dir).Run()
	// The first run says, once, that only the user's own ID is mapped.
	if r := u.berth(t, "run", "--rm", "--rootfs", dir, "true"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	var st unix.Stat_t
	if unix.Stat("/dev/net/tun", &st) == nil && st.Mode&0o006 != 0o006 {
		oneLine(t, "bridge without /dev/net/tun", u.berth(t, "run", "--rm", "--rootfs", dir, "--network", "bridge", "true"), "/dev/net/tun")
	}

	out, err := u.withTun(t, "run", "--rm", "--rootfs", dir, "--network", "slirp4netns", "sh", "-c", "ip -4 -o addr show tap0 | awk '{print $4}'; ip route | grep default").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.0.2.100/24") || !strings.Contains(string(out), "default via 10.0.2.2") {
		t.Fatalf("--network slirp4netns: %v %q", err, out)
	}

	// The host's loopback is out of reach (podman's default): a service
	// listening on 127.0.0.1 only is not the container's to use.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()
	hostPort := ln.Addr().(*net.TCPAddr).Port
	out, _ = u.withTun(t, "run", "--rm", "--rootfs", dir, "--network", "slirp4netns", "sh", "-c", fmt.Sprintf("nc -w 2 10.0.2.2 %d </dev/null && echo reached || echo blocked", hostPort)).CombinedOutput()
	select {
	case <-accepted:
		t.Errorf("the container reached the host's loopback: %q", out)
	default:
	}
	if !strings.Contains(string(out), "blocked") {
		t.Errorf("connect to the host's loopback: %q, want blocked", out)
	}

	b := make([]byte, 2)
	rand.Read(b)
	port := 20000 + (int(b[0])<<8|int(b[1]))%20000
	cmd := u.withTun(t, "run", "-d", "--name", "rl-pub", "--rootfs", dir, "--network", "slirp4netns", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "sh", "-c", "while :; do echo hello | nc -l -p 80; done")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run -d -p: %v %q", err, out)
	}
	waitFor(t, "the published port answers", func() bool { return hello(port) })
	checkUserModeInspect(t, u, "rl-pub", "slirp4netns")
	// restart runs the stored config again: the user-mode stack, not
	// root's bridge, and the port is published again.
	if out, err := u.withTun(t, "restart", "-t", "1", "rl-pub").CombinedOutput(); err != nil || string(out) != "rl-pub\n" {
		t.Errorf("restart: %v %q", err, out)
	}
	waitFor(t, "the published port answers after restart", func() bool { return hello(port) })
	checkUserModeInspect(t, u, "rl-pub", "slirp4netns")
	if r := u.berth(t, "stop", "-t", "1", "rl-pub"); r.code != 0 {
		t.Errorf("stop: %+v", r)
	}
	if r := u.berth(t, "rm", "rl-pub"); r.code != 0 {
		t.Errorf("rm: %+v", r)
	}
	if pids := processesOf(u.uid); len(pids) > 0 {
		t.Errorf("processes of uid %d left (slirp4netns?): %v", u.uid, pids)
	}
	if socks, _ := filepath.Glob(filepath.Join(u.runtime, "berth", "slirp4netns-*")); len(socks) > 0 {
		t.Errorf("API sockets left: %v", socks)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Errorf("port %d still answers after rm", port)
	}
}

// hello reports whether 127.0.0.1:port answers "hello".
func hello(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return line == "hello\n"
}

// checkUserModeInspect: inspect shows a running rootless --network bridge
// container as bridge, the mode the user asked for (its stored config),
// connected through a user-mode stack at its address.
func checkUserModeInspect(t *testing.T, u *rootlessUser, name, mode string) {
	t.Helper()
	r := u.berth(t, "inspect", name)
	var info []struct {
		CreateConfig    struct{ NetworkMode string }
		NetworkSettings struct{ Mode, IPAddress string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || len(info) != 1 {
		t.Fatalf("inspect %s: %v %+v", name, err, r)
	}
	c, n := info[0].CreateConfig, info[0].NetworkSettings
	if c.NetworkMode != mode || !strings.HasPrefix(n.Mode, "bridge (") || n.IPAddress == "" {
		t.Errorf("inspect %s: NetworkMode %q, NetworkSettings %+v; want %s as asked, bridge (its user-mode stack) and an address", name, c.NetworkMode, n, mode)
	}
}
