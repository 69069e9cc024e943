package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestVolumesFrom: --volumes-from mounts another container's volumes
// (named and anonymous) and bind mounts at their destinations, not its
// tmpfs; :ro makes them read-only and a read-only bind stays so. The
// mounts are resolved at create: the other container may be removed,
// and its anonymous volume stays in use (volume rm refuses it, rm -v and
// prune keep it) while the new container exists.
func TestVolumesFrom(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	root := t.TempDir()
	b := func(args ...string) result { return berth(t, "", append([]string{"--root", root}, args...)...) }
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "f"), []byte("host\n"), 0o644)
	r := b("run", "--name", "src", "--network", "none", "--rootfs", rootfsDir, "-v", "named:/named", "-v", "/anon",
		"-v", host+":/h:ro", "--tmpfs", "/t", "/bin/sh", "-c", "echo n > /named/f; echo a > /anon/f")
	if r.code != 0 {
		t.Fatalf("src: %+v", r)
	}
	look := "cat /named/f /anon/f /h/f; grep -c ' /t ' /proc/mounts; touch /h/x 2>&1 | grep -c Read-only; echo w > /anon/w && echo wrote"
	r = b("run", "--rm", "--network", "none", "--rootfs", rootfsDir, "--volumes-from", "src", "/bin/sh", "-c", look)
	if r.code != 0 || r.stdout != "n\na\nhost\n0\n1\nwrote\n" {
		t.Errorf("--volumes-from src: %+v", r)
	}
	r = b("run", "--rm", "--network", "none", "--rootfs", rootfsDir, "--volumes-from", "src:ro", "/bin/sh", "-c", "cat /anon/w; touch /named/x /anon/x 2>&1 | grep -c Read-only")
	if r.code != 0 || r.stdout != "w\n2\n" {
		t.Errorf("--volumes-from src:ro: %+v", r)
	}
	// The --rm container above left src's anonymous volume alone.
	if names := volumeNames(t, root); len(names) != 2 {
		t.Fatalf("volumes after --rm containers: %q", names)
	}

	r = b("create", "--name", "user", "--network", "none", "--rootfs", rootfsDir, "--volumes-from", "src", "/bin/sh", "-c", "cat /anon/f /named/f")
	if r.code != 0 {
		t.Fatalf("create --volumes-from: %+v", r)
	}
	if r := b("rm", "-v", "src"); r.code != 0 {
		t.Fatalf("rm -v src: %+v", r)
	}
	if r := b("volume", "prune", "-f"); r.code != 0 || r.stdout != "" {
		t.Errorf("prune took volumes the new container uses: %+v", r)
	}
	names := volumeNames(t, root)
	if len(names) != 2 {
		t.Fatalf("volumes after src was removed: %q", names)
	}
	for _, n := range names {
		if r := b("volume", "rm", n); r.code == 0 || !strings.Contains(r.stderr, "in use by container user") {
			t.Errorf("volume rm %s while user exists: %+v", n, r)
		}
	}
	if r := b("start", "-a", "user"); r.code != 0 || r.stdout != "a\nn\n" {
		t.Errorf("start user after src was removed: %+v", r)
	}
	if r := b("rm", "user"); r.code != 0 {
		t.Fatalf("rm user: %+v", r)
	}
	if r := b("volume", "prune", "-a", "-f"); r.code != 0 || len(strings.Fields(r.stdout)) != 2 {
		t.Errorf("prune after both were removed: %+v", r)
	}

	// Bad input: one line, exit 125, nothing made.
	for v, want := range map[string]string{"nope": "no such container: nope", "src:rx": "use CONTAINER, CONTAINER:ro or CONTAINER:rw"} {
		r := b("run", "--rm", "--name", "bad", "--network", "none", "--rootfs", rootfsDir, "--volumes-from", v, "true")
		if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("--volumes-from %s: %+v", v, r)
		}
	}
	if r := b("ps", "-aq"); r.stdout != "" {
		t.Errorf("containers left: %q", r.stdout)
	}
	if names := volumeNames(t, root); len(names) != 0 {
		t.Errorf("volumes left: %q", names)
	}
	checkNoLeaks(t, before)
}

