package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/berth-runtime/berth/internal/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runcArches are the architecture names runc accepts; Docker's and
// podman's default profiles list most of them.
var runcArches = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL,
	specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
	specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X,
}

// TestOCISeccompForeignArches runs Docker's default profile in the shape
// Docker's and podman's profile files have, every architecture listed, as
// runc does: the filter is applied (a rule added for mkdir holds, and the
// default refuses what Docker's profile does not allow), and a name runc
// does not know is refused at create.
func TestOCISeccompForeignArches(t *testing.T) {
	needRoot(t)
	errno := uint(42)
	bundle := ociBundle(t, []string{"sh", "-c", "grep Seccomp: /proc/self/status; mkdir /tmp/d; echo rc=$?"}, func(s *specs.Spec) {
		s.Linux.Seccomp = seccomp.DockerDefault(s.Process.Capabilities.Bounding)
		s.Linux.Seccomp.Architectures = runcArches
		s.Linux.Seccomp.Syscalls = append([]specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: &errno}}, s.Linux.Seccomp.Syscalls...)
	})
	r := oci(t, "run", "--bundle", bundle, "arches")
	if r.code != 0 || !strings.Contains(r.stdout, "Seccomp:\t2") || !strings.Contains(r.stdout, "rc=1") || !strings.Contains(r.stderr, "No message of desired type") {
		t.Errorf("Docker's default profile with every architecture listed: %+v", r)
	}
	bad := ociBundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchAARCH64, "SCMP_ARCH_VAX"}}
	})
	if r := oci(t, "run", "--bundle", bad, "vax"); r.code == 0 || !strings.Contains(r.stderr, `unknown architecture "SCMP_ARCH_VAX"`) {
		t.Errorf("unknown architecture: %+v", r)
	}
}

// TestOCISeccompSameArgumentORed: two comparisons of one argument in one
// rule are ORed, as runc reads them (its seccomp.bats "-ENOSYS handling").
func TestOCISeccompSameArgumentORed(t *testing.T) {
	needRoot(t)
	errno := uint(42)
	// kill(2) with signal 0 or 28 (SIGWINCH, ignored) fails; 18 (SIGCONT) does not.
	bundle := ociBundle(t, []string{"sh", "-c", "kill -0 $$; echo a=$?; kill -28 $$; echo b=$?; kill -18 $$; echo c=$?"}, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActErrno, ErrnoRet: &errno, Args: []specs.LinuxSeccompArg{
				{Index: 1, Value: 0, Op: specs.OpEqualTo}, {Index: 1, Value: 28, Op: specs.OpEqualTo},
			}}},
		}
	})
	r := oci(t, "run", "--bundle", bundle, "sameargs")
	if r.stdout != "a=1\nb=1\nc=0\n" {
		t.Errorf("kill with signal 0 or 28 refused, 18 allowed: %+v", r)
	}
}

// TestOCISeccompBeforeStartContainerHooks: the filter is in place when the
// startContainer hooks run, as in runc (its seccomp.bats "startContainer
// hook"), with and without no_new_privs.
func TestOCISeccompBeforeStartContainerHooks(t *testing.T) {
	needRoot(t)
	for _, nnp := range []bool{true, false} {
		t.Run(fmt.Sprintf("noNewPrivileges=%v", nnp), func(t *testing.T) {
			bundle := ociBundle(t, []string{"true"}, func(s *specs.Spec) {
				s.Process.NoNewPrivileges = nnp
				s.Linux.Seccomp = &specs.LinuxSeccomp{
					DefaultAction: specs.ActAllow,
					Architectures: []specs.Arch{specs.ArchX86, specs.ArchX32},
					Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActKill}},
				}
				s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "mkdir /dev/shm/foo"}}}}
			})
			r := oci(t, "run", "--bundle", bundle, "hookfilter")
			// runc compat: its test matches both phrases.
			if r.code == 0 || !strings.Contains(r.stderr, "bad system call") || !strings.Contains(r.stderr, "error running hook") {
				t.Errorf("a startContainer hook ran without the filter: %+v", r)
			}
		})
	}
}

