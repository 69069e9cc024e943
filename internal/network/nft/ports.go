package nft

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// AddPorts publishes ports of the container at containerIP, tagged with
// owner (the container's ID). A port the owner already publishes the
// same way is skipped, so a retry is harmless; a host port that another
// mapping already holds (same protocol and port, overlapping host
// address) is an error and nothing is added. The network must be set up.
func (r *Rules) AddPorts(owner string, containerIP netip.Addr, ports []Port) error {
	if err := checkPorts(owner, containerIP, ports); err != nil {
		return err
	}
	c := r.conn()
	taken, err := publishedPorts(c)
	if err != nil {
		return fmt.Errorf("publishing ports of %s: %w", owner, err)
	}
	t := table()
	for _, p := range ports {
		tag := ownerTag(owner, p, containerIP)
		dup, err := claim(taken, owner, p, tag)
		if err != nil {
			return err
		}
		if !dup {
			c.AddRule(portRule(t, p, containerIP, tag))
			taken = append(taken, published{owner: owner, port: p, tag: tag})
		}
	}
	return flush(c, "publishing ports of "+owner)
}

// RemoveOwner removes every rule tagged with owner. It is not an error
// if there are none, or no table.
func (r *Rules) RemoveOwner(owner string) error {
	if err := validName("owner", owner, maxOwner); err != nil {
		return fmt.Errorf("removing rules: %w", err)
	}
	c := r.conn()
	rules, err := listRules(c, allChains...)
	if err != nil {
		return fmt.Errorf("removing rules of %s: %w", owner, err)
	}
	mine := func(tag string) bool { o, ok := ownerOf(tag); return ok && o == owner }
	if err := delRules(c, rules, mine); err != nil {
		return err
	}
	return flush(c, "removing rules of "+owner)
}

// Owners returns the owners that have rules, sorted, for garbage
// collection of containers that are gone.
func (r *Rules) Owners() ([]string, error) {
	rules, err := listRules(r.conn(), allChains...)
	if err != nil {
		return nil, fmt.Errorf("listing rule owners: %w", err)
	}
	var owners []string
	for _, rule := range rules {
		if o, ok := ownerOf(commentOf(rule.UserData)); ok {
			owners = append(owners, o)
		}
	}
	slices.Sort(owners)
	return slices.Compact(owners), nil
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

// publishedPorts reads back the ports chain, which must exist.
func publishedPorts(c *nftables.Conn) ([]published, error) {
	present, err := chainsPresent(c)
	if err != nil {
		return nil, err
	}
	if !present[chainPorts] {
		return nil, errNoTable
	}
	rules, err := listRules(c, chainPorts)
	if err != nil {
		return nil, err
	}
	var out []published
	for _, rule := range rules {
		if p, ok := parsePublished(commentOf(rule.UserData)); ok {
			out = append(out, p)
		}
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

// portRule is the DNAT rule of one published port.
func portRule(t *nftables.Table, p Port, containerIP netip.Addr, tag string) *nftables.Rule {
	var exprs []expr.Any
	if !p.allAddrs() {
		exprs = matchAddr(offDaddr, p.HostIP)
	}
	exprs = join(exprs, matchDport(p.Proto, p.HostPort), dnat(containerIP, p.ContainerPort))
	return &nftables.Rule{Table: t, Chain: chain(t, chainPorts), Exprs: exprs, UserData: comment(tag)}
}
