package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/checkpoint"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// needCriu skips a test where CRIU cannot checkpoint: missing, or (as
// Debian 12's 3.17.1 on kernel 6.18) failing its own `criu check`.
func needCriu(t *testing.T) {
	t.Helper()
	needRoot(t)
	if err := checkpoint.Check(""); err != nil {
		t.Skipf("CRIU cannot checkpoint on this host: %v", err)
	}
}

// counterScript prints 1, 2, 3... one number every 100 ms.
const counterScript = "i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done"

// sharedNet: the restore tests run without a network namespace of their
// own: CRIU 3.17.1 fails to dump one on the VM's kernel 6.1 ("Dumping
// netns links: -22 reported by netlink"), for runc too (tried there).
func sharedNet(s *specs.Spec) {
	var kept []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != specs.NetworkNamespace {
			kept = append(kept, ns)
		}
	}
	s.Linux.Namespaces = kept
}

// ociRunDetached runs a detached container whose stdout is a pipe the
// test reads, and returns the reader.
func ociRunDetached(t *testing.T, id, bundle string) *bufio.Reader {
	t.Helper()
	out := ociCreate(t, id, bundle)
	if r := oci(t, "start", id); r.code != 0 {
		t.Fatalf("start %s: %+v", id, r)
	}
	return out
}

// readNumber reads the next number the counter printed.
func readNumber(t *testing.T, r *bufio.Reader) int {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read the counter: %v (%q)", err, line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("the counter printed %q", line)
	}
	return n
}

