package nft

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// EnsureNetwork sets up the table, its chains, the dispatch to the ports
// chain, the loopback guard and the rules of one bridge network:
// masquerade for the subnet's
// traffic leaving by another interface, masquerade for published-port
// traffic that enters the bridge from 127.0.0.0/8 or from the subnet
// itself, and forward accepts for the bridge. The bridge's rules are
// replaced in one transaction, so calling it again is harmless and
// repairs rules someone removed.
func (r *Rules) EnsureNetwork(bridge string, subnet netip.Prefix) error {
	if err := checkNetwork(bridge, subnet); err != nil {
		return err
	}
	return r.do(func(c *nftables.Conn) error { return ensureNetwork(c, bridge, subnet) })
}

func ensureNetwork(c *nftables.Conn, bridge string, subnet netip.Prefix) error {
	old, err := listRules(c, allChains...)
	if err != nil {
		return err
	}
	want := append(tableRules(table()), networkRules(table(), bridge, subnet.Masked())...)
	want = append(want, isolationRule(table(), bridge))
	if inPlace(old, want, networkTag(bridge)) {
		// The common case, on every berth run: nothing to write. A
		// transaction that replaces rules costs milliseconds (the kernel
		// waits for readers of the old ones), so none is sent.
		return nil
	}
	t := c.AddTable(table())
	for _, name := range allChains {
		c.AddChain(chain(t, name))
	}
	// The maps keep their elements: adding a set that exists, the same,
	// changes nothing.
	for _, name := range []string{setPortsAddr, setPortsAll} {
		if err := c.AddSet(portSet(t, name), nil); err != nil {
			return fmt.Errorf("nftables: map %s: %w", name, err)
		}
	}
	tag := networkTag(bridge)
	stale := func(s string) bool { return s == tag || tableTag(s) }
	if err := delRules(c, old, stale); err != nil {
		return err
	}
	for _, rule := range append(tableRules(t), networkRules(t, bridge, subnet.Masked())...) {
		c.AddRule(rule)
	}
	// At the head of the chain, before any network's accepts: another
	// berth network's "iifname accept" must not let its containers in.
	c.InsertRule(isolationRule(t, bridge))
	return flush(c, "setting up network "+bridge)
}

// inPlace reports whether the rules of one network (tag) and the
// table's own rules are all there: the same number in each chain, with the
// network's isolation rule ahead of every accept in forward. Someone who
// deleted or added such a rule makes it false, and EnsureNetwork repairs.
func inPlace(have, want []*nftables.Rule, tag string) bool {
	count := func(rules []*nftables.Rule) map[string]int {
		m := map[string]int{}
		for _, r := range rules {
			if t := commentOf(r.UserData); t == tag || tableTag(t) {
				m[r.Chain.Name+" "+t]++
			}
		}
		return m
	}
	got, need := count(have), count(want)
	if len(got) != len(need) {
		return false
	}
	for k, n := range need {
		if got[k] != n {
			return false
		}
	}
	for _, r := range have {
		if r.Chain.Name != chainForward {
			continue
		}
		// The first forward rule must be a drop: isolation rules come
		// before every network's accepts.
		v, ok := r.Exprs[len(r.Exprs)-1].(*expr.Verdict)
		return ok && v.Kind == expr.VerdictDrop
	}
	return false
}

// RemoveNetwork removes the rules of one bridge network. Published ports
// are the owners' and stay until RemoveOwner. The last network to go
// takes berth's table with it, maps and all, when no port is published
// any more. It is not an error if there are no rules.
func (r *Rules) RemoveNetwork(bridge string) error {
	gen, err := generation(r.netnsFD)
	if err != nil {
		return err
	}
	last := false
	err = r.do(func(c *nftables.Conn) error {
		old, err := listRules(c, allChains...)
		if err != nil {
			return err
		}
		tag := networkTag(bridge)
		if last, err = lastUser(c, old, tag); err != nil || last {
			return err
		}
		if err := delRules(c, old, func(s string) bool { return s == tag }); err != nil {
			return err
		}
		return flush(c, "removing network "+bridge)
	})
	if err != nil || !last {
		return err
	}
	// Only if nothing changed since the rules were listed: a network
	// set up, or a port published, meanwhile keeps the table.
	if err := deleteTableAt(r.netnsFD, gen); !errors.Is(err, unix.ERESTART) {
		return err
	}
	return r.do(func(c *nftables.Conn) error {
		old, err := listRules(c, allChains...)
		if err == nil {
			err = delRules(c, old, func(s string) bool { return s == networkTag(bridge) })
		}
		if err != nil {
			return err
		}
		return flush(c, "removing network "+bridge)
	})
}

// lastUser reports whether the table (its rules rules) serves nothing
// but the network tagged tag: no other network's rules, and no published
// port, as a map element or an earlier berth's rule.
func lastUser(c *nftables.Conn, rules []*nftables.Rule, tag string) (bool, error) {
	if len(rules) == 0 {
		return false, nil // no table
	}
	for _, r := range rules {
		t := commentOf(r.UserData)
		if t != tag && !tableTag(t) {
			return false, nil
		}
	}
	if !hasMaps(rules) {
		return true, nil
	}
	elems, err := listMapped(c)
	return len(elems) == 0, err
}

