package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/berth-runtime/berth/internal/caps"
	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/hooks"
	"github.com/berth-runtime/berth/internal/procfs"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/seccomp"
	"github.com/berth-runtime/berth/internal/terminal"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func init() {
	// Package init runs on the main thread: locking it here keeps main,
	// and so every per-thread change and the final execve, on the thread
	// group leader.
	if IsInitStage() {
		runtime.LockOSThread()
	}
}

// IsInitStage reports whether this process was started as the init stage.
func IsInitStage() bool { return len(os.Args) > 0 && os.Args[0] == Argv0 }

// Main runs the init stage. It only returns control to the kernel: it
// either execs the container's program or exits with the status to report.
func Main() {
	fd := 3
	if len(os.Args) > 1 {
		if n, err := strconv.Atoi(os.Args[1]); err == nil {
			fd = n
		}
	}
	sock := os.NewFile(uintptr(fd), "sync")
	err := run(sock)
	if err == nil {
		// exec mode: the program was forked and reported.
		os.Exit(0)
	}
	code := 125
	var se *startError
	if errors.As(err, &se) {
		code = se.code
	}
	if send(sock, Message{Type: MsgError, Error: err.Error(), Code: code}) != nil {
		// Nobody is listening any more (after create returned): the
		// container's own stderr is all that is left.
		fmt.Fprintf(os.Stderr, "berth: %v\n", err)
	}
	os.Exit(code)
}

// startError carries the exit status a failure maps to.
type startError struct {
	code int
	err  error
}

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

func run(sock *os.File) error {
	// Nothing in the container may ptrace or read this process while it
	// still holds the parent's socket; exec makes it dumpable again.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("set non-dumpable: %w", err)
	}
	cfg, err := readConfig(sock)
	if err != nil {
		return err
	}
	if cfg.Exec {
		return runExec(sock, cfg)
	}
	if cfg.DieWithParent {
		// Go's own Pdeathsig cannot be used: its check that the parent is
		// still alive reads getppid(), which is 0 in a new PID namespace.
		// A parent that died before this point closed the socket, and the
		// config read above failed.
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
			return fmt.Errorf("set parent death signal: %w", err)
		}
	}
	// Device nodes and mount points get exactly the modes asked for; the
	// process's own umask is set just before exec.
	unix.Umask(0)
	var fifo *os.File
	if cfg.ExecFifoFD > 0 {
		fifo = os.NewFile(uintptr(cfg.ExecFifoFD), "exec.fifo")
	}
	if cfg.NetNSFD > 0 {
		err := unix.Setns(cfg.NetNSFD, unix.CLONE_NEWNET)
		unix.Close(cfg.NetNSFD)
		if err != nil {
			return fmt.Errorf("enter the container's network namespace: %w", err)
		}
	}
	if err := joinNamespaces(cfg.Join); err != nil {
		return err
	}
	if err := setupNamespaces(cfg); err != nil {
		return err
	}
	if err := rootfs.Prepare(&cfg.Rootfs); err != nil {
		return err
	}
	if cfg.HookPause {
		if err := pauseForHooks(sock); err != nil {
			return err
		}
	}
	cfg.State.Status = specs.StateCreating
	if len(cfg.CreateContainerHooks) > 0 {
		// runc compat: runc runs createContainer hooks in the rootfs, and
		// hooks (runc's hooks.bats) write into it by relative paths.
		if err := unix.Chdir(cfg.Rootfs.Root); err != nil {
			return fmt.Errorf("chdir to rootfs for createContainer hooks: %w", err)
		}
	}
	if err := hooks.Run("createContainer", cfg.CreateContainerHooks, cfg.State); err != nil {
		return err
	}
	if err := rootfs.EnterRoot(&cfg.Rootfs, cfg.NoPivot); err != nil {
		return err
	}
	if err := writeSysctls(cfg.Sysctl); err != nil {
		return err
	}
	if cfg.Process.Terminal {
		if err := setupTerminal(sock, &cfg.Process, true); err != nil {
			return err
		}
	}
	if err := rootfs.Finish(&cfg.Rootfs); err != nil {
		return err
	}
	// The program is found before "created" is reported, so that create
	// fails, as engines expect, when it does not exist.
	path, err := lookPath(cfg.Process.Args[0], cfg.Process.Env)
	if err != nil {
		return err
	}
	// The pids limit is set now that the init stage's own work is done,
	// before "created" is reported, as runc sets it: its threads leave at
	// the exec.
	if err := setDeferredLimit(cfg.PidsLimit); err != nil {
		return err
	}
	var startSignal *os.File
	if fifo != nil {
		if startSignal, err = openStartSignal(fifo); err != nil {
			return err
		}
	}
	if err := reopenDevNull(cfg.Process.DevNull); err != nil {
		return err
	}
	if err := prepareProcess(sock, &cfg.Process, cfg.PreserveFDs); err != nil {
		return err
	}
	if startSignal != nil {
		if err := waitForStart(sock, startSignal); err != nil {
			return err
		}
		cfg.State.Status = specs.StateCreated
	}
	if err := hooks.Run("startContainer", cfg.StartContainerHooks, cfg.State); err != nil {
		return err
	}
	return execProgram(&cfg.Process, path)
}