// ociRestore restores id from images with stdout a new pipe, detached.
func ociRestore(t *testing.T, id, bundle, images string, extra ...string) *bufio.Reader {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--root", ociRoot, "restore", "--detach", "--bundle", bundle, "--image-path", images}, extra...)
	cmd := exec.Command(ociBin, append(args, id)...)
	errFile, _ := os.CreateTemp(t.TempDir(), "stderr")
	defer errFile.Close()
	cmd.Stdout, cmd.Stderr = pw, errFile
	err = cmd.Run()
	pw.Close()
	if err != nil {
		msg, _ := os.ReadFile(errFile.Name())
		log, _ := os.ReadFile(filepath.Join(images, "restore.log"))
		t.Fatalf("restore %s: %v: %s\nrestore.log tail:\n%s", id, err, msg, tail(string(log), 30))
	}
	t.Cleanup(func() {
		pr.Close()
		oci(t, "delete", "--force", id)
	})
	return bufio.NewReader(pr)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func ociCheckpoint(t *testing.T, id, images string, extra ...string) {
	t.Helper()
	r := oci(t, append(append([]string{"checkpoint", "--image-path", images}, extra...), id)...)
	if r.code != 0 {
		log, _ := os.ReadFile(filepath.Join(images, "dump.log"))
		t.Fatalf("checkpoint %s: %+v\ndump.log tail:\n%s", id, r, tail(string(log), 30))
	}
}

// TestCheckpointRestoreCounter: a counting container is checkpointed
// (and so stopped and deleted), restored under the same ID with a new
// stdout, and goes on counting from where it was; state, kill and delete
// work on the restored container.
func TestCheckpointRestoreCounter(t *testing.T) {
	needCriu(t)
	before := snapshot(t)
	bundle := ociBundle(t, []string{"sh", "-c", counterScript}, sharedNet)
	out := ociRunDetached(t, "cr-counter", bundle)
	var last int
	for last < 5 {
		last = readNumber(t, out)
	}
	images := filepath.Join(t.TempDir(), "images")
	ociCheckpoint(t, "cr-counter", images)
	if r := oci(t, "state", "cr-counter"); r.code == 0 {
		t.Fatalf("the container still exists after checkpoint: %s", r.stdout)
	}
	for _, f := range []string{"inventory.img", "descriptors.json", "dump.log"} {
		if _, err := os.Stat(filepath.Join(images, f)); err != nil {
			t.Errorf("image directory: %v", err)
		}
	}
	restored := ociRestore(t, "cr-counter", bundle, images)
	n := readNumber(t, restored)
	if n <= last || n > last+20 {
		t.Errorf("restored counter printed %d, last before the checkpoint %d: want it to go on", n, last)
	}
	if m := readNumber(t, restored); m != n+1 {
		t.Errorf("the restored counter printed %d after %d", m, n)
	}
	checkRestoredContainer(t, "cr-counter")
	checkNoLeaks(t, before)
}

// checkRestoredContainer: state says running with a live PID in the
// container's own cgroup; kill and delete end it.
func checkRestoredContainer(t *testing.T, id string) {
	t.Helper()
	st := ociState(t, id)
	if st.Status != specs.StateRunning || st.Pid <= 0 {
		t.Fatalf("restored state: %+v", st)
	}
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
	if !strings.Contains(string(cg), "/berth/"+id+"\n") {
		t.Errorf("restored PID %d is not in the cgroup /berth/%s:\n%s", st.Pid, id, cg)
	}
	if r := oci(t, "kill", id, "KILL"); r.code != 0 {
		t.Fatalf("kill: %+v", r)
	}
	waitStatus(t, id, specs.StateStopped)
	if r := oci(t, "delete", id); r.code != 0 {
		t.Fatalf("delete: %+v", r)
	}
}

// TestCheckpointRestoreNewID: --leave-running keeps the original, and a
// copy is restored beside it under another ID and cgroup.
func TestCheckpointRestoreNewID(t *testing.T) {
	needCriu(t)
	before := snapshot(t)
	bundle := ociBundle(t, []string{"sh", "-c", counterScript}, sharedNet)
	out := ociRunDetached(t, "cr-orig", bundle)
	last := readNumber(t, out)
	images := filepath.Join(t.TempDir(), "images")
	ociCheckpoint(t, "cr-orig", images, "--leave-running")
	if st := ociState(t, "cr-orig"); st.Status != specs.StateRunning {
		t.Fatalf("--leave-running: the original is %s", st.Status)
	}
	// Both are restored in the same root: the copy gets a root of its own.
	bundle2 := ociBundle(t, []string{"sh", "-c", counterScript}, sharedNet)
	restored := ociRestore(t, "cr-copy", bundle2, images)
	if n := readNumber(t, restored); n <= last {
		t.Errorf("the copy printed %d, the original had printed %d", n, last)
	}
	checkRestoredContainer(t, "cr-copy")
	if n := readNumber(t, out); n <= last {
		t.Errorf("the original stopped counting: %d", n)
	}
	if r := oci(t, "delete", "--force", "cr-orig"); r.code != 0 {
		t.Fatalf("delete the original: %+v", r)
	}
	checkNoLeaks(t, before)
}

// TestCheckpointErrors: what can be checked without CRIU working: each
// refusal is one line naming the problem, and leaves nothing behind.
func TestCheckpointErrors(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	images := filepath.Join(t.TempDir(), "images")
	check := func(name string, r result, want string) {
		t.Helper()
		if r.code == 0 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: want one error line with %q, got %+v", name, want, r)
		}
	}
	check("unknown container", oci(t, "checkpoint", "--image-path", images, "cr-nosuch"), "does not exist")
	bundle := ociBundle(t, []string{"sh", "-c", "exit 0"}, nil)
	ociCreate(t, "cr-created", bundle)
	check("created container", oci(t, "checkpoint", "--image-path", images, "cr-created"), "cannot be checkpointed")
	if _, err := os.Stat(images); err == nil {
		t.Errorf("a refused checkpoint created %s", images)
	}
	oci(t, "start", "cr-created")
	waitStatus(t, "cr-created", specs.StateStopped)
	check("stopped container", oci(t, "checkpoint", "--image-path", images, "cr-created"), "is stopped")
	oci(t, "delete", "cr-created")

	empty := t.TempDir()
	check("empty image dir", oci(t, "restore", "-d", "--bundle", bundle, "--image-path", empty, "cr-empty"), "no checkpoint image")
	check("missing image dir", oci(t, "restore", "-d", "--bundle", bundle, "--image-path", images, "cr-empty"), "no checkpoint image")
	check("bad cgroups mode", oci(t, "restore", "-d", "--bundle", bundle, "--image-path", empty, "--manage-cgroups-mode", "bogus", "cr-empty"), "invalid --manage-cgroups-mode")
	check("bad empty-ns", oci(t, "restore", "-d", "--bundle", bundle, "--image-path", empty, "--empty-ns", "pid", "cr-empty"), `--empty-ns "pid" is not supported`)
	os.WriteFile(filepath.Join(empty, "inventory.img"), nil, 0o600)
	os.WriteFile(filepath.Join(empty, "descriptors.json"), []byte(`[]`), 0o600)
	tty := ociBundle(t, []string{"sh"}, func(s *specs.Spec) { s.Process.Terminal = true })
	check("terminal", oci(t, "restore", "-d", "--bundle", tty, "--console-socket", filepath.Join(empty, "sock"), "--image-path", empty, "cr-empty"), "with a terminal is not supported")
	if r := oci(t, "state", "cr-empty"); r.code == 0 {
		t.Errorf("a failed restore left a container: %s", r.stdout)
	}
	checkNoLeaks(t, before)
}

