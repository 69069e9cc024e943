package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/initproc"
	"github.com/berth-runtime/berth/internal/pidfd"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// nsenterPlan is the work of berth-nsenter (cmd/berth-nsenter), the
// single-threaded stage forked instead of berth-init where an existing
// user namespace must be joined, which the kernel refuses to a
// multi-threaded process: it joins the v1 cgroups (as the host's root,
// before the user namespace), the user namespace, becomes its root, and
// execs berth-init; for a new container it first clones the new
// namespaces, so that the joined user namespace owns them.
type nsenterPlan struct {
	userns *os.File // the user namespace's ns file
	pidns  *os.File // the PID namespace the clone's child is born in, if joined
	clone  uintptr  // the new namespaces of a container; 0 for an exec
	tasks  []string // v1 tasks files to join
}

// createPlan is the plan for a config that joins a user namespace by
// path, or nil for any other.
func createPlan(s *specs.Spec) (_ *nsenterPlan, err error) {
	userns, pidns := namespacePath(s, specs.UserNamespace), namespacePath(s, specs.PIDNamespace)
	if userns == "" {
		return nil, nil
	}
	pl := &nsenterPlan{clone: cloneFlags(s)}
	defer func() {
		if err != nil {
			pl.Close()
		}
	}()
	if pl.userns, err = openNamespace(userns, unix.CLONE_NEWUSER); err != nil {
		return nil, err
	}
	if pidns != "" {
		if pl.pidns, err = openNamespace(pidns, unix.CLONE_NEWPID); err != nil {
			return nil, err
		}
	}
	return pl, nil
}

// execPlan is the plan for an exec into a container with a user
// namespace: its init process's, opened by its /proc/PID/ns file (any
// kernel; setns takes a pidfd only from Linux 5.8) while the pidfd proves
// that the PID still names it.
func execPlan(target *pidfd.Process) (*nsenterPlan, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(target.Pid) + "/ns/user")
	if err != nil {
		return nil, fmt.Errorf("open the container's user namespace: %w", err)
	}
	if target.Wait(0) {
		f.Close()
		return nil, fmt.Errorf("open the container's user namespace: %w", ErrNotRunning)
	}
	return &nsenterPlan{userns: f}, nil
}

// clones says whether berth-nsenter clones the container's init (as
// spawn.c decides: new namespaces, or a PID namespace to be born in) and
// reports it, or execs berth-init itself.
func (pl *nsenterPlan) clones() bool { return pl.clone != 0 || pl.pidns != nil }

func (pl *nsenterPlan) Close() {
	if pl == nil {
		return
	}
	for _, f := range []*os.File{pl.userns, pl.pidns} {
		if f != nil {
			f.Close()
		}
	}
}

func namespacePath(s *specs.Spec, t specs.LinuxNamespaceType) string {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path
		}
	}
	return ""
}

// openNamespace opens a namespace file and checks that it is one of the
// kind the config says, so that a wrong path fails here with its name.
func openNamespace(path string, kind int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", path, err)
	}
	if t, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE); err != nil || t != kind {
		f.Close()
		return nil, fmt.Errorf("%w: namespace path %s is not a %s namespace", spec.ErrInvalid, path, nsKindName(kind))
	}
	return f, nil
}

func nsKindName(kind int) string {
	if kind == unix.CLONE_NEWUSER {
		return "user"
	}
	return "pid"
}

// args adds what berth-nsenter needs to the child's descriptors and
// returns its argv: the descriptors by number, berth-init's argv after
// "--" (args.c decodes it). The tasks files opened here are returned for
// the caller to close after the fork.
func (pl *nsenterPlan) args(files *[]uintptr, initFD, syncFD int) (argv []string, opened []*os.File, err error) {
	add := func(opt string, f *os.File) {
		argv = append(argv, opt, strconv.Itoa(len(*files)))
		*files = append(*files, f.Fd())
	}
	argv = []string{"berth-nsenter", "--init", strconv.Itoa(initFD), "--sync", strconv.Itoa(syncFD)}
	add("--userns", pl.userns)
	if pl.pidns != nil {
		add("--pidns", pl.pidns)
	}
	for _, path := range pl.tasks {
		f, err := os.OpenFile(path, os.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			closeFiles(opened)
			return nil, nil, fmt.Errorf("open cgroup: %w", err)
		}
		opened = append(opened, f)
		add("--tasks", f)
	}
	if pl.clone != 0 {
		argv = append(argv, "--clone", strconv.FormatUint(uint64(pl.clone), 10))
	}
	return append(argv, "--", initproc.Argv0, strconv.Itoa(syncFD)), opened, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// takeClone waits for berth-nsenter's report of the container's init
// process, which it cloned with CLONE_PARENT (so it is this process's
// child), reaps berth-nsenter and holds the init process by a pidfd.
func (p *initProcess) takeClone(sock *os.File) error {
	buf := make([]byte, 4096)
	var n int
	var err error
	for {
		n, _, err = unix.Recvfrom(int(sock.Fd()), buf, 0)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	stage := p.pid
	reapPid(stage)
	if err != nil || n == 0 {
		return fmt.Errorf("berth-nsenter ended without a report (%v)", err)
	}
	var msg initproc.Message
	if err := json.Unmarshal(buf[:n], &msg); err != nil {
		return fmt.Errorf("bad message from berth-nsenter: %w", err)
	}
	if msg.Type != initproc.MsgForked || msg.Pid <= 0 {
		return &StartError{Code: msg.Code, Err: errors.New(msg.Error)}
	}
	if err := isChild(msg.Pid); err != nil {
		return err
	}
	p.pid = msg.Pid
	if p.proc != nil {
		p.proc.Close()
		p.proc = nil
	}
	if fd, err := unix.PidfdOpen(p.pid, 0); err == nil {
		p.proc = pidfd.FromFD(fd, p.pid)
	}
	return nil
}

// ownFifoByRootOf gives the exec FIFO to the root of process pid's user
// namespace, when the config did not name its mappings: the init stage,
// already in the joined namespace, reopens the FIFO once it has its
// config, which is sent after this.
func ownFifoByRootOf(fifo *os.File, pid int) error {
	uid, err := rootID(pid, "uid_map")
	if err != nil {
		return err
	}
	gid, err := rootID(pid, "gid_map")
	if err != nil {
		return err
	}
	if err := unix.Fchownat(int(fifo.Fd()), "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("give the exec fifo to the user namespace's root: %w", err)
	}
	return nil
}

// rootID is the host ID that ID 0 of process pid's user namespace maps
// to, from its uid_map or gid_map (lines of "inside outside count").
func rootID(pid int, file string) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
	if err != nil {
		return 0, fmt.Errorf("read the joined user namespace's %s: %w", file, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		var inside, outside, count uint64
		if n, _ := fmt.Sscan(line, &inside, &outside, &count); n == 3 && inside == 0 && count > 0 {
			return int(outside), nil
		}
	}
	return 0, fmt.Errorf("the joined user namespace maps no root in its %s: berth-nsenter could not have become root there", file)
}
