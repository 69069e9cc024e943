// Package nft keeps berth's firewall rules: outbound NAT for a bridge
// network and the DNAT of published ports. It talks nftables netlink
// directly (github.com/google/nftables), so berth stays one static binary
// and never runs nft or iptables.
//
// Everything lives in one table of berth's own, "ip berth", so berth
// never edits, flushes or depends on anybody else's rules, and deleting
// that table undoes all of it. The layout:
//
//	table ip berth {
//	  map ports_addr {       # ports published on one host address: one element each
//	    type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
//	    elements = { 127.0.0.1 . tcp . 8080 comment "owner:ID tcp 127.0.0.1:8080 10.88.0.2:80" : 10.88.0.2 . 80 }
//	  }
//	  map ports_all {        # ports published on every local address
//	    type inet_proto . inet_service : ipv4_addr . inet_service
//	    elements = { tcp . 8080 comment "owner:ID tcp 0.0.0.0:8080 10.88.0.2:80" : 10.88.0.2 . 80 }
//	  }
//	  chain raw {            # filter, prerouting, priority raw: before conntrack and NAT
//	    iifname != "lo" ip daddr 127.0.0.0/8 drop                               comment "guard"
//	  }
//	  chain ports {          # regular chain: the two lookups, whatever is published
//	    dnat ip to ip daddr . meta l4proto . th dport map @ports_addr           comment "maps"
//	    dnat ip to meta l4proto . th dport map @ports_all                       comment "maps"
//	  }
//	  chain prerouting {     # nat, dstnat: from other hosts and from containers
//	    ip daddr != 127.0.0.0/8 fib daddr type local jump ports                 comment "dispatch"
//	  }
//	  chain output {         # nat, dstnat: from the host itself, 127.0.0.1 included
//	    fib daddr type local jump ports                                         comment "dispatch"
//	  }
//	  chain postrouting {    # nat, srcnat
//	    ip saddr SUBNET oifname != BRIDGE masquerade                            comment "network:BRIDGE"
//	    oifname BRIDGE ip saddr 127.0.0.0/8 masquerade                          comment "network:BRIDGE"
//	    oifname BRIDGE ip saddr SUBNET ct status dnat masquerade                comment "network:BRIDGE"
//	  }
//	  chain forward {        # filter, policy accept: never drops others' traffic
//	    oifname BRIDGE iifname != BRIDGE ct state ! established,related ct status ! dnat drop  comment "network:BRIDGE"
//	    iifname BRIDGE accept                                                   comment "network:BRIDGE"
//	    oifname BRIDGE ct state established,related accept                      comment "network:BRIDGE"
//	    oifname BRIDGE ct status dnat accept                                    comment "network:BRIDGE"
//	  }
//	}
//
// Every rule carries its tag as an nft comment (rule user data, shown
// by `nft list table ip berth`): "network:BRIDGE" for a network's,
// "dispatch" for the jumps, "guard" for the loopback guard and "maps" for
// the lookups; every map element carries its owner's tag, "owner:ID ...",
// as its comment. A container's elements are found and removed by
// listing the maps and matching the tag, so nothing outside the kernel
// has to remember them, and a berth killed halfway leaves elements that
// RemoveOwner (or garbage collection through Owners) still finds. The
// per-port rules of an earlier berth ("owner:ID ..." rules in the ports
// chain) are found and removed the same way.
//
// The two postrouting rules for the bridge make replies come back
// through the host's conntrack: a connection to 127.0.0.1:PORT leaves
// via the bridge with source 127.0.0.1 (the kernel routes it at all only
// with route_localnet=1 on the bridge, see EnableRouteLocalnet), and a
// container reaching a published port on its own bridge would otherwise
// be answered directly by the target container. Connections from other
// hosts keep their source address.
//
// Loopback belongs to the host alone. route_localnet=1 also makes the
// kernel route packets for 127.0.0.0/8 that arrive on the bridge, so a
// container with CAP_NET_RAW could reach services bound to the host's
// loopback (CVE-2020-8558) and, like any host on the LAN that routes
// 127.0.0.1 here, ports published on 127.0.0.1 (moby#41872). Two rules
// close this, each enough on its own: the guard drops every packet for
// 127.0.0.0/8 that did not come in by lo, at raw priority, before
// conntrack and NAT see it (replies to the host's own DNATed connections
// still carry the bridge's address there: they are de-NATed later); and
// the prerouting dispatch never sends a packet for 127.0.0.0/8 to the
// port rules, so only the host's own connections (output) are DNATed
// from loopback.
//
// Changes are atomic nftables transactions, but checks before them (a
// host port already published) are not: callers serialize changes, as
// they do for address allocation. The table is IPv4 only, like berth's
// networks.
package nft

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables"
)

// TableName is the name of berth's table, of family ip.
const TableName = "berth"