// setDeferredLimit writes a cgroup limit through the descriptor the
// runtime opened for it, and closes that.
func setDeferredLimit(l *DeferredLimit) error {
	if l == nil {
		return nil
	}
	f := os.NewFile(uintptr(l.FD), "cgroup limit")
	defer f.Close()
	if _, err := f.WriteString(l.Value); err != nil {
		return fmt.Errorf("set the pids limit: %w", err)
	}
	return nil
}

// send reports m to the parent with write(2), not sendto: once the
// seccomp filter is in place (before the exec FIFO wait), this stage makes
// only the syscalls runc's makes there (write, read, close, the hooks'
// fork and exec, execve), which profiles written for runc allow. A parent
// gone gives EPIPE: Go ignores SIGPIPE on descriptors other than 1 and 2.
func send(sock *os.File, m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = unix.Write(int(sock.Fd()), b)
	return err
}

func readMessage(sock *os.File) ([]byte, error) {
	fd := int(sock.Fd())
	// SOCK_SEQPACKET keeps each message whole; peek for its size.
	for {
		n, _, err := unix.Recvfrom(fd, nil, unix.MSG_PEEK|unix.MSG_TRUNC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errors.New("the parent closed the connection")
		}
		buf := make([]byte, n)
		if _, _, err := unix.Recvfrom(fd, buf, 0); err != nil {
			return nil, err
		}
		return buf, nil
	}
}

func readConfig(sock *os.File) (*Config, error) {
	buf, err := readMessage(sock)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(buf, &cfg); err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	return &cfg, nil
}

// pauseForHooks tells the parent the namespaces and mounts exist, and
// waits while it runs the prestart and createRuntime hooks.
func pauseForHooks(sock *os.File) error {
	if err := send(sock, Message{Type: MsgHooks}); err != nil {
		return fmt.Errorf("report to parent: %w", err)
	}
	buf, err := readMessage(sock)
	if err != nil {
		return fmt.Errorf("wait for hooks: %w", err)
	}
	if string(buf) != MsgContinue {
		return fmt.Errorf("runtime hooks failed")
	}
	return nil
}

// openStartSignal reopens the exec FIFO read-write while still root: a
// FIFO held for both ends never blocks on open, and the container's user
// may not be able to reach it later. The reopen goes through a verified
// procfs, not the container's /proc/self/fd.
func openStartSignal(fifo *os.File) (*os.File, error) {
	defer fifo.Close()
	f, err := procfs.Reopen(fifo, os.O_RDWR)
	if err != nil {
		return nil, fmt.Errorf("open exec fifo: %w", err)
	}
	return f, nil
}

// waitForStart reports "created" and blocks until `start` writes a byte
// into the FIFO.
func waitForStart(sock, signal *os.File) error {
	defer signal.Close()
	if err := send(sock, Message{Type: MsgCreated}); err != nil {
		return fmt.Errorf("report created: %w", err)
	}
	var b [1]byte
	for {
		_, err := unix.Read(int(signal.Fd()), b[:])
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("wait for start: %w", err)
		}
	}
}

// joinNamespaces enters existing namespaces by path. The mount namespace
// can be entered by one thread of a multi-threaded process once that
// thread has its own file-system context.
func joinNamespaces(list []Namespace) error {
	for _, ns := range list {
		if ns.Type == unix.CLONE_NEWNS {
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return fmt.Errorf("unshare fs: %w", err)
			}
		}
		fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open namespace %s: %w", ns.Path, err)
		}
		err = unix.Setns(fd, int(ns.Type))
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("join namespace %s: %w", ns.Path, err)
		}
	}
	return nil
}

// writeSysctls writes the sysctls through a verified procfs: after
// pivot_root, /proc/sys is whatever the container's mounts put there.
func writeSysctls(sysctls map[string]string) error {
	return procfs.WriteSysctls(sysctls)
}

