package main

import (
	"errors"

	"github.com/berth-runtime/berth/internal/managed"
	"github.com/spf13/pflag"
)

// netFlags are docker run's networking options beyond --network and -p.
type netFlags struct {
	expose, aliases, links, linkLocalIPs []string
	publishAll                           bool
	ip, ip6, mac                         string
}

func addNetFlags(fl *pflag.FlagSet, n *netFlags) {
	stringArrayVarP(fl, &n.expose, "expose", "", "expose a container port or range, PORT[-END][/PROTO], which -P publishes")
	fl.BoolVarP(&n.publishAll, "publish-all", "P", false, "publish every exposed port (the image's and --expose) on a random host port")
	fl.StringVar(&n.ip, "ip", "", "the container's IPv4 address on a network made with berth network create")
	fl.StringVar(&n.ip6, "ip6", "", "refused: berth's networks are IPv4 only")
	fl.StringVar(&n.mac, "mac-address", "", "the MAC address of the container's interface, e.g. 02:42:ac:11:00:02")
	stringArrayVarP(fl, &n.aliases, "network-alias", "", "another name the network's containers resolve this one by (user-defined networks)")
	stringArrayVarP(fl, &n.links, "link", "", "refused: Docker's legacy links; use a network made with berth network create")
	stringArrayVarP(fl, &n.linkLocalIPs, "link-local-ip", "", "refused: berth gives no link-local addresses")
}

// apply puts the options in cfg; refused ones fail before anything is
// made. The rest is checked by engine.CheckConfig.
func (n *netFlags) apply(cfg *managed.Config) error {
	switch {
	case n.ip6 != "":
		return errors.New("--ip6: berth's networks are IPv4 only: drop --ip6 (--ip gives an IPv4 address)")
	case len(n.links) > 0:
		return errors.New("--link: Docker's legacy links are not supported: put both containers on a network made with berth network create, where each resolves the other by name (--network-alias adds names)")
	case len(n.linkLocalIPs) > 0:
		return errors.New("--link-local-ip: berth gives containers no link-local addresses: drop it")
	}
	cfg.Expose, cfg.PublishAll = n.expose, n.publishAll
	cfg.IPAddress, cfg.MacAddress, cfg.Aliases = n.ip, n.mac, n.aliases
	return nil
}
