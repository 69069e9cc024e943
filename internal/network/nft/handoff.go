package nft

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// A berth command that committed a transaction (rm -f or stop of a
// container with published ports, run --rm -p) would pay, in its own
// exit, the kernel's wait for what the transaction deleted to be freed
// after an RCU grace period (see shared): the last close of a netfilter
// netlink socket flushes nf_tables' destroy work. Whoever runs the
// command waits for its exit, so that wait was 5 to 10 ms of every such
// command, after its work was done. HandOff gives this process's
// netfilter sockets to a holder, a copy of berth that keeps them until
// this process is gone and then exits: the last close, and its wait, are
// the holder's, which nobody waits for.

// committed is set once this process committed a transaction.
var committed atomic.Bool

const (
	// holderArg0 and holderEnv (the PID of the process it holds for)
	// mark the holder; HoldStage runs it.
	holderArg0 = "berth-nft-holder"
	holderEnv  = "BERTH_NFT_HOLDER"
)

// HandOff starts the holder of this process's netfilter sockets, if it
// committed a transaction; call it just before the process exits. Its
// failure costs only the wait it avoids.
func HandOff() error {
	if !committed.Load() {
		return nil
	}
	socks, err := netfilterSockets("self")
	if err != nil || len(socks) == 0 {
		return err
	}
	// Nothing of the caller's: no standard streams (the holder writes
	// nothing), no other descriptor, no terminal session, no environment
	// but the PID it holds for, the root directory.
	closeOnExecBut(socks)
	files := []uintptr{^uintptr(0), ^uintptr(0), ^uintptr(0)}
	for fd := range socks {
		files = append(files, uintptr(fd))
	}
	_, err = syscall.ForkExec("/proc/self/exe", []string{holderArg0}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   []string{holderEnv + "=" + strconv.Itoa(os.Getpid())},
		Files: files,
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return fmt.Errorf("hand the netfilter sockets over: %w", err)
	}
	return nil
}

// HoldStage is the holder's whole life when this process is one, and
// returns at once in any other: it waits for the process it holds the
// sockets for to be gone, then exits, which closes them.
func HoldStage() {
	if len(os.Args) != 1 || os.Args[0] != holderArg0 {
		return
	}
	v, ok := os.LookupEnv(holderEnv)
	if !ok {
		return
	}
	if parent, err := strconv.Atoi(v); err == nil {
		waitGone(parent)
	}
	os.Exit(0)
}

// waitGone waits for process pid, this one's parent, to exit. Its pidfd
// is taken first and the parent checked after: a parent already gone
// left this process to another, and its PID may be anyone's by now.
func waitGone(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if os.Getppid() != pid {
		return
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			return
		}
	}
}

// netfilterSockets are the netfilter netlink sockets of process proc
// ("self", or a PID) in its network namespace, by descriptor, each with
// its /proc/PID/fd link: the sockets /proc/PID/net/netlink lists with
// that protocol, found by inode among /proc/PID/fd.
func netfilterSockets(proc string) (map[int]string, error) {
	f, err := os.Open("/proc/" + proc + "/net/netlink")
	if err != nil {
		return nil, err
	}
	inodes, err := parseNetlinkInodes(f, unix.NETLINK_NETFILTER)
	f.Close()
	if err != nil || len(inodes) == 0 {
		return nil, err
	}
	dir := "/proc/" + proc + "/fd/"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	socks := map[int]string{}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink(dir + e.Name())
		if ino, ok := strings.CutPrefix(link, "socket:["); err == nil && ok && inodes[strings.TrimSuffix(ino, "]")] {
			socks[fd] = link
		}
	}
	return socks, nil
}

// closeOnExecBut makes every descriptor of this process above 2 but those
// of keep close-on-exec, so that none that berth's caller left open
// reaches the holder: this process is about to exit, and a caller
// waiting for a pipe's end must not wait for the holder's.
func closeOnExecBut(keep map[int]string) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 && keep[fd] == "" {
			_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
}

// parseNetlinkInodes reads /proc/net/netlink (a header, then per socket:
// sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode, Eth the protocol)
// and returns the inodes of the sockets of protocol proto.
func parseNetlinkInodes(r io.Reader, proto int) (map[string]bool, error) {
	inodes := map[string]bool{}
	sc := bufio.NewScanner(r)
	header := true
	for sc.Scan() {
		if header {
			header = false
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		if p, err := strconv.Atoi(fields[1]); err == nil && p == proto {
			inodes[fields[9]] = true
		}
	}
	return inodes, sc.Err()
}
