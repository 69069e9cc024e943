package integration

// Hostile /proc and /dev under berth-oci: the runc CVE classes of November
// 2025 (CVE-2025-31133, CVE-2025-52565, CVE-2025-52881). Each test plants
// what an attacker with a racing container on a shared mount, a hostile
// image or a hostile config could plant, and checks that berth's own
// writes and mounts still reach the real procfs, the real /dev/null and the
// container's own devpts, or that the container is refused with a clear
// error. A createContainer hook, which runs in the container's mount
// namespace after berth's mounts and before pivot_root, stands in for the
// racing container: it makes the race deterministic.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// outsideDir is a host directory the container gets at /outside, holding
// files the attacks try to reach. Every file starts as "untouched".
func outsideDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("untouched\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkUntouched fails the test for every file of dir that no longer
// says "untouched": something wrote to the host through the container.
func checkUntouched(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || string(b) != "untouched\n" {
			t.Errorf("host file %s was written through the container: %q %v", n, b, err)
		}
	}
}

// plantHook is a createContainer hook running script with $R set to the
// container's root filesystem (before pivot_root).
func plantHook(bundle, script string) specs.Hook {
	return specs.Hook{
		Path: "/bin/sh",
		Args: []string{"sh", "-c", "set -e; R=" + filepath.Join(bundle, "rootfs") + "; " + script},
		Env:  []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
	}
}

func bindOutside(dir string) specs.Mount {
	return specs.Mount{Destination: "/outside", Type: "bind", Source: dir, Options: []string{"rbind", "rw"}}
}

// hostileBundle is ociBundle with a hook that gets the bundle's path.
func hostileBundle(t *testing.T, args []string, hook string, edit func(*specs.Spec)) string {
	t.Helper()
	var bundle string
	bundle = ociBundle(t, args, func(s *specs.Spec) {
		if edit != nil {
			edit(s)
		}
	})
	if hook != "" {
		editConfig(bundle, func(s *specs.Spec) {
			if s.Hooks == nil {
				s.Hooks = &specs.Hooks{}
			}
			s.Hooks.CreateContainer = append(s.Hooks.CreateContainer, plantHook(bundle, hook))
		})
	}
	return bundle
}

// ociTimeout is oci with a deadline, for commands that a successful attack
// could make hang.
func ociTimeout(t *testing.T, d time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, ociBin, append([]string{"--root", ociRoot}, args...)...)
	dir := t.TempDir()
	outFile, _ := os.Create(filepath.Join(dir, "stdout"))
	errFile, _ := os.Create(filepath.Join(dir, "stderr"))
	cmd.Stdout, cmd.Stderr = outFile, errFile
	err := cmd.Run()
	outFile.Close()
	errFile.Close()
	out, _ := os.ReadFile(outFile.Name())
	errb, _ := os.ReadFile(errFile.Name())
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("berth-oci %v hung for %v", args, d)
	}
	return result{string(out), string(errb), code}
}

// fakeProc is a hook script that covers the container's /proc with a
// tmpfs: /proc/sys/kernel/shmmni and /proc/self/oom_score_adj are
// symlinks to host files under /outside, and /proc/self/fd/N is, by fd:
// "real", a symlink into a real procfs mounted at /realproc (so that
// only the writes are redirected); "empty", an empty regular file; any
// other string, a symlink to that path.
func fakeProc(fd string) string {
	var fds string
	switch fd {
	case "real":
		fds = `mkdir -p "$R/realproc"; mount -t proc proc "$R/realproc"; ln -s /realproc/self/fd "$R/proc/self/fd"`
	case "empty":
		fds = `mkdir "$R/proc/self/fd"; i=0; while [ $i -lt 64 ]; do : > "$R/proc/self/fd/$i"; i=$((i+1)); done`
	default:
		fds = `mkdir "$R/proc/self/fd"; i=0; while [ $i -lt 64 ]; do ln -s ` + fd + ` "$R/proc/self/fd/$i"; i=$((i+1)); done`
	}
	return `mount -t tmpfs fakeproc "$R/proc"; mkdir -p "$R/proc/sys/kernel" "$R/proc/self";
		ln -s /outside/sysctl "$R/proc/sys/kernel/shmmni"; ln -s /outside/oom "$R/proc/self/oom_score_adj"; ` + fds
}

