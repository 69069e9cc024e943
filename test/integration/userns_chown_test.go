package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The chown cache: where a user namespace's container cannot see its
// image's layers through idmapped mounts, its overlay sits on a copy of
// the image chowned into its range, one per image and mapping, shared.
// BERTH_NO_IDMAP=1 takes that path on a kernel that has idmapped layers.

// chownRun is berth with BERTH_NO_IDMAP=1.
func chownRun(t *testing.T, args ...string) result {
	t.Helper()
	cmd := berthCommand(args...)
	cmd.Env = append(cmd.Env, "BERTH_NO_IDMAP=1")
	return collect(t, cmd, "berth")
}

var chownCacheDir = func() string { return filepath.Join(storeRoot, "chowncache") }

// chownEntries are the cache's complete copies, by key; and everything
// else in its directory but the lock.
func chownEntries(t *testing.T) (keys []string, other []string) {
	t.Helper()
	ents, err := os.ReadDir(chownCacheDir())
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range ents {
		switch {
		case e.Name() == "lock":
		case len(e.Name()) == 64 && e.IsDir():
			keys = append(keys, e.Name())
		default:
			other = append(other, e.Name())
		}
	}
	sort.Strings(keys)
	return keys, other
}

// chownInspect is what inspect shows of a container's user namespace.
type chownInspect struct {
	ID     string `json:"Id"`
	UserNS *struct {
		Rootfs, ChownCache, ChownCacheKey string
	}
}

func inspectChown(t *testing.T, name string) chownInspect {
	t.Helper()
	r := berth(t, "", "inspect", name)
	var info []chownInspect
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &info) != nil || len(info) != 1 || info[0].UserNS == nil {
		t.Fatalf("inspect %s: %+v", name, r)
	}
	return info[0]
}

func statOf(t *testing.T, path string) syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func mapFlags(host int) []string {
	m := fmt.Sprintf("0:%d:65536", host)
	return []string{"--uidmap", m, "--gidmap", m}
}