// TestOCISeccompRuntimeSyscallsUnderFilter: after the filter is in place
// (with no_new_privs, before the exec FIFO wait and the startContainer
// hooks), the init stage makes only syscalls runc's makes there, so a
// profile that denies the socket calls runc does not make (sendto,
// recvfrom, sendmsg, recvmsg) still lets create and start work.
func TestOCISeccompRuntimeSyscallsUnderFilter(t *testing.T) {
	needRoot(t)
	for _, nnp := range []bool{true, false} {
		t.Run(fmt.Sprintf("noNewPrivileges=%v", nnp), func(t *testing.T) {
			bundle := ociBundle(t, []string{"sh", "-c", "echo started"}, func(s *specs.Spec) {
				s.Process.NoNewPrivileges = nnp
				s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
					{Names: []string{"sendto", "recvfrom", "sendmsg", "recvmsg"}, Action: specs.ActErrno},
				}}
			})
			out := ociCreate(t, "nosockets", bundle)
			if r := oci(t, "start", "nosockets"); r.code != 0 {
				t.Fatalf("start: %+v", r)
			}
			if line, _ := out.ReadString('\n'); line != "started\n" {
				t.Errorf("the program said %q", line)
			}
		})
	}
}

// notifyAgent is a seccomp agent as runc's tests have one
// (tests/cmd/seccompagent): it takes the listener over a unix socket,
// with runc's ContainerProcessState, and answers: mkdir(P) makes P-METADATA
// instead and succeeds, chmod fails with ENOMEDIUM, anything else
// continues.
type notifyAgent struct {
	path   string
	ln     *net.UnixListener
	states chan specs.ContainerProcessState
	drop   bool // close each listener as soon as it arrives

	mu       sync.Mutex
	stop     bool
	answered int // notifications answered
	wg       sync.WaitGroup
}

func startAgent(t *testing.T, drop bool) *notifyAgent {
	t.Helper()
	dir := t.TempDir()
	a := &notifyAgent{path: filepath.Join(dir, "agent.sock"), states: make(chan specs.ContainerProcessState, 8), drop: drop}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: a.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	a.ln = ln
	a.wg.Add(1)
	go a.accept(t)
	t.Cleanup(func() {
		a.mu.Lock()
		a.stop = true
		a.mu.Unlock()
		ln.Close()
		a.wg.Wait()
	})
	return a
}

func (a *notifyAgent) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.answered
}

func (a *notifyAgent) stopped() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stop
}

func (a *notifyAgent) accept(t *testing.T) {
	defer a.wg.Done()
	for {
		c, err := a.ln.AcceptUnix()
		if err != nil {
			return
		}
		buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4*4))
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		c.Close()
		if err != nil {
			t.Errorf("agent: read: %v", err)
			continue
		}
		var fds []int
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) == 1 {
			fds, _ = unix.ParseUnixRights(&msgs[0])
		}
		var st specs.ContainerProcessState
		if err := json.Unmarshal(buf[:n], &st); err != nil || len(fds) != 1 || oobn != unix.CmsgSpace(4) {
			t.Errorf("agent: got %q with %d fds (%d control bytes): %v", buf[:n], len(fds), oobn, err)
			for _, fd := range fds {
				unix.Close(fd)
			}
			continue
		}
		a.states <- st
		if a.drop {
			unix.Close(fds[0])
			continue
		}
		a.wg.Add(1)
		go a.serve(fds[0], st.Metadata)
	}
}

// struct seccomp_notif and struct seccomp_notif_resp (linux/seccomp.h).
type notif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

type notifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// x86_64 syscall numbers the agent acts on.
const (
	sysMkdir    = 83
	sysChmod    = 90
	sysFchmod   = 91
	sysFchmodat = 268
)

func (a *notifyAgent) serve(fd int, metadata string) {
	defer a.wg.Done()
	defer unix.Close(fd)
	for !a.stopped() {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, _ := unix.Poll(pfd, 100); n <= 0 {
			continue
		}
		if pfd[0].Revents&unix.POLLHUP != 0 {
			return // every process under the filter is gone
		}
		var req notif
		if err := ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)); err != nil {
			continue
		}
		resp := notifResp{id: req.id, flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
		switch req.nr {
		case sysMkdir:
			resp.flags = 0
			if err := mkdirFor(req, metadata); err != nil {
				resp.error, resp.val = -int32(unix.ENOSYS), -1
			}
		case sysChmod, sysFchmod, sysFchmodat:
			resp.flags, resp.error, resp.val = 0, -int32(unix.ENOMEDIUM), -1
		}
		if ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp)) == nil {
			a.mu.Lock()
			a.answered++
			a.mu.Unlock()
		}
	}
}