// TestOCIProcWritesIgnoreFakeProc covers /proc with a tmpfs whose sysctl
// and oom_score_adj entries lead to host files (CVE-2025-52881's
// redirected writes): berth's sysctl and oom_score_adj writes, at create
// and at exec, must reach the real procfs, and no host file may change.
func TestOCIProcWritesIgnoreFakeProc(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	out := outsideDir(t, "sysctl", "oom")
	adj := 123
	bundle := hostileBundle(t, []string{"sleep", "1000"}, fakeProc("real"), func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindOutside(out))
		s.Linux.Sysctl = map[string]string{"kernel.shmmni": "1234"}
		s.Process.OOMScoreAdj = &adj
	})
	t.Cleanup(func() {
		oci(t, "delete", "--force", "fakeproc")
		checkNoLeaks(t, before)
	})
	if r := ociTimeout(t, 20*time.Second, "run", "--detach", "--bundle", bundle, "fakeproc"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	checkUntouched(t, out, "sysctl", "oom")
	pid := ociState(t, "fakeproc").Pid
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid)); strings.TrimSpace(string(b)) != "123" {
		t.Errorf("the container's oom_score_adj is %q, want 123", b)
	}
	// /proc/sys/kernel/shmmni shows the reader's IPC namespace.
	got, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "--ipc", "cat", "/proc/sys/kernel/shmmni").Output()
	if err != nil || strings.TrimSpace(string(got)) != "1234" {
		t.Errorf("the container's kernel.shmmni is %q (%v), want 1234", got, err)
	}
	// berth-oci exec sets oom_score_adj in the running container, whose
	// /proc is still the fake.
	dir := t.TempDir()
	adj = 200
	writeConfig(t, dir, specs.Process{Args: []string{"sleep", "1000"}, Cwd: "/", OOMScoreAdj: &adj, Env: []string{"PATH=/bin"}})
	pidFile := filepath.Join(dir, "pid")
	if r := ociTimeout(t, 20*time.Second, "exec", "--detach", "--pid-file", pidFile, "--process", filepath.Join(dir, "config.json"), "fakeproc"); r.code != 0 {
		t.Fatalf("exec: %+v", r)
	}
	b, _ := os.ReadFile(pidFile)
	if got, _ := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/oom_score_adj"); strings.TrimSpace(string(got)) != "200" {
		t.Errorf("the exec'd process's oom_score_adj is %q, want 200", got)
	}
	checkUntouched(t, out, "sysctl", "oom")
}

// TestOCIExecFifoIgnoresFakeProc makes every /proc/self/fd/N of a fake
// /proc an empty file: the exec FIFO, reopened through it, would read end
// of file at once and let the program run before start.
func TestOCIExecFifoIgnoresFakeProc(t *testing.T) {
	needRoot(t)
	out := outsideDir(t, "sysctl", "oom")
	bundle := hostileBundle(t, []string{"sh", "-c", "echo started > /outside/started; exec sleep 1000"}, fakeProc("empty"), func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindOutside(out))
	})
	t.Cleanup(func() { oci(t, "delete", "--force", "fakefifo") })
	if r := ociTimeout(t, 20*time.Second, "create", "--bundle", bundle, "fakefifo"); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	started := func(wait time.Duration) bool {
		for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(out, "started")); err == nil {
				return true
			}
			if time.Now().After(deadline) {
				return false
			}
		}
	}
	if started(time.Second) {
		t.Fatal("the program ran before start: the exec FIFO was reopened through the container's /proc")
	}
	if r := ociTimeout(t, 20*time.Second, "start", "fakefifo"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	if !started(10 * time.Second) {
		t.Fatal("the program never ran after start")
	}
}

// consoleSocket listens on a unix socket for the pty master berth-oci
// sends, as an engine does.
func consoleSocket(t *testing.T) (string, chan *os.File) {
	t.Helper()
	sockPath := filepath.Join(t.TempDir(), "console.sock")
	lfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(lfd) })
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: sockPath}); err != nil {
		t.Fatal(err)
	}
	unix.Listen(lfd, 1)
	masterc := make(chan *os.File, 1)
	go func() {
		cfd, _, err := unix.Accept(lfd)
		if err != nil {
			masterc <- nil
			return
		}
		defer unix.Close(cfd)
		buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := unix.Recvmsg(cfd, buf, oob, 0)
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			masterc <- nil
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			masterc <- nil
			return
		}
		masterc <- os.NewFile(uintptr(fds[0]), "master")
	}()
	return sockPath, masterc
}

// terminalRun runs a terminal:true container with `berth-oci run` and
// returns what it wrote to its terminal (up to the line "done"), or how
// the run failed. run has no exec FIFO: the terminal is tested alone.
func terminalRun(t *testing.T, id, bundle string) (string, result) {
	t.Helper()
	t.Cleanup(func() { oci(t, "delete", "--force", id) })
	return onTerminal(t, func(sock string) []string {
		return []string{"run", "--bundle", bundle, "--console-socket", sock, id}
	})
}

