package nft

import (
	"fmt"
	"sync"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// berth keeps its netfilter netlink sockets open for the process's life,
// one for google/nftables and one for the requests it cannot make
// (Generation, deleteTableAt), per network namespace, and never closes
// them itself: the kernel's release of such a socket waits until what
// committed transactions deleted, anybody's, is freed after an RCU grace
// period (netlink_release -> nft_rcv_nl_event flushes nf_tables' destroy
// work, holding the namespace's commit mutex): 7 to 10 ms here after a
// published port's element was deleted. Closed at exit, that wait falls
// after the work is done (a stopping container's lock is already
// released; a command hands them to a holder, see HandOff), and a
// socket per operation paid it once per socket. A
// goroutine that closes them instead would not do: blocked in close(2)
// it holds the scheduler's P until sysmon takes it back, up to 10 ms
// later, and the caller's goroutine waits for a P meanwhile.
var shared struct {
	sync.Mutex
	nft map[uint64]*nftables.Conn
	raw map[uint64]*netlink.Conn
}

// threadNetns names the calling thread's network namespace: its inode.
// Goroutines that are not locked to a thread run in the process's
// namespace; a locked one (tests) in the one its thread entered.
func threadNetns() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return 0, fmt.Errorf("nftables: the thread's network namespace: %w", err)
	}
	return st.Ino, nil
}

// do runs op with the connection of this namespace, one op at a time: a
// Conn's queued messages are one transaction. A failed op may leave
// replies unread or an error kept in the Conn, so its connection is
// closed (an error's path pays the wait) and the next op dials afresh.
// Rules of another namespace (netnsFD) get a connection for the op.
func (r *Rules) do(op func(c *nftables.Conn) error) error {
	if r.netnsFD >= 0 {
		c, err := nftables.New(nftables.AsLasting(), nftables.WithNetNSFd(r.netnsFD))
		if err != nil {
			return fmt.Errorf("nftables: %w", err)
		}
		defer c.CloseLasting()
		return op(c)
	}
	shared.Lock()
	defer shared.Unlock()
	return withLasting(&shared.nft, func() (*nftables.Conn, error) {
		c, err := nftables.New(nftables.AsLasting())
		if err != nil {
			return nil, fmt.Errorf("nftables: %w", err)
		}
		return c, nil
	}, (*nftables.Conn).CloseLasting, op)
}

// doRaw is do for requests google/nftables cannot make, on a plain
// netfilter netlink socket of the namespace of netnsFD, or of the
// calling thread when it is negative.
func doRaw(netnsFD int, op func(c *netlink.Conn) error) error {
	if netnsFD >= 0 {
		c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netnsFD})
		if err != nil {
			return err
		}
		defer c.Close()
		return op(c)
	}
	shared.Lock()
	defer shared.Unlock()
	return withLasting(&shared.raw, func() (*netlink.Conn, error) {
		return netlink.Dial(unix.NETLINK_NETFILTER, nil)
	}, (*netlink.Conn).Close, op)
}

// withLasting runs op with the connection in conns of the calling
// thread's network namespace, dialed first if there is none, while the
// caller holds shared's lock. A failed op may leave replies unread or an
// error kept in the connection: it is closed and forgotten, and the next
// op dials afresh.
func withLasting[C any](conns *map[uint64]C, dial func() (C, error), closeConn func(C) error, op func(C) error) error {
	ns, err := threadNetns()
	if err != nil {
		return err
	}
	c, ok := (*conns)[ns]
	if !ok {
		if c, err = dial(); err != nil {
			return err
		}
		if *conns == nil {
			*conns = map[uint64]C{}
		}
		(*conns)[ns] = c
	}
	if err := op(c); err != nil {
		delete(*conns, ns)
		_ = closeConn(c)
		return err
	}
	return nil
}
