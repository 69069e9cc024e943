// Package network connects berth run's containers to a bridge network: it
// allocates the address (ipam), writes the container's /etc/hosts,
// /etc/hostname and /etc/resolv.conf, creates the bridge and the veth into
// the container's network namespace (link), and keeps berth's nftables
// table (nft) up to date; on exit, or after berth was killed, it releases
// all of it. berth-oci stays network-agnostic, as runc: engines bring CNI.
package network

import (
	"errors"
	"fmt"
	"github.com/berth-runtime/berth/internal/flock"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-runtime/berth/internal/network/ipam"
	"github.com/berth-runtime/berth/internal/network/link"
	"github.com/berth-runtime/berth/internal/network/nft"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The default bridge network, as Docker's docker0 and podman's podman0.
const (
	DefaultName   = "bridge"
	DefaultBridge = "berth0"
)

// DefaultSubnet is the default network's subnet.
var DefaultSubnet = netip.MustParsePrefix("10.88.0.0/16")

// Network is one bridge network.
type Network struct {
	Name   string
	Bridge string
	Subnet netip.Prefix
	dir    string
	id     string // see ID
}

// Default is the default bridge network, with its state under root.
func Default(root string) *Network {
	return &Network{Name: DefaultName, Bridge: DefaultBridge, Subnet: DefaultSubnet, dir: filepath.Join(root, "networks", DefaultName)}
}

// Attachment is one container's place on a network. Its owner holds a
// lock on its directory for as long as it lives: an attachment whose lock
// can be taken belongs to a berth that is gone.
type Attachment struct {
	net  *Network
	ID   string
	Addr netip.Addr
	// Warnings are what attaching did not get right without failing
	// (the host's resolv.conf had nothing a container can use), for the
	// caller to show: the library never prints.
	Warnings []string
	HostIf   string
	MAC      net.HardwareAddr // nil: derived from Addr
	// secondary: see AttachOptions.
	secondary bool
	// Ports are the published ports, their host ports chosen.
	Ports    []nft.Port
	filesDir string
	lock     *os.File
	held     []int // a socket on each published host port (hostports.go)
	// hostSide is the part of connecting that needs no network
	// namespace (hostSetup), run once; prestarted says Prestart ran it
	// in the background, which Release then waits for.
	hostSide   func() error
	prestarted bool
	// addressed is Address's work (address), run once.
	addressed func() error
	// early is PlugEarly's: the network namespace made before the init
	// stage, and its plugging in.
	early  *earlyPlug
	bridge link.Bridge // as hostSetup found it
}

// Attach takes ownership of the container's place on the network,
// reserves its published host ports, allocates its address and writes
// its network files. names are the container's host name first, then
// other names (its --name) other members resolve it by. A host port
// that something else holds is a *PortInUseError. On error nothing is
// left allocated.
func (n *Network) Attach(id string, names []string, ports []nft.Port) (a *Attachment, err error) {
	return n.AttachWith(id, names, ports, FileOptions{})
}

// AttachWith is Attach with the container's --add-host and --dns options.
func (n *Network) AttachWith(id string, names []string, ports []nft.Port, files FileOptions) (a *Attachment, err error) {
	return n.AttachOpts(id, AttachOptions{Names: names, Ports: nft.Specs(ports), Files: files})
}

// AttachOptions are a container's settings on one network.
type AttachOptions struct {
	// Names are the host name first, then the names other members
	// resolve the container by (its --name, its --network-alias).
	Names []string
	// Ports are -p's, their host ports chosen when they are reserved.
	Ports []nft.PortSpec
	Files FileOptions
	// IP is --ip, an address of the subnet; the zero Addr allocates one.
	IP netip.Addr
	// MAC is --mac-address; nil derives it from the address.
	MAC net.HardwareAddr
	// Secondary is a network besides the container's first (berth
	// network connect): its own veth, named ethN inside, no default
	// route and no published ports.
	Secondary bool
	// MultiHomed says the container is on other networks too: its
	// /etc/hosts names the members of all of them (see multiSuffix).
	MultiHomed bool
}

// AttachOpts is Attach with all of a container's network options.
func (n *Network) AttachOpts(id string, o AttachOptions) (*Attachment, error) {
	a, err := n.Reserve(id, o)
	if err != nil {
		return nil, err
	}
	if err := a.Address(); err != nil {
		_ = a.Release()
		return nil, err
	}
	return a, nil
}

// Reserve is the part of AttachOpts that must not wait: it takes the
// container's place on the network and reserves its published host ports
// (a port in use is refused before anything is started). Its address and
// network files come with Address, which Prestart also starts in the
// background: berth run's start does not wait for them until the init
// stage is to get its config (whose mounts need the files). Fields that
// Address sets (Addr, Warnings) are read after it. On error nothing is
// left reserved; once Reserve returned, Release gives everything back.
func (n *Network) Reserve(id string, o AttachOptions) (_ *Attachment, err error) {
	a := &Attachment{net: n, ID: id, HostIf: hostIf(id), MAC: o.MAC, secondary: o.Secondary, filesDir: filepath.Join(n.dir, "files", id)}
	a.hostSide = sync.OnceValue(a.hostSetup)
	if o.Secondary {
		a.HostIf, o.Ports = secondaryIf(id, n.Name), nil
	}
	if a.Ports, a.held, err = reservePorts(o.Ports); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			a.closePorts()
		}
	}()
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	// Under the network's lock, so that a garbage collection never sees
	// the directory before its lock is held.
	err = n.locked(func() error {
		var lerr error
		a.lock, lerr = lockDir(a.filesDir)
		return lerr
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = a.Release()
		}
	}()
	// A connection berth network connect made in a run before lived as
	// long as that run's container (ownerFile): this one is the lock's.
	// Only secondary networks are connected so.
	if o.Secondary {
		if err := os.Remove(filepath.Join(a.filesDir, ownerFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("network files: %w", err)
		}
	}
	if o.MultiHomed {
		if err := n.markMultiHomed(id, !o.Secondary); err != nil {
			return nil, err
		}
	}
	a.addressed = sync.OnceValue(func() error { return a.address(o) })
	return a, nil
}