func setupNamespaces(cfg *Config) error {
	if err := cgroups.Join(cfg.CgroupTasks); err != nil {
		return err
	}
	// The cgroup namespace is made after joining, so that the container's
	// own cgroup is its root.
	if cfg.NewCgroupNS {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("create cgroup namespace: %w", err)
		}
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("set hostname: %w", err)
		}
	}
	if cfg.Domain != "" {
		if err := unix.Setdomainname([]byte(cfg.Domain)); err != nil {
			return fmt.Errorf("set domain name: %w", err)
		}
	}
	if cfg.NewKeyring {
		// A session keyring of its own, so the container cannot read the
		// keys of whoever started it.
		if _, err := unix.KeyctlJoinSessionKeyring("_ses.berth"); err != nil && err != unix.ENOSYS {
			return fmt.Errorf("join session keyring: %w", err)
		}
	}
	if cfg.NewNetNS {
		return loopbackUp()
	}
	return nil
}

// loopbackUp brings lo up in the new network namespace with one ioctl, a
// cheaper path than a netlink conversation.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring loopback up: %w", err)
	}
	return nil
}

// setupTerminal gives PID 1 its terminal: a pty whose master goes to the
// parent, and whose slave becomes its controlling terminal, stdio and
// /dev/console.
func setupTerminal(sock *os.File, p *Process, console bool) error {
	slave, err := openTerminal(sock, p)
	if err != nil {
		return err
	}
	defer slave.Close()
	if console {
		if err := bindConsole(slave); err != nil {
			return err
		}
	}
	return terminal.MakeControlling(slave)
}

// openTerminal opens a pty from the container's own devpts, gives the
// slave to the process's user, sends the master to the parent and returns
// the slave.
func openTerminal(sock *os.File, p *Process) (*os.File, error) {
	master, slave, err := terminal.OpenPTY()
	if err != nil {
		return nil, err
	}
	defer master.Close()
	if err := ownTerminal(slave, p.UID); err != nil {
		slave.Close()
		return nil, err
	}
	if err := terminal.SetSize(master, p.ConsoleSize); err != nil {
		slave.Close()
		return nil, fmt.Errorf("set terminal size: %w", err)
	}
	if err := terminal.SendFD(sock, master); err != nil {
		slave.Close()
		return nil, err
	}
	return slave, nil
}

// ownTerminal makes the process's uid the owner of its terminal, so that
// a non-root process can use it (reopen it, change its modes); the group
// stays devpts's (gid=5, tty). runc compat: runc's tty.bats checks both,
// and, as runc, a terminal whose owner cannot be changed (an unmapped id,
// a read-only /dev) is left as it is.
func ownTerminal(slave *os.File, uid uint32) error {
	err := unix.Fchown(int(slave.Fd()), int(uid), -1)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EROFS) {
		return nil
	}
	return fmt.Errorf("give the terminal to uid %d: %w", uid, err)
}

func bindConsole(slave *os.File) error {
	return rootfs.BindConsole(slave)
}

// prepareProcess applies everything about the process but the exec: stdio,
// limits, working directory, user, capabilities and the seccomp filter. It
// runs before `start` is awaited, so a config the kernel refuses fails
// `create`, not silently after `start`.
//
// The filter is in place before the exec FIFO is waited on and before the
// startContainer hooks run, as in runc, which hooks and engines expect
// (runc compat: its seccomp.bats "startContainer hook"). Without
// no_new_privs, installing it needs CAP_SYS_ADMIN, so it precedes the
// capability drop; with no_new_privs it comes after the user switch, so
// that fewer of this stage's own syscalls are judged.
func prepareProcess(sock *os.File, p *Process, preserveFDs int) error {
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	if p.OOMScoreAdj != nil {
		if err := procfs.WriteSelf("oom_score_adj", []byte(strconv.Itoa(*p.OOMScoreAdj))); err != nil {
			return fmt.Errorf("set oom_score_adj: %w", err)
		}
	}
	// The working directory is entered as root first, as runc does: a
	// directory the user may not search is still the process's cwd (runc
	// compat: runc's cwd.bats); one only the user may enter (a volume
	// chowned to it, root_squash) is entered again below, as the user.
	chdirErr := unix.Chdir(p.Cwd)
	if chdirErr != nil && !errors.Is(chdirErr, unix.EACCES) {
		return fmt.Errorf("chdir to working directory %q: %w", p.Cwd, chdirErr)
	}
	if err := resetSignals(); err != nil {
		return err
	}
	// Nothing the parent (or its caller) left open may reach the program.
	// This comes before any seccomp filter: older profiles do not know
	// close_range.
	if err := unix.CloseRange(uint(3+preserveFDs), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close inherited files: %w", err)
	}
	if !p.NoNewPrivileges {
		if err := installFilter(sock, p); err != nil {
			return err
		}
	}
	if err := setIdentity(p); err != nil {
		return err
	}
	if chdirErr != nil {
		if err := unix.Chdir(p.Cwd); err != nil {
			return fmt.Errorf("chdir to working directory %q: %w", p.Cwd, err)
		}
	}
	if p.Umask != nil {
		unix.Umask(int(*p.Umask))
	} else {
		unix.Umask(0o022)
	}
	if p.NoNewPrivileges {
		return installFilter(sock, p)
	}
	return nil
}

