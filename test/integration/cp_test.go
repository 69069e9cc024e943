package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cpImage imports the suite's busybox root filesystem as an image, for
// containers with an overlay (diff reads its upper layer).
func cpImage(t *testing.T) string {
	t.Helper()
	const ref = "cp-busybox:1"
	if r := berth(t, "", "image", "import", pristineRootfsTar, ref); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	t.Cleanup(func() { berth(t, "", "rmi", "-f", ref) })
	return ref
}

// cpRun starts a detached container that sleeps, removed at the end.
func cpRun(t *testing.T, name string, flags ...string) {
	t.Helper()
	args := append(append([]string{"run", "-d", "--name", name, "--network", "none"}, flags...), "sleep", "1000")
	if r := berth(t, "", args...); r.code != 0 {
		t.Fatalf("run -d %s: %+v", name, r)
	}
	t.Cleanup(func() { berth(t, "", "rm", "-f", name) })
}

// mustBerth runs berth and fails the test unless it exits 0.
func mustBerth(t *testing.T, args ...string) string {
	t.Helper()
	r := berth(t, "", args...)
	if r.code != 0 {
		t.Fatalf("berth %s: %+v", strings.Join(args, " "), r)
	}
	return r.stdout
}

func writeHostFile(t *testing.T, p, body string, uid int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(p, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func hostRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Errorf("read %s: %v", p, err)
	}
	return string(b)
}

// mountsOf counts the host's mounts whose line names s.
func mountsOf(t *testing.T, s string) int {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), s)
}

// TestCpRunningAndStopped: files and directories both ways, into a
// running container and a stopped one; without -a what is copied in is
// root's, with -a it keeps its owner; a stopped container's overlay is
// reached without leaving a mount behind, and its changes are there when
// it starts again.
func TestCpRunningAndStopped(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	img := cpImage(t)
	host := t.TempDir()
	writeHostFile(t, host+"/f.txt", "hello\n", 1234)
	writeHostFile(t, host+"/d/a", "a\n", 1234)
	writeHostFile(t, host+"/d/sub/b", "b\n", 1234)
	for _, d := range []string{host + "/d", host + "/d/sub"} {
		if err := os.Lchown(d, 1234, 1234); err != nil {
			t.Fatal(err)
		}
	}
	cpRun(t, "cp-run", img)

	mustBerth(t, "cp", host+"/f.txt", "cp-run:/tmp/")
	mustBerth(t, "cp", host+"/d", "cp-run:/tmp/plain")
	mustBerth(t, "cp", "-a", host+"/d", "cp-run:/tmp/kept")
	got := mustBerth(t, "exec", "cp-run", "sh", "-c",
		"cat /tmp/f.txt; stat -c '%u %g' /tmp/f.txt /tmp/plain /tmp/plain/sub/b /tmp/kept/a /tmp/kept/sub; cat /tmp/kept/sub/b")
	if want := "hello\n0 0\n0 0\n0 0\n1234 1234\n1234 1234\nb\n"; got != want {
		t.Errorf("copied in, running: %q, want %q", got, want)
	}

	mustBerth(t, "cp", "cp-run:/etc/passwd", host+"/passwd")
	mustBerth(t, "cp", "cp-run:/tmp/kept/.", host+"/contents")
	mustBerth(t, "cp", "cp-run:/tmp/kept", host+"/dir")
	if hostRead(t, host+"/passwd") != hostRead(t, rootfsDir+"/etc/passwd") || hostRead(t, host+"/contents/sub/b") != "b\n" ||
		hostRead(t, host+"/dir/a") != "a\n" {
		t.Errorf("copied out of the running container: wrong contents")
	}

	if r := berth(t, "", "stop", "-t", "1", "cp-run"); r.code != 0 {
		t.Fatalf("stop: %+v", r)
	}
	before := mountsOf(t, "overlay")
	mustBerth(t, "cp", host+"/f.txt", "cp-run:/stopped.txt")
	mustBerth(t, "cp", "cp-run:/tmp/f.txt", host+"/back.txt")
	mustBerth(t, "cp", "-a", host+"/d", "cp-run:/stopped-dir")
	if after := mountsOf(t, "overlay"); after > before {
		t.Errorf("cp on a stopped container left %d overlay mounts on the host", after-before)
	}
	if hostRead(t, host+"/back.txt") != "hello\n" {
		t.Errorf("copied out of the stopped container: %q", hostRead(t, host+"/back.txt"))
	}
	mustBerth(t, "start", "cp-run")
	got = mustBerth(t, "exec", "cp-run", "sh", "-c", "cat /stopped.txt; stat -c '%u %g' /stopped.txt /stopped-dir/a")
	if want := "hello\n0 0\n1234 1234\n"; got != want {
		t.Errorf("copied in while stopped, seen running: %q, want %q", got, want)
	}
}

