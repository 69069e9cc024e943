package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