// mkdirFor makes PATH-METADATA where the process asked for PATH.
func mkdirFor(req notif, metadata string) error {
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", req.pid))
	if err != nil {
		return err
	}
	defer mem.Close()
	buf := make([]byte, 4096)
	n, _ := mem.ReadAt(buf, int64(req.args[0]))
	name, _, ok := bytes.Cut(buf[:n], []byte{0})
	if !ok || !strings.HasPrefix(string(name), "/") {
		return fmt.Errorf("mkdir argument %q", name)
	}
	return os.Mkdir(fmt.Sprintf("/proc/%d/root%s-%s", req.pid, name, metadata), os.FileMode(req.args[1]&0o7777))
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// notifyBundle is runc's scmp_act_notify_template: a shell command, the
// no_new_privs setting, and the syscalls sent to the agent.
func notifyBundle(t *testing.T, a *notifyAgent, cmd string, nnp bool, names ...string) string {
	return ociBundle(t, []string{"/bin/sh", "-c", cmd}, func(s *specs.Spec) {
		s.Process.NoNewPrivileges = nnp
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction:    specs.ActAllow,
			ListenerPath:     a.path,
			ListenerMetadata: "bar",
			Architectures:    []specs.Arch{specs.ArchX86, specs.ArchX32, specs.ArchX86_64},
			Syscalls:         []specs.LinuxSyscall{{Names: names, Action: specs.ActNotify}},
		}
	})
}