// TestRunMiscOptions: -h is the hostname on run and create; --platform
// takes the host's platform and refuses another in one line; the
// options berth does not have are refused in one line, nothing made.
func TestRunMiscOptions(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	run := func(args ...string) result {
		return berth(t, "", append(append([]string{"run", "--rm", "--network", "none"}, args...), "--rootfs", rootfsDir, "hostname")...)
	}
	if r := run("-h", "box"); r.code != 0 || r.stdout != "box\n" {
		t.Errorf("-h box: %+v", r)
	}
	for _, p := range []string{"linux/" + runtime.GOARCH, runtime.GOARCH, "linux"} {
		if r := run("--platform", p, "--hostname", "p"); r.code != 0 || r.stdout != "p\n" {
			t.Errorf("--platform %s: %+v", p, r)
		}
	}
	for args, want := range map[string]string{
		"--platform linux/riscv64":      "berth runs linux/" + runtime.GOARCH + " images on this host; --platform linux/riscv64 needs emulation berth does not provide",
		"--runtime runc":                "--runtime is not supported: berth is the runtime",
		"--storage-opt size=10G":        "--storage-opt is not supported",
		"--volume-driver nfs":           "--volume-driver nfs is not supported",
		"--disable-content-trust=false": "berth has no content trust",
		"-h":                            "flag needs an argument: 'h' in -h",
	} {
		r := berth(t, "", append([]string{"create", "--name", "refused", "--network", "none", "--rootfs", rootfsDir}, append(strings.Fields(args), "true")...)...)
		if args == "-h" {
			r = berth(t, "", "create", "-h")
		}
		if r.code != 125 || !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "\n") > 2 {
			t.Errorf("%s: %+v, want 125 and %q", args, r, want)
		}
	}
	if r := berth(t, "", "ps", "-a", "--filter", "name=refused", "-q"); r.stdout != "" {
		t.Errorf("a refused create left a container: %q", r.stdout)
	}
	checkNoLeaks(t, before)
}

// TestPullPlatform: pull --platform picks that platform's image from a
// multi-platform index; run refuses an image for another platform in one
// line and leaves nothing; the host's is run.
func TestPullPlatform(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	root := t.TempDir()
	reg := newTestRegistry(t)
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	index := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: platformImage(t, runtime.GOARCH), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
		mutate.IndexAddendum{Add: platformImage(t, other), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}})
	ref := reg.host + "/test/multi:1"
	tag, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, index); err != nil {
		t.Fatal(err)
	}
	b := func(args ...string) result { return berth(t, "", append([]string{"--root", root}, args...)...) }
	pullIn := func(args ...string) result {
		return pullRoot(t, root, append([]string{"--tls-verify=false"}, args...)...)
	}
	if r := pullIn("--platform", "linux/"+other, ref); r.code != 0 {
		t.Fatalf("pull --platform linux/%s: %+v", other, r)
	}
	if r := b("image", "inspect", ref); r.code != 0 || !strings.Contains(r.stdout, `"Architecture": "`+other+`"`) {
		t.Errorf("pull --platform linux/%s stored: %+v", other, r)
	}
	r := b("run", "--rm", "--name", "wrongarch", "--network", "none", "--pull", "never", ref)
	if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "is for linux/"+other+": berth runs linux/"+runtime.GOARCH+" images on this host") {
		t.Errorf("run of a linux/%s image: %+v", other, r)
	}
	if r := b("ps", "-aq"); r.stdout != "" {
		t.Errorf("the refused run left a container: %q", r.stdout)
	}
	// A bare architecture is the host's OS's, as Docker reads it.
	if r := pullIn("--platform", runtime.GOARCH, ref); r.code != 0 {
		t.Fatalf("pull --platform %s: %+v", runtime.GOARCH, r)
	}
	if r := b("run", "--rm", "--network", "none", "--pull", "never", ref); r.code != 0 || r.stdout != runtime.GOARCH+"\n" {
		t.Errorf("run of the host's image: %+v", r)
	}
	checkNoLeaks(t, before)
}

// platformImage is the suite's busybox for arch, whose command prints
// arch.
func platformImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, rootfsLayer(t))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Cmd = []string{"/bin/echo", arch}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// pullRoot is pull with another --root.
func pullRoot(t *testing.T, root string, args ...string) result {
	t.Helper()
	return pull(t, append([]string{"--root", root}, args...)...)
}

