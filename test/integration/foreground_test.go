package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunDetachKeys: berth run -it is detached with ctrl-p ctrl-q (and
// --detach-keys); the container goes on, berth attach reattaches, and
// its terminal's output is in its log. Without detaching, berth returns
// the container's status.
func TestRunDetachKeys(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	defer checkNoLeaks(t, before)
	name := fmt.Sprintf("fg-it-%d", os.Getpid())
	defer berth(t, "", "rm", "-f", name)
	r := runPTY(t, func(master *os.File, p *os.Process, out *syncBuffer) {
		out.waitFor(t, "ready")
		master.Write([]byte("echo first-$((2*3))\r"))
		out.waitFor(t, "first-6")
		master.Write([]byte("\x10\x11"))
		notDetached(p)
	}, "run", "-it", "--name", name, "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "stty size; echo ready; exec sh")
	if r.code != 0 || !strings.Contains(r.output, "33 111") {
		t.Fatalf("run -it, detached: status %d:\n%s", r.code, r.output)
	}
	if st := inspectState(t, name); st.Status != "running" {
		t.Fatalf("after detaching: %+v", st)
	}
	if r := berth(t, "echo second\nexit 4\n", "attach", name); r.code != 4 || !strings.Contains(r.stdout, "second") {
		t.Errorf("attach after run -it: %+v", r)
	}
	if r := berth(t, "", "logs", name); !strings.Contains(r.stdout, "first-6") || !strings.Contains(r.stdout, "second") {
		t.Errorf("logs of a run -it container: %+v", r)
	}
	// Other keys; a run that is not detached returns the status.
	r = runPTY(t, func(master *os.File, p *os.Process, out *syncBuffer) {
		out.waitFor(t, "ready")
		master.Write([]byte("\x10\x11")) // not the keys now: sent on
		master.Write([]byte("\x18x"))
		notDetached(p)
	}, "run", "-it", "--detach-keys", "ctrl-x,x", "--name", name+"-x", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "echo ready; exec sh")
	defer berth(t, "", "rm", "-f", name+"-x")
	if r.code != 0 {
		t.Fatalf("run -it --detach-keys: %d\n%s", r.code, r.output)
	}
	if r := berth(t, "exit 6\n", "attach", name+"-x"); r.code != 6 {
		t.Errorf("attach: %+v", r)
	}
	r = runPTY(t, func(master *os.File, _ *os.Process, out *syncBuffer) {
		out.waitFor(t, "ready")
		master.Write([]byte("exit 9\r"))
	}, "run", "-it", "--rm", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "echo ready; exec sh")
	if r.code != 9 {
		t.Errorf("run -it until the shell exits: %d\n%s", r.code, r.output)
	}
	if r := berth(t, "", "run", "--rm", "--detach-keys", "ctrl-", "--rootfs", rootfsDir, "true"); r.code != 125 || !strings.Contains(r.stderr, "detach-keys") {
		t.Errorf("bad --detach-keys: %+v", r)
	}
}

// notDetached kills berth if the detach keys did not end it: the test
// then fails on its status instead of waiting for ever.
func notDetached(p *os.Process) {
	time.AfterFunc(20*time.Second, func() { p.Kill() })
}

// TestRunRestartForeground: --restart in the foreground restarts the
// container after berth returned its first status.
func TestRunRestartForeground(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	defer checkNoLeaks(t, before)
	name := fmt.Sprintf("fg-restart-%d", os.Getpid())
	defer berth(t, "", "rm", "-f", name)
	r := berth(t, "", "run", "--name", name, "--restart", "on-failure:2", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "echo attempt; echo to-stderr >&2; exit 3")
	if r.code != 3 || r.stdout != "attempt\n" || r.stderr != "to-stderr\n" {
		t.Fatalf("run --restart on-failure:2 in the foreground: %+v", r)
	}
	if r := berth(t, "", "wait", name); strings.TrimSpace(r.stdout) != "3" {
		t.Errorf("wait: %+v", r)
	}
	eventually(t, "the restart policy", func() string {
		if st := inspectState(t, name); st.Status != "exited" || st.RestartCount != 2 {
			return fmt.Sprintf("%+v", st)
		}
		return ""
	})
	if r := berth(t, "", "logs", name); strings.Count(r.stdout, "attempt") != 3 {
		t.Errorf("logs of three runs: %+v", r)
	}
}

// TestForegroundLogs: a container run in the foreground, in berth's own
// process, has its log while it runs and after, stdout and stderr apart.
func TestForegroundLogs(t *testing.T) {
	needRoot(t)
	name := fmt.Sprintf("fg-logs-%d", os.Getpid())
	defer berth(t, "", "rm", "-f", name)
	cmd := berthCommand("run", "-i", "--name", name, "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "echo during; echo during-err >&2; read x; echo after-$x")
	in, _ := cmd.StdinPipe()
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "logs while it runs", func() string {
		r := berth(t, "", "logs", name)
		if r.stdout != "during\n" || r.stderr != "during-err\n" {
			return fmt.Sprintf("%+v", r)
		}
		return ""
	})
	io.WriteString(in, "go\n")
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if r := berth(t, "", "logs", name); r.stdout != "during\nafter-go\n" || r.stderr != "during-err\n" {
		t.Errorf("logs after: %+v", r)
	}
}

// TestRunAttachStreams: -a picks the streams berth shows; the others go
// to the log only.
func TestRunAttachStreams(t *testing.T) {
	needRoot(t)
	name := fmt.Sprintf("fg-attach-%d", os.Getpid())
	defer berth(t, "", "rm", "-f", name)
	r := berth(t, "", "run", "-a", "stdout", "--name", name, "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "echo out; echo err >&2; exit 2")
	if r.code != 2 || r.stdout != "out\n" || r.stderr != "" {
		t.Errorf("run -a stdout: %+v", r)
	}
	if r := berth(t, "", "logs", name); r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("logs: %+v", r)
	}
	r = berth(t, "", "run", "--rm", "-a", "STDERR", "--restart", "no", "--sig-proxy=false", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "echo out; echo err >&2")
	if r.code != 0 || r.stdout != "" || r.stderr != "err\n" {
		t.Errorf("run -a STDERR under a monitor: %+v", r)
	}
	for _, bad := range [][]string{{"-a", "stdio"}, {"-d", "-a", "stdout"}, {"-i", "--restart", "always"}} {
		r := berth(t, "", append(append([]string{"run", "--rm"}, bad...), "--rootfs", rootfsDir, "true")...)
		if r.code != 125 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("run %v: %+v", bad, r)
		}
	}
}

// TestSigProxy: SIGTERM to berth reaches the container (its trap exits
// 3), and with --sig-proxy=false it does not: berth ends, the container
// runs on.
func TestSigProxy(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	defer checkNoLeaks(t, before)
	script := `trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done`
	// In berth's process, and under a monitor, whose policy restarts the
	// container after berth returned: that second run ends at once.
	mark := t.TempDir()
	for i, fl := range [][]string{nil, {"--restart", "on-failure:1", "-v", mark + ":/mark"}} {
		name := fmt.Sprintf("fg-sigproxy-%d-%d", os.Getpid(), i)
		defer berth(t, "", "rm", "-f", name)
		s := startBerth(t, append(append([]string{"run", "--name", name, "--network", "none"}, fl...), "--rootfs", rootfsDir, "/bin/sh", "-c", "[ -e /mark/ran ] && exit 0; touch /mark/ran 2>/dev/null; "+script)...)
		s.cmd.Process.Signal(syscall.SIGTERM)
		if code := s.wait(t); code != 3 {
			t.Errorf("run %v, SIGTERM to berth: status %d, want 3 (stderr %q)", fl, code, s.stderr)
		}
		eventually(t, "the end of "+name, func() string {
			if st := inspectState(t, name); st.Status != "exited" || st.RestartCount != i {
				return fmt.Sprintf("%+v", st)
			}
			return ""
		})
	}
	name := fmt.Sprintf("fg-sigproxy-%d", os.Getpid())
	defer berth(t, "", "rm", "-f", name)
	s := startBerth(t, "run", "--sig-proxy=false", "--name", name, "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", script)
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.wait(t)
	if st := inspectState(t, name); st.Status != "running" {
		t.Errorf("--sig-proxy=false: the container got berth's SIGTERM: %+v", st)
	}
}

// TestLogRotation: --log-opt max-size=1k max-file=2 keeps at most two
// files, and logs reads across both.
func TestLogRotation(t *testing.T) {
	needRoot(t)
	name := fmt.Sprintf("fg-rotate-%d", os.Getpid())
	defer berth(t, "", "rm", "-f", name)
	r := berth(t, "", "run", "--name", name, "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "--network", "none", "--rootfs", rootfsDir,
		"/bin/sh", "-c", "i=0; while [ $i -lt 100 ]; do echo line-$i; i=$((i+1)); done")
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	id := containerID(t, name)
	files, _ := filepath.Glob(filepath.Join(storeRoot, "containers", id, "container.log*"))
	if len(files) != 2 {
		t.Errorf("log files: %v, want container.log and container.log.1", files)
	}
	var size int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err == nil {
			size += fi.Size()
		}
		if err == nil && fi.Size() > 1024 {
			t.Errorf("%s is %d bytes, over max-size", f, fi.Size())
		}
	}
	cur, _ := os.ReadFile(filepath.Join(storeRoot, "containers", id, "container.log"))
	out := berth(t, "", "logs", name).stdout
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !strings.HasSuffix(out, "line-99\n") || len(lines) <= strings.Count(string(cur), "\n") || strings.Contains(out, "line-0\n") {
		t.Errorf("logs across the rotated files (%d lines, the current file has %d):\n%s", len(lines), strings.Count(string(cur), "\n"), out)
	}
}

