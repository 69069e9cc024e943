package engine

import (
	"errors"
	"path/filepath"
	"slices"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/network/link"
)

// loadNetwork is the network called name, or ErrNotFound in words that
// say what to do.
func loadNetwork(root, name string) (*network.Network, error) {
	n, err := network.Load(root, name)
	if errors.Is(err, network.ErrNotFound) {
		return nil, errdefs.New(errdefs.ErrNotFound, "network %q not found: create it with berth network create, or use --network bridge, none or host", name)
	}
	return n, err
}

// endpointOf is inspect's view of the attachment a to n.
func endpointOf(n *network.Network, a *network.Attachment, aliases []string) *managed.Endpoint {
	mac := a.MAC
	if mac == nil {
		mac = link.MACFromAddr(a.Addr)
	}
	return &managed.Endpoint{IPAddress: a.Addr.String(), IPPrefixLen: n.Subnet.Bits(), Gateway: n.Subnet.Addr().Next().String(),
		MacAddress: mac.String(), Aliases: aliases}
}

// joinMore puts the container on the networks berth network connect
// added, each with a veth of its own, plugged in after the first
// network's; release then gives back all of them.
func (e *Engine) joinMore(cfg *managed.Config, rec *managed.Record, run *container.Options, info *managed.Network, primary *network.Attachment, first func()) (func(), error) {
	releases := []func(){first}
	release := func() {
		for i := len(releases) - 1; i >= 0; i-- {
			releases[i]()
		}
	}
	connects := []func(int) error{run.Prepare}
	for _, c := range cfg.Networks {
		n, err := loadNetwork(e.Root, c.Name)
		if err != nil {
			release()
			return nil, err
		}
		o, err := connectionOptions(cfg, rec, c)
		if err != nil {
			release()
			return nil, err
		}
		a, err := n.AttachOpts(rec.ID, o)
		if err != nil {
			release()
			return nil, err
		}
		a.Prestart()
		releases = append(releases, func() { _ = a.Release() })
		connects = append(connects, func(pid int) error {
			// In the namespace the first network made, if it made it.
			path, err := primary.NamespacePath(pid)
			if err != nil {
				return err
			}
			return a.ConnectNS(path)
		})
		info.Networks[n.Name] = endpointOf(n, a, c.Aliases)
	}
	run.Prepare = func(pid int) error {
		for _, connect := range connects {
			if err := connect(pid); err != nil {
				return err
			}
		}
		return nil
	}
	return release, nil
}

// connectionOptions are the container's settings on a network connect
// added.
func connectionOptions(cfg *managed.Config, rec *managed.Record, c managed.NetworkConnection) (network.AttachOptions, error) {
	o := network.AttachOptions{Names: append(containerNames(cfg, rec), c.Aliases...), Secondary: true, MultiHomed: true}
	if c.IPAddress != "" {
		ip, err := parseIP(c.IPAddress)
		if err != nil {
			return o, err
		}
		o.IP = ip
	}
	return o, nil
}

// containerNames are the host name and the container's name.
func containerNames(cfg *managed.Config, rec *managed.Record) []string {
	names := []string{cfg.Hostname}
	if rec.Name != "" && rec.Name != cfg.Hostname {
		names = append(names, rec.Name)
	}
	return names
}

// ConnectOptions are berth network connect's --ip and --alias.
type ConnectOptions struct {
	IP      string
	Aliases []string
}

// NetworkConnect is berth network connect: the container joins network
// name besides its own, at once if it is running (a second interface,
// and the names of both networks' members resolve both ways), and at
// every start from then on (its configuration keeps the network).
func (e *Engine) NetworkConnect(rec managed.Record, name string, o ConnectOptions) error {
	return e.WithOpLock(rec.ID, func(rec managed.Record) error {
		cfg, err := configOf(rec)
		if err != nil {
			return err
		}
		if !bridgedMode(cfg.NetworkMode) || cfg.UserModeNetwork != "" {
			return errdefs.New(errdefs.ErrInvalidArgument, "container %s has --network %s, which joins no other network: only containers on bridge networks can be connected", rec.Name, cfg.NetworkMode)
		}
		n, err := loadNetwork(e.Root, name)
		if err != nil {
			return err
		}
		if onNetwork(cfg, n.Name) {
			return errdefs.New(errdefs.ErrAlreadyExists, "container %s is already on network %s", rec.Name, n.Name)
		}
		c := managed.NetworkConnection{Name: n.Name, IPAddress: o.IP, Aliases: o.Aliases}
		if err := checkConnection(n, c); err != nil {
			return err
		}
		info, err := e.connectRunning(cfg, &rec, n, c)
		if err != nil {
			return err
		}
		if info == nil {
			// Not running: inspect shows the network, its address
			// comes with the next start (as Docker's).
			info = &managed.Endpoint{Aliases: c.Aliases}
		}
		_, err = e.Containers().Update(rec.ID, func(r *managed.Record) {
			r.Config.Networks = append(r.Config.Networks, c)
			if r.Network == nil {
				r.Network = &managed.Network{Mode: r.Config.NetworkMode}
			}
			if r.Network.Networks == nil {
				r.Network.Networks = map[string]*managed.Endpoint{}
			}
			r.Network.Networks[n.Name] = info
		})
		return err
	})
}