// onTerminal runs berth-oci with the arguments args gives for a console
// socket, and returns what the process wrote to its terminal up to the
// line "done", or how berth-oci failed.
func onTerminal(t *testing.T, args func(sock string) []string) (string, result) {
	t.Helper()
	sock, masterc := consoleSocket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ociBin, append([]string{"--root", ociRoot}, args(sock)...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan result, 1)
	go func() {
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		exited <- result{"", stderr.String(), code}
	}()
	var master *os.File
	select {
	case master = <-masterc:
	case r := <-exited:
		return "", r
	case <-time.After(20 * time.Second):
		t.Fatal("no pty master arrived on the console socket")
	}
	if master == nil {
		t.Fatal("no pty master arrived on the console socket")
	}
	defer master.Close()
	var out strings.Builder
	br := bufio.NewReader(master)
	for {
		line, err := br.ReadString('\n')
		out.WriteString(line)
		if err != nil || strings.TrimSpace(line) == "done" {
			break
		}
	}
	r := <-exited
	if ctx.Err() != nil {
		t.Fatal("berth-oci run with a terminal hung")
	}
	return strings.ReplaceAll(out.String(), "\r", ""), r
}

// TestOCIConsoleIgnoresFakeProc makes every /proc/self/fd/N of a fake
// /proc a symlink to a host file: the pty slave bind-mounted on
// /dev/console must still be the pty (CVE-2025-52565), not the host file.
func TestOCIConsoleIgnoresFakeProc(t *testing.T) {
	needRoot(t)
	out := outsideDir(t, "secret", "sysctl", "oom")
	script := `stat -c 'console %F %t' /dev/console; echo to-console > /dev/console; echo done`
	bundle := hostileBundle(t, []string{"sh", "-c", script}, fakeProc("/outside/secret"), func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Mounts = append(s.Mounts, bindOutside(out))
	})
	got, r := terminalRun(t, "fakeconsole", bundle)
	if r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	// 0x88 is 136, the first pty slave major.
	if !strings.Contains(got, "console character special file 88") || !strings.Contains(got, "to-console") {
		t.Errorf("/dev/console is not the container's pty:\n%s", got)
	}
	checkUntouched(t, out, "secret")
}

// TestOCIMaskedPathsNeedRealDevNull gives masking a /dev/null that is not
// the null device (CVE-2025-31133): a symlink to a host file, a regular
// file, a FIFO from the config's devices. Masking must not mount it over
// the masked paths: the container is refused with an error that names
// /dev/null, and the host file keeps its content.
func TestOCIMaskedPathsNeedRealDevNull(t *testing.T) {
	needRoot(t)
	script := `cat /proc/timer_list; [ -p /proc/kcore ] && echo kcore-is-a-fifo; echo pwned > /proc/timer_list; echo ran`
	cases := []struct {
		name string
		hook string
		edit func(*specs.Spec)
	}{
		{"symlink to a host file", `rm "$R/dev/null"; ln -s /outside/secret "$R/dev/null"`, nil},
		{"regular file", `rm "$R/dev/null"; echo planted > "$R/dev/null"`, nil},
		{"fifo from the config", "", func(s *specs.Spec) {
			s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/null", Type: "p"})
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := outsideDir(t, "secret")
			bundle := hostileBundle(t, []string{"sh", "-c", script}, c.hook, func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, bindOutside(out))
				if c.edit != nil {
					c.edit(s)
				}
			})
			id := fmt.Sprintf("devnull%d", i)
			t.Cleanup(func() { oci(t, "delete", "--force", id) })
			r := ociTimeout(t, 20*time.Second, "run", "--bundle", bundle, id)
			if r.code == 0 || strings.Contains(r.stdout, "ran") {
				t.Errorf("the container ran with a fake /dev/null behind its masked paths: %+v", r)
			}
			if !strings.Contains(r.stderr, "/dev/null") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("want one line naming /dev/null, got %q", r.stderr)
			}
			checkUntouched(t, out, "secret")
			t.Logf("refused: %s", r.stderr)
		})
	}
}