// Address allocates the container's address (o.IP, or the next free one)
// and writes its network files, once; called again, or after Prestart,
// it waits for that and returns its error.
func (a *Attachment) Address() error { return a.addressed() }

func (a *Attachment) address(o AttachOptions) error {
	n := a.net
	pool, err := ipam.Open(n.dir, n.Subnet)
	if err != nil {
		return err
	}
	if o.IP.IsValid() {
		a.Addr, err = o.IP, pool.AllocateAddr(a.ID, o.IP, n.alive)
	} else {
		a.Addr, err = pool.Allocate(a.ID, n.alive)
	}
	if err != nil {
		return err
	}
	if err := a.writeFiles(o.Names, o.Files); err != nil {
		return err
	}
	n.event("connect", a.ID)
	return nil
}

// lockDir creates dir and takes the lock its owner holds for life.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("network files: %w", err)
	}
	f, err := flock.Open(filepath.Join(dir, "lock"), os.O_CREATE, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, fmt.Errorf("container %s is already on network: %w", filepath.Base(dir), err)
	}
	if err != nil {
		return nil, fmt.Errorf("network files: %w", err)
	}
	return f, nil
}

// alive reports whether the attachment of container id still has its
// owner: its lock is held.
func (n *Network) alive(id string) bool { return held(filepath.Join(n.dir, "files", id)) }

// held reports whether an attachment's directory has its lock held, or,
// for one berth network connect made, its container's lifetime lock.
func held(dir string) bool { return flock.Held(filepath.Join(dir, "lock")) || ownerHeld(dir) }

// hostIf names the host end of a container's veth: "bth" and the start of
// its ID, within the 15 characters an interface name may have.
func hostIf(id string) string {
	if len(id) > 12 {
		id = id[:12]
	}
	return "bth" + id
}

