package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// installStages copies berth into a fresh root-owned directory, as make
// install leaves it, with stage as its berth-init (mode and owner given).
func installStages(t *testing.T, stage string, mode os.FileMode, uid int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "berth-stages-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for dst, src := range map[string]string{"berth": berthBin, "berth-init": stage} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "berth-init"), mode)
	os.Chown(filepath.Join(dir, "berth-init"), uid, uid)
	return filepath.Join(dir, "berth")
}

// TestRootlessVouchedStages: rootless berth runs a container's init stage
// from the berth-init installed beside it, root's and writable by root
// alone, though inside its user namespace that file's owner shows as
// nobody: the user's berth, outside, checked it and handed it in open
// (_BERTH_ROOT_OWNED). A decoy berth-init (busybox, which fails as
// "berth-init") shows which stage ran. One of another owner, or writable
// by others, is not vouched for (berth runs its whole self instead), and
// a mark and descriptor the user sets themselves are replaced by berth's.
func TestRootlessVouchedStages(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	u := newBareUser(t)
	rootfs := filepath.Join(u.home, "rootfs")
	if err := BuildBusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.uid, u.gid), rootfs).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	realInit := filepath.Join(filepath.Dir(berthBin), "berth-init")
	if _, err := os.Stat(realInit); err != nil {
		t.Skipf("no berth-init beside %s", berthBin)
	}
	run := func(bin string, script string) result {
		cmd := u.command()
		cmd.Path, cmd.Args = "/bin/sh", []string{"sh", "-c", script, "sh", bin, "--rootfs", rootfs}
		return collect(t, cmd, "berth as "+u.name)
	}
	const runTrue = `b=$1; shift; exec "$b" run --rm "$@" true`
	warmup := installStages(t, realInit, 0o755, 0)
	if r := run(warmup, runTrue); r.code != 0 {
		t.Fatalf("the installed berth-init: %+v", r)
	}
	if r := run(installStages(t, "/bin/busybox", 0o755, 0), runTrue); r.code == 0 {
		t.Errorf("a root-owned decoy berth-init did not run: %+v (berth ran its whole self)", r)
	}
	for _, c := range []struct {
		what string
		mode os.FileMode
		uid  int
	}{{"of another owner", 0o755, u.uid + 1}, {"writable by others", 0o757, 0}} {
		if r := run(installStages(t, "/bin/busybox", c.mode, c.uid), runTrue); r.code != 0 {
			t.Errorf("a decoy berth-init %s was run: %+v", c.what, r)
		}
	}
	// The user opens another owner's decoy and marks it: berth's own mark
	// (empty: it vouches for nothing here) replaces it.
	forge := `b=$1; shift; exec 7<"$(dirname "$b")/berth-init"; _BERTH_ROOT_OWNED=berth-init=7 exec "$b" run --rm "$@" true`
	if r := run(installStages(t, "/bin/busybox", 0o755, u.uid+1), forge); r.code != 0 {
		t.Errorf("a mark the user set was trusted: %+v", r)
	}
	if pids := processesOf(u.uid); len(pids) > 0 {
		t.Errorf("processes of uid %d left: %v", u.uid, pids)
	}
	checkNoLeaks(t, before)
}

