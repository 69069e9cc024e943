package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildInstrRootless: the build instructions of build_instr_test.go
// as a user without privileges: COPY --link, a secret as a variable,
// --squash, and RUN --mount=type=bind,from= a stage.
func TestBuildInstrRootless(t *testing.T) {
	needRoot(t)
	u := newRootlessUser(t)
	tgz := filepath.Join(u.home, "rootfs.tar.gz")
	if out, err := exec.Command("tar", "-C", rootfsDir, "--numeric-owner", "-czf", tgz, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	os.Chown(tgz, u.uid, u.gid)
	if r := u.berth(t, "image", "import", tgz, "rb-base:1"); r.code != 0 {
		t.Fatalf("image import: %+v", r)
	}
	ctx := filepath.Join(u.home, "ctx")
	os.MkdirAll(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM rb-base:1 AS tools\nRUN mkdir /tools && echo tool > /tools/t\n"+
		"FROM rb-base:1\nCOPY --link a.txt /opt/a.txt\nRUN --mount=type=bind,from=tools,source=/tools,target=/mnt cat /mnt/t > /t\n"+
		"RUN --mount=type=secret,id=s,env=S sh -c 'echo ${#S} > /len'\nRUN rm /bin/ls\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "a.txt"), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "s"), []byte("secret"), 0o644)
	exec.Command("chown", "-R", u.name+":", ctx).Run()
	r := u.berth(t, "build", "--network", "none", "-q", "--squash", "--secret", "id=s,src="+filepath.Join(ctx, "s"), "-t", "rb:instr", ctx)
	if r.code != 0 {
		t.Fatalf("rootless build: %+v", r)
	}
	r = u.berth(t, "run", "--rm", "rb:instr", "sh", "-c", "cat /opt/a.txt /t /len; test -e /bin/ls || echo no ls")
	if r.code != 0 || r.stdout != "a\ntool\n6\nno ls\n" {
		t.Errorf("the built image: %+v", r)
	}
	if r := u.berth(t, "ps", "-aq"); r.code != 0 || r.stdout != "" {
		t.Errorf("containers left: %+v", r)
	}
	if left, _ := filepath.Glob(filepath.Join(u.home, ".local", "share", "berth", "build", "bind-*")); len(left) != 0 {
		t.Errorf("bind directories left: %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(u.home, ".local", "share", "berth", "build")); len(left) != 1 {
		t.Errorf("the build directory is not where the test looks: %v", left)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), u.home) {
		t.Error("a mount of the build is left")
	}
}