// checkRoutes refuses a subnet the host already routes elsewhere: the
// containers could not reach those hosts, nor they the containers. It
// runs when the bridge is made or given its address, as Docker checks
// when a network is made: a route added later does not stop containers
// that the bridge already serves.
func (n *Network) checkRoutes() error {
	routes, err := link.HostRoutes(n.Bridge)
	if err != nil {
		return err
	}
	if r, ok := ipam.Overlaps(n.Subnet, routes); ok {
		return fmt.Errorf("network %s: subnet %s overlaps the host's route to %s: create the network with another --subnet", n.Name, n.Subnet, r)
	}
	return nil
}

// Mounts are the bind mounts that give the container its network files.
func (a *Attachment) Mounts() []specs.Mount {
	var out []specs.Mount
	for _, name := range []string{"hosts", "hostname", "resolv.conf"} {
		out = append(out, specs.Mount{
			Destination: "/etc/" + name, Type: "bind", Source: filepath.Join(a.filesDir, name),
			Options: []string{"rbind", "nosuid", "nodev", "noexec"},
		})
	}
	return out
}

// Connect plugs the container, whose init process is pid, into the bridge:
// bridge and rules made if missing, a veth into its network namespace with
// its address and the default route.
func (a *Attachment) Connect(pid int) error {
	return a.ConnectNS("/proc/" + strconv.Itoa(pid) + "/ns/net")
}

// ConnectNS is Connect to the network namespace at path.
func (a *Attachment) ConnectNS(path string) error {
	if a.early != nil {
		return a.early.wait()
	}
	if err := a.hostSide(); err != nil {
		return err
	}
	nsfd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the container's network namespace: %w", err)
	}
	defer unix.Close(nsfd)
	return link.AttachTo(a.bridge, nsfd, a.endpoint())
}

// endpoint is the container's end of the attachment, once Address is done.
func (a *Attachment) endpoint() link.Endpoint {
	n := a.net
	return link.Endpoint{HostIf: a.HostIf, Addr: netip.PrefixFrom(a.Addr, n.Subnet.Bits()), Gateway: n.gateway().Addr(), MAC: a.MAC, Secondary: a.secondary}
}

// PlugEarly is Prestart that also makes the container's network
// namespace, first, and plugs it in there as soon as the host's side is
// ready, instead of Connect doing so after the fork in a namespace that
// the init stage made: the veth's creation and configuration (1.5 to 2.5
// ms here) then overlap the container's creation. Netns gives the
// namespace for the init stage to enter (container.Options.NetNS);
// Connect then waits for the plugging. One goroutine does it all, in the
// order the start needs each part: the namespace at the fork, the address
// and files before the init stage's config, the veth before its pause.
// For a container without a user namespace, which would have to own its
// network namespace.
func (a *Attachment) PlugEarly() {
	a.prestarted = true
	p := &earlyPlug{made: make(chan struct{}), plugged: make(chan struct{})}
	a.early = p
	go func() {
		defer close(p.plugged)
		p.ns, p.err = link.NewNetns()
		close(p.made)
		if p.err == nil {
			if p.err = a.hostSide(); p.err == nil {
				p.err = link.AttachNetns(a.bridge, p.ns, a.endpoint())
			}
		}
	}()
}

// NamespacePath is where the container's network namespace is, for the
// Connect of its further networks: the one PlugEarly made (which its init
// stage enters after the fork, so that the init stage's own may still be
// the host's), else that of its init stage, pid.
func (a *Attachment) NamespacePath(pid int) (string, error) {
	if a.early == nil {
		return "/proc/" + strconv.Itoa(pid) + "/ns/net", nil
	}
	f, err := a.Netns()
	if err != nil {
		return "", err
	}
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())), nil
}

// Connected closes the attachment's descriptor of the namespace PlugEarly
// made, once every network is plugged in there: the init stage has its
// own, and berth holds nothing of the running container's namespace.
func (a *Attachment) Connected() {
	if a.early != nil {
		_ = a.early.wait()
		a.early.closed.Do(a.early.ns.Close)
	}
}

// Netns is the network namespace PlugEarly made, once it is made; the
// descriptor stays the attachment's until Connected or Release.
func (a *Attachment) Netns() (*os.File, error) {
	<-a.early.made
	if a.early.ns == nil {
		return nil, a.early.err
	}
	return a.early.ns.File, nil
}

