package integration

import (
	"archive/tar"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// volumeNames lists the volumes under --root (the suite's unless given).
func volumeNames(t *testing.T, root ...string) []string {
	t.Helper()
	args := []string{"volume", "ls", "-q"}
	if len(root) > 0 {
		args = append([]string{"--root", root[0]}, args...)
	}
	r := berth(t, "", args...)
	if r.code != 0 {
		t.Fatalf("volume ls: %+v", r)
	}
	return strings.Fields(r.stdout)
}

// runFails runs a container expected to fail with status code and
// returns its stderr.
func runFails(t *testing.T, code int, script string, flags ...string) string {
	t.Helper()
	r := berth(t, "", append(append([]string{"run", "--rm", "--network", "none", "--rootfs", rootfsDir}, flags...), "/bin/sh", "-c", script)...)
	if r.code != code {
		t.Fatalf("exit status %d, want %d: stdout %q stderr %q", r.code, code, r.stdout, r.stderr)
	}
	return r.stdout + r.stderr
}

func TestBindMount(t *testing.T) {
	needRoot(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "in"), []byte("from host\n"), 0o644)
	out := runIn(t, "cat /data/in; echo from container > /data/out", "--network", "none", "-v", host+":/data")
	if out != "from host\n" {
		t.Errorf("read %q through the bind", out)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "out")); string(b) != "from container\n" {
		t.Errorf("host sees %q", b)
	}

	// Read-only, by -v and by --mount: writing fails with EROFS.
	for _, flags := range [][]string{
		{"-v", host + ":/data:ro"},
		{"--mount", "type=bind,source=" + host + ",target=/data,readonly"},
	} {
		out := runFails(t, 1, "cat /data/in; echo x > /data/new", flags...)
		if !strings.Contains(out, "from host") || !strings.Contains(out, "Read-only file system") {
			t.Errorf("%q: %q, want the file read and EROFS on write", flags, out)
		}
	}
	if _, err := os.Stat(filepath.Join(host, "new")); err == nil {
		t.Error("a read-only bind was written")
	}

	// A single file, and -v creating a missing host directory, as docker.
	missing := filepath.Join(t.TempDir(), "a", "b")
	out = runIn(t, "cat /etc/in; touch /made/here", "--network", "none", "-v", filepath.Join(host, "in")+":/etc/in:ro", "-v", missing+":/made")
	if out != "from host\n" {
		t.Errorf("file bind: %q", out)
	}
	if _, err := os.Stat(filepath.Join(missing, "here")); err != nil {
		t.Errorf("-v did not create its host directory: %v", err)
	}
}