// TestDemoImageNoDangling: make demo's image step, run again and again,
// leaves one busybox image and no <none> one: an unchanged root
// filesystem is not imported again, and a changed one replaces the image
// the tag left (kept while a container uses it, as rmi refuses).
func TestDemoImageNoDangling(t *testing.T) {
	needRoot(t)
	script, err := filepath.Abs("../../scripts/demo-image.sh")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		t.Skipf("no scripts/demo-image.sh here (the VM's payload has none): %v", err)
	}
	root, rootfs := t.TempDir(), t.TempDir()
	if err := BuildBusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(t.TempDir(), "busybox.tar")
	demo := func() string {
		t.Helper()
		cmd := exec.Command(script, rootfs, tarPath)
		cmd.Env = append(os.Environ(), "BERTH="+berthBin+" --root "+root+" --runroot "+stateRoot)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("demo-image.sh: %v %s", err, out)
		}
		return string(out)
	}
	images := func() []string {
		t.Helper()
		r := berth(t, "", "--root", root, "images", "--format", "{{.Repository}}:{{.Tag}}")
		return strings.Fields(r.stdout)
	}
	demo()
	// mkrootfs.sh makes the files anew on every run: new times.
	now := time.Now()
	os.Chtimes(filepath.Join(rootfs, "etc/passwd"), now, now)
	if out := demo(); !strings.Contains(out, "up to date") {
		t.Errorf("second run imported again: %s", out)
	}
	if got := images(); len(got) != 1 || got[0] != "busybox:latest" {
		t.Errorf("images after two runs: %q", got)
	}
	// A changed root filesystem (a new busybox-static) is imported, and
	// the old image goes.
	os.WriteFile(filepath.Join(rootfs, "etc/motd"), []byte("new\n"), 0o644)
	demo()
	if got := images(); len(got) != 1 || got[0] != "busybox:latest" {
		t.Errorf("images after a change: %q", got)
	}
	if r := berth(t, "", "--root", root, "run", "--rm", "--network", "none", "busybox", "cat", "/etc/motd"); r.code != 0 || r.stdout != "new\n" {
		t.Errorf("the new image: %+v", r)
	}
}

// TestUlimitUnlimited: --ulimit nproc=-1 is unlimited inside, with and
// without a user namespace (whose init stage cannot raise a hard limit
// itself: berth sets the limits from outside, as runc). Where berth lacks
// CAP_SYS_RESOURCE (this project's test host withholds it from root) the
// kernel refuses any runtime a hard limit above its own: berth says so in
// one line, before anything is made.
func TestUlimitUnlimited(t *testing.T) {
	needRoot(t)
	keepSubidFiles(t)
	before := snapshot(t)
	script := "grep 'Max processes' /proc/self/limits"
	t.Logf("CAP_SYS_RESOURCE here: %v", hasCapSysResource(t))
	for _, flags := range [][]string{{}, {"--userns", "auto"}} {
		args := append(append([]string{"run", "--rm", "--network", "none", "--ulimit", "nproc=-1"}, flags...), "--rootfs", rootfsDir, "/bin/sh", "-c", script)
		r := berth(t, "", args...)
		if hasCapSysResource(t) {
			if f := strings.Fields(r.stdout); r.code != 0 || len(f) < 4 || f[2] != "unlimited" || f[3] != "unlimited" {
				t.Errorf("--ulimit nproc=-1 %q: %+v", flags, r)
			}
			continue
		}
		if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "raising it needs CAP_SYS_RESOURCE") {
			t.Errorf("--ulimit nproc=-1 %q without CAP_SYS_RESOURCE: %+v", flags, r)
		}
	}
	// Lowering works everywhere, in a user namespace too.
	r := berth(t, "", "run", "--rm", "--network", "none", "--userns", "auto", "--ulimit", "nproc=500:1000", "--rootfs", rootfsDir, "/bin/sh", "-c", script)
	if f := strings.Fields(r.stdout); r.code != 0 || len(f) < 4 || f[2] != "500" || f[3] != "1000" {
		t.Errorf("--ulimit nproc=500:1000 --userns auto: %+v", r)
	}
	checkNoLeaks(t, before)
}

// hasCapSysResource is whether this process holds CAP_SYS_RESOURCE.
func hasCapSysResource(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && n&(1<<24) != 0
		}
	}
	return false
}