// earlyPlug is a network namespace made before the container's init stage
// and its plugging in (PlugEarly).
type earlyPlug struct {
	made, plugged chan struct{} // closed once ns, then err, are set
	ns            *link.Netns
	err           error
	closed        sync.Once
}

// wait waits for the plugging.
func (p *earlyPlug) wait() error {
	<-p.plugged
	return p.err
}

// Prestart starts, in the background, the part of Connect that needs no
// network namespace: the address and files (Address), the bridge (and,
// as it is made, the check of the host's routes), the network's rules,
// and the mappings of the published ports. berth run calls it before the
// init stage is forked, so that this work (2 to 4 ms) overlaps the
// container's creation instead of lengthening it, or the pause in which
// the init stage waits for its network. Address, Connect and Release
// wait for it. Mappings to an address no interface has yet lead nowhere.
func (a *Attachment) Prestart() {
	a.prestarted = true
	go func() { _ = a.hostSide() }() // Connect returns its error
}

// hostSetup makes the bridge (once the host's routes are found not to
// clash with its subnet) and the network's rules exist, and maps the
// published ports to the container's address.
func (a *Attachment) hostSetup() error {
	if err := a.Address(); err != nil {
		return err
	}
	n := a.net
	br, err := n.ensure(n.gateway())
	if err != nil {
		return err
	}
	a.bridge = br
	if len(a.Ports) == 0 {
		return nil
	}
	if slices.ContainsFunc(a.Ports, nft.Port.ViaLoopback) {
		if err := nft.EnableRouteLocalnet(n.Bridge); err != nil {
			return err
		}
	}
	return n.changePorts(func(r *nft.Rules) error { return r.AddPorts(a.ID, a.Addr, a.Ports) })
}

// gateway is the bridge's address: the subnet's first.
func (n *Network) gateway() netip.Prefix {
	return netip.PrefixFrom(n.Subnet.Addr().Next(), n.Subnet.Bits())
}

// ensure makes the bridge and the network's rules exist. Listing the
// rules to check them costs about 3 ms, so it is skipped when the
// nftables ruleset has not changed at all since they were last found in
// place (rulesetVersion); any change, berth's or another program's,
// brings the check back.
func (n *Network) ensure(gateway netip.Prefix) (link.Bridge, error) {
	br, err := link.EnsureBridge(n.Bridge, gateway, n.checkRoutes)
	if err != nil {
		return link.Bridge{}, err
	}
	version, _ := rulesetVersion() // "" when unknown: always check
	if n.rulesChecked(version) {
		return br, nil
	}
	return br, n.withRules(func(r *nft.Rules) error {
		if err := r.EnsureNetwork(n.Bridge, n.Subnet); err != nil {
			return err
		}
		n.markChecked(version)
		return nil
	})
}

// withRules changes berth's nftables rules under the network's lock: each
// change reads, checks and rewrites rules, and two berths doing that at
// once would undo each other (or publish one host port twice).
func (n *Network) withRules(change func(*nft.Rules) error) error {
	return n.locked(func() error {
		rules, err := hostRules()
		if err != nil {
			return err
		}
		return change(rules)
	})
}

// hostRules are the rules of this process's network namespace, checked
// once a process (a socket and a dump, 0.4 ms, each time before).
var hostRules = sync.OnceValues(func() (*nft.Rules, error) { return nft.New(-1) })

// removeOwner removes every mapping of container id, however it came.
func removeOwner(id string) func(*nft.Rules) error {
	return func(r *nft.Rules) error { return r.RemoveOwner(id) }
}

// locked runs fn holding the network's lock, which serializes changes to
// its rules and its members' hosts files across berth processes.
func (n *Network) locked(fn func() error) error {
	f, err := flock.Open(filepath.Join(n.dir, "network.lock"), os.O_CREATE, unix.LOCK_EX)
	if err != nil {
		return fmt.Errorf("lock network %s: %w", n.Name, err)
	}
	defer f.Close()
	return fn()
}

