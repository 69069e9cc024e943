package procfs

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSysctlPath(t *testing.T) {
	for name, want := range map[string]string{
		"net.ipv4.ip_forward": "sys/net/ipv4/ip_forward",
		"kernel.shmmax":       "sys/kernel/shmmax",
		"kernel/msgmax":       "sys/kernel/msgmax",
	} {
		if got, err := SysctlPath(name); err != nil || got != want {
			t.Errorf("SysctlPath(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"", "kernel..shmmax", "kernel/../../self/attr/exec", "net/./ipv4", "kernel.", "/kernel/shmmax"} {
		if _, err := SysctlPath(name); !errors.Is(err, ErrBadSysctl) {
			t.Errorf("SysctlPath(%q): %v, want ErrBadSysctl", name, err)
		}
	}
	if n := testing.AllocsPerRun(10, func() { ValidSysctl("net.ipv4.ip_unprivileged_port_start") }); n != 0 {
		t.Errorf("ValidSysctl: %v allocations, want none", n)
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// TestWriteSysctlsOwnNamespace writes an IPC sysctl from a thread with an
// IPC namespace of its own: the value lands there, not on the host.
func TestWriteSysctlsOwnNamespace(t *testing.T) {
	needRoot(t)
	host, err := os.ReadFile("/proc/sys/kernel/shmmni")
	if err != nil {
		t.Skip(err)
	}
	done := make(chan error)
	var inside []byte
	go func() {
		// The thread's namespace changes: it is never unlocked, so the
		// runtime drops it when the goroutine ends.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWIPC); err != nil {
			done <- err
			return
		}
		if err := WriteSysctls(map[string]string{"kernel.shmmni": "1234"}); err != nil {
			done <- err
			return
		}
		// /proc/sys shows the reading thread's namespaces.
		inside, err = os.ReadFile("/proc/sys/kernel/shmmni")
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(inside)) != "1234" {
		t.Errorf("kernel.shmmni in the new IPC namespace is %q, want 1234", inside)
	}
	if now, _ := os.ReadFile("/proc/sys/kernel/shmmni"); string(now) != string(host) {
		t.Errorf("the host's kernel.shmmni changed from %q to %q", host, now)
	}
	if err := WriteSysctls(map[string]string{"kernel.shmmni": "1", "kernel..x": "1"}); !errors.Is(err, ErrBadSysctl) {
		t.Errorf("a bad name among good ones: %v, want ErrBadSysctl before any write", err)
	}
}

func TestWriteSelf(t *testing.T) {
	needRoot(t)
	cur, err := os.ReadFile("/proc/thread-self/oom_score_adj")
	if err != nil {
		t.Skip(err)
	}
	// Writing the current value back needs no privilege and changes nothing.
	if err := WriteSelf("oom_score_adj", []byte(strings.TrimSpace(string(cur)))); err != nil {
		t.Fatal(err)
	}
	if err := WriteSelf("no-such-file", []byte("1")); err == nil {
		t.Error("WriteSelf of a missing file succeeded")
	}
}

func TestReopenFifo(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := os.OpenFile(p, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// Both ends in one open: it does not block.
	f, err := Reopen(h, os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte{7}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.Read(b); err != nil || b[0] != 7 {
		t.Errorf("read %v, %v through the reopened FIFO", b, err)
	}
}

func TestInFdDir(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "named"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before, _ := os.Getwd()
	var want, got unix.Stat_t
	unix.Fstat(int(f.Fd()), &want)
	err = InFdDir(func() error {
		return unix.Stat(strconv.Itoa(int(f.Fd())), &got)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Ino != want.Ino || got.Dev != want.Dev {
		t.Errorf("the descriptor's number named another file")
	}
	if after, _ := os.Getwd(); after != before {
		t.Errorf("working directory %q after InFdDir, was %q", after, before)
	}
}

func TestReadlink(t *testing.T) {
	f, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Readlink(f)
	if err != nil || got != f.Name() {
		t.Errorf("Readlink: %q %v, want %q", got, err, f.Name())
	}
}