// onNetwork reports whether the container's configuration puts it on
// the network called name.
func onNetwork(cfg *managed.Config, name string) bool {
	return cfg.NetworkMode == name || slices.ContainsFunc(cfg.Networks, func(c managed.NetworkConnection) bool { return c.Name == name })
}

// checkConnection refuses what Docker refuses: --ip and --alias on the
// default bridge, an address that is no IPv4 address of the subnet.
func checkConnection(n *network.Network, c managed.NetworkConnection) error {
	if n.Name == network.DefaultName && (c.IPAddress != "" || len(c.Aliases) > 0) {
		return errdefs.New(errdefs.ErrInvalidArgument, "--ip and --alias are supported on user-defined networks only, not the default bridge")
	}
	if c.IPAddress != "" {
		ip, err := parseIP(c.IPAddress)
		if err != nil {
			return err
		}
		if !n.Subnet.Contains(ip) {
			return errdefs.New(errdefs.ErrInvalidArgument, "invalid --ip %s: not in network %s's subnet %s", ip, n.Name, n.Subnet)
		}
	}
	for _, a := range c.Aliases {
		if err := checkAliases([]string{a}); err != nil {
			return errdefs.New(errdefs.ErrInvalidArgument, "invalid --alias %q: use letters, digits, _ . - (not first), at most 64", a)
		}
	}
	return nil
}

// connectRunning joins a running container to n at once; a stopped one
// joins at its next start (nil info).
func (e *Engine) connectRunning(cfg *managed.Config, rec *managed.Record, n *network.Network, c managed.NetworkConnection) (*managed.Endpoint, error) {
	if !rec.State.Up() {
		return nil, nil
	}
	ctr, err := container.Attach(e.Runroot, rec.ID)
	if err != nil {
		return nil, nil // it ended meanwhile: joins at its next start
	}
	path, release, err := ctr.PinNamespace("net")
	if errors.Is(err, container.ErrNotRunning) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer release()
	o, err := connectionOptions(cfg, rec, c)
	if err != nil {
		return nil, err
	}
	a, err := n.Join(rec.ID, o, path, filepath.Join(e.ContainerDir(rec.ID), "lock"), cfg.NetworkMode)
	if err != nil {
		return nil, err
	}
	return endpointOf(n, a, c.Aliases), nil
}

// NetworkDisconnect is berth network disconnect: the container leaves
// network name, at once if it is running, and for its next starts. Its
// first network can be left too: the next one it has becomes its first,
// or none. force leaves a network that no longer exists.
func (e *Engine) NetworkDisconnect(rec managed.Record, name string, force bool) error {
	return e.WithOpLock(rec.ID, func(rec managed.Record) error {
		cfg, err := configOf(rec)
		if err != nil {
			return err
		}
		n, err := loadNetwork(e.Root, name)
		if err != nil && !(force && errors.Is(err, errdefs.ErrNotFound)) {
			return err
		}
		if !bridgedMode(cfg.NetworkMode) || cfg.UserModeNetwork != "" || !onNetwork(cfg, name) {
			return errdefs.New(errdefs.ErrInvalidArgument, "container %s is not connected to network %s", rec.Name, name)
		}
		if n != nil {
			// Running or not: a stopped container has nothing left on
			// it, and what a killed run left goes too.
			if err := n.Leave(rec.ID); err != nil {
				return err
			}
		}
		_, err = e.Containers().Update(rec.ID, func(r *managed.Record) {
			first := r.Config.NetworkMode == name
			leave(r.Config, name)
			if r.Network == nil {
				return
			}
			delete(r.Network.Networks, name)
			if first {
				// Its address and published ports went with it.
				r.Network.IPAddress, r.Network.Gateway, r.Network.Ports = "", "", nil
			}
		})
		return err
	})
}

// leave takes network name out of the configuration. Leaving the first
// network makes the next one the first, with its address and aliases
// (--ip, --network-alias), or none.
func leave(cfg *managed.Config, name string) {
	if cfg.NetworkMode != name {
		cfg.Networks = slices.DeleteFunc(cfg.Networks, func(c managed.NetworkConnection) bool { return c.Name == name })
		return
	}
	cfg.IPAddress, cfg.Aliases, cfg.MacAddress = "", nil, ""
	if len(cfg.Networks) == 0 {
		cfg.NetworkMode, cfg.Ports, cfg.PublishAll = "none", nil, false
		return
	}
	next := cfg.Networks[0]
	cfg.NetworkMode, cfg.IPAddress, cfg.Aliases, cfg.Networks = next.Name, next.IPAddress, next.Aliases, cfg.Networks[1:]
}

// renameOnNetworks gives a running container's new name to the members
// of its networks (berth rename).
func (e *Engine) renameOnNetworks(rec managed.Record) error {
	cfg := rec.Config
	if cfg == nil || !rec.State.Up() || !bridgedMode(cfg.NetworkMode) || cfg.UserModeNetwork != "" {
		return nil
	}
	names := containerNames(cfg, &rec)
	var errs []error
	set := func(name string, aliases []string) {
		n, err := network.Load(e.Root, name)
		if err == nil {
			err = n.SetNames(rec.ID, append(append([]string(nil), names...), aliases...))
		}
		if err != nil && !errors.Is(err, network.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	set(cfg.NetworkMode, cfg.Aliases)
	for _, c := range cfg.Networks {
		set(c.Name, c.Aliases)
	}
	return errors.Join(errs...)
}