// Release gives back the address, removes the container's rules and
// files, and frees its host ports. The veth needs nothing: the kernel
// deletes it with the container's network namespace, off the user's
// wait.
func (a *Attachment) Release() error {
	if a.prestarted {
		_ = a.hostSide() // nothing may add a mapping after its removal
	}
	// A namespace that no init stage entered goes with the attachment's
	// descriptor, and its veth.
	a.Connected()
	var rules func(*nft.Rules) error // no ports, no rules: none listed
	if len(a.Ports) > 0 {
		rules = func(r *nft.Rules) error { return r.RemovePorts(a.ID, a.Addr, a.Ports) }
	}
	err := a.net.release(a.ID, rules)
	if a.Addr.IsValid() {
		a.net.event("disconnect", a.ID)
	}
	// The host ports after their rules, so that a host program that takes
	// one from then on gets its traffic. If the rules could not be
	// removed, the ports go anyway (this process is ending), and the next
	// collection removes the rules, which the files left in place name.
	a.closePorts()
	if a.lock != nil {
		a.lock.Close()
		a.lock = nil
	}
	return err
}

func (a *Attachment) closePorts() {
	closePorts(a.held)
	a.held = nil
}

// release gives back what container id holds on the network, its port
// mappings by removeRules (nil when it has none). The files go last: as
// long as they are there, a collection finds the owner and releases the
// rest, so mappings that could not be removed keep them.
func (n *Network) release(id string, removeRules func(*nft.Rules) error) error {
	if removeRules != nil {
		if err := n.changePorts(removeRules); err != nil {
			return err
		}
	}
	var errs []error
	if pool, err := ipam.Open(n.dir, n.Subnet); err == nil {
		errs = append(errs, pool.Release(id))
	} else if !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	multi := false
	errs = append(errs, n.locked(func() error {
		if err := os.RemoveAll(filepath.Join(n.dir, "files", id)); err != nil {
			return err
		}
		// The listing rewriteHosts reads shows a marker: a container
		// on one network costs no removal of one it has not.
		markers, err := n.rewriteHosts("")
		if multi = markers[id]; multi {
			removeMarker(n.dir, id)
		}
		return err
	}))
	if multi {
		// Its hosts on the networks it stays on no longer name this
		// one's members.
		errs = append(errs, rewriteHostsOf(filepath.Dir(n.dir), id))
	}
	return errors.Join(errs...)
}

// Collect releases what containers that are gone left on the network:
// after berth was killed, their rules, addresses and files.
func (n *Network) Collect() {
	if _, err := os.Stat(n.dir); err != nil {
		return
	}
	owners := map[string]bool{}
	if pool, err := ipam.Open(n.dir, n.Subnet); err == nil {
		if m, err := pool.Owners(); err == nil {
			for id := range m {
				owners[id] = true
			}
		}
	}
	var dead []string
	_ = n.locked(func() error {
		if entries, err := os.ReadDir(filepath.Join(n.dir, "files")); err == nil {
			for _, e := range entries {
				if !isMarker(e.Name()) {
					owners[e.Name()] = true
				}
			}
		}
		for id := range owners {
			if !n.alive(id) {
				dead = append(dead, id)
			}
		}
		return nil
	})
	for _, id := range dead {
		n.collectDead(id)
	}
}

// collectDead releases what container id left, holding its lock
// throughout, so that a berth that attaches the same ID again meanwhile
// (a restart) cannot have its new rules, address and files taken away: it
// waits for the lock, or finds the attachment gone.
func (n *Network) collectDead(id string) {
	lock, err := flock.Open(filepath.Join(n.dir, "files", id, "lock"), 0, unix.LOCK_EX|unix.LOCK_NB)
	switch {
	case err == nil:
		defer lock.Close()
	case errors.Is(err, os.ErrNotExist):
		// An address whose owner died before it had its files.
	default:
		return // its owner is back, or the lock cannot be had now
	}
	// A dead owner's ports are not known here: look for its mappings.
	_ = n.release(id, removeOwner(id))
}