// TestChownCacheShared: two containers of one image with the same
// mapping share one chowned copy, built once; a third mapping gets a
// copy of its own; owners inside are the image's (root's files root's,
// uid 1000's 1000's), on the host the range's; inspect names the path.
// Removing the containers keeps the copies (the next container of the
// mapping reuses them); removing the image removes them.
func TestChownCacheShared(t *testing.T) {
	needRoot(t)
	img := usernsImage(t)
	before := snapshot(t)
	const host, other = 3000000, 3100000
	for _, name := range []string{"chown-a", "chown-b"} {
		r := chownRun(t, append(append([]string{"run", "-d", "--name", name, "--network", "none"}, mapFlags(host)...), img, "/bin/sh", "-c", idle)...)
		if r.code != 0 {
			t.Fatalf("run -d %s: %+v", name, r)
		}
		defer berth(t, "", "rm", "-f", name)
	}
	a, b := inspectChown(t, "chown-a"), inspectChown(t, "chown-b")
	if a.UserNS.Rootfs != "chown-cache" || a.UserNS.ChownCacheKey == "" || a.UserNS.ChownCacheKey != b.UserNS.ChownCacheKey || a.UserNS.ChownCache != b.UserNS.ChownCache {
		t.Fatalf("two containers of one image and mapping: %+v and %+v, want one shared chown-cache copy", a.UserNS, b.UserNS)
	}
	key := a.UserNS.ChownCacheKey
	if keys, other := chownEntries(t); len(keys) != 1 || keys[0] != key || len(other) != 0 {
		t.Fatalf("cache holds %v and %v, want only %s", keys, other, key)
	}
	copyRoot := filepath.Join(chownCacheDir(), key, "rootfs")
	built := statOf(t, copyRoot)

	// A third user of the mapping, in the foreground: the image's owners
	// inside, its writes in the range on the host, in its own upper.
	r := chownRun(t, append(append([]string{"run", "--name", "chown-c", "--network", "none"}, mapFlags(host)...), img, "/bin/sh", "-c",
		"stat -c '%u %g' /bin/busybox /etc/passwd /home/app; echo x > /etc/new; stat -c '%u %g' /etc/new; id -u")...)
	defer berth(t, "", "rm", "-f", "chown-c")
	if r.code != 0 || r.stdout != "0 0\n0 0\n1000 1000\n0 0\n0\n" {
		t.Errorf("owners inside: %+v", r)
	}
	c := inspectChown(t, "chown-c")
	if c.UserNS.ChownCacheKey != key {
		t.Errorf("third container: %+v, want key %s", c.UserNS, key)
	}
	if st := statOf(t, filepath.Join(storeRoot, "containers", c.ID, "upper", "etc", "new")); st.Uid != host || st.Gid != host {
		t.Errorf("the container's new file is %d:%d on the host, want %d:%d", st.Uid, st.Gid, host, host)
	}
	if st := statOf(t, copyRoot); st.Ino != built.Ino || st.Mtim != built.Mtim {
		t.Errorf("the shared copy was made again for a later container")
	}
	for path, want := range map[string]uint32{"bin/busybox": host, "etc/passwd": host, "home/app": host + 1000} {
		if st := statOf(t, filepath.Join(copyRoot, path)); st.Uid != want || st.Gid != want {
			t.Errorf("the copy's %s is %d:%d on the host, want %d", path, st.Uid, st.Gid, want)
		}
	}
	if st, want := statOf(t, filepath.Join(copyRoot, "tmp")), statOf(t, filepath.Join(rootfsDir, "tmp")); st.Mode != want.Mode {
		t.Errorf("the copy's /tmp has mode %o, the image's %o", st.Mode, want.Mode)
	}

	// Another mapping, another copy.
	r = chownRun(t, append(append([]string{"run", "--rm", "--network", "none"}, mapFlags(other)...), img, "stat", "-c", "%u", "/home/app")...)
	if r.code != 0 || r.stdout != "1000\n" {
		t.Errorf("other mapping: %+v", r)
	}
	if keys, _ := chownEntries(t); len(keys) != 2 {
		t.Errorf("after a second mapping the cache holds %v, want 2 copies", keys)
	}

	// The containers go, the copies stay for the image's next ones; the
	// image goes, so do they.
	for _, name := range []string{"chown-a", "chown-b", "chown-c"} {
		if r := berth(t, "", "rm", "-f", name); r.code != 0 {
			t.Errorf("rm %s: %+v", name, r)
		}
	}
	if keys, _ := chownEntries(t); len(keys) != 2 {
		t.Errorf("with its image still there, the cache holds %v, want the 2 copies", keys)
	}
	if r := chownRun(t, append(append([]string{"run", "--rm", "--network", "none"}, mapFlags(host)...), img, "true")...); r.code != 0 {
		t.Errorf("run again: %+v", r)
	}
	if st := statOf(t, copyRoot); st.Ino != built.Ino {
		t.Errorf("the copy was made again for the mapping's next container")
	}
	if r := berth(t, "", "rmi", img); r.code != 0 {
		t.Errorf("rmi: %+v", r)
	}
	if keys, other := chownEntries(t); len(keys)+len(other) != 0 {
		t.Errorf("after rmi the cache holds %v %v", keys, other)
	}
	checkNoLeaks(t, before)
}

// TestChownCacheRmiInUse: rmi -f of an image that a container uses
// keeps its copy (the container still runs from it); container prune
// removes the container, image prune the image and the copy.
func TestChownCacheRmiInUse(t *testing.T) {
	needRoot(t)
	img := usernsImage(t)
	r := chownRun(t, append(append([]string{"run", "--name", "chown-kept", "--network", "none"}, mapFlags(3200000)...), img, "true")...)
	defer berth(t, "", "rm", "-f", "chown-kept")
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	if r := berth(t, "", "rmi", "-f", img); r.code != 0 {
		t.Fatalf("rmi -f: %+v", r)
	}
	if keys, _ := chownEntries(t); len(keys) != 1 {
		t.Fatalf("the copy of a container's image went with its name: %v", keys)
	}
	if r := chownRun(t, "start", "-a", "chown-kept"); r.code != 0 {
		t.Errorf("start after rmi -f: %+v", r)
	}
	id := inspectChown(t, "chown-kept").ID
	if r := berth(t, "", "container", "prune", "-f"); r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Errorf("container prune: %+v", r)
	}
	if keys, _ := chownEntries(t); len(keys) != 1 {
		t.Errorf("the copy went before its image: %v", keys)
	}
	if r := berth(t, "", "image", "prune", "-f"); r.code != 0 {
		t.Errorf("image prune: %+v", r)
	}
	if keys, other := chownEntries(t); len(keys)+len(other) != 0 {
		t.Errorf("after rm and image prune the cache holds %v %v", keys, other)
	}
}

