package initproc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/procfs"
	"golang.org/x/sys/unix"
)

// runExec starts a further process in a running container.
//
// The init stage itself stays in the caller's PID namespace, where the
// container cannot see it. On its main thread it joins the container's
// cgroups and namespaces (the mount namespace last: its root and working
// directory become the container's), takes on the process's identity,
// capabilities and seccomp filter, and only then forks the program from
// that thread, into the container's PID namespace. So the program appears
// in the container already inside its root and mount namespace, with its
// final credentials, and not dumpable (a fork keeps this process's
// setting) until its own execve: nothing in the container can read the
// host's files through /proc/PID/root, or ptrace it while it holds the
// parent's files (runc's CVE-2016-9962 class). The fork uses CLONE_PARENT,
// so the program is the caller's child, which waits for it; this stage
// reports its PID and exits.
func runExec(sock *os.File, cfg *Config) error {
	if cfg.DieWithParent {
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
			return fmt.Errorf("set parent death signal: %w", err)
		}
	}
	if err := cgroups.Join(cfg.CgroupTasks); err != nil {
		return err
	}
	if err := joinTarget(cfg.Target); err != nil {
		return err
	}
	stdio, held, err := execStdio(sock, &cfg.Process)
	if err != nil {
		return err
	}
	defer closeAll(held)
	path, err := lookPath(cfg.Process.Args[0], cfg.Process.Env)
	if err != nil {
		return err
	}
	// The filter judges the fork and the child's last calls before
	// execve too (setsid, dup3): every profile a program can run under
	// allows them.
	if err := prepareProcess(sock, &cfg.Process, cfg.PreserveFDs); err != nil {
		return err
	}
	files := append(stdio[:], make([]uintptr, cfg.PreserveFDs)...)
	for i := 0; i < cfg.PreserveFDs; i++ {
		files[3+i] = uintptr(3 + i)
	}
	sys := &syscall.SysProcAttr{Setsid: true, Cloneflags: unix.CLONE_PARENT}
	if cfg.Process.Terminal {
		sys.Setctty, sys.Ctty = true, 0
	}
	pid, err := syscall.ForkExec(path, cfg.Process.Args, &syscall.ProcAttr{Env: cfg.Process.Env, Files: files, Sys: sys})
	if err != nil {
		return execError(cfg.Process.Args[0], err)
	}
	if err := send(sock, Message{Type: MsgForked, Pid: pid}); err != nil {
		// The caller is gone: so must the program be, which it would
		// otherwise never wait for.
		_ = unix.Kill(pid, unix.SIGKILL)
		return fmt.Errorf("report the program's pid: %w", err)
	}
	return nil
}

// execStdio is what the program gets as fds 0-2: a pty slave of the
// container's devpts (whose master goes to the parent), or this stage's
// own descriptors, with the container's /dev/null where the parent asked.
// held are the files opened for it, to keep open until the fork.
func execStdio(sock *os.File, p *Process) (stdio [3]uintptr, held []*os.File, err error) {
	if p.Terminal {
		slave, err := openTerminal(sock, p)
		if err != nil {
			return stdio, nil, err
		}
		fd := slave.Fd()
		return [3]uintptr{fd, fd, fd}, []*os.File{slave}, nil
	}
	stdio = [3]uintptr{0, 1, 2}
	if len(p.DevNull) > 0 {
		null, err := openDevNull()
		if err != nil {
			return stdio, nil, err
		}
		held = append(held, null)
		for _, fd := range p.DevNull {
			stdio[fd] = null.Fd()
		}
	}
	return stdio, held, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// joinTarget enters the container's namespaces through the pidfd of its
// init process, on this thread only: the mount namespace needs a thread
// with a file-system context of its own, and gives it the container's root
// and working directory. The PID namespace applies to the children forked
// from this thread.
func joinTarget(t *Target) error {
	if t == nil {
		return errors.New("exec: no container to join")
	}
	if t.UserNamespace {
		if err := procfs.Open(); err != nil {
			return err
		}
	}
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare fs: %w", err)
	}
	err := unix.Setns(t.PidFD, int(t.Namespaces))
	if errors.Is(err, unix.EINVAL) {
		// Linux before 5.8 takes namespace files only.
		err = joinByPath(t)
	}
	if err != nil {
		return fmt.Errorf("join the container's namespaces: %w", err)
	}
	if t.Chroot {
		return enterRootOf(t)
	}
	return nil
}

// nsFiles names the namespace files of the flags joinByPath handles, the
// mount namespace last.
var nsFiles = []struct {
	flag uintptr
	name string
}{
	{unix.CLONE_NEWIPC, "ipc"}, {unix.CLONE_NEWUTS, "uts"}, {unix.CLONE_NEWNET, "net"},
	{unix.CLONE_NEWCGROUP, "cgroup"}, {unix.CLONE_NEWPID, "pid"}, {unix.CLONE_NEWNS, "mnt"},
}

// joinByPath joins the namespaces through /proc/PID/ns files, opened
// before checking that the pidfd's process still lives: if it does, the
// PID named it when the files were opened.
func joinByPath(t *Target) error {
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, ns := range nsFiles {
		if t.Namespaces&ns.flag == 0 {
			continue
		}
		fd, err := unix.Open("/proc/"+strconv.Itoa(t.Pid)+"/ns/"+ns.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		fds = append(fds, fd)
	}
	if err := targetAlive(t); err != nil {
		return err
	}
	for _, fd := range fds {
		if err := unix.Setns(fd, 0); err != nil {
			return err
		}
	}
	return nil
}

// enterRootOf chroots into the root of the container's init process.
func enterRootOf(t *Target) error {
	fd, err := unix.Open("/proc/"+strconv.Itoa(t.Pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the container's root: %w", err)
	}
	defer unix.Close(fd)
	if err := targetAlive(t); err != nil {
		return err
	}
	if err := unix.Fchdir(fd); err != nil {
		return fmt.Errorf("enter the container's root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("enter the container's root: %w", err)
	}
	return nil
}

// targetAlive fails if the container's init process has exited: its PID
// may name another process by now.
func targetAlive(t *Target) error {
	fds := []unix.PollFd{{Fd: int32(t.PidFD), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 0); err != nil || n > 0 {
		return errors.New("the container's init process has exited")
	}
	return nil
}