func TestNamedVolumeSurvivesContainer(t *testing.T) {
	needRoot(t)
	name := "it-data"
	t.Cleanup(func() { berth(t, "", "volume", "rm", "-f", name) })
	runIn(t, "echo kept > /data/f", "--network", "none", "-v", name+":/data")
	if !slices.Contains(volumeNames(t), name) {
		t.Fatalf("volume %s not listed after first use: %q", name, volumeNames(t))
	}
	if out := runIn(t, "cat /data/f", "--network", "none", "--mount", "type=volume,source="+name+",target=/data,readonly"); out != "kept\n" {
		t.Errorf("second container reads %q", out)
	}
	r := berth(t, "", "volume", "inspect", name)
	var info []struct{ Name, Mountpoint, CreatedAt string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &info) != nil || len(info) != 1 {
		t.Fatalf("volume inspect: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(info[0].Mountpoint, "f")); info[0].Name != name || info[0].CreatedAt == "" || string(b) != "kept\n" {
		t.Errorf("inspect %+v; mountpoint holds %q", info[0], b)
	}
}

func TestVolumeCommands(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	vol := func(args ...string) result {
		return berth(t, "", append([]string{"--root", root, "volume"}, args...)...)
	}
	if r := vol("create", "one"); r.code != 0 || r.stdout != "one\n" {
		t.Fatalf("create one: %+v", r)
	}
	if r := vol("create", "one"); r.code != 0 || r.stdout != "one\n" {
		t.Errorf("create of an existing volume: %+v", r)
	}
	r := vol("create")
	if anon := strings.TrimSpace(r.stdout); r.code != 0 || len(anon) != 64 {
		t.Fatalf("create without a name: %+v", r)
	}
	if r := vol("ls"); r.code != 0 || !strings.HasPrefix(r.stdout, "DRIVER") || !strings.Contains(r.stdout, "local") || !strings.Contains(r.stdout, "one") {
		t.Errorf("ls: %+v", r)
	}
	if r := vol("create", "bad/name"); r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "invalid volume name") {
		t.Errorf("create bad/name: %+v", r)
	}
	if r := vol("inspect", "nope"); r.code != 1 || !strings.Contains(r.stderr, "no such volume") || strings.TrimSpace(r.stdout) != "[]" { // docker: [] and status 1
		t.Errorf("inspect nope: %+v", r)
	}
	if r := vol("rm", "nope"); r.code != 1 || !strings.Contains(r.stderr, "no such volume") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("rm nope: %+v", r)
	}
	if r := vol("rm", "-f", "nope", "one"); r.code != 0 || r.stdout != "nope\none\n" {
		t.Errorf("rm -f nope one: %+v", r)
	}
	// As Docker 23: prune takes anonymous volumes only (volume create
	// without a name makes a named one, as Docker's), -a the named too.
	if r := vol("prune", "-f"); r.code != 0 || r.stdout != "" {
		t.Errorf("prune -f took a named volume: %+v", r)
	}
	if r := vol("prune", "-a", "-f"); r.code != 0 || len(strings.Fields(r.stdout)) != 1 {
		t.Errorf("prune -a -f: %+v", r)
	}
	if names := volumeNames(t, root); len(names) != 0 {
		t.Errorf("left after prune: %q", names)
	}
	// Without -f, prune asks; no answer is no.
	vol("create", "two")
	if r := vol("prune"); r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "[y/N]") {
		t.Errorf("prune without -f: %+v", r)
	}
	if r := berth(t, "y\n", "--root", root, "volume", "prune", "--all"); r.code != 0 || r.stdout != "two\n" || !strings.Contains(r.stderr, "all local volumes not used") {
		t.Errorf("prune answered y: %+v", r)
	}
}

func TestVolumeInUseNotRemoved(t *testing.T) {
	needRoot(t)
	name := "it-busy"
	t.Cleanup(func() { berth(t, "", "volume", "rm", "-f", name) })
	c := startContainer(t, idle, "--network", "none", "-v", name+":/data")
	r := berth(t, "", "volume", "rm", name)
	if r.code != 1 || !strings.Contains(r.stderr, "in use by container") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("rm of a volume in use: %+v", r)
	}
	if r := berth(t, "", "volume", "rm", "-f", name); r.code != 1 {
		t.Errorf("rm -f of a volume in use: %+v", r)
	}
	if r := berth(t, "", "volume", "prune", "-f"); r.code != 0 || strings.Contains(r.stdout, name) {
		t.Errorf("prune took a volume in use: %+v", r)
	}
	var info []struct{ UsedBy []string }
	r = berth(t, "", "volume", "inspect", name)
	if json.Unmarshal([]byte(r.stdout), &info); len(info) != 1 || len(info[0].UsedBy) != 1 {
		t.Errorf("inspect of a volume in use: %+v", r)
	}
	c.cmd.Process.Signal(os.Interrupt)
	c.wait(t)
	if r := berth(t, "", "volume", "rm", name); r.code != 0 || r.stdout != name+"\n" {
		t.Errorf("rm after the container exited: %+v", r)
	}
}