// TestLogDriverNoneAndBadOptions: --log-driver none keeps no log, and
// logs says it cannot read one; a bad --log-driver or --log-opt is one
// line, with nothing left.
func TestLogDriverNoneAndBadOptions(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	name := fmt.Sprintf("fg-nolog-%d", os.Getpid())
	r := berth(t, "", "run", "--name", name, "--log-driver", "none", "--network", "none", "--rootfs", rootfsDir, "echo", "shown")
	if r.code != 0 || r.stdout != "shown\n" {
		t.Errorf("run --log-driver none: %+v", r)
	}
	if r := berth(t, "", "logs", name); r.code != 125 || !strings.Contains(r.stderr, "does not support reading") {
		t.Errorf("logs of a none container: %+v", r)
	}
	id := containerID(t, name)
	if files, _ := filepath.Glob(filepath.Join(storeRoot, "containers", id, "container.log*")); len(files) != 0 {
		t.Errorf("--log-driver none wrote %v", files)
	}
	berth(t, "", "rm", name)
	psBefore := berth(t, "", "ps", "-aq").stdout
	bad := [][]string{
		{"--log-opt", "max-size=lots"}, {"--log-opt", "max-file=0", "--log-opt", "max-size=1k"}, {"--log-opt", "color=red"},
		{"--log-opt", "nokey"}, {"--log-driver", "syslog"}, {"--log-driver", "none", "--log-opt", "max-size=1k"},
	}
	if _, err := os.Stat("/run/systemd/journal/socket"); err != nil {
		bad = append(bad, []string{"--log-driver", "journald"})
	}
	for _, args := range bad {
		for _, cmd := range []string{"run", "create"} {
			r := berth(t, "", append(append([]string{cmd}, args...), "--rootfs", rootfsDir, "true")...)
			if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "log") {
				t.Errorf("%s %v: %+v", cmd, args, r)
			}
		}
	}
	if r := berth(t, "", "ps", "-aq"); r.stdout != psBefore {
		t.Errorf("bad log options left containers: %q", r.stdout)
	}
	checkNoLeaks(t, before)
}