// TestOCITerminalFromOwnDevpts attacks the container's pty: /dev/ptmx
// pointed at another devpts instance (the host's, bound into the rootfs),
// the config's devpts covered by a tmpfs holding a FIFO called ptmx, and,
// in a config that mounts no devpts, /dev/pts/ptmx that is such a FIFO.
// The terminal must come from the devpts the config mounted, or the
// container is refused with an error that names ptmx and devpts.
func TestOCITerminalFromOwnDevpts(t *testing.T) {
	needRoot(t)
	// 0x88 is 136, the first pty slave major.
	script := "tty; stat -L -c 'major %t' /proc/self/fd/0; echo done"
	t.Run("ptmx symlink to another devpts", func(t *testing.T) {
		hook := `mkdir -p "$R/otherpts"; mount --bind /dev/pts "$R/otherpts"; rm "$R/dev/ptmx"; ln -s /otherpts/ptmx "$R/dev/ptmx"`
		bundle := hostileBundle(t, []string{"sh", "-c", script}, hook, func(s *specs.Spec) { s.Process.Terminal = true })
		got, r := terminalRun(t, "otherpts", bundle)
		if r.code != 0 {
			t.Fatalf("run: %+v", r)
		}
		if !strings.HasPrefix(got, "/dev/pts/0\nmajor 88\n") {
			t.Errorf("the container's terminal is not from its own devpts: %q", got)
		}
	})
	t.Run("devpts covered", func(t *testing.T) {
		hook := `mount -t tmpfs fakepts "$R/dev/pts"; mkfifo "$R/dev/pts/ptmx"`
		bundle := hostileBundle(t, []string{"sh", "-c", script}, hook, func(s *specs.Spec) { s.Process.Terminal = true })
		got, r := terminalRun(t, "coveredpts", bundle)
		if r.code != 0 {
			t.Fatalf("run: %+v", r)
		}
		// tty finds no /dev/pts/0 under the tmpfs: the pty shows as
		// /dev/console, its bind mount.
		if !strings.Contains(got, "\nmajor 88\n") {
			t.Errorf("the container's terminal is not from its own devpts: %q", got)
		}
	})
	t.Run("ptmx not on devpts", func(t *testing.T) {
		hook := `mkdir -p "$R/dev/pts"; mkfifo "$R/dev/pts/ptmx"`
		bundle := hostileBundle(t, []string{"sh", "-c", script}, hook, func(s *specs.Spec) {
			s.Process.Terminal = true
			var mounts []specs.Mount
			for _, m := range s.Mounts {
				if m.Destination != "/dev/pts" {
					mounts = append(mounts, m)
				}
			}
			s.Mounts = mounts
		})
		_, r := terminalRun(t, "fakepts", bundle)
		if r.code == 0 || !strings.Contains(r.stderr, "ptmx") || !strings.Contains(r.stderr, "devpts") {
			t.Errorf("want the container refused with an error naming ptmx and devpts, got %+v", r)
		}
		t.Logf("refused: %s", r.stderr)
	})
	t.Run("exec with a terminal", func(t *testing.T) {
		// berth-oci exec --tty joins the running container and opens its
		// /dev/pts/ptmx, which must be a devpts ptmx.
		bundle := ociBundle(t, []string{"sleep", "1000"}, nil)
		t.Cleanup(func() { oci(t, "delete", "--force", "exectty") })
		if r := oci(t, "run", "--detach", "--bundle", bundle, "exectty"); r.code != 0 {
			t.Fatalf("run: %+v", r)
		}
		got, r := onTerminal(t, func(sock string) []string {
			return []string{"exec", "--tty", "--console-socket", sock, "exectty", "sh", "-c", script}
		})
		if r.code != 0 || !strings.HasPrefix(got, "/dev/pts/0\nmajor 88\n") {
			t.Errorf("exec --tty: %q %+v", got, r)
		}
	})
}

// TestOCIFakeCapLastCap runs an image whose own /proc (the config mounts
// none) says the kernel's last capability is 0. The bounding set must
// still be cut to the config's capabilities: without no_new_privs (what
// Kubernetes' allowPrivilegeEscalation, true by default, gives), a root
// process whose bounding set stays full gets every capability at exec.
func TestOCIFakeCapLastCap(t *testing.T) {
	needRoot(t)
	script := `if hostname changed 2>/dev/null; then echo has-cap-sys-admin; else echo contained; fi`
	bundle := ociBundle(t, []string{"sh", "-c", script}, func(s *specs.Spec) {
		var mounts []specs.Mount
		for _, m := range s.Mounts {
			if m.Destination != "/proc" {
				mounts = append(mounts, m)
			}
		}
		s.Mounts = mounts
		s.Process.NoNewPrivileges = false
	})
	kernel := filepath.Join(bundle, "rootfs/proc/sys/kernel")
	if err := os.MkdirAll(kernel, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(kernel, "cap_last_cap"), []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { oci(t, "delete", "--force", "caplast") })
	r := ociTimeout(t, 20*time.Second, "run", "--bundle", bundle, "caplast")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "contained" {
		t.Errorf("container with a fake cap_last_cap: %+v", r)
	}
}