// installFilter loads the process's seccomp filter, if it has one. A
// filter that sends syscalls to a seccomp agent (SCMP_ACT_NOTIFY) comes
// with a listener. As in runc, its number is written to the parent with
// write(2), the one syscall a profile may not notify, and the parent takes
// it with pidfd_getfd and passes it to the agent; this stage waits until
// then, so none of its own notified syscalls (the read of the answer, the
// close, the exec) waits on an agent that has no listener yet.
func installFilter(sock *os.File, p *Process) error {
	filter := decodeFilter(p.Seccomp)
	if filter == nil {
		return nil
	}
	fd, err := seccomp.Install(filter, p.SeccompFlags)
	if err != nil || fd < 0 {
		return err
	}
	defer unix.Close(fd)
	if err := send(sock, Message{Type: MsgSeccomp, FD: fd}); err != nil {
		return fmt.Errorf("report the seccomp listener: %w", err)
	}
	var buf [64]byte
	n, err := unix.Read(int(sock.Fd()), buf[:])
	for errors.Is(err, unix.EINTR) {
		n, err = unix.Read(int(sock.Fd()), buf[:])
	}
	if err != nil {
		return fmt.Errorf("wait for the seccomp agent: %w", err)
	}
	if string(buf[:n]) != MsgContinue {
		return errors.New("the seccomp listener could not be passed to the agent")
	}
	return nil
}

// execProgram execs the program, under the filter installed before.
func execProgram(p *Process, path string) error {
	err := syscall.Exec(path, p.Args, p.Env)
	return execError(p.Args[0], err)
}

// reopenDevNull puts the container's own /dev/null on the standard
// descriptors fds, whose inherited files only held their places.
func reopenDevNull(fds []int) error {
	if len(fds) == 0 {
		return nil
	}
	null, err := openDevNull()
	if err != nil {
		return err
	}
	defer null.Close()
	for _, fd := range fds {
		if err := unix.Dup3(int(null.Fd()), fd, 0); err != nil {
			return fmt.Errorf("/dev/null on fd %d: %w", fd, err)
		}
	}
	return nil
}

// openDevNull opens the container's /dev/null (after pivot_root or after
// joining its mount namespace), checked to be the null device.
func openDevNull() (*os.File, error) {
	return rootfs.OpenDevNull(os.O_RDWR)
}

func setRlimits(limits []Rlimit) error {
	for _, l := range limits {
		// syscall.Setrlimit, not unix: it also stops Go from restoring its
		// own NOFILE soft limit at exec.
		if err := syscall.Setrlimit(l.Resource, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			return fmt.Errorf("set rlimit %d: %w", l.Resource, err)
		}
	}
	return nil
}

// setIdentity drops the bounding set, switches to the container user and
// sets the capability sets, all with raw per-thread system calls on the
// thread that execs.
func setIdentity(p *Process) error {
	// Changing credentials clears the parent-death signal; keep it.
	var deathSignal int32
	_ = unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&deathSignal)), 0, 0, 0)
	if err := caps.DropBounding(p.Caps.Bounding); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	if err := setgroups(p.AdditionalGids); err != nil {
		return err
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(p.GID), uintptr(p.GID), uintptr(p.GID)); e != 0 {
		return fmt.Errorf("setgid %d: %w", p.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(p.UID), uintptr(p.UID), uintptr(p.UID)); e != 0 {
		return fmt.Errorf("setuid %d: %w", p.UID, e)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keep capabilities: %w", err)
	}
	if err := caps.Apply(p.Caps); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	if deathSignal != 0 {
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(deathSignal), 0, 0, 0); err != nil {
			return fmt.Errorf("set parent death signal: %w", err)
		}
	}
	return nil
}

func setgroups(gids []uint32) error {
	var ptr uintptr
	if len(gids) > 0 {
		ptr = uintptr(unsafePointer(&gids[0]))
	}
	_, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), ptr, 0)
	switch {
	case e == 0:
		return nil
	case e == unix.EPERM && len(gids) == 0:
		// A user namespace whose gid_map its unprivileged creator wrote
		// (rootless berth without subordinate IDs) denies setgroups for
		// good; the groups the process keeps are unmapped ones (they
		// read as the overflow gid), as with runc and podman there.
		return nil
	case e == unix.EPERM:
		return fmt.Errorf("setgroups: %w (the user namespace denies it: rootless berth without subordinate IDs cannot give the process additional groups)", e)
	}
	return fmt.Errorf("setgroups: %w", e)
}
