package network

import (
	"net/netip"
	"os/exec"
	"testing"

	"github.com/berth-runtime/berth/internal/network/nft"
)

// A port mapping's transaction keeps the network's rules known to be in
// place (the next start does not list them), unless something else
// changed the ruleset too.
func TestPortChangeKeepsRulesChecked(t *testing.T) {
	inPrivateNetns(t, func() {
		n, err := Create(t.TempDir(), "front", netip.MustParsePrefix("10.1.0.0/24"))
		if err != nil {
			t.Error(err)
			return
		}
		// The first ensure writes the rules, the second finds them.
		for i := 0; i < 2; i++ {
			if _, err := n.ensure(netip.MustParsePrefix("10.1.0.1/24")); err != nil {
				t.Error(err)
				return
			}
		}
		checkedNow := func() bool {
			v, err := rulesetVersion()
			if err != nil {
				t.Error(err)
			}
			return n.rulesChecked(v)
		}
		if !checkedNow() {
			t.Error("rules not marked checked after ensure")
			return
		}
		ip := netip.MustParseAddr("10.1.0.2")
		ports := []nft.Port{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}
		if err := n.changePorts(func(r *nft.Rules) error { return r.AddPorts("a", ip, ports) }); err != nil {
			t.Error(err)
			return
		}
		if !checkedNow() {
			t.Error("rules not checked after a port was published")
		}
		if err := n.changePorts(func(r *nft.Rules) error { return r.RemovePorts("a", ip, ports) }); err != nil {
			t.Error(err)
			return
		}
		if !checkedNow() {
			t.Error("rules not checked after a port was taken down")
		}
		// Another program's change in the same window: the check is not
		// carried, and the next start lists the rules.
		err = n.changePorts(func(r *nft.Rules) error {
			if out, err := exec.Command("nft", "add", "table", "ip", "someone-else").CombinedOutput(); err != nil {
				t.Errorf("nft: %v %s", err, out)
			}
			return r.AddPorts("a", ip, ports)
		})
		if err != nil {
			t.Error(err)
		}
		if checkedNow() {
			t.Error("rules still checked after another program's change")
		}
		// The same with no transaction of berth's (the port is there):
		// the generation moved by one, but not by berth.
		if _, err := n.ensure(netip.MustParsePrefix("10.1.0.1/24")); err != nil || !checkedNow() {
			t.Errorf("ensure: %v, checked %v", err, checkedNow())
		}
		err = n.changePorts(func(r *nft.Rules) error {
			if out, err := exec.Command("nft", "add", "table", "ip", "someone-else-again").CombinedOutput(); err != nil {
				t.Errorf("nft: %v %s", err, out)
			}
			return r.AddPorts("a", ip, ports)
		})
		if err != nil {
			t.Error(err)
		}
		if checkedNow() {
			t.Error("rules checked after another program's change and none of berth's")
		}
	})
}