// TestLogDriverJournald: each line goes to the journal through its
// native protocol, with the container's name and ID and the stream's
// priority. Where a journal listens, journalctl finds the line; in the
// test VM without one, the test listens on the journal's socket itself
// and reads berth's datagrams; elsewhere it is skipped (the socket is
// the host's to make, not a test's).
func TestLogDriverJournald(t *testing.T) {
	needRoot(t)
	const sock = "/run/systemd/journal/socket"
	var fake *net.UnixConn
	if _, err := os.Stat(sock); err != nil {
		if os.Getenv("BERTH_VM") == "" {
			t.Skip("no systemd journal here")
		}
		os.MkdirAll(filepath.Dir(sock), 0o755)
		if fake, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"}); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(sock)
		defer fake.Close()
	}
	name := fmt.Sprintf("fg-journal-%d", os.Getpid())
	defer berth(t, "", "rm", "-f", name)
	word := fmt.Sprintf("journal-word-%d", time.Now().UnixNano())
	r := berth(t, "", "run", "--name", name, "--log-driver", "journald", "--network", "none", "--rootfs", rootfsDir, "/bin/sh", "-c", "echo "+word+"; echo "+word+"-err >&2")
	if r.code != 0 || r.stdout != word+"\n" || r.stderr != word+"-err\n" {
		t.Fatalf("run --log-driver journald: %+v", r)
	}
	if r := berth(t, "", "logs", name); r.code != 125 || !strings.Contains(r.stderr, "does not support reading") {
		t.Errorf("logs of a journald container: %+v", r)
	}
	if fake == nil {
		eventually(t, "the journal entry", func() string {
			out, err := exec.Command("journalctl", "-o", "cat", "CONTAINER_NAME="+name).Output()
			if err != nil || !strings.Contains(string(out), word) {
				return fmt.Sprintf("%v %q", err, out)
			}
			return ""
		})
		return
	}
	id := containerID(t, name)
	want := map[string][]string{
		word:          {"MESSAGE=" + word + "\n", "PRIORITY=6\n", "CONTAINER_NAME=" + name + "\n", "CONTAINER_ID=" + id[:12] + "\n", "CONTAINER_ID_FULL=" + id + "\n"},
		word + "-err": {"MESSAGE=" + word + "-err\n", "PRIORITY=3\n", "CONTAINER_NAME=" + name + "\n"},
	}
	fake.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64<<10)
	for len(want) > 0 {
		n, err := fake.Read(buf)
		if err != nil {
			t.Fatalf("journal datagrams missing for %v: %v", want, err)
		}
		msg := string(buf[:n])
		for line, fields := range want {
			if !strings.Contains(msg, "MESSAGE="+line+"\n") {
				continue
			}
			for _, f := range fields {
				if !strings.Contains(msg, f) {
					t.Errorf("journal datagram %q lacks %q", msg, f)
				}
			}
			delete(want, line)
		}
	}
}