// TestOCISeccompNotify follows runc's seccomp-notify.bats through
// berth-oci, with an agent in the test.
func TestOCISeccompNotify(t *testing.T) {
	needRoot(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the agent knows x86_64 syscall numbers")
	}
	for _, nnp := range []bool{false, true} {
		t.Run(fmt.Sprintf("run/noNewPrivileges=%v", nnp), func(t *testing.T) {
			a := startAgent(t, false)
			bundle := notifyBundle(t, a, "mkdir /dev/shm/foo && stat /dev/shm/foo-bar >/dev/null && echo made", nnp, "mkdir")
			r := oci(t, "run", "--bundle", bundle, "notify")
			if r.code != 0 || r.stdout != "made\n" {
				t.Fatalf("mkdir through the agent: %+v", r)
			}
			st := <-a.states
			abs, _ := filepath.Abs(bundle)
			if st.Version != specs.Version || !slices.Equal(st.Fds, []string{specs.SeccompFdName}) || st.Pid <= 0 || st.Metadata != "bar" ||
				st.State.ID != "notify" || st.State.Status != specs.StateCreating || st.State.Pid != st.Pid || st.State.Bundle != abs {
				t.Errorf("agent got state %+v", st)
			}
		})
		t.Run(fmt.Sprintf("exec/noNewPrivileges=%v", nnp), func(t *testing.T) {
			a := startAgent(t, false)
			bundle := notifyBundle(t, a, "sleep 1000", nnp, "mkdir")
			if r := oci(t, "run", "--detach", "--bundle", bundle, "notifyexec"); r.code != 0 {
				t.Fatalf("run: %+v", r)
			}
			defer oci(t, "delete", "--force", "notifyexec")
			initState := <-a.states
			r := oci(t, "exec", "notifyexec", "/bin/sh", "-c", "mkdir /dev/shm/foo && stat /dev/shm/foo-bar >/dev/null && echo made")
			if r.code != 0 || r.stdout != "made\n" {
				t.Fatalf("mkdir in exec through the agent: %+v", r)
			}
			st := <-a.states
			if st.State.ID != "notifyexec" || st.State.Status != specs.StateRunning || st.State.Pid != initState.Pid || st.Pid <= 0 || st.Metadata != "bar" {
				t.Errorf("agent got exec state %+v (init's %+v)", st, initState)
			}
		})
		t.Run(fmt.Sprintf("important-syscalls/noNewPrivileges=%v", nnp), func(t *testing.T) {
			a := startAgent(t, false)
			bundle := notifyBundle(t, a, "/bin/true", nnp, "execve", "openat", "open", "read", "close")
			if r := oci(t, "run", "--bundle", bundle, "notifyimp"); r.code != 0 {
				t.Errorf("the runtime's own syscalls through the agent: %+v", r)
			}
			// The close of the listener and the execve at least.
			if n := a.count(); n < 2 {
				t.Errorf("the agent answered %d notifications", n)
			}
		})
	}
	t.Run("listenerPath-without-notify", func(t *testing.T) {
		a := startAgent(t, false)
		bundle := ociBundle(t, []string{"/bin/sh", "-c", "mkdir /dev/shm/foo && stat /dev/shm/foo >/dev/null"}, func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: a.path, ListenerMetadata: "bar"}
		})
		if r := oci(t, "run", "--bundle", bundle, "nolistener"); r.code != 0 {
			t.Errorf("listenerPath without SCMP_ACT_NOTIFY: %+v", r)
		}
	})
	refused := func(t *testing.T, bundle, want string) {
		t.Helper()
		r := oci(t, "run", "--bundle", bundle, "notifybad")
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("want a failure with %q: %+v", want, r)
		}
		if r := oci(t, "state", "notifybad"); r.code == 0 {
			t.Errorf("a refused container left state: %+v", r)
			oci(t, "delete", "--force", "notifybad")
		}
	}
	t.Run("empty-listener-path", func(t *testing.T) {
		a := startAgent(t, false)
		bundle := notifyBundle(t, a, "/bin/true", false, "mkdir")
		editConfig(bundle, func(s *specs.Spec) { s.Linux.Seccomp.ListenerPath = "" })
		refused(t, bundle, "listenerPath")
	})
	t.Run("wrong-listener-path", func(t *testing.T) {
		a := startAgent(t, false)
		bundle := notifyBundle(t, a, "/bin/true", false, "mkdir")
		editConfig(bundle, func(s *specs.Spec) { s.Linux.Seccomp.ListenerPath = "/some-non-existing-listener-path.sock" })
		refused(t, bundle, "failed to connect with seccomp agent")
	})
	t.Run("abstract-listener-path", func(t *testing.T) {
		a := startAgent(t, false)
		bundle := notifyBundle(t, a, "/bin/true", false, "mkdir")
		editConfig(bundle, func(s *specs.Spec) { s.Linux.Seccomp.ListenerPath = "@mysocketishere" })
		refused(t, bundle, "failed to connect with seccomp agent")
	})
	t.Run("no-agent", func(t *testing.T) {
		a := startAgent(t, false)
		a.ln.Close()
		bundle := notifyBundle(t, a, "/bin/true", false, "mkdir")
		refused(t, bundle, "failed to connect with seccomp agent")
	})
	t.Run("write", func(t *testing.T) {
		a := startAgent(t, false)
		refused(t, notifyBundle(t, a, "/bin/true", false, "write"), "SCMP_ACT_NOTIFY cannot be used for the write syscall")
	})
	t.Run("default-action", func(t *testing.T) {
		a := startAgent(t, false)
		bundle := notifyBundle(t, a, "/bin/true", false, "mkdir")
		editConfig(bundle, func(s *specs.Spec) { s.Linux.Seccomp.DefaultAction = specs.ActNotify })
		refused(t, bundle, "SCMP_ACT_NOTIFY cannot be used as default action")
	})
	t.Run("agent-gone", func(t *testing.T) {
		// A listener closed by its agent: the syscall fails with ENOSYS
		// and does not block.
		a := startAgent(t, true)
		bundle := notifyBundle(t, a, "mkdir /dev/shm/foo", false, "mkdir")
		r := oci(t, "run", "--bundle", bundle, "notifygone")
		if r.code == 0 || !strings.Contains(r.stderr, "Function not implemented") {
			t.Errorf("mkdir with the agent gone: %+v", r)
		}
	})
	t.Run("error-chmod", func(t *testing.T) {
		a := startAgent(t, false)
		bundle := notifyBundle(t, a, "touch /dev/shm/foo && chmod 777 /dev/shm/foo", false, "chmod", "fchmod", "fchmodat")
		r := oci(t, "run", "--bundle", bundle, "notifychmod")
		if r.code == 0 || !strings.Contains(r.stderr, "No medium found") {
			t.Errorf("chmod answered ENOMEDIUM by the agent: %+v", r)
		}
	})
	t.Run("startContainer-hook-fds", func(t *testing.T) {
		a := startAgent(t, false)
		bundle := notifyBundle(t, a, "/bin/true", true, "mkdir")
		editConfig(bundle, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
				`n=$(ls /proc/self/fd/ | wc -l); if [ $n -ne 4 ]; then echo "$n descriptors:" >&2; ls -l /proc/self/fd/ >&2; exit 1; fi`}}}}
		})
		if r := oci(t, "run", "--bundle", bundle, "notifyhook"); r.code != 0 {
			t.Errorf("the startContainer hook got descriptors beyond stdio: %+v", r)
		}
	})
}