// fakeCriu is a stand-in for criu(8) where the real one cannot run: it
// records its arguments and, for a restore, starts a process and writes
// its PID where CRIU would. It tests the command line berth asks of CRIU
// and that berth rebuilds its state from a restore, not CRIU itself.
const fakeCriu = `#!/bin/sh
echo "$@" >>"$FAKE_CRIU_LOG"
case $1 in
check) exit 0 ;;
dump|pre-dump) ;;
restore)
	while [ $# -gt 0 ]; do
		case $1 in --pidfile) pidfile=$2 ;; --cgroup-root) cgroot=$2 ;; --root) root=$2 ;; esac
		shift
	done
	# What the root holds when CRIU starts mounting: FAKE_CRIU_PROBE's paths.
	for p in $FAKE_CRIU_PROBE; do
		if [ -d "$root$p" ]; then echo "probe $p dir"; elif [ -f "$root$p" ]; then echo "probe $p file"; else echo "probe $p missing"; fi
	done >>"$FAKE_CRIU_LOG"
	sleep 1000 </dev/null >/dev/null 2>&1 &
	for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs; do
		d=$(dirname "$f")$cgroot
		[ -d "$d" ] && echo $! >"$d/cgroup.procs"
	done
	echo $! >"$pidfile" ;;
esac
`

// TestCheckpointCriuInvocation checks the CRIU command lines berth-oci
// builds from runc's flags, the image directory it writes, and that a
// restore rebuilds a container that state, kill and delete work on.
// It runs everywhere, with a stand-in for criu.
func TestCheckpointCriuInvocation(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	dir := t.TempDir()
	criu := filepath.Join(dir, "criu")
	if err := os.WriteFile(criu, []byte(fakeCriu), 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "criu.log")
	t.Setenv("FAKE_CRIU_LOG", logFile)
	bundle := ociBundle(t, []string{"sh", "-c", counterScript}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind"}})
	})
	ociRunDetached(t, "cr-fake", bundle)
	pid := ociState(t, "cr-fake").Pid
	images := filepath.Join(dir, "images")
	r := oci(t, "--criu", criu, "checkpoint", "--image-path", images, "--leave-running", "--tcp-established",
		"--ext-unix-sk", "--shell-job", "--file-locks", "--manage-cgroups-mode", "full", "--auto-dedup", "cr-fake")
	if r.code != 0 {
		t.Fatalf("checkpoint: %+v", r)
	}
	b, _ := os.ReadFile(logFile)
	dump := string(b)
	for _, want := range []string{
		"dump --tree " + strconv.Itoa(pid), "--images-dir " + images, "--log-file dump.log",
		"--manage-cgroups=full", "--tcp-established", "--ext-unix-sk", "--shell-job", "--file-locks",
		"--auto-dedup", "--empty-ns net", "--leave-running", "--freeze-cgroup ", "--external mnt[/data]:/data",
		"--root " + filepath.Join(bundle, "rootfs"),
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("criu dump lacks %q: %s", want, dump)
		}
	}
	desc, err := os.ReadFile(filepath.Join(images, "descriptors.json"))
	if err != nil || !strings.Contains(string(desc), "pipe:[") {
		t.Errorf("descriptors.json: %s %v", desc, err)
	}
	if st := ociState(t, "cr-fake"); st.Status != specs.StateRunning {
		t.Errorf("--leave-running: %s", st.Status)
	}
	// pre-dump into a parent, then a dump that names it.
	r = oci(t, "--criu", criu, "checkpoint", "--image-path", filepath.Join(images, "pre"), "--pre-dump", "cr-fake")
	if r.code != 0 || !strings.Contains(readFile(t, logFile), "pre-dump --tree") {
		t.Errorf("pre-dump: %+v", r)
	}
	r = oci(t, "--criu", criu, "checkpoint", "--image-path", images, "--parent-path", "pre", "--leave-running", "cr-fake")
	if r.code != 0 || !strings.Contains(readFile(t, logFile), "--prev-images-dir pre --track-mem") {
		t.Errorf("dump with --parent-path: %+v", r)
	}
	r = oci(t, "--criu", criu, "checkpoint", "--image-path", images, "--parent-path", "nosuch", "cr-fake")
	if r.code == 0 || !strings.Contains(r.stderr, "invalid --parent-path") {
		t.Errorf("a missing parent: %+v", r)
	}
	// Without --leave-running the checkpointed container is deleted.
	r = oci(t, "--criu", criu, "checkpoint", "--image-path", images, "cr-fake")
	if r.code != 0 {
		t.Fatalf("checkpoint: %+v", r)
	}
	if r := oci(t, "state", "cr-fake"); r.code == 0 {
		t.Errorf("the checkpointed container still exists: %s", r.stdout)
	}
	os.WriteFile(filepath.Join(images, "inventory.img"), nil, 0o600) // the stand-in wrote no images
	os.WriteFile(logFile, nil, 0o600)
	ociRestore(t, "cr-fake2", bundle, images, "--criu", criu, "--tcp-established", "--file-locks")
	restore := readFile(t, logFile)
	for _, want := range []string{
		"restore --images-dir " + images, "--log-file restore.log", "--restore-detached", "--restore-sibling",
		"--cgroup-root /berth/cr-fake2", "--external mnt[/data]:" + dir, ":pipe:[", "--inherit-fd fd[3]:",
		"--tcp-established", "--file-locks", "--empty-ns net",
	} {
		if !strings.Contains(restore, want) {
			t.Errorf("criu restore lacks %q: %s", want, restore)
		}
	}
	checkRestoredContainer(t, "cr-fake2")
	checkNoLeaks(t, before)
}