// TestCpHostileSymlink: symlinks the container made (absolute ones
// naming host paths, ../ out of its root) resolve inside the container,
// running or stopped: berth reads none of the host's files through them
// and writes none.
func TestCpHostileSymlink(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	img := cpImage(t)
	host := t.TempDir()
	secretDir := t.TempDir()
	secret := secretDir + "/shadow"
	writeHostFile(t, secret, "host secret\n", 0)
	writeHostFile(t, host+"/payload", "pwned\n", 0)
	cpRun(t, "cp-evil", img)
	mustBerth(t, "exec", "cp-evil", "sh", "-c", "mkdir -p "+secretDir+" && echo container > "+secret+
		" && ln -s "+secret+" /tmp/x && ln -s ../../../../../../../.. /tmp/up && ln -s "+host+" /tmp/hostdir && ln -s /nowhere/"+secretDir+" /tmp/gone")

	for _, state := range []string{"running", "stopped"} {
		os.Remove(host + "/x")
		mustBerth(t, "cp", "-L", "cp-evil:/tmp/x", host+"/x")
		if got := hostRead(t, host+"/x"); got != "container\n" {
			t.Errorf("%s: cp -L of /tmp/x -> %s read %q, want the container's file", state, secret, got)
		}
		os.Remove(host + "/up")
		mustBerth(t, "cp", "cp-evil:/tmp/up"+secret, host+"/up")
		if got := hostRead(t, host+"/up"); got != "container\n" {
			t.Errorf("%s: ../ out of the root read %q, want the container's file", state, got)
		}
		// Writes: through a link to the host's directory, and onto a link
		// to a missing path; at the end, onto the link to the secret's path.
		r := berth(t, "", "cp", host+"/payload", "cp-evil:/tmp/hostdir/payload-"+state)
		if _, err := os.Stat(host + "/payload-" + state); err == nil {
			t.Errorf("%s: cp through /tmp/hostdir wrote the host's %s (%+v)", state, host, r)
		}
		berth(t, "", "cp", host+"/payload", "cp-evil:/tmp/gone")
		if state == "stopped" {
			berth(t, "", "cp", host+"/payload", "cp-evil:/tmp/x")
		}
		if got := hostRead(t, secret); got != "host secret\n" {
			t.Fatalf("%s: the host's file was overwritten: %q", state, got)
		}
		if entries, _ := os.ReadDir(secretDir); len(entries) != 1 {
			t.Errorf("%s: files appeared beside the host's secret: %v", state, entries)
		}
		if state == "running" {
			if r := berth(t, "", "stop", "-t", "1", "cp-evil"); r.code != 0 {
				t.Fatalf("stop: %+v", r)
			}
		}
	}
	mustBerth(t, "start", "cp-evil")
	// The write onto /tmp/x landed on its target inside the container.
	if got := mustBerth(t, "exec", "cp-evil", "cat", secret); got != "pwned\n" {
		t.Errorf("the container's own %s: %q", secret, got)
	}
}