// TestVolumeKeptByStoppedContainer: as in docker, a volume that a
// container names is in use until the container is removed, running or
// not; its anonymous volume is its own across runs.
func TestVolumeKeptByStoppedContainer(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	b := func(args ...string) result { return berth(t, "", append([]string{"--root", root}, args...)...) }
	r := b("run", "--name", "keeper", "--network", "none", "--rootfs", rootfsDir, "-v", "kept:/data", "-v", "/anon",
		"/bin/sh", "-c", "cat /anon/f 2>/dev/null; echo run >> /anon/f")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("first run: %+v", r)
	}
	if names := volumeNames(t, root); len(names) != 2 || !slices.Contains(names, "kept") {
		t.Fatalf("volumes of a stopped container: %q", names)
	}
	if r := b("volume", "rm", "kept"); r.code != 1 || !strings.Contains(r.stderr, "in use by container keeper") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("rm of a volume a stopped container names: %+v", r)
	}
	if r := b("volume", "prune", "-f"); r.code != 0 || r.stdout != "" {
		t.Errorf("prune took the volumes of a stopped container: %+v", r)
	}
	if r := b("start", "keeper"); r.code != 0 {
		t.Fatalf("start keeper: %+v", r)
	}
	if r := b("wait", "keeper"); r.code != 0 || r.stdout != "0\n" {
		t.Fatalf("wait keeper: %+v", r)
	}
	if r := b("logs", "keeper"); r.stdout != "run\n" {
		t.Errorf("the second run did not find the first's anonymous volume: %+v", r)
	}
	if r := b("rm", "keeper"); r.code != 0 {
		t.Fatalf("rm keeper: %+v", r)
	}
	if r := b("volume", "prune", "-f"); r.code != 0 || len(strings.Fields(r.stdout)) != 1 || strings.Contains(r.stdout, "kept") {
		t.Errorf("prune after the container was removed: the anonymous volume goes, the named stays: %+v", r)
	}
	if r := b("volume", "prune", "-a", "-f"); r.code != 0 || r.stdout != "kept\n" {
		t.Errorf("prune -a: %+v", r)
	}
}

func TestVolumeReleasedWhenBerthKilled(t *testing.T) {
	needRoot(t)
	name := "it-killed"
	t.Cleanup(func() { berth(t, "", "volume", "rm", "-f", name) })
	before := volumeNames(t)
	c := startContainer(t, idle, "--network", "none", "-v", name+":/data", "-v", "/anon")
	if n := len(volumeNames(t)); n != len(before)+2 {
		t.Errorf("%d volumes while running, want %d", n, len(before)+2)
	}
	c.cmd.Process.Kill()
	c.wait(t)
	// The next run that mounts a volume collects the anonymous one.
	runIn(t, "true", "--network", "none", "-v", name+":/data")
	if after := volumeNames(t); len(after) != len(before)+1 || !slices.Contains(after, name) {
		t.Errorf("volumes after berth was killed and another run: %q (before %q)", after, before)
	}
	if r := berth(t, "", "volume", "rm", name); r.code != 0 {
		t.Errorf("rm after berth was killed: %+v", r)
	}
}

func TestAnonymousVolumeGoesWithContainer(t *testing.T) {
	needRoot(t)
	before := volumeNames(t)
	if out := runIn(t, "echo x > /scratch/f; cat /scratch/f", "--network", "none", "-v", "/scratch", "--mount", "type=volume,target=/other"); out != "x\n" {
		t.Errorf("anonymous volume: %q", out)
	}
	if after := volumeNames(t); !slices.Equal(after, before) {
		t.Errorf("anonymous volumes left: %q, before %q", after, before)
	}
}