// withSystemConfig runs berth as u in a private mount namespace whose
// /etc is a copy of the host's with /etc/berth/berth.toml set to conf:
// the host's own /etc, which other containers read, is never touched.
func withSystemConfig(t *testing.T, u *rootlessUser, conf string) func(args ...string) result {
	t.Helper()
	etc := filepath.Join(t.TempDir(), "etc")
	if out, err := exec.Command("cp", "-a", "/etc", etc).CombinedOutput(); err != nil {
		t.Fatalf("copy /etc: %v %s", err, out)
	}
	os.MkdirAll(filepath.Join(etc, "berth"), 0o755)
	if err := os.WriteFile(filepath.Join(etc, "berth", "berth.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return func(args ...string) result {
		cmd := u.command()
		// setpriv by its path: a busybox sh (the v2 VM's) prefers its
		// own applet, which has no --reuid.
		setpriv, _ := exec.LookPath("setpriv")
		script := `e=$1; id=$2; sp=$3; shift 3; mount --bind "$e" /etc && exec "$sp" --reuid "$id" --regid "$id" --clear-groups "$@"`
		cmd.Path = "/usr/bin/unshare"
		cmd.Args = append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", etc, strconv.Itoa(u.uid), setpriv, berthBin}, args...)
		cmd.SysProcAttr = nil // root, for the mount; setpriv drops to the user
		return collect(t, cmd, "berth as "+u.name+" with a host-wide berth.toml")
	}
}

// TestRootlessUsernsConfig: a host-wide berth.toml with userns = "auto"
// (root's containers) leaves a rootless user's runs as they were, with no
// error; the user's own ~/.config/berth/berth.toml applies instead; an
// explicit --userns=auto, or auto in the user's own file, is refused in one
// line saying why, leaving nothing behind.
func TestRootlessUsernsConfig(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs util-linux's setpriv")
	}
	before := snapshot(t)
	u := newBareUser(t)
	rootfs := filepath.Join(u.home, "rootfs")
	if err := BuildBusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.uid, u.gid), rootfs).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	berthAs := withSystemConfig(t, u, "[containers]\nuserns = \"auto\"\n")
	ownMap := fmt.Sprintf("0 %d 1\n", u.uid)
	if r := berthAs("run", "--rm", "--rootfs", rootfs, "cat", "/proc/self/uid_map"); r.code != 0 || squeezeSpaces(r.stdout) != ownMap {
		t.Errorf("host-wide userns = auto, rootless run: %+v, want the user's own mapping", r)
	}
	r := berthAs("run", "--rm", "--userns=auto", "--rootfs", rootfs, "true")
	oneLine(t, "rootless --userns=auto", r, "a rootless berth cannot allocate IDs from berth's ranges")
	own := filepath.Join(u.home, ".config", "berth")
	os.MkdirAll(own, 0o755)
	os.WriteFile(filepath.Join(own, "berth.toml"), []byte("[containers]\nuserns = \"host\"\n"), 0o644)
	exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.uid, u.gid), filepath.Join(u.home, ".config")).Run()
	if r := berthAs("run", "--rm", "--rootfs", rootfs, "cat", "/proc/self/uid_map"); r.code != 0 || squeezeSpaces(r.stdout) != ownMap || r.stderr != "" {
		t.Errorf("own berth.toml userns = host: %+v", r)
	}
	os.WriteFile(filepath.Join(own, "berth.toml"), []byte("[containers]\nuserns = \"auto\"\n"), 0o644)
	r = berthAs("run", "--rm", "--rootfs", rootfs, "true")
	oneLine(t, "own berth.toml userns = auto", r, "--userns=auto: a rootless berth cannot allocate")
	if left, _ := filepath.Glob(filepath.Join(u.home, ".local", "share", "berth", "containers", "[0-9a-f]*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if pids := processesOf(u.uid); len(pids) > 0 {
		t.Errorf("processes of uid %d left: %v", u.uid, pids)
	}
	checkNoLeaks(t, before)
}

// TestUsernsRootUnreachable: root's --userns=auto under a --root whose
// parent lets no one else through (the namespace's root could not reach
// the container's root filesystem) is refused in one line naming that
// directory, before anything is made.
func TestUsernsRootUnreachable(t *testing.T) {
	needRoot(t)
	closed := filepath.Join(t.TempDir(), "closed")
	os.Mkdir(closed, 0o700)
	root := filepath.Join(closed, "root")
	cmd := exec.Command(berthBin, "--root", root, "--runroot", filepath.Join(closed, "run"), "run", "--rm", "--network", "none", "--userns=auto", "busybox", "true")
	r := collect(t, cmd, "berth --root under a 0700 directory")
	oneLine(t, "--root others cannot reach", r, closed+" (mode 0700) does not let others through")
	if left, _ := filepath.Glob(filepath.Join(root, "containers", "*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
