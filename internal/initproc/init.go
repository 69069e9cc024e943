package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/berth-runtime/berth/internal/caps"
	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/terminal"
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
	// Go's own Pdeathsig cannot be used: its check that the parent is
	// still alive reads getppid(), which is 0 in a new PID namespace. A
	// parent that dies before this point is noticed when the config read
	// finds the socket closed.
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	sock := os.NewFile(SyncFD, "sync")
	err := run(sock)
	code := 125
	var se *startError
	if errors.As(err, &se) {
		code = se.code
	}
	b, _ := json.Marshal(Message{Error: err.Error(), Code: code})
	_, _ = unix.Write(SyncFD, b)
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
	cfg, err := readConfig(sock)
	if err != nil {
		return err
	}
	// Device nodes and mount points get exactly the modes asked for; the
	// process's own umask is set just before exec.
	unix.Umask(0)
	if err := setupNamespaces(cfg); err != nil {
		return err
	}
	if err := rootfs.Prepare(&cfg.Rootfs); err != nil {
		return err
	}
	if err := rootfs.Pivot(cfg.Rootfs.Root); err != nil {
		return err
	}
	if cfg.Process.Terminal {
		if err := setupTerminal(sock, cfg.Process.ConsoleSize); err != nil {
			return err
		}
	}
	if err := rootfs.Finish(&cfg.Rootfs); err != nil {
		return err
	}
	return execProcess(&cfg.Process)
}

func readConfig(sock *os.File) (*Config, error) {
	fd := int(sock.Fd())
	// SOCK_SEQPACKET keeps the config one message; peek for its size.
	n, _, err := unix.Recvfrom(fd, nil, unix.MSG_PEEK|unix.MSG_TRUNC)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	buf := make([]byte, n)
	if _, _, err := unix.Recvfrom(fd, buf, 0); err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(buf, &cfg); err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	return &cfg, nil
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

// setupTerminal opens the container's pty, sends the master to the parent
// and makes the slave the controlling terminal, stdio and /dev/console.
func setupTerminal(sock *os.File, size terminal.Size) error {
	master, slave, err := terminal.OpenPTY()
	if err != nil {
		return err
	}
	defer slave.Close()
	if err := terminal.SetSize(master, size); err != nil {
		master.Close()
		return fmt.Errorf("set terminal size: %w", err)
	}
	err = terminal.SendFD(sock, master)
	master.Close()
	if err != nil {
		return err
	}
	if err := bindConsole(slave); err != nil {
		return err
	}
	return terminal.MakeControlling(slave)
}

func bindConsole(slave *os.File) error {
	f, err := os.OpenFile("/dev/console", os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NOCTTY, 0o600)
	if err != nil {
		return fmt.Errorf("create /dev/console: %w", err)
	}
	f.Close()
	src := "/proc/self/fd/" + strconv.Itoa(int(slave.Fd()))
	if err := unix.Mount(src, "/dev/console", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind /dev/console: %w", err)
	}
	return nil
}

// execProcess applies the process settings and execs the program.
func execProcess(p *Process) error {
	if p.StdinNull {
		if err := reopenStdin(); err != nil {
			return err
		}
	}
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	if p.OOMScoreAdj != nil {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*p.OOMScoreAdj)), 0); err != nil {
			return fmt.Errorf("set oom_score_adj: %w", err)
		}
	}
	if err := unix.Chdir(p.Cwd); err != nil && !errors.Is(err, unix.EACCES) {
		return fmt.Errorf("chdir to working directory %q: %w", p.Cwd, err)
	}
	if err := setIdentity(p); err != nil {
		return err
	}
	// A directory only the user may enter is entered as the user.
	if err := unix.Chdir(p.Cwd); err != nil {
		return fmt.Errorf("chdir to working directory %q: %w", p.Cwd, err)
	}
	if p.Umask != nil {
		unix.Umask(int(*p.Umask))
	} else {
		unix.Umask(0o022)
	}
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return err
	}
	// Nothing the parent (or its caller) left open may reach the program.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close inherited files: %w", err)
	}
	err = syscall.Exec(path, p.Args, p.Env)
	return execError(p.Args[0], err)
}

func reopenStdin() error {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/null: %w", err)
	}
	defer unix.Close(fd)
	return unix.Dup3(fd, 0, 0)
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
	// Changing credentials cleared the parent-death signal.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set parent death signal: %w", err)
	}
	return nil
}

func setgroups(gids []uint32) error {
	var ptr uintptr
	if len(gids) > 0 {
		ptr = uintptr(unsafePointer(&gids[0]))
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), ptr, 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	return nil
}