func TestVolumeCopyUp(t *testing.T) {
	needRoot(t)
	t.Cleanup(func() { berth(t, "", "volume", "rm", "-f", "it-etc", "it-home", "it-nocopy") })
	// A new volume over a directory of the image gets its files...
	out := runIn(t, "grep ^app: /etc/passwd; stat -c %u:%g /home/app", "--network", "none", "-v", "it-etc:/etc", "-v", "it-home:/home/app")
	if out != "app:x:1000:1000:app:/home/app:/bin/sh\n1000:1000\n" {
		t.Errorf("copy-up: %q", out)
	}
	// ...once: an existing volume keeps its own content.
	runIn(t, "rm /etc/passwd", "--network", "none", "-v", "it-etc:/etc")
	if out := runIn(t, "ls /etc", "--network", "none", "-v", "it-etc:/etc"); strings.Contains(out, "passwd") {
		t.Errorf("an existing volume was filled again: %q", out)
	}
	if out := runIn(t, "ls -A /etc | wc -l", "--network", "none", "-v", "it-nocopy:/etc:nocopy"); strings.TrimSpace(out) != "0" {
		t.Errorf("nocopy volume has %s entries", out)
	}
	if _, err := os.Stat(filepath.Join(rootfsDir, "etc", "passwd")); err != nil {
		t.Errorf("the rootfs lost its /etc/passwd: %v", err)
	}
}

// TestVolumeCopyUpFromImage: a new volume gets the image's directory as
// its layers make it up (a later layer's whiteout deletes a file), with
// either storage driver.
func TestVolumeCopyUpFromImage(t *testing.T) {
	needRoot(t)
	reg := newTestRegistry(t)
	data := tarLayer(t, tarEntry{name: "srv/", typ: tar.TypeDir}, tarEntry{name: "srv/data/", typ: tar.TypeDir},
		tarEntry{name: "srv/data/keep", body: "k"}, tarEntry{name: "srv/data/gone", body: "g"})
	change := tarLayer(t, tarEntry{name: "srv/data/.wh.gone"}, tarEntry{name: "srv/data/new", body: "n"})
	img, err := mutate.AppendLayers(empty.Image, rootfsLayer(t), data, change)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := reg.push(t, "test/volume:1", img)
	if r := pull(t, "--tls-verify=false", ref); r.code != 0 {
		t.Fatalf("pull: %+v", r)
	}
	t.Cleanup(func() {
		berth(t, "", "volume", "rm", "-f", "it-img-overlay", "it-img-vfs")
		berth(t, "", "rmi", ref)
	})
	for _, driver := range []string{"overlay", "vfs"} {
		r := berth(t, "", "--storage-driver", driver, "run", "--rm", "--network", "none", "-v", "it-img-"+driver+":/srv/data", ref, "/bin/ls", "/srv/data")
		if r.code != 0 || r.stdout != "keep\nnew\n" {
			t.Errorf("%s: new volume over the image's /srv/data: %+v", driver, r)
		}
	}
}

func TestTmpfsMounts(t *testing.T) {
	needRoot(t)
	out := runIn(t, "grep -E ' /(t|m) ' /proc/mounts; touch /t/x /m/x; echo ok",
		"--network", "none", "--tmpfs", "/t:size=1m,mode=1770", "--mount", "type=tmpfs,target=/m,tmpfs-size=2m,tmpfs-mode=700")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[2] != "ok" {
		t.Fatalf("tmpfs mounts: %q", out)
	}
	// Newer kernels add options of their own (inode64): look for ours.
	for _, want := range [][]string{{"tmpfs /t tmpfs ", "rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1770"}, {"tmpfs /m tmpfs ", "rw,nosuid,nodev,noexec,relatime,size=2048k,mode=700"}} {
		if !slices.ContainsFunc(lines, func(l string) bool {
			return strings.HasPrefix(l, want[0]) && strings.HasPrefix(strings.TrimPrefix(l, want[0]), want[1])
		}) {
			t.Errorf("mounts %q, want %q", lines, want[0]+want[1])
		}
	}
	// The size is enforced.
	if out := runFails(t, 1, "dd if=/dev/zero of=/t/big bs=1k count=2048", "--tmpfs", "/t:size=1m"); !strings.Contains(out, "No space left") {
		t.Errorf("writing past the size: %q", out)
	}
}

