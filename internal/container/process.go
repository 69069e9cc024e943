package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/initproc"
	"github.com/berth-runtime/berth/internal/selfexe"
	"github.com/berth-runtime/berth/internal/terminal"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// forwardedSignals are passed on to the container's PID 1, as docker run
// does.
var forwardedSignals = []os.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2}

// initProcess is the running init stage (and, after exec, the container's
// PID 1) seen from the host.
type initProcess struct {
	pid     int
	signals chan os.Signal
	relay   *terminal.Relay
}

// start forks the init stage into its new namespaces, creates the cgroup
// (on v1 while the child's runtime is starting, on v2 before, so that the
// child is born in it), sends the configuration and waits until the child
// has exec'd the program or reported why it could not.
func start(cfg *initproc.Config, cg *cgroups.Cgroup, res *specs.LinuxResources, o RunOptions) (p *initProcess, err error) {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals...)
	defer func() {
		if err != nil {
			signal.Stop(sigs)
		}
	}()
	if cfg.Process.Terminal {
		cfg.Process.ConsoleSize = terminal.HostSize(o.Stdin, o.Stdout)
	}
	cfg.Process.StdinNull = o.Stdin == nil && !cfg.Process.Terminal
	if cg.Version == cgroups.V2 {
		if err := cg.Create(res); err != nil {
			return nil, err
		}
	}
	pid, sock, err := fork(cfg, cg, o)
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	p = &initProcess{pid: pid, signals: sigs}
	if cg.Version == cgroups.V1 {
		err = cg.Create(res)
	}
	if err == nil {
		err = sendConfig(sock, cfg)
	}
	if err == nil {
		err = p.awaitExec(sock, o)
	}
	if err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		p.reap()
		if p.relay != nil {
			p.relay.Close()
		}
		return nil, err
	}
	return p, nil
}

// fork starts the init stage from a read-only copy of berth's binary.
func fork(cfg *initproc.Config, cg *cgroups.Cgroup, o RunOptions) (int, *os.File, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("create sync socket: %w", err)
	}
	parent, child := os.NewFile(uintptr(pair[0]), "sync"), os.NewFile(uintptr(pair[1]), "sync-child")
	defer child.Close()
	exe, err := selfexe.Open()
	if err != nil {
		parent.Close()
		return 0, nil, fmt.Errorf("open berth binary: %w", err)
	}
	defer exe.Close()
	exeFD, err := highFD(exe)
	if err != nil {
		parent.Close()
		return 0, nil, err
	}
	defer unix.Close(exeFD)
	sys := &syscall.SysProcAttr{Cloneflags: cloneFlags(o.Spec)}
	if cg.Version == cgroups.V2 {
		dir, err := cg.OpenDir()
		if err != nil {
			parent.Close()
			return 0, nil, fmt.Errorf("open cgroup: %w", err)
		}
		defer dir.Close()
		sys.UseCgroupFD, sys.CgroupFD = true, int(dir.Fd())
	}
	stdin, stdout, stderr := o.Stdin, o.Stdout, o.Stderr
	if stdin == nil {
		stdin = stdout // replaced by the container's /dev/null before exec
	}
	attr := &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{stdin.Fd(), stdout.Fd(), stderr.Fd(), child.Fd()},
		Sys:   sys,
	}
	pid, err := syscall.ForkExec("/proc/self/fd/"+strconv.Itoa(exeFD), []string{initproc.Argv0}, attr)
	if err != nil {
		parent.Close()
		return 0, nil, fmt.Errorf("start init stage: %w", err)
	}
	return pid, parent, nil
}

// highFD duplicates f above the descriptors ForkExec rearranges, so that
// the exec path stays valid in the child until execve.
func highFD(f *os.File) (int, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 10)
	if err != nil {
		return 0, fmt.Errorf("dup berth binary: %w", err)
	}
	return fd, nil
}

func sendConfig(sock *os.File, cfg *initproc.Config) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode init config: %w", err)
	}
	if err := unix.Sendto(int(sock.Fd()), b, unix.MSG_NOSIGNAL, nil); err != nil {
		return fmt.Errorf("send init config: %w", err)
	}
	return nil
}

// awaitExec reads the init stage's reports until the socket closes, which
// happens when the program has been exec'd (or the init stage died).
func (p *initProcess) awaitExec(sock *os.File, o RunOptions) error {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read from init stage: %w", err)
		}
		if n == 0 && oobn == 0 {
			return nil
		}
		if oobn > 0 {
			master, err := receivedFile(oob[:oobn])
			if err != nil {
				return err
			}
			p.relay = terminal.StartRelay(master, o.Stdin, o.Stdout)
			continue
		}
		var msg initproc.Message
		if err := json.Unmarshal(buf[:n], &msg); err != nil {
			return fmt.Errorf("bad message from init stage: %w", err)
		}
		return &StartError{Code: msg.Code, Err: errors.New(msg.Error)}
	}
}

func receivedFile(oob []byte) (*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("bad control message from init stage: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("bad file from init stage: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// wait forwards signals until PID 1 exits and returns how it ended.
func (p *initProcess) wait() Exit {
	done := make(chan unix.WaitStatus, 1)
	go func() { done <- p.reap() }()
	defer signal.Stop(p.signals)
	for {
		select {
		case sig := <-p.signals:
			_ = unix.Kill(p.pid, sig.(unix.Signal))
		case ws := <-done:
			if p.relay != nil {
				p.relay.Close()
			}
			return exitOf(ws)
		}
	}
}

func (p *initProcess) reap() unix.WaitStatus {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(p.pid, &ws, 0, nil)
		if !errors.Is(err, unix.EINTR) {
			return ws
		}
	}
}

func exitOf(ws unix.WaitStatus) Exit {
	if ws.Signaled() {
		return Exit{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
	}
	return Exit{Code: ws.ExitStatus()}
}
