package nft

import (
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// AddPorts publishes ports of the container at containerIP, tagged with
// owner (the container's ID): one map element each, added in one
// transaction. A port the owner already publishes the same way is
// skipped, so a retry is harmless; a host port that another mapping
// already holds (same protocol and port, overlapping host address) is an
// error and nothing is added. The network must be set up.
func (r *Rules) AddPorts(owner string, containerIP netip.Addr, ports []Port) error {
	if err := checkPorts(owner, containerIP, ports); err != nil {
		return err
	}
	return r.do(func(c *nftables.Conn) error {
		taken, err := publishedPorts(c)
		if err != nil {
			return fmt.Errorf("publishing ports of %s: %w", owner, err)
		}
		add := map[string][]nftables.SetElement{}
		for _, p := range ports {
			tag := ownerTag(owner, p, containerIP)
			dup, err := claim(taken, owner, p, tag)
			if err != nil {
				return err
			}
			if !dup {
				set, e := element(p, containerIP, tag)
				add[set] = append(add[set], e)
				taken = append(taken, published{owner: owner, port: p, tag: tag})
			}
		}
		for set, elems := range add {
			if err := c.SetAddElements(portSet(table(), set), elems); err != nil {
				return fmt.Errorf("nftables: publishing ports of %s: %w", owner, err)
			}
		}
		return commitPorts(c, len(add) > 0, "publishing ports of "+owner)
	})
}

// portCommits counts the transactions of port mappings this process
// committed (see PortCommits).
var portCommits atomic.Uint64

// PortCommits is the number of transactions AddPorts, RemovePorts and
// RemoveOwner committed in this process: a caller that sees it move by
// one over its call knows the ruleset's generation moved by its call.
func PortCommits() uint64 { return portCommits.Load() }

// commitPorts sends the queued changes, if any, and counts the
// transaction.
func commitPorts(c *nftables.Conn, queued bool, what string) error {
	if !queued {
		return nil
	}
	if err := flush(c, what); err != nil {
		return err
	}
	portCommits.Add(1)
	return nil
}

// RemovePorts takes down ports that owner published for the container
// at containerIP, as AddPorts was given them: their elements are deleted
// by key in one transaction, without listing the maps first (the stop of
// a container with -p: 1 ms less under load). Owner held the host ports
// all along (the caller's sockets), so no other owner can have published
// them since, and an element with one of those keys is owner's. If any is
// missing (deleted by someone, or the port is an earlier berth's rule),
// the transaction fails whole and RemoveOwner finds what there is.
func (r *Rules) RemovePorts(owner string, containerIP netip.Addr, ports []Port) error {
	if err := checkPorts(owner, containerIP, ports); err != nil {
		return err
	}
	err := r.do(func(c *nftables.Conn) error {
		del := map[string][]nftables.SetElement{}
		for _, p := range ports {
			set, e := element(p, containerIP, "")
			del[set] = append(del[set], nftables.SetElement{Key: e.Key})
		}
		for set, elems := range del {
			if err := c.SetDeleteElements(portSet(table(), set), elems); err != nil {
				return err
			}
		}
		return commitPorts(c, len(del) > 0, "removing ports of "+owner)
	})
	if err == nil {
		return nil
	}
	return r.RemoveOwner(owner)
}

// RemoveOwner removes every map element tagged with owner, and the port
// rules an earlier berth made for it (before ports were map elements).
// It is not an error if there are none, or no table.
func (r *Rules) RemoveOwner(owner string) error {
	if err := validName("owner", owner, maxOwner); err != nil {
		return fmt.Errorf("removing rules: %w", err)
	}
	return r.do(func(c *nftables.Conn) error {
		elems, rules, err := ownersPorts(c)
		if err != nil {
			return fmt.Errorf("removing rules of %s: %w", owner, err)
		}
		del := map[string][]nftables.SetElement{}
		for _, m := range elems {
			if m.owner == owner {
				del[m.set] = append(del[m.set], nftables.SetElement{Key: m.elem.Key})
			}
		}
		for set, elems := range del {
			if err := c.SetDeleteElements(portSet(table(), set), elems); err != nil {
				return fmt.Errorf("nftables: removing ports of %s: %w", owner, err)
			}
		}
		mine := func(tag string) bool { o, ok := ownerOf(tag); return ok && o == owner }
		if err := delRules(c, rules, mine); err != nil {
			return err
		}
		queued := len(del) > 0 || slices.ContainsFunc(rules, func(r *nftables.Rule) bool { return mine(commentOf(r.UserData)) })
		return commitPorts(c, queued, "removing rules of "+owner)
	})
}

// Owners returns the owners that have map elements or rules, sorted, for
// garbage collection of containers that are gone.
func (r *Rules) Owners() ([]string, error) {
	var owners []string
	err := r.do(func(c *nftables.Conn) error {
		elems, rules, err := ownersPorts(c)
		if err != nil {
			return fmt.Errorf("listing rule owners: %w", err)
		}
		for _, m := range elems {
			owners = append(owners, m.owner)
		}
		for _, rule := range rules {
			if o, ok := ownerOf(commentOf(rule.UserData)); ok {
				owners = append(owners, o)
			}
		}
		return nil
	})
	slices.Sort(owners)
	return slices.Compact(owners), err
}

// ownersPorts returns the map elements and the ports chain's rules,
// which hold those of an earlier berth's port rules that are left: none
// without the table, and no elements without the maps. The maps are
// there when the chain's lookup rules are: the kernel keeps a map that
// a rule uses.
func ownersPorts(c *nftables.Conn) ([]mapped, []*nftables.Rule, error) {
	rules, err := listRules(c, chainPorts)
	if err != nil {
		return nil, nil, err
	}
	if !hasMaps(rules) {
		return nil, rules, nil
	}
	elems, err := listMapped(c)
	return elems, rules, err
}

// hasMaps reports whether the ports chain's rules include the lookups.
func hasMaps(rules []*nftables.Rule) bool {
	return slices.ContainsFunc(rules, func(r *nftables.Rule) bool { return commentOf(r.UserData) == tagMaps })
}

func checkPorts(owner string, containerIP netip.Addr, ports []Port) error {
	if err := validName("owner", owner, maxOwner); err != nil {
		return fmt.Errorf("publishing ports: %w", err)
	}
	if !containerIP.Is4() {
		return fmt.Errorf("publishing ports of %s: container address %v is not IPv4", owner, containerIP)
	}
	for _, p := range ports {
		if err := p.validate(); err != nil {
			return fmt.Errorf("publishing ports of %s: %w", owner, err)
		}
	}
	return nil
}

// publishedPorts reads back the maps and the port rules of an earlier
// berth; the table, its ports chain and the maps must exist.
func publishedPorts(c *nftables.Conn) ([]published, error) {
	elems, rules, err := ownersPorts(c)
	if err != nil {
		return nil, err
	}
	if !hasMaps(rules) {
		return nil, errNoTable
	}
	var out []published
	for _, rule := range rules {
		if p, ok := parsePublished(commentOf(rule.UserData)); ok {
			out = append(out, p)
		}
	}
	for _, m := range elems {
		out = append(out, m.published)
	}
	return out, nil
}

// claim checks p against the ports already taken. dup is true when the
// same owner already publishes it the same way.
func claim(taken []published, owner string, p Port, tag string) (dup bool, err error) {
	for _, t := range taken {
		if t.tag == tag {
			return true, nil
		}
		if t.port.Overlaps(p) {
			return false, fmt.Errorf("publishing %v for %s: host port already published by %s (%v)", p, owner, t.owner, t.port)
		}
	}
	return false, nil
}

// portRule is the DNAT rule of one published port, as berth made them
// before ports were map elements: tests make them to check that such
// rules are still found and removed.
func portRule(t *nftables.Table, p Port, containerIP netip.Addr, tag string) *nftables.Rule {
	var exprs []expr.Any
	if !p.allAddrs() {
		exprs = matchAddr(offDaddr, p.HostIP)
	}
	exprs = join(exprs, matchDport(p.Proto, p.HostPort), dnat(containerIP, p.ContainerPort))
	return &nftables.Rule{Table: t, Chain: chain(t, chainPorts), Exprs: exprs, UserData: comment(tag)}
}
