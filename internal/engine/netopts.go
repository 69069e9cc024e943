package engine

import (
	"net"
	"net/netip"
	"strings"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/network/nft"
	"github.com/berth-runtime/berth/internal/spec"
)

// bridgedMode reports whether network mode m is a bridge network of
// root's (the default one or a user-defined one).
func bridgedMode(m string) bool {
	return m != "none" && m != "host" && !strings.HasPrefix(m, "container:")
}

// checkNetOptions refuses bad -p, --expose, --ip, --mac-address and
// --network-alias values, and those the network mode has no use for, as
// Docker refuses them. Nothing is read: it costs a container that has
// none of them a few comparisons.
func checkNetOptions(cfg managed.Config) error {
	if _, err := parsePublished(cfg.Ports); err != nil {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, err)
	}
	if _, err := parseExposed(cfg.Expose); err != nil {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, err)
	}
	if cfg.PublishAll && cfg.UserModeNetwork != "" {
		return errdefs.New(errdefs.ErrInvalidArgument, "-P publishes on random host ports, and a rootless container's user-mode network publishes given host ports only: use -p HOSTPORT:CONTAINERPORT")
	}
	if cfg.IPAddress == "" && cfg.MacAddress == "" && len(cfg.Aliases) == 0 {
		return nil
	}
	m := cfg.NetworkMode
	if !bridgedMode(m) || cfg.UserModeNetwork != "" {
		return errdefs.New(errdefs.ErrInvalidArgument, "--ip, --mac-address and --network-alias set the container's place on a bridge network, and --network %s has none of berth's: drop them or use a network made with berth network create", m)
	}
	if cfg.IPAddress != "" {
		if _, err := parseIP(cfg.IPAddress); err != nil {
			return err
		}
	}
	if cfg.MacAddress != "" {
		if _, err := parseMAC(cfg.MacAddress); err != nil {
			return err
		}
	}
	if m == network.DefaultName && (cfg.IPAddress != "" || len(cfg.Aliases) > 0) {
		// Docker's rule: the default network's addresses are its own.
		return errdefs.New(errdefs.ErrInvalidArgument, "--ip and --network-alias are supported on user-defined networks only, not the default bridge: create one with berth network create and run with --network NAME")
	}
	return checkAliases(cfg.Aliases)
}

// checkAliases refuses an alias that is no host name.
func checkAliases(aliases []string) error {
	for _, a := range aliases {
		if !spec.ValidName(a) {
			return errdefs.New(errdefs.ErrInvalidArgument, "invalid --network-alias %q: use letters, digits, _ . - (not first), at most 64", a)
		}
	}
	return nil
}

// parseIP reads --ip: an IPv4 address (berth's networks are IPv4 only).
func parseIP(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, errdefs.New(errdefs.ErrInvalidArgument, "invalid --ip %q: give an IPv4 address of the network's subnet (berth's networks are IPv4 only)", s)
	}
	return ip, nil
}

// parseMAC reads --mac-address: a unicast Ethernet address.
func parseMAC(s string) (net.HardwareAddr, error) {
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 || mac[0]&1 != 0 || strings.Trim(mac.String(), "0:") == "" {
		return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid --mac-address %q: give a unicast Ethernet address such as 02:42:ac:11:00:02", s)
	}
	return mac, nil
}

// parsePublished reads every -p.
func parsePublished(published []string) ([]nft.PortSpec, error) {
	var out []nft.PortSpec
	for _, p := range published {
		specs, err := nft.ParsePublish(p)
		if err != nil {
			return nil, err
		}
		out = append(out, specs...)
	}
	return out, nil
}

// parseExposed reads --expose values, or an image's ExposedPorts.
func parseExposed(exposed []string) ([]nft.PortSpec, error) {
	var out []nft.PortSpec
	for _, e := range exposed {
		specs, err := nft.ParseExpose(e)
		if err != nil {
			return nil, err
		}
		out = append(out, specs...)
	}
	return out, nil
}

// portSpecs are the ports a run publishes: -p's, and with -P each port
// the image or --expose exposes that no -p publishes, on a random host
// port, as Docker's. The image's config is read only with -P.
func (e *Engine) portSpecs(cfg *managed.Config, rec *managed.Record) ([]nft.PortSpec, error) {
	specs, err := parsePublished(cfg.Ports)
	if err != nil || !cfg.PublishAll {
		return specs, err
	}
	exposed := cfg.Expose
	if rec.ImageID != "" {
		store, err := e.Images()
		if err != nil {
			return nil, err
		}
		ic, err := store.Config(rec.ImageID)
		if err != nil {
			return nil, err
		}
		exposed = append(append([]string(nil), ic.ExposedPorts...), exposed...)
	}
	all, err := parseExposed(exposed)
	if err != nil {
		return nil, err
	}
	published := map[nft.PortSpec]bool{}
	for _, s := range specs {
		published[nft.PortSpec{ContainerPort: s.ContainerPort, Proto: s.Proto}] = true
	}
	for _, s := range all {
		if !published[s] {
			published[s] = true
			specs = append(specs, s)
		}
	}
	return specs, nil
}

// checkPublishMode refuses -p and -P where berth publishes nothing.
func checkPublishMode(cfg *managed.Config) error {
	if (len(cfg.Ports) > 0 || cfg.PublishAll) && !bridgedMode(cfg.NetworkMode) && cfg.UserModeNetwork == "" {
		return errdefs.New(errdefs.ErrInvalidArgument, "-p and -P publish ports of a bridge network, and --network %s has none: drop them or --network", cfg.NetworkMode)
	}
	return nil
}

// fixedPorts are -p's mappings for a user-mode stack, which publishes
// given host ports only: ranges and random ports are root's bridge's.
func fixedPorts(published []string) ([]nft.Port, error) {
	specs, err := parsePublished(published)
	if err != nil {
		return nil, err
	}
	var out []nft.Port
	for _, s := range specs {
		if !s.Fixed() {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "-p %v: a rootless container's user-mode network publishes given host ports only: give HOSTPORT:CONTAINERPORT", s)
		}
		out = append(out, s.Port(s.HostMin))
	}
	return out, nil
}

// attachOptions are the container's settings on its network.
func attachOptions(cfg *managed.Config, rec *managed.Record, ports []nft.PortSpec) (network.AttachOptions, error) {
	o := network.AttachOptions{Names: append(containerNames(cfg, rec), cfg.Aliases...), Ports: ports, Files: cfg.NetworkFiles()}
	var err error
	if cfg.IPAddress != "" {
		if o.IP, err = parseIP(cfg.IPAddress); err != nil {
			return o, err
		}
	}
	if cfg.MacAddress != "" {
		if o.MAC, err = parseMAC(cfg.MacAddress); err != nil {
			return o, err
		}
	}
	return o, nil
}