// EnableRouteLocalnet sets route_localnet=1 on the bridge, in the
// network namespace of the calling thread. Without it the kernel drops
// connections to 127.0.0.1:PORT once they are DNATed into the bridge:
// their source, 127.0.0.1, may not leave by another interface than lo,
// and the replies, de-NATed back to 127.0.0.1, may not arrive by one.
// Only a published port that the host reaches through loopback needs it
// (a userland proxy would not, as docker-proxy); the guard rule keeps it
// from opening the host's loopback to the bridge.
func EnableRouteLocalnet(bridge string) error {
	if err := validName("bridge name", bridge, unix.IFNAMSIZ-1); err != nil {
		return err
	}
	p := filepath.Join("/proc/sys/net/ipv4/conf", filepath.Base(bridge), "route_localnet")
	if err := os.WriteFile(p, []byte("1"), 0); err != nil {
		return fmt.Errorf("enabling route_localnet on %s: %w", bridge, err)
	}
	return nil
}

func checkNetwork(bridge string, subnet netip.Prefix) error {
	if err := validName("bridge name", bridge, unix.IFNAMSIZ-1); err != nil {
		return fmt.Errorf("network rules: %w", err)
	}
	if !subnet.IsValid() || !subnet.Addr().Is4() {
		return fmt.Errorf("network rules for %s: subnet %v is not an IPv4 prefix", bridge, subnet)
	}
	return nil
}

// tableRules are the rules every network shares: the loopback guard,
// the dispatch to the ports chain and its map lookups.
func tableRules(t *nftables.Table) []*nftables.Rule {
	return append(append([]*nftables.Rule{guardRule(t)}, dispatchRules(t)...), mapRules(t)...)
}

// guardRule drops packets for 127.0.0.0/8 that came in by another
// interface than lo: the host's loopback services, and the ports it
// publishes on 127.0.0.1, are the host's alone. It runs at raw
// priority, before conntrack: a reply to the host's own connection to a
// published 127.0.0.1 port still has the bridge's address there.
func guardRule(t *nftables.Table) *nftables.Rule {
	return &nftables.Rule{Table: t, Chain: chain(t, chainRaw), UserData: comment(tagGuard),
		Exprs: append(join(
			matchIface(expr.MetaKeyIIFNAME, expr.CmpOpNeq, "lo"),
			matchPrefix(offDaddr, loopback),
		), drop())}
}

// dispatchRules send traffic for local addresses to the ports chain,
// from other hosts and containers (prerouting) and from the host itself
// (output). From outside, 127.0.0.0/8 is never dispatched: only the
// host's own connections reach a port through loopback.
func dispatchRules(t *nftables.Table) []*nftables.Rule {
	pre := join(matchPrefixNot(offDaddr, loopback), matchLocalDaddr(), []expr.Any{jump(chainPorts)})
	out := join(matchLocalDaddr(), []expr.Any{jump(chainPorts)})
	return []*nftables.Rule{
		{Table: t, Chain: chain(t, chainPrerouting), Exprs: pre, UserData: comment(tagDispatch)},
		{Table: t, Chain: chain(t, chainOutput), Exprs: out, UserData: comment(tagDispatch)},
	}
}

// isolationRule drops traffic forwarded into the bridge from elsewhere
// unless it answers the bridge's own connections or is for a published
// port: other berth networks cannot reach this one's containers, and
// neither can hosts that route to the subnet through this one (Docker
// isolates its networks and, since 28, unpublished ports the same way).
// Traffic to the host itself, and between the bridge's own members, is
// not forwarded through another interface and stays untouched.
func isolationRule(t *nftables.Table, bridge string) *nftables.Rule {
	return &nftables.Rule{Table: t, Chain: chain(t, chainForward), UserData: comment(networkTag(bridge)),
		Exprs: append(join(
			matchIface(expr.MetaKeyOIFNAME, expr.CmpOpEq, bridge),
			matchIface(expr.MetaKeyIIFNAME, expr.CmpOpNeq, bridge),
			matchNoCt(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED),
			matchNoCt(expr.CtKeySTATUS, ipsDstNAT),
		), drop())}
}

// networkRules are one bridge's postrouting and forward rules.
func networkRules(t *nftables.Table, bridge string, subnet netip.Prefix) []*nftables.Rule {
	post, fwd := chain(t, chainPostrouting), chain(t, chainForward)
	out, in := expr.MetaKeyOIFNAME, expr.MetaKeyIIFNAME
	eq, ne := expr.CmpOpEq, expr.CmpOpNeq
	tag := comment(networkTag(bridge))
	rule := func(c *nftables.Chain, verdict expr.Any, parts ...[]expr.Any) *nftables.Rule {
		return &nftables.Rule{Table: t, Chain: c, Exprs: append(join(parts...), verdict), UserData: tag}
	}
	return []*nftables.Rule{
		rule(post, masquerade(), matchPrefix(offSaddr, subnet), matchIface(out, ne, bridge)),
		rule(post, masquerade(), matchIface(out, eq, bridge), matchPrefix(offSaddr, loopback)),
		rule(post, masquerade(), matchIface(out, eq, bridge), matchPrefix(offSaddr, subnet),
			matchCt(expr.CtKeySTATUS, ipsDstNAT)),
		rule(fwd, accept(), matchIface(in, eq, bridge)),
		rule(fwd, accept(), matchIface(out, eq, bridge),
			matchCt(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED)),
		rule(fwd, accept(), matchIface(out, eq, bridge), matchCt(expr.CtKeySTATUS, ipsDstNAT)),
	}
}