// containerID is ref's full ID, from inspect.
func containerID(t *testing.T, ref string) string {
	t.Helper()
	var recs []struct{ Id string }
	if err := json.Unmarshal([]byte(berth(t, "", "inspect", ref).stdout), &recs); err != nil || len(recs) != 1 {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	return recs[0].Id
}

// TestRunQuiet: run -q pulls without a word; without it berth says the
// image was not found locally.
func TestRunQuiet(t *testing.T) {
	needRoot(t)
	reg := newTestRegistry(t)
	img := appImage(t)
	for _, quiet := range []bool{true, false} {
		ref := reg.push(t, fmt.Sprintf("test/quiet-%v:1", quiet), img)
		args := []string{"--root", storeRoot, "--runroot", stateRoot, "run", "--rm", "--tls-verify=false", "--network", "none"}
		if quiet {
			args = append(args, "-q")
		}
		// In the host's network namespace, where the registry is.
		cmd := exec.Command(berthBin, append(args, "--entrypoint", "/bin/sh", ref, "-c", "echo ran")...)
		r := collect(t, cmd, "berth run")
		defer berth(t, "", "rmi", ref)
		if r.code != 0 || r.stdout != "ran\n" {
			t.Fatalf("run (quiet %v): %+v", quiet, r)
		}
		if quiet && r.stderr != "" {
			t.Errorf("run -q printed: %q", r.stderr)
		}
		if !quiet && !strings.Contains(r.stderr, "Unable to find image") {
			t.Errorf("run without -q: %q", r.stderr)
		}
	}
}

// TestRunTerminalFastExit: the output of a -t container that exits at
// once reaches berth's terminal every time (a monitor that ended with the
// client's window size unread made the kernel report ECONNRESET ahead of
// the output, which was lost: 2 runs in 100 here).
func TestRunTerminalFastExit(t *testing.T) {
	needRoot(t)
	for i := 0; i < 30; i++ {
		word := fmt.Sprintf("fast-%d", i)
		r := runPTY(t, nil, "run", "--rm", "-t", "--network", "none", "--rootfs", rootfsDir, "echo", word)
		if r.code != 0 || !strings.Contains(r.output, word) {
			t.Fatalf("run -t, run %d: status %d, output %q", i, r.code, r.output)
		}
	}
}