// TestCpUserns: in a container with a user namespace, files copied in
// belong to its root (its range's first host ID) without -a and keep
// their owner inside with -a; copied out, a tar stream names owners as
// the container sees them.
func TestCpUserns(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	img := cpImage(t)
	keepSubidFiles(t)
	host := t.TempDir()
	writeHostFile(t, host+"/f", "f\n", 1234)
	cpRun(t, "cp-userns", "--userns=auto", img)
	info := inspectUserns(t, "cp-userns")
	if info.UserNS == nil || len(info.UserNS.UIDMap) == 0 {
		t.Fatalf("no user namespace: %+v", info)
	}
	mustBerth(t, "cp", host+"/f", "cp-userns:/f-root")
	mustBerth(t, "cp", "-a", host+"/f", "cp-userns:/f-kept")
	if got := mustBerth(t, "exec", "cp-userns", "stat", "-c", "%u %g", "/f-root", "/f-kept"); got != "0 0\n1234 1234\n" {
		t.Errorf("owners inside: %q, want root's and 1234's", got)
	}
	cmd := berthCommand("cp", "cp-userns:/f-kept", "-")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cp to -: %v", err)
	}
	tarFile := filepath.Join(host, "out.tar")
	if err := os.WriteFile(tarFile, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if list, err := exec.Command("tar", "-tvf", tarFile, "--numeric-owner").Output(); err != nil || !strings.Contains(string(list), "1234/1234") || !strings.Contains(string(list), "f-kept") {
		t.Errorf("tar stream: %q %v, want f-kept owned 1234/1234", list, err)
	}
	if r := berth(t, "", "stop", "-t", "1", "cp-userns"); r.code != 0 {
		t.Fatalf("stop: %+v", r)
	}
	mustBerth(t, "cp", host+"/f", "cp-userns:/f-stopped")
	mustBerth(t, "start", "cp-userns")
	if got := mustBerth(t, "exec", "cp-userns", "stat", "-c", "%u %g", "/f-stopped"); got != "0 0\n" {
		t.Errorf("copied in while stopped: owner %q, want root's", got)
	}
}

// TestDiffAndExport: diff lists what the container added, changed and
// deleted, sorted, without the mount points berth made; export writes
// its whole file system, running or stopped, without /proc's contents.
func TestDiffAndExport(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	img := cpImage(t)
	cpRun(t, "cp-diff", img)
	mustBerth(t, "exec", "cp-diff", "sh", "-c", "echo x > /etc/newfile && echo y >> /etc/passwd && rm /bin/ls && mkdir /newdir")
	want := "C /bin\nD /bin/ls\nC /etc\nA /etc/newfile\nC /etc/passwd\nA /newdir\n"
	if got := mustBerth(t, "diff", "cp-diff"); got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	dir := t.TempDir()
	for _, state := range []string{"running", "stopped"} {
		tarFile := filepath.Join(dir, state+".tar")
		mustBerth(t, "export", "-o", tarFile, "cp-diff")
		list, err := exec.Command("tar", "-tf", tarFile).Output()
		if err != nil {
			t.Fatalf("%s: tar -t: %v", state, err)
		}
		names := "\n" + string(list)
		for _, n := range []string{"bin/sh", "etc/newfile", "newdir/"} {
			if !strings.Contains(names, "\n"+n+"\n") {
				t.Errorf("%s: export lacks %s", state, n)
			}
		}
		if strings.Contains(names, "\nbin/ls\n") || strings.Contains(names, "\nproc/1/") {
			t.Errorf("%s: export has a deleted file or /proc's contents", state)
		}
		if state == "running" {
			if r := berth(t, "", "stop", "-t", "1", "cp-diff"); r.code != 0 {
				t.Fatalf("stop: %+v", r)
			}
			if got := mustBerth(t, "diff", "cp-diff"); got != want {
				t.Errorf("diff of the stopped container:\n%s", got)
			}
		}
	}
	// To standard output, piped.
	cmd := berthCommand("container", "export", "cp-diff")
	out, err := cmd.Output()
	if err != nil || len(out) < 1024 {
		t.Errorf("export to a pipe: %d bytes, %v", len(out), err)
	}
}

// TestCpBadInput: one line and exit 1, as docker's, and nothing made.
func TestCpBadInput(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	img := cpImage(t)
	cpRun(t, "cp-bad", img)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		text string
	}{
		{[]string{"cp", "nosuch:/etc/passwd", dir + "/x"}, "no such container"},
		{[]string{"cp", "cp-bad:/nope", dir + "/x"}, "Could not find the file /nope in container cp-bad"},
		{[]string{"cp", dir + "/missing", "cp-bad:/tmp"}, "no such file or directory"},
		{[]string{"cp", "cp-bad:/etc/passwd", dir + "/no/such/dir"}, "no such file or directory"},
		{[]string{"cp", "cp-bad:/etc", dir + "/file"}, "cannot copy a directory to a file"},
		{[]string{"cp", dir, dir + "/y"}, "must specify at least one container"},
		{[]string{"diff", "nosuch"}, "no such container"},
		{[]string{"export", "nosuch"}, "no such container"},
	} {
		if c.text == "cannot copy a directory to a file" {
			writeHostFile(t, dir+"/file", "f\n", 0)
		}
		r := berth(t, "", c.args...)
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(c.text)) {
			t.Errorf("berth %s: %+v, want exit 1 and one line with %q", strings.Join(c.args, " "), r, c.text)
		}
	}
	for _, p := range []string{"x", "no", "y"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("a refused command left %s behind", p)
		}
	}
}