// TestChownCacheKilled: after kill -9 of a container's monitor, the next
// command collects the dead --rm container but not the copy that a
// running container uses, and removes what killed berths left in the
// cache: a half-built copy and a copy of an image that is gone.
func TestChownCacheKilled(t *testing.T) {
	needRoot(t)
	img := usernsImage(t)
	before := snapshot(t)
	flags := mapFlags(3300000)
	for _, name := range []string{"chown-live", "chown-killed"} {
		args := []string{"run", "-d", "--name", name, "--network", "none"}
		if name == "chown-killed" {
			args = append(args, "--rm")
		}
		if r := chownRun(t, append(append(args, flags...), img, "/bin/sh", "-c", idle)...); r.code != 0 {
			t.Fatalf("run -d %s: %+v", name, r)
		}
		defer berth(t, "", "rm", "-f", name)
	}
	key := inspectChown(t, "chown-live").UserNS.ChownCacheKey
	st := inspectState(t, "chown-killed")
	if err := syscall.Kill(st.MonitorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(st.Pid, syscall.SIGKILL)
	// What a berth killed while building leaves, and a copy whose image
	// and users are gone.
	dead := deadPid(t)
	halfBuilt := filepath.Join(chownCacheDir(), fmt.Sprintf(".new-%d-%s", dead, strings.Repeat("a", 64)))
	orphan := filepath.Join(chownCacheDir(), strings.Repeat("b", 64))
	t.Cleanup(func() { os.RemoveAll(halfBuilt); os.RemoveAll(orphan) })
	for _, d := range []string{filepath.Join(halfBuilt, "rootfs", "bin"), filepath.Join(orphan, "users"), filepath.Join(orphan, "rootfs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(orphan, "entry.json"), []byte(`{"ImageID":"sha256:`+strings.Repeat("c", 64)+`"}`), 0o600)
	os.WriteFile(filepath.Join(orphan, "users", strings.Repeat("d", 64)), nil, 0o600)

	eventually(t, "the killed --rm container collected", func() string {
		if r := berth(t, "", "ps", "-a", "--format", "{{.Names}}"); strings.Contains(r.stdout, "chown-killed") {
			return r.stdout
		}
		return ""
	})
	keys, other := chownEntries(t)
	if len(keys) != 1 || keys[0] != key || len(other) != 0 {
		t.Errorf("after the collection the cache holds %v and %v, want only %s", keys, other, key)
	}
	if r := chownRun(t, "exec", "chown-live", "stat", "-c", "%u", "/home/app"); r.code != 0 || r.stdout != "1000\n" {
		t.Errorf("the running container after the collection: %+v", r)
	}
	if r := berth(t, "", "rm", "-f", "chown-live"); r.code != 0 {
		t.Errorf("rm: %+v", r)
	}
	checkNoLeaks(t, before)
}

// TestChownCacheBadEnv: a BERTH_NO_IDMAP other than 1 is one line and
// leaves nothing.
func TestChownCacheBadEnv(t *testing.T) {
	needRoot(t)
	img := usernsImage(t)
	before := snapshot(t)
	cmd := berthCommand(append(append([]string{"run", "--rm", "--network", "none"}, mapFlags(3400000)...), img, "true")...)
	cmd.Env = append(cmd.Env, "BERTH_NO_IDMAP=yes")
	r := collect(t, cmd, "berth")
	if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "BERTH_NO_IDMAP") {
		t.Errorf("BERTH_NO_IDMAP=yes: %+v, want one line naming it", r)
	}
	if keys, other := chownEntries(t); len(keys)+len(other) != 0 {
		t.Errorf("the cache holds %v %v", keys, other)
	}
	checkNoLeaks(t, before)
}

// deadPid is a PID that no process has now.
func deadPid(t *testing.T) int {
	t.Helper()
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

// TestChownCacheKilledMidBuild: berth killed while it builds a copy
// leaves a .new- directory and no copy under the key; the next command
// removes it, and the next container of the mapping builds the copy
// whole.
func TestChownCacheKilledMidBuild(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	mountsBefore, _ := os.ReadFile("/proc/self/mountinfo")
	defer logNewMounts(t, string(mountsBefore))
	// An image big enough for the build to take a while: 4000 files.
	dir := filepath.Join(t.TempDir(), "rootfs")
	if out, err := exec.Command("cp", "-a", rootfsDir, dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	for i := 0; i < 40; i++ {
		sub := filepath.Join(dir, "many", fmt.Sprint(i))
		os.MkdirAll(sub, 0o755)
		for j := 0; j < 100; j++ {
			os.WriteFile(filepath.Join(sub, fmt.Sprint(j)), []byte("x"), 0o644)
		}
	}
	tarball := filepath.Join(t.TempDir(), "big.tar")
	if out, err := exec.Command("tar", "-C", dir, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	const ref = "chown-big:1"
	if r := berth(t, "", "image", "import", tarball, ref); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	defer berth(t, "", "rmi", "-f", ref)
	args := append(append([]string{"run", "--name", "chown-cut", "--network", "none"}, mapFlags(3500000)...), ref, "true")
	defer berth(t, "", "rm", "-f", "chown-cut")
	cmd := berthCommand(args...)
	cmd.Env = append(cmd.Env, "BERTH_NO_IDMAP=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cut := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !cut; time.Sleep(time.Millisecond) {
		if _, other := chownEntries(t); len(other) > 0 && strings.HasPrefix(other[0], ".new-") {
			cmd.Process.Kill()
			cut = true
		}
	}
	cmd.Wait()
	keys, other := chownEntries(t)
	if !cut || len(keys) != 0 {
		t.Skipf("could not kill berth in the middle of a build (cache: %v %v)", keys, other)
	}
	if len(other) != 1 {
		t.Fatalf("after the kill the cache holds %v", other)
	}
	berth(t, "", "ps", "-a")
	if keys, other := chownEntries(t); len(keys)+len(other) != 0 {
		t.Errorf("after the next command the cache holds %v %v, want nothing", keys, other)
	}
	berth(t, "", "rm", "-f", "chown-cut")
	r := chownRun(t, append(append([]string{"run", "--rm", "--network", "none"}, mapFlags(3500000)...), ref, "sh", "-c", "ls /many/39 | wc -l; stat -c %u /many/39/99")...)
	if r.code != 0 || strings.Fields(r.stdout)[0] != "100" || !strings.HasSuffix(r.stdout, "\n0\n") {
		t.Errorf("after a build was cut short: %+v", r)
	}
	if r := berth(t, "", "rmi", ref); r.code != 0 {
		t.Errorf("rmi: %+v", r)
	}
	if keys, other := chownEntries(t); len(keys)+len(other) != 0 {
		t.Errorf("after rmi the cache holds %v %v", keys, other)
	}
	checkNoLeaks(t, before)
}

// logNewMounts names, when the test failed, the host's mounts that were
// not there before (another test running at the same time may own them).
func logNewMounts(t *testing.T, before string) {
	if !t.Failed() {
		return
	}
	now, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(now), "\n") {
		if f := strings.Fields(l); len(f) > 4 && !strings.Contains(before, f[4]+" ") {
			t.Logf("new mount: %s", l)
		}
	}
}

// TestChownCacheDataRootWithoutIdmap: with a --root on a file system that
// takes no idmapped mounts (ramfs), a user namespace's container gets
// the chowned copy by itself, where it failed before ("the kernel cannot
// make an overlay of idmapped layers").
func TestChownCacheDataRootWithoutIdmap(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	root := t.TempDir()
	// The namespace's root attaches the container's root below it.
	os.Chmod(filepath.Dir(root), 0o755)
	if out, err := exec.Command("mount", "-t", "ramfs", "-o", "mode=0755", "berth-test", root).CombinedOutput(); err != nil {
		t.Skipf("mount ramfs: %v %s", err, out)
	}
	defer func() {
		if out, err := exec.Command("umount", root).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", root, err, out)
		}
		checkNoLeaks(t, before)
	}()
	run := func(args ...string) result {
		cmd := berthCommand(args...)
		for i, a := range cmd.Args {
			if a == storeRoot {
				cmd.Args[i] = filepath.Join(root, "storage")
			}
		}
		return collect(t, cmd, "berth")
	}
	tarball := filepath.Join(t.TempDir(), "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfsDir, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	if r := run("image", "import", tarball, "ramfs:1"); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	r := run(append(append([]string{"run", "--name", "chown-ramfs", "--network", "none"}, mapFlags(3600000)...), "ramfs:1",
		"sh", "-c", "stat -c '%u %g' /bin/busybox /home/app; echo x > /root/new && cat /root/new")...)
	if r.code != 0 || r.stdout != "0 0\n1000 1000\nx\n" {
		t.Errorf("run on a ramfs root: %+v", r)
	}
	info := run("inspect", "chown-ramfs")
	if !strings.Contains(info.stdout, `"Rootfs": "chown-cache"`) {
		t.Errorf("inspect: %+v, want rootfs chown-cache", info)
	}
	for _, args := range [][]string{{"rm", "chown-ramfs"}, {"rmi", "ramfs:1"}} {
		if r := run(args...); r.code != 0 {
			t.Errorf("%v: %+v", args, r)
		}
	}
}
