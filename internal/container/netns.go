package container

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"

	"github.com/berth-runtime/berth/internal/initproc"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// netnsJob makes a container's new network namespace on a thread of its
// own while create goes on (validation, cgroups, the state record, the
// init stage's fork), instead of in the clone of the init stage: of the
// namespaces a container gets, the network one is the dear one (about
// 0.7 ms of `unshare --net` here), and on a machine with a second CPU it
// is made off the start path. berth-stage, forked in berth's own
// namespace, gets it with its config and joins it before anything else
// (initproc.Config.NetnsInMessage); berth-init is born in it
// (forkInNetns). Once it exists, Options.ConnectNetwork (berth's bridge:
// a veth pair, addresses, routes) runs in it at once.
//
// Only without a user namespace: a namespace is owned by the user
// namespace of whoever makes it, and a container's own user namespace
// must own its network namespace; the thread here is in berth's. A
// namespace the thread cannot make fails the start: the clone could not
// have made it either.
type netnsJob struct {
	ready chan struct{} // closed once ns and host, or err, are set
	// ns is the new namespace, host the one berth runs in, which the
	// forking thread returns to.
	ns, host *os.File
	err      error
	// connected receives ConnectNetwork's result; nil without one.
	connected  chan error
	once       sync.Once
	connectErr error
}

// earlyNetns reports whether create makes the network namespace itself
// (netnsJob): s asks for a new one, and has no user namespace, and berth
// runs in the host's user namespace. A rootless berth, in a user
// namespace of its own, could make one but not take its thread back into
// the host's network namespace, which that namespace does not own.
func earlyNetns(o Options, s *specs.Spec) bool {
	return o.target == nil && spec.NewNamespace(s, specs.NetworkNamespace) && !spec.HasNamespace(s, specs.UserNamespace) &&
		inInitialUserNamespace()
}

// initUserNamespaceInode is the inode of the initial user namespace's
// file, which the kernel fixes (PROC_USER_INIT_INO).
const initUserNamespaceInode = 0xEFFFFFFD

func inInitialUserNamespace() bool {
	var st unix.Stat_t
	return unix.Stat("/proc/self/ns/user", &st) == nil && st.Ino == initUserNamespaceInode
}

// startNetns starts making the network namespace and connecting it; nil
// when the init stage's clone makes it.
func startNetns(o Options, s *specs.Spec) *netnsJob {
	if !earlyNetns(o, s) {
		return nil
	}
	j := &netnsJob{ready: make(chan struct{})}
	if o.ConnectNetwork != nil {
		j.connected = make(chan error, 1)
	}
	go func() {
		j.ns, j.host, j.err = makeNetns()
		close(j.ready)
		if j.connected != nil {
			if j.err != nil {
				j.connected <- j.err
				return
			}
			j.connected <- o.ConnectNetwork(j.ns)
		}
	}()
	return j
}

// makeNetns makes a network namespace on the calling goroutine's thread
// and returns the thread to berth's own; it returns that one too.
func makeNetns() (ns, host *os.File, err error) {
	runtime.LockOSThread()
	host, err = os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, nil, fmt.Errorf("open network namespace: %w", err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		host.Close()
		return nil, nil, fmt.Errorf("create network namespace: %w", err)
	}
	ns, err = os.Open("/proc/thread-self/ns/net")
	if err == nil {
		// Here rather than in the init stage, which would wait for the
		// rtnl lock while a veth is made beside it (ConnectNetwork).
		err = initproc.LoopbackUp()
	}
	if rerr := unix.Setns(int(host.Fd()), unix.CLONE_NEWNET); rerr != nil {
		// Still locked: Go ends the thread with this goroutine, and no
		// other goroutine runs in the container's namespace.
		if ns != nil {
			ns.Close()
		}
		host.Close()
		return nil, nil, fmt.Errorf("return to berth's network namespace: %w", rerr)
	}
	runtime.UnlockOSThread()
	if err != nil {
		if ns != nil {
			ns.Close()
		}
		host.Close()
		return nil, nil, fmt.Errorf("set up network namespace: %w", err)
	}
	return ns, host, nil
}

// wait waits until the namespace exists, or could not be made.
func (j *netnsJob) wait() error {
	<-j.ready
	return j.err
}

// connectResult waits for ConnectNetwork's result; nil without one.
func (j *netnsJob) connectResult() error {
	if j.connected == nil {
		return nil
	}
	j.once.Do(func() { j.connectErr = <-j.connected })
	return j.connectErr
}

// release waits for ConnectNetwork (nothing may tear the namespace down
// while it still adds to it) and closes the files: the container, if it
// started, holds the namespace from then on; if not, the namespace goes,
// and with it the veth put there.
func (j *netnsJob) release() {
	if j == nil {
		return
	}
	<-j.ready
	_ = j.connectResult()
	if j.ns != nil {
		j.ns.Close()
		j.host.Close()
	}
}

// prepare is what runs in this process while the init stage sets up:
// ConnectNetwork (the netns job's result, when it runs there) and
// Prepare.
func (o Options) prepare(pid int) error {
	if o.ConnectNetwork != nil {
		if o.netns != nil {
			if err := o.netns.connectResult(); err != nil {
				return err
			}
		} else if err := connectAt(pid, o.ConnectNetwork); err != nil {
			return err
		}
	}
	if o.Prepare != nil {
		return o.Prepare(pid)
	}
	return nil
}

// connectAt runs connect in the network namespace of process pid.
func connectAt(pid int, connect func(netns *os.File) error) error {
	ns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return fmt.Errorf("open the container's network namespace: %w", err)
	}
	defer ns.Close()
	return connect(ns)
}

// forkInNetns runs fork with the calling thread in the job's namespace,
// so that the child is born in it, and returns the thread to berth's own.
func (j *netnsJob) forkInNetns(fork func() (int, error)) (int, error) {
	runtime.LockOSThread()
	restored := false
	defer func() {
		// A thread that could not return to berth's namespace stays
		// locked, so the runtime discards it with its goroutine.
		if restored {
			runtime.UnlockOSThread()
		}
	}()
	if err := unix.Setns(int(j.ns.Fd()), unix.CLONE_NEWNET); err != nil {
		restored = true
		return 0, fmt.Errorf("join the container's network namespace: %w", err)
	}
	pid, err := fork()
	if rerr := unix.Setns(int(j.host.Fd()), unix.CLONE_NEWNET); rerr != nil {
		return pid, fmt.Errorf("return to berth's network namespace: %w", rerr)
	}
	restored = true
	return pid, err
}