// TestCheckpointRestoreMakesMountpoints: a restore into a fresh root
// (podman's `restore --import`) finds the destinations of the config's
// mounts there before CRIU mounts them, as a start makes them: a file
// for a bound file, directories otherwise, nothing under a tmpfs whose
// contents CRIU restores. CRIU failed before with "Can't stat mountpoint
// .../run/.containerenv". It runs everywhere, with the stand-in criu.
func TestCheckpointRestoreMakesMountpoints(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	dir := t.TempDir()
	criu := filepath.Join(dir, "criu")
	if err := os.WriteFile(criu, []byte(fakeCriu), 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "criu.log")
	t.Setenv("FAKE_CRIU_LOG", logFile)
	envFile := filepath.Join(dir, "containerenv")
	if err := os.WriteFile(envFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mounts := func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/run/.containerenv", Type: "bind", Source: envFile, Options: []string{"bind"}},
			specs.Mount{Destination: "/data/deep", Type: "bind", Source: dir, Options: []string{"rbind"}},
			specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/scratch/sub", Type: "bind", Source: dir, Options: []string{"rbind"}})
	}
	ociRunDetached(t, "cr-mp", ociBundle(t, []string{"sh", "-c", counterScript}, mounts))
	images := filepath.Join(dir, "images")
	if r := oci(t, "--criu", criu, "checkpoint", "--image-path", images, "cr-mp"); r.code != 0 {
		t.Fatalf("checkpoint: %+v", r)
	}
	os.WriteFile(filepath.Join(images, "inventory.img"), nil, 0o600) // the stand-in wrote no images
	t.Setenv("FAKE_CRIU_PROBE", "/run/.containerenv /data/deep /scratch /scratch/sub")
	// The fresh root is hostile: /escape is a symlink to a host directory,
	// and the mountpoint /escape/x must be made inside the root.
	outside := filepath.Join(dir, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	fresh := ociBundle(t, []string{"sh", "-c", counterScript}, func(s *specs.Spec) {
		mounts(s)
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/escape/x", Type: "bind", Source: dir, Options: []string{"rbind"}})
	})
	if err := os.Symlink(outside, filepath.Join(fresh, "rootfs", "escape")); err != nil {
		t.Fatal(err)
	}
	// The same path exists inside the root, where the link leads there.
	if err := os.MkdirAll(filepath.Join(fresh, "rootfs", outside), 0o755); err != nil {
		t.Fatal(err)
	}
	ociRestore(t, "cr-mp2", fresh, images, "--criu", criu)
	restore := readFile(t, logFile)
	for _, want := range []string{"probe /run/.containerenv file", "probe /data/deep dir", "probe /scratch dir", "probe /scratch/sub missing"} {
		if !strings.Contains(restore, want) {
			t.Errorf("the restore root at CRIU's start: want %q, got:\n%s", want, restore)
		}
	}
	if _, err := os.Lstat(filepath.Join(outside, "x")); err == nil {
		t.Errorf("a mountpoint was made through the root's symlink on the host: %s", filepath.Join(outside, "x"))
	}
	if fi, err := os.Lstat(filepath.Join(fresh, "rootfs", outside, "x")); err != nil || !fi.IsDir() {
		t.Errorf("the mountpoint /escape/x is not in the root, where the symlink leads: %v", err)
	}
	checkRestoredContainer(t, "cr-mp2")
	checkNoLeaks(t, before)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCheckpointCriuBrokenHere: where `criu check` fails (this host's
// kernel 6.18 with CRIU 3.17.1), checkpoint fails with one line naming
// CRIU's error and leaves the container running.
func TestCheckpointCriuBrokenHere(t *testing.T) {
	needRoot(t)
	if checkpoint.Check("") == nil {
		t.Skip("CRIU works here: TestCheckpointRestoreCounter covers it")
	}
	bundle := ociBundle(t, []string{"sh", "-c", counterScript}, nil)
	ociRunDetached(t, "cr-broken", bundle)
	images := filepath.Join(t.TempDir(), "images")
	r := oci(t, "checkpoint", "--image-path", images, "cr-broken")
	if r.code == 0 || !strings.Contains(r.stderr, "criu dump failed") || !strings.Contains(r.stderr, "dump.log") {
		t.Errorf("checkpoint with a broken CRIU: %+v", r)
	}
	if st := ociState(t, "cr-broken"); st.Status != specs.StateRunning {
		t.Errorf("a failed checkpoint left the container %s", st.Status)
	}
	// A restore that CRIU fails leaves no record, cgroup or mount.
	before := snapshot(t)
	os.WriteFile(filepath.Join(images, "inventory.img"), nil, 0o600)
	os.WriteFile(filepath.Join(images, "descriptors.json"), []byte(`["/dev/null","pipe:[1]","pipe:[2]"]`), 0o600)
	r = oci(t, "restore", "-d", "--bundle", bundle, "--image-path", images, "cr-broken2")
	if r.code == 0 || !strings.Contains(r.stderr, "criu restore failed") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("restore with a broken CRIU: %+v", r)
	}
	if r := oci(t, "state", "cr-broken2"); r.code == 0 {
		t.Errorf("a failed restore left a container: %s", r.stdout)
	}
	checkNoLeaks(t, before)
}

// logNumbers are the numbers a counter container printed, from berth logs.
func logNumbers(t *testing.T, ref string) []int {
	t.Helper()
	r := berth(t, "", "logs", ref)
	var out []int
	for _, f := range strings.Fields(r.stdout) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// TestCheckpointBerthDetached: a detached berth container survives a
// checkpoint and restore, also through an exported tar.gz, and its log
// goes on from where it was.
func TestCheckpointBerthDetached(t *testing.T) {
	needCriu(t)
	before := snapshot(t)
	// --network host: CRIU 3.17.1 cannot dump a network namespace in the VM.
	r := berth(t, "", "run", "-d", "--name", "crb", "--network", "host", "--rootfs", rootfsDir, "/bin/sh", "-c", counterScript)
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "crb")
	eventually(t, "the counter logs", func() string {
		if n := logNumbers(t, "crb"); len(n) < 3 {
			return fmt.Sprintf("%d lines", len(n))
		}
		return ""
	})
	cycle := func(checkpointArgs, restoreArgs []string) {
		t.Helper()
		if r := berth(t, "", append(append([]string{"container", "checkpoint"}, checkpointArgs...), "crb")...); r.code != 0 {
			t.Fatalf("checkpoint: %+v", r)
		}
		if st := inspectState(t, "crb"); st.Status != "exited" {
			t.Fatalf("after checkpoint: %+v", st)
		}
		logged := logNumbers(t, "crb")
		last := logged[len(logged)-1]
		time.Sleep(300 * time.Millisecond)
		if n := logNumbers(t, "crb"); len(n) != len(logged) {
			t.Fatalf("the counter went on after the checkpoint: %d then %d lines", len(logged), len(n))
		}
		if r := berth(t, "", append(append([]string{"container", "restore"}, restoreArgs...), "crb")...); r.code != 0 {
			logs, _ := filepath.Glob(filepath.Join(storeRoot, "containers", "*", "checkpoint", "restore.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", l, tail(string(b), 40))
			}
			t.Fatalf("restore: %+v", r)
		}
		if st := inspectState(t, "crb"); st.Status != "running" {
			t.Fatalf("after restore: %+v", st)
		}
		eventually(t, "the restored counter logs", func() string {
			n := logNumbers(t, "crb")
			if len(n) < len(logged)+3 {
				return fmt.Sprintf("%d lines, %d before", len(n), len(logged))
			}
			if next := n[len(logged)]; next != last+1 {
				return fmt.Sprintf("after %d the restored counter printed %d", last, next)
			}
			return ""
		})
	}
	cycle(nil, nil)
	archive := filepath.Join(t.TempDir(), "crb.tar.gz")
	cycle([]string{"--export", archive}, []string{"--import", archive})
	if r := berth(t, "", "stop", "crb"); r.code != 0 {
		t.Errorf("stop the restored container: %+v", r)
	}
	berth(t, "", "rm", "-f", "crb")
	checkNoLeaks(t, before)
}

// TestCheckpointBerthErrors: refusals are one line, exit 125, and change
// nothing.
func TestCheckpointBerthErrors(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	r := berth(t, "", "run", "-d", "--name", "crbe", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "exit 0")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "crbe")
	eventually(t, "the container exits", func() string {
		if st := inspectState(t, "crbe"); st.Status != "exited" {
			return st.Status
		}
		return ""
	})
	r = berth(t, "", "run", "-d", "--rm", "--name", "crbrm", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", idle)
	if r.code != 0 {
		t.Fatalf("run -d --rm: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "crbrm")
	bogus := filepath.Join(t.TempDir(), "bogus.tar.gz")
	os.WriteFile(bogus, []byte("not a tarball"), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"container", "checkpoint", "crbe"}, "is not running"},
		{[]string{"container", "checkpoint", "nosuch"}, "nosuch"},
		{[]string{"container", "restore", "crbe"}, "no checkpoint image"},
		{[]string{"container", "restore", "--import", bogus, "crbe"}, "not a tar.gz"},
		{[]string{"container", "checkpoint", "crbrm"}, "was run with --rm"},
	} {
		r := berth(t, "", c.args...)
		if r.code != 125 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: want exit 125 and one line with %q, got %+v", c.args, c.want, r)
		}
	}
	if st := inspectState(t, "crbe"); st.Status != "exited" {
		t.Errorf("a refused restore left it %s", st.Status)
	}
	if st := inspectState(t, "crbrm"); st.Status != "running" {
		t.Errorf("a refused checkpoint left it %s", st.Status)
	}
	berth(t, "", "rm", "-f", "crbe", "crbrm")
	checkNoLeaks(t, before)
}

// TestCheckpointUsernsRefused: a container in a user namespace, root's
// --userns=auto or a rootless berth's, is refused a checkpoint in one line
// naming the user namespace; it keeps running, and no checkpoint
// directory is made.
func TestCheckpointUsernsRefused(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	img := usernsImage(t)
	r := berth(t, "", "run", "-d", "--name", "crus", "--network", "none", "--userns=auto", img, "/bin/sh", "-c", idle)
	if r.code != 0 {
		t.Fatalf("run -d --userns=auto: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "crus")
	r = berth(t, "", "container", "checkpoint", "crus")
	oneLine(t, "checkpoint --userns=auto", r, "runs in a user namespace (--userns=auto), which berth cannot checkpoint")
	if st := inspectState(t, "crus"); st.Status != "running" {
		t.Errorf("a refused checkpoint left it %s", st.Status)
	}
	if left, _ := filepath.Glob(filepath.Join(storeRoot, "containers", "*", "checkpoint")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	berth(t, "", "rm", "-f", "crus")

	u := newBareUser(t)
	rootfs := filepath.Join(u.home, "rootfs")
	if err := BuildBusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.uid, u.gid), rootfs).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	if r := u.berth(t, "run", "-d", "--name", "crus-rl", "--rootfs", rootfs, "sleep", "1000"); r.code != 0 {
		t.Fatalf("rootless run -d: %+v", r)
	}
	r = u.berth(t, "container", "checkpoint", "crus-rl")
	oneLine(t, "rootless checkpoint", r, "runs in a rootless berth's user namespace: checkpoint needs root")
	if r := u.berth(t, "inspect", "crus-rl"); !strings.Contains(r.stdout, `"Status": "running"`) {
		t.Errorf("a refused rootless checkpoint left it %+v", r)
	}
	if left, _ := filepath.Glob(filepath.Join(u.home, ".local", "share", "berth", "containers", "*", "checkpoint")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if r := u.berth(t, "rm", "-f", "crus-rl"); r.code != 0 {
		t.Errorf("rootless rm -f: %+v", r)
	}
	checkNoLeaks(t, before)
}