func TestReadOnlyRoot(t *testing.T) {
	needRoot(t)
	out := runFails(t, 1, "touch /tmp/ok && echo tmp-ok; touch /etc/nope", "--read-only", "--tmpfs", "/tmp")
	if !strings.Contains(out, "tmp-ok") || !strings.Contains(out, "Read-only file system") {
		t.Errorf("--read-only with a tmpfs /tmp: %q", out)
	}
	if out := runFails(t, 1, "touch /tmp/nope", "--read-only"); !strings.Contains(out, "Read-only file system") {
		t.Errorf("--read-only without a tmpfs: %q", out)
	}
	// Volumes stay writable on a read-only root.
	host := t.TempDir()
	runIn(t, "touch /data/ok", "--network", "none", "--read-only", "-v", host+":/data")
	if _, err := os.Stat(filepath.Join(host, "ok")); err != nil {
		t.Errorf("bind on a read-only root not writable: %v", err)
	}
}

func TestMountBadInputLeavesNothing(t *testing.T) {
	needRoot(t)
	missing := filepath.Join(t.TempDir(), "not", "there")
	host := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"relative -v source", []string{"-v", "data/x:/data"}, "neither an absolute host path nor a volume name"}, // ./data is a host directory, as in docker
		{"relative -v target", []string{"-v", "it-bad1:data"}, "must be absolute"},
		{"-v mode", []string{"-v", "it-bad2:/data:rx"}, `unknown option "rx"`},
		{"-v on /", []string{"-v", host + ":/"}, "cannot be /"},
		{"duplicate target", []string{"-v", "it-bad3:/data", "--tmpfs", "/data"}, "both mount on /data"},
		{"--mount bind missing", []string{"-v", "it-bad4:/v", "--mount", "type=bind,source=" + missing + ",target=/data"}, "does not exist"},
		{"--mount unknown field", []string{"--mount", "type=bind,src=/tmp,dst=/x,colour=red"}, `unknown field "colour"`},
		{"--mount bad name", []string{"--mount", "type=volume,src=a/b,dst=/x"}, "not a volume name"},
		{"--tmpfs size", []string{"--tmpfs", "/t:size=lots"}, "tmpfs size"},
		{"--tmpfs option", []string{"--tmpfs", "/t:upperdir=/x"}, "unknown tmpfs option"},
		// Refused after the volumes and -v directories were made: they go.
		{"bad memory after volume", []string{"-v", "it-bad5:/data", "-v", "/anon", "-v", missing + ":/m", "--memory", "lots"}, "invalid --memory"},
		{"bad user after volume", []string{"-v", "it-bad6:/etc", "--user", "nosuchuser"}, "unable to find user"},
	}
	before := snapshot(t)
	volumes := volumeNames(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := berth(t, "", append(append([]string{"run", "--rm", "--network", "none", "--rootfs", rootfsDir}, c.args...), "true")...)
			if r.code != 125 {
				t.Errorf("exit status %d, want 125", r.code)
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "berth: ") || !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr %q: want one line naming %q", r.stderr, c.want)
			}
		})
	}
	// A missing rootfs is reported as such, not as a failed copy-up.
	r := berth(t, "", "run", "--rm", "--network", "none", "--rootfs", missing, "-v", "it-bad7:/data", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "does not exist") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("missing rootfs with a volume: %+v", r)
	}
	if after := volumeNames(t); !slices.Equal(after, volumes) {
		t.Errorf("volumes left behind: %q, before %q", after, volumes)
	}
	if _, err := os.Stat(filepath.Dir(filepath.Dir(missing))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(missing)); err == nil {
		t.Errorf("-v host directory %s left behind", filepath.Dir(missing))
	}
	checkNoLeaks(t, before)
}