// CollectAll collects, on every network under root, what containers that
// are gone left. Every berth command runs it, so it is cheap when there
// is nothing to collect: one directory read per network and a lock try
// per attachment. A dead owner's attachment directory is there until all
// the rest is released (see release); an address whose owner died before
// it had one is reclaimed by the next allocation.
func CollectAll(root string) {
	entries, err := os.ReadDir(networksDir(root))
	if err != nil {
		return
	}
	for _, e := range entries {
		files := filepath.Join(networksDir(root), e.Name(), "files")
		ids, _ := os.ReadDir(files)
		if !slices.ContainsFunc(ids, func(id os.DirEntry) bool { return !isMarker(id.Name()) && !held(filepath.Join(files, id.Name())) }) {
			continue
		}
		if n, err := Load(root, e.Name()); err == nil {
			n.Collect()
		}
	}
}

func (a *Attachment) writeFiles(names []string, files FileOptions) error {
	resolv, warning := resolvConf()
	if len(files.DNS) > 0 {
		warning = "" // the container's own nameservers
	}
	if warning != "" {
		a.Warnings = append(a.Warnings, warning)
	}
	if !files.Empty() {
		resolv = customResolvConf(resolv, files)
	}
	if err := a.writeExtraHosts(files); err != nil {
		return err
	}
	self := a.Addr.String() + "\t" + strings.Join(names, " ") + "\n"
	for name, content := range map[string]string{"hostname": names[0] + "\n", "resolv.conf": resolv, "names": self, "hosts": ""} {
		if err := os.WriteFile(filepath.Join(a.filesDir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("network files: %w", err)
		}
	}
	return a.net.locked(func() error {
		_, err := a.net.rewriteHosts(a.ID)
		return err
	})
}

// rewriteHosts writes every running member's /etc/hosts: localhost and
// each member by name, so containers on a network find each other without
// a DNS server. The files are rewritten in place: they are bind-mounted
// into the containers. self counts as running (its lock is ours). A
// member on other networks too (its marker, see multiSuffix) gets the
// members of all of them; multi are the markers seen.
func (n *Network) rewriteHosts(self string) (multi map[string]bool, err error) {
	dir := filepath.Join(n.dir, "files")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil
	}
	var members []string
	lines := localhostLines
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), multiSuffix); ok {
			if multi == nil {
				multi = map[string]bool{}
			}
			multi[id] = true
			continue
		}
		if e.Name() != self && !n.alive(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "names"))
		if err != nil {
			continue
		}
		members = append(members, e.Name())
		lines += string(b)
	}
	var errs []error
	for _, id := range members {
		if multi[id] {
			errs = append(errs, rewriteHostsOf(filepath.Dir(n.dir), id, self))
			continue
		}
		// The member's --add-host lines last, as Docker's.
		extra, _ := os.ReadFile(filepath.Join(dir, id, extraHostsFile))
		if err := os.WriteFile(filepath.Join(dir, id, "hosts"), append([]byte(lines), extra...), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return multi, errors.Join(errs...)
}

// localhostLines start every /etc/hosts.
const localhostLines = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

// The host's resolver configuration, and the one systemd-resolved keeps
// with the upstream servers behind its 127.0.0.53 stub.
const (
	hostResolvConf     = "/etc/resolv.conf"
	resolvedResolvConf = "/run/systemd/resolve/resolv.conf"
)

// resolvConf is the host's resolv.conf for a container. Nameservers on
// loopback would be the container's own loopback, so they are dropped;
// when that leaves none, systemd-resolved's upstream list is used, as
// Docker and podman do. If still none is left, the second result says so.
// A host with no resolv.conf has no DNS itself: the container gets none,
// silently.
func resolvConf() (string, string) {
	conf, servers, dropped := filterResolvConf(hostResolvConf)
	if servers > 0 || dropped == 0 {
		return conf, ""
	}
	if alt, n, _ := filterResolvConf(resolvedResolvConf); n > 0 {
		return alt, ""
	}
	return conf, "the host's nameservers are all on loopback, which containers cannot reach: the container has no DNS servers (add a nameserver to /etc/resolv.conf)"
}

// filterResolvConf reads a resolv.conf without its loopback nameservers
// and counts the nameservers kept and dropped.
func filterResolvConf(path string) (conf string, servers, dropped int) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, 0
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if ip, err := netip.ParseAddr(f[1]); err == nil && ip.IsLoopback() {
				dropped++
				continue
			}
			servers++
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n"), servers, dropped
}
