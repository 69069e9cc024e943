package nft

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// A published port is one map element, added and deleted in one
// transaction each; the ports chain keeps its two lookups.
func TestPortIsMapElement(t *testing.T) {
	r := newRules(t)
	if err := r.EnsureNetwork("berth0", subnet0); err != nil {
		t.Fatal(err)
	}
	chainBefore := tags(t)[chainPorts]
	gen := func() uint32 {
		t.Helper()
		g, err := Generation()
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g0 := gen()
	ip := netip.MustParseAddr("10.88.0.2")
	if err := r.AddPorts("a", ip, mustPorts(t, "8080:80", "127.0.0.1:5353:53/udp")); err != nil {
		t.Fatal(err)
	}
	if g := gen(); g != g0+1 {
		t.Errorf("AddPorts moved the generation from %d to %d: want one transaction", g0, g)
	}
	if got := tags(t)[chainPorts]; !reflect.DeepEqual(got, chainBefore) || !reflect.DeepEqual(got, []string{tagMaps, tagMaps}) {
		t.Errorf("ports chain after AddPorts: %q, want the two lookups of before, %q", got, chainBefore)
	}
	list := nftList(t)
	for _, s := range []string{
		`tcp . 8080 comment "owner:a tcp 0.0.0.0:8080 10.88.0.2:80" : 10.88.0.2 . 80`,
		`127.0.0.1 . udp . 5353 comment "owner:a udp 127.0.0.1:5353 10.88.0.2:53" : 10.88.0.2 . 53`,
		"dnat ip to ip daddr . meta l4proto . th dport map @ports_addr",
		"dnat ip to meta l4proto . th dport map @ports_all",
	} {
		if list != "" && !strings.Contains(list, s) {
			t.Errorf("nft list lacks %q:\n%s", s, list)
		}
	}
	if list != "" && strings.Contains(list, "dnat to") {
		t.Errorf("a per-port rule:\n%s", list)
	}
	g1 := gen()
	if err := r.RemoveOwner("a"); err != nil {
		t.Fatal(err)
	}
	if g := gen(); g != g1+1 {
		t.Errorf("RemoveOwner moved the generation from %d to %d: want one transaction", g1, g)
	}
	if got := elementTags(t); len(got) != 0 {
		t.Errorf("elements after RemoveOwner: %q", got)
	}
	if got := tags(t)[chainPorts]; !reflect.DeepEqual(got, chainBefore) {
		t.Errorf("ports chain after RemoveOwner: %q", got)
	}
	// Nothing of a: no transaction at all.
	g2 := gen()
	if err := r.RemoveOwner("a"); err != nil || gen() != g2 {
		t.Errorf("RemoveOwner with nothing to remove: %v, generation %d to %d", err, g2, gen())
	}
}

// EnsureNetwork on a table without maps (an earlier berth's) adds them
// and keeps that berth's port rules, which are still found, honoured and
// removed by owner.
func TestEarlierPortRules(t *testing.T) {
	r := newRules(t)
	if err := r.EnsureNetwork("berth0", subnet0); err != nil {
		t.Fatal(err)
	}
	// The table as an earlier berth left it: no lookups, no maps, one
	// port rule.
	c := &nftables.Conn{}
	rules, err := listRules(c, chainPorts)
	if err != nil {
		t.Fatal(err)
	}
	if err := delRules(c, rules, func(tag string) bool { return tag == tagMaps }); err != nil {
		t.Fatal(err)
	}
	c.DelSet(portSet(table(), setPortsAddr))
	c.DelSet(portSet(table(), setPortsAll))
	old := mustPorts(t, "8080:80")[0]
	oldIP := netip.MustParseAddr("10.88.0.9")
	c.AddRule(portRule(table(), old, oldIP, ownerTag("old", old, oldIP)))
	if err := flush(c, "the earlier layout"); err != nil {
		t.Fatal(err)
	}
	if got := owners(t, r); !reflect.DeepEqual(got, []string{"old"}) {
		t.Fatalf("Owners with an earlier rule and no maps = %q", got)
	}
	if err := r.EnsureNetwork("berth0", subnet0); err != nil {
		t.Fatal(err)
	}
	if got := tags(t)[chainPorts]; !reflect.DeepEqual(got, []string{"owner:old tcp 0.0.0.0:8080 10.88.0.9:80", tagMaps, tagMaps}) {
		t.Fatalf("ports chain after EnsureNetwork: %q", got)
	}
	ip := netip.MustParseAddr("10.88.0.2")
	if err := r.AddPorts("new", ip, mustPorts(t, "8080:81")); err == nil || !strings.Contains(err.Error(), "already published by old") {
		t.Errorf("AddPorts over an earlier rule's port: %v", err)
	}
	if err := r.AddPorts("new", ip, mustPorts(t, "8081:81")); err != nil {
		t.Fatal(err)
	}
	if got := owners(t, r); !reflect.DeepEqual(got, []string{"new", "old"}) {
		t.Errorf("Owners = %q", got)
	}
	if err := r.RemoveOwner("old"); err != nil {
		t.Fatal(err)
	}
	if got := owners(t, r); !reflect.DeepEqual(got, []string{"new"}) {
		t.Errorf("Owners after RemoveOwner(old) = %q", got)
	}
	if got := tags(t)[chainPorts]; !reflect.DeepEqual(got, []string{tagMaps, tagMaps}) {
		t.Errorf("ports chain after RemoveOwner(old): %q", got)
	}
}

// The last network to go takes the table, maps and all, unless a port is
// still published; another network keeps it.
func TestRemoveLastNetwork(t *testing.T) {
	r := newRules(t)
	exists := func() bool {
		t.Helper()
		ok, err := tableExists(&nftables.Conn{})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for _, err := range []error{r.EnsureNetwork("berth0", subnet0), r.EnsureNetwork("berth1", subnet1)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := r.AddPorts("a", netip.MustParseAddr("10.89.0.2"), mustPorts(t, "8080:80")); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveNetwork("berth0"); err != nil || !exists() {
		t.Fatalf("RemoveNetwork(berth0) with berth1 there: %v, table there %v", err, exists())
	}
	if err := r.RemoveNetwork("berth1"); err != nil || !exists() {
		t.Fatalf("RemoveNetwork(berth1) with a port published: %v, table there %v", err, exists())
	}
	if got := tags(t)[chainForward]; len(got) != 0 {
		t.Errorf("forward rules after both networks went: %q", got)
	}
	if err := r.RemoveOwner("a"); err != nil {
		t.Fatal(err)
	}
	if err := r.EnsureNetwork("berth1", subnet1); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveNetwork("berth1"); err != nil || exists() {
		t.Fatalf("RemoveNetwork of the last network: %v, table there %v\n%s", err, exists(), nftList(t))
	}
	if err := r.RemoveNetwork("berth1"); err != nil {
		t.Errorf("RemoveNetwork without a table: %v", err)
	}
}

// The table's deletion is refused once anything changed since the
// generation it names.
func TestDeleteTableAtGeneration(t *testing.T) {
	r := newRules(t)
	if err := r.EnsureNetwork("berth0", subnet0); err != nil {
		t.Fatal(err)
	}
	g, err := Generation()
	if err != nil {
		t.Fatal(err)
	}
	run(t, "nft", "add", "table", "ip", "someone-else")
	if err := deleteTableAt(-1, g); !errors.Is(err, unix.ERESTART) {
		t.Fatalf("deleteTableAt an old generation: %v, want ERESTART", err)
	}
	if ok, _ := tableExists(&nftables.Conn{}); !ok {
		t.Fatal("the table went at an old generation")
	}
	if g, err = Generation(); err != nil {
		t.Fatal(err)
	}
	if err := deleteTableAt(-1, g); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tableExists(&nftables.Conn{}); ok {
		t.Fatal("the table is still there")
	}
}

// RemovePorts deletes the elements it is named, in one transaction, and
// nothing of another owner; when one is missing it removes what is left
// of the owner all the same.
func TestRemovePorts(t *testing.T) {
	r := newRules(t)
	if err := r.EnsureNetwork("berth0", subnet0); err != nil {
		t.Fatal(err)
	}
	ipA, ipB := netip.MustParseAddr("10.88.0.2"), netip.MustParseAddr("10.88.0.3")
	portsA, portsB := mustPorts(t, "8080:80", "127.0.0.1:5353:53/udp"), mustPorts(t, "9090:90")
	for _, err := range []error{r.AddPorts("a", ipA, portsA), r.AddPorts("b", ipB, portsB)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	g0, _ := Generation()
	if err := r.RemovePorts("a", ipA, portsA); err != nil {
		t.Fatal(err)
	}
	if g, _ := Generation(); g != g0+1 {
		t.Errorf("RemovePorts moved the generation from %d to %d: want one transaction", g0, g)
	}
	if got := elementTags(t); !reflect.DeepEqual(got, []string{"owner:b tcp 0.0.0.0:9090 10.88.0.3:90"}) {
		t.Fatalf("elements after RemovePorts(a): %q", got)
	}
	// One of a's two elements gone behind berth's back.
	if err := r.AddPorts("a", ipA, portsA); err != nil {
		t.Fatal(err)
	}
	run(t, "nft", "delete", "element", "ip", TableName, setPortsAll, "{ tcp . 8080 }")
	if err := r.RemovePorts("a", ipA, portsA); err != nil {
		t.Fatal(err)
	}
	if got := elementTags(t); !reflect.DeepEqual(got, []string{"owner:b tcp 0.0.0.0:9090 10.88.0.3:90"}) {
		t.Fatalf("elements after RemovePorts(a) with one missing: %q", got)
	}
	if err := r.RemovePorts("a b", ipA, portsA); err == nil || !strings.Contains(err.Error(), "contains blanks") {
		t.Errorf("RemovePorts of a bad owner: %v", err)
	}
}