// TestCpStoppedVolume: cp of a stopped container reaches its volumes at
// their destinations, as Docker, which mounts them: files copied in are
// in the volume (the running container and another container mounting
// the volume see them), files copied out come from it. The container's
// symlinks in a volume (absolute, ../ out of it, to a host directory)
// resolve inside the volume: none reaches a host file or leaves it.
func TestCpStoppedVolume(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	img := cpImage(t)
	host, secretDir := t.TempDir(), t.TempDir()
	secret := secretDir + "/shadow"
	writeHostFile(t, secret, "host secret\n", 0)
	writeHostFile(t, host+"/in.txt", "copied in\n", 0)
	vol := "cp-vol"
	t.Cleanup(func() { berth(t, "", "volume", "rm", "-f", vol) })
	cpRun(t, "cp-vol", "-v", vol+":/data", "-v", "/anon", img)
	mustBerth(t, "exec", "cp-vol", "sh", "-c", "echo from volume > /data/f; echo anon > /anon/a; mkdir -p /data/sub; "+
		"ln -s "+secret+" /data/abs; ln -s ../../../../../../.."+secret+" /data/up; ln -s "+secretDir+" /data/hostdir")
	if r := berth(t, "", "stop", "-t", "1", "cp-vol"); r.code != 0 {
		t.Fatalf("stop: %+v", r)
	}
	before := mountsOf(t, "overlay")
	mustBerth(t, "cp", "cp-vol:/data/f", host+"/f")
	mustBerth(t, "cp", "cp-vol:/anon/a", host+"/a")
	mustBerth(t, "cp", "cp-vol:/data", host+"/datadir")
	mustBerth(t, "cp", host+"/in.txt", "cp-vol:/data/sub/")
	mustBerth(t, "cp", host+"/in.txt", "cp-vol:/anon")
	if hostRead(t, host+"/f") != "from volume\n" || hostRead(t, host+"/a") != "anon\n" || hostRead(t, host+"/datadir/f") != "from volume\n" {
		t.Errorf("copied out of the stopped container's volumes: wrong contents")
	}
	// The hostile links: reading through them finds nothing of the
	// host's, and writing through them writes nothing there.
	for _, link := range []string{"/data/abs", "/data/up"} {
		os.Remove(host + "/x")
		r := berth(t, "", "cp", "-L", "cp-vol:"+link, host+"/x")
		if b, err := os.ReadFile(host + "/x"); err == nil && string(b) == "host secret\n" {
			t.Errorf("cp -L %s read the host's file: %+v", link, r)
		}
	}
	berth(t, "", "cp", host+"/in.txt", "cp-vol:/data/hostdir/planted")
	berth(t, "", "cp", host+"/in.txt", "cp-vol:/data/abs")
	if got := hostRead(t, secret); got != "host secret\n" {
		t.Fatalf("the host's file was overwritten: %q", got)
	}
	if entries, _ := os.ReadDir(secretDir); len(entries) != 1 {
		t.Errorf("files appeared beside the host's secret: %v", entries)
	}
	if after := mountsOf(t, "overlay"); after > before {
		t.Errorf("cp left %d overlay mounts on the host", after-before)
	}
	// Another container mounting the volume sees the copy; the container
	// itself, started again, sees both.
	r := berth(t, "", "run", "--rm", "--network", "none", "-v", vol+":/v", "--rootfs", rootfsDir, "cat", "/v/sub/in.txt")
	if r.code != 0 || r.stdout != "copied in\n" {
		t.Errorf("the volume, from another container: %+v", r)
	}
	mustBerth(t, "start", "cp-vol")
	if got := mustBerth(t, "exec", "cp-vol", "cat", "/data/sub/in.txt", "/anon/in.txt"); got != "copied in\ncopied in\n" {
		t.Errorf("copied in while stopped, seen running: %q", got)
	}
}