// Chains of the table.
const (
	chainRaw         = "raw"
	chainPorts       = "ports"
	chainPrerouting  = "prerouting"
	chainOutput      = "output"
	chainPostrouting = "postrouting"
	chainForward     = "forward"
)

// allChains are scanned for tagged rules.
var allChains = []string{chainRaw, chainPorts, chainPrerouting, chainOutput, chainPostrouting, chainForward}

// Rules changes berth's nftables table in one network namespace.
type Rules struct {
	netnsFD int
}

// New returns Rules for the network namespace of netnsFD, or of the
// calling thread when netnsFD is negative (-1). It checks that nftables
// answers (it does not for a non-root caller).
func New(netnsFD int) (*Rules, error) {
	r := &Rules{netnsFD: netnsFD}
	err := r.do(func(c *nftables.Conn) error {
		_, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("nftables: listing tables: %w", err)
	}
	return r, nil
}

func table() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}
}

// chain returns the definition of the named chain of t.
func chain(t *nftables.Table, name string) *nftables.Chain {
	accept := nftables.ChainPolicyAccept
	c := &nftables.Chain{Name: name, Table: t}
	switch name {
	case chainRaw:
		c.Type, c.Hooknum, c.Priority = nftables.ChainTypeFilter, nftables.ChainHookPrerouting, nftables.ChainPriorityRaw
	case chainPrerouting:
		c.Type, c.Hooknum, c.Priority = nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest
	case chainOutput:
		c.Type, c.Hooknum, c.Priority = nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest
	case chainPostrouting:
		c.Type, c.Hooknum, c.Priority = nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource
	case chainForward:
		c.Type, c.Hooknum, c.Priority = nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter
	}
	if c.Hooknum != nil {
		c.Policy = &accept
	}
	return c
}

// tableExists reports whether berth's table is there.
func tableExists(c *nftables.Conn) (bool, error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, fmt.Errorf("nftables: listing tables: %w", err)
	}
	return slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == TableName }), nil
}

// chainsPresent returns the chains berth's table has, none if there is
// no table.
func chainsPresent(c *nftables.Conn) (map[string]bool, error) {
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("nftables: listing chains: %w", err)
	}
	present := map[string]bool{}
	for _, ch := range chains {
		if ch.Table != nil && ch.Table.Name == TableName {
			present[ch.Name] = true
		}
	}
	return present, nil
}

// listRules returns the rules of those of the named chains that exist:
// none without the table, and a chain deleted by hand is no error, so
// EnsureNetwork can put it back. The chains are asked for at once, one
// dump each; only when one is missing (an error google/nftables does not
// let tell apart) does a list of the chains there are say which.
func listRules(c *nftables.Conn, chains ...string) ([]*nftables.Rule, error) {
	if out, err := getRules(c, func(string) bool { return true }, chains); err == nil {
		return out, nil
	}
	present, err := chainsPresent(c)
	if err != nil {
		return nil, err
	}
	return getRules(c, func(name string) bool { return present[name] }, chains)
}

func getRules(c *nftables.Conn, present func(string) bool, chains []string) ([]*nftables.Rule, error) {
	var out []*nftables.Rule
	t := table()
	for _, name := range chains {
		if !present(name) {
			continue
		}
		rules, err := c.GetRules(t, &nftables.Chain{Name: name, Table: t})
		if err != nil {
			return nil, fmt.Errorf("nftables: listing chain %s of table %s: %w", name, TableName, err)
		}
		out = append(out, rules...)
	}
	return out, nil
}

// delRules queues the deletion of rules for which match is true.
func delRules(c *nftables.Conn, rules []*nftables.Rule, match func(tag string) bool) error {
	for _, rule := range rules {
		if !match(commentOf(rule.UserData)) {
			continue
		}
		rule.Table = table()
		if err := c.DelRule(rule); err != nil {
			return fmt.Errorf("nftables: deleting rule %d: %w", rule.Handle, err)
		}
	}
	return nil
}

// flush sends the queued changes as one transaction.
func flush(c *nftables.Conn, what string) error {
	committed.Store(true) // even a refused batch may have begun
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: %s: %w", what, err)
	}
	return nil
}

// DeleteTable removes berth's table and every rule in it. It is not an
// error if the table is missing.
func (r *Rules) DeleteTable() error {
	return r.do(func(c *nftables.Conn) error {
		ok, err := tableExists(c)
		if err != nil || !ok {
			return err
		}
		c.DelTable(table())
		return flush(c, "deleting table "+TableName)
	})
}

// validName rejects tags that would not survive a comment: empty, too
// long, or with blanks (tags are split on spaces).
func validName(what, s string, max int) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s", what)
	case len(s) > max:
		return fmt.Errorf("%s %.20q...: longer than %d bytes", what, s, max)
	case strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return fmt.Errorf("%s %q: contains blanks or control characters", what, s)
	}
	return nil
}

var errNoTable = errors.New("berth's nftables table or its ports chain is missing: set up the network first")
