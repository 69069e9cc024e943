package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildRootless: berth build as a user without privileges, in the
// user's own storage: a multi-stage build whose RUN deletes an image
// file (a whiteout) and reads the owner COPY --chown gave, then run by
// the same user; a RUN on the default bridge network gets the user-mode
// stack (slirp4netns or pasta) that rootless berth run --network bridge
// gets; the build leaves no container and no process of the user.
func TestBuildRootless(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
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
	files := map[string]string{
		"Dockerfile": `FROM rb-base:1 AS build
RUN echo hi > /greet && rm /bin/ls
COPY --chown=1000:1000 a.txt /a.txt
RUN stat -c '%u:%g' /a.txt > /owner

FROM rb-base:1
COPY --from=build /greet /owner /a.txt /out/
RUN rm /bin/ls
USER 1000
CMD ["cat", "/out/greet", "/out/owner"]
`,
		"a.txt": "a\n",
	}
	for name, body := range files {
		if err := os.MkdirAll(ctx, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ctx, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exec.Command("chown", "-R", u.name+":", ctx).Run()
	if r := u.berth(t, "build", "--network", "none", "-q", "-t", "rb:1", ctx); r.code != 0 || !strings.HasPrefix(r.stdout, "sha256:") {
		t.Fatalf("rootless build: %+v", r)
	}
	if r := u.berth(t, "run", "--rm", "rb:1"); r.code != 0 || r.stdout != "hi\n1000:1000\n" {
		t.Errorf("run the built image: %+v", r)
	}
	r := u.berth(t, "run", "--rm", "rb:1", "sh", "-c", "id -u; stat -c %u:%g /out/a.txt; test -e /bin/ls || echo no ls")
	if r.code != 0 || r.stdout != "1000\n1000:1000\nno ls\n" {
		t.Errorf("the built image's user, owners and whiteout: %+v", r)
	}

	// RUN on the default network: the user-mode stack, as run's bridge.
	_, slirpErr := exec.LookPath("slirp4netns")
	_, pastaErr := exec.LookPath("pasta")
	if slirpErr == nil || pastaErr == nil {
		net := filepath.Join(u.home, "net")
		os.MkdirAll(net, 0o755)
		os.WriteFile(filepath.Join(net, "Dockerfile"), []byte("FROM rb-base:1\nRUN ip -4 -o addr show | grep -v ' lo ' | tee /addr\n"), 0o644)
		exec.Command("chown", "-R", u.name+":", net).Run()
		// In a network namespace of the test's own, whose interface the
		// stack can use (the v2 VM's has none pasta accepts).
		ns := newTestNetns(t, "nameserver "+netnsAddr+"\n")
		cmd := u.netCommand(t, ns.name, false, "build", "--progress", "plain", "-t", "rb:net", net)
		r := collect(t, cmd, "berth build as "+u.name)
		if r.code != 0 || !strings.Contains(r.stderr, "inet ") {
			t.Errorf("RUN on the user-mode bridge: %+v", r)
		}
		if r := u.berth(t, "rmi", "rb:net"); r.code != 0 {
			t.Errorf("rmi: %+v", r)
		}
		// Without /dev/net/tun open to the user: refused in one line.
		os.WriteFile(filepath.Join(net, "Dockerfile"), []byte("FROM rb-base:1\nRUN true\n"), 0o644)
		if !tunOpenToAll() {
			r = u.berth(t, "build", "-q", "-t", "rb:net2", net)
			if r.code == 0 || !strings.Contains(r.stderr, "/dev/net/tun") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("a bridge RUN without /dev/net/tun: %+v", r)
			}
		}
	}
	if r := u.berth(t, "ps", "-aq"); r.code != 0 || r.stdout != "" {
		t.Errorf("containers left: %+v", r)
	}
	if left := processesOf(u.uid); len(left) != 0 {
		t.Errorf("processes of the user left after the builds: %v", left)
	}
	checkNoLeaks(t, before)
}

// tunOpenToAll reports whether the host's /dev/net/tun is a node every
// user may open, as Debian ships it (this machine's is not).
func tunOpenToAll() bool {
	st, err := os.Stat("/dev/net/tun")
	return err == nil && st.Mode().Perm()&0o006 == 0o006
}
