package nft

import (
	"errors"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
)

var (
	subnet0 = netip.MustParsePrefix("10.88.0.0/16")
	subnet1 = netip.MustParsePrefix("10.89.0.0/16")
)

func newRules(t *testing.T) *Rules {
	t.Helper()
	privateNetns(t)
	r, err := New(-1)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tags returns the tags of the rules in each chain, in order.
func tags(t *testing.T) map[string][]string {
	t.Helper()
	rules, err := listRules(&nftables.Conn{}, allChains...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rules {
		out[r.Chain.Name] = append(out[r.Chain.Name], commentOf(r.UserData))
	}
	return out
}

// elementTags returns the tags of the maps' elements, sorted.
func elementTags(t *testing.T) []string {
	t.Helper()
	elems, err := listMapped(&nftables.Conn{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range elems {
		out = append(out, e.tag)
	}
	return sorted(out)
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func wantTags(t *testing.T, want map[string][]string) {
	t.Helper()
	if got := tags(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("rules by chain:\n got %q\nwant %q\n%s", got, want, nftList(t))
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestEnsureNetworkIdempotent(t *testing.T) {
	r := newRules(t)
	if err := r.EnsureNetwork("berth0", subnet0); err != nil {
		t.Fatal(err)
	}
	first := nftList(t)
	if err := r.EnsureNetwork("berth0", subnet0); err != nil {
		t.Fatal(err)
	}
	if again := nftList(t); again != first {
		t.Fatalf("second EnsureNetwork changed the table:\n%s\nthen:\n%s", first, again)
	}
	t.Logf("table after EnsureNetwork:\n%s", first)
	wantTags(t, map[string][]string{
		chainRaw:         {tagGuard},
		chainPorts:       {tagMaps, tagMaps},
		chainPrerouting:  {tagDispatch},
		chainOutput:      {tagDispatch},
		chainPostrouting: repeat("network:berth0", 3),
		chainForward:     repeat("network:berth0", 4),
	})
	for _, s := range []string{
		`ip saddr 10.88.0.0/16 oifname != "berth0" masquerade`,
		`oifname "berth0" ip saddr 127.0.0.0/8 masquerade`,
		`oifname "berth0" ct state established,related accept`,
		`oifname "berth0" iifname != "berth0" ct state ! established,related ct status ! dnat drop`,
		`type filter hook prerouting priority raw; policy accept;`,
		`iifname != "lo" ip daddr 127.0.0.0/8 drop comment "guard"`,
		`ip daddr != 127.0.0.0/8 fib daddr type local jump ports comment "dispatch"`,
		"fib daddr type local jump ports comment \"dispatch\"\n",
	} {
		if first != "" && !strings.Contains(first, s) {
			t.Errorf("nft list lacks %q", s)
		}
	}
}

func TestTwoNetworks(t *testing.T) {
	r := newRules(t)
	for _, err := range []error{
		r.EnsureNetwork("berth0", subnet0),
		r.EnsureNetwork("berth1", subnet1),
		r.EnsureNetwork("berth0", subnet0),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The third call finds everything in place and changes nothing.
	both := append(repeat("network:berth0", 3), repeat("network:berth1", 3)...)
	// Each network's isolation drop is at the head of forward, before
	// every network's accepts.
	forward := []string{"network:berth1", "network:berth0"}
	forward = append(forward, both...)
	wantTags(t, map[string][]string{
		chainRaw: {tagGuard}, chainPorts: {tagMaps, tagMaps}, chainPrerouting: {tagDispatch}, chainOutput: {tagDispatch},
		chainPostrouting: both, chainForward: forward,
	})
	if err := r.RemoveNetwork("berth0"); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveNetwork("berth0"); err != nil {
		t.Fatalf("second RemoveNetwork: %v", err)
	}
	wantTags(t, map[string][]string{
		chainRaw: {tagGuard}, chainPorts: {tagMaps, tagMaps}, chainPrerouting: {tagDispatch}, chainOutput: {tagDispatch},
		chainPostrouting: repeat("network:berth1", 3), chainForward: repeat("network:berth1", 4),
	})
}

func mustPorts(t *testing.T, specs ...string) []Port {
	t.Helper()
	var out []Port
	for _, s := range specs {
		p, err := ParsePort(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func owners(t *testing.T, r *Rules) []string {
	t.Helper()
	o, err := r.Owners()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestPortsByOwner(t *testing.T) {
	r := newRules(t)
	ipA, ipB := netip.MustParseAddr("10.88.0.2"), netip.MustParseAddr("10.88.0.3")
	if err := r.AddPorts("a", ipA, mustPorts(t, "8080:80")); !errors.Is(err, errNoTable) {
		t.Fatalf("AddPorts before EnsureNetwork: %v", err)
	}
	if err := r.EnsureNetwork("berth0", subnet0); err != nil {
		t.Fatal(err)
	}
	portsA := mustPorts(t, "8080:80", "127.0.0.1:5353:53/udp")
	for i := 0; i < 2; i++ { // the second call must add nothing
		if err := r.AddPorts("a", ipA, portsA); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.AddPorts("b", ipB, mustPorts(t, "9090:90", "5353:53/tcp")); err != nil {
		t.Fatal(err)
	}
	tagsA := []string{"owner:a tcp 0.0.0.0:8080 10.88.0.2:80", "owner:a udp 127.0.0.1:5353 10.88.0.2:53"}
	tagsB := []string{"owner:b tcp 0.0.0.0:9090 10.88.0.3:90", "owner:b tcp 0.0.0.0:5353 10.88.0.3:53"}
	if got := elementTags(t); !reflect.DeepEqual(got, sorted(append(tagsA, tagsB...))) {
		t.Fatalf("map elements: %q", got)
	}
	if got := owners(t, r); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("Owners = %q", got)
	}
	list := nftList(t)
	t.Logf("table with two owners:\n%s", list)
	for _, s := range []string{`tcp . 8080 comment "owner:a tcp 0.0.0.0:8080 10.88.0.2:80" : 10.88.0.2 . 80`,
		`127.0.0.1 . udp . 5353 comment "owner:a udp 127.0.0.1:5353 10.88.0.2:53" : 10.88.0.2 . 53`} {
		if list != "" && !strings.Contains(list, s) {
			t.Errorf("nft list lacks %q", s)
		}
	}

	for _, c := range []struct{ owner, port string }{
		{"c", "8080:81"},               // all addresses, taken by a
		{"c", "127.0.0.1:9090:90"},     // one address inside b's all addresses
		{"b", "8080:80"},               // another owner's mapping, even identical
		{"a", "127.0.0.1:5353:54/udp"}, // a's own port, mapped differently
	} {
		err := r.AddPorts(c.owner, ipB, mustPorts(t, c.port))
		if err == nil || !strings.Contains(err.Error(), "already published") {
			t.Errorf("AddPorts(%s, %s) = %v, want a conflict", c.owner, c.port, err)
		}
	}
	if err := r.AddPorts("c", ipB, mustPorts(t, "10.0.0.9:8081:80", "8080:80/udp")); err != nil {
		t.Fatalf("non-conflicting ports: %v", err)
	}
	if err := r.RemoveOwner("c"); err != nil {
		t.Fatal(err)
	}

	for i := 0; i < 2; i++ {
		if err := r.RemoveOwner("a"); err != nil {
			t.Fatal(err)
		}
	}
	wantTags(t, map[string][]string{
		chainPorts: {tagMaps, tagMaps}, chainRaw: {tagGuard},
		chainPrerouting: {tagDispatch}, chainOutput: {tagDispatch},
		chainPostrouting: repeat("network:berth0", 3), chainForward: repeat("network:berth0", 4),
	})
	if got := elementTags(t); !reflect.DeepEqual(got, sorted(tagsB)) {
		t.Fatalf("map elements after RemoveOwner(a): %q", got)
	}
	if got := owners(t, r); !reflect.DeepEqual(got, []string{"b"}) {
		t.Fatalf("Owners after RemoveOwner(a) = %q", got)
	}

	for i := 0; i < 2; i++ {
		if err := r.DeleteTable(); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := tableExists(&nftables.Conn{}); ok || err != nil {
		t.Fatalf("table after DeleteTable: exists %v, %v", ok, err)
	}
	if got := owners(t, r); len(got) != 0 {
		t.Fatalf("Owners without table = %q", got)
	}
	if err := r.RemoveOwner("b"); err != nil {
		t.Fatalf("RemoveOwner without table: %v", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	r := newRules(t)
	ip := netip.MustParseAddr("10.88.0.2")
	p := mustPorts(t, "8080:80")
	cases := []struct {
		err  error
		want string
	}{
		{r.AddPorts("", ip, p), "empty owner"},
		{r.AddPorts("a b", ip, p), "contains blanks"},
		{r.AddPorts(strings.Repeat("x", maxOwner+1), ip, p), "longer than"},
		{r.AddPorts("a", netip.MustParseAddr("fd00::2"), p), "is not IPv4"},
		{r.AddPorts("a", ip, []Port{{HostPort: 1, ContainerPort: 1, Proto: "dccp"}}), "not tcp, udp or sctp"},
		{r.AddPorts("a", ip, []Port{{HostPort: 0, ContainerPort: 1, Proto: "tcp"}}), "port 0"},
		{r.RemoveOwner(""), "empty owner"},
		{r.EnsureNetwork("a-bridge-name-too-long", subnet0), "longer than 15"},
		{r.EnsureNetwork("berth0", netip.MustParsePrefix("fd00::/64")), "not an IPv4 prefix"},
		{r.EnsureNetwork("berth0", netip.Prefix{}), "not an IPv4 prefix"},
	}
	for i, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("case %d: error %v, want %q", i, c.err, c.want)
		}
	}
}

func TestEnsureNetworkRepairs(t *testing.T) {
	r := newRules(t)
	if err := r.EnsureNetwork("berth0", subnet0); err != nil {
		t.Fatal(err)
	}
	want := tags(t)
	c := &nftables.Conn{}
	c.DelChain(chain(table(), chainForward)) // what `nft delete chain ip berth forward` does
	c.FlushChain(chain(table(), chainPostrouting))
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := r.EnsureNetwork("berth0", subnet0); err != nil {
		t.Fatal(err)
	}
	wantTags(t, want)
}

func TestOtherNamespace(t *testing.T) {
	privateNetns(t)
	ns := newNetns(t)
	f, err := os.Open(ns.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := New(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.EnsureNetwork("berth0", subnet0); err != nil {
		t.Fatal(err)
	}
	if ok, err := tableExists(&nftables.Conn{}); ok || err != nil {
		t.Fatalf("table in the caller's namespace: %v, %v", ok, err)
	}
	var there bool
	if err := ns.call(func() (err error) { there, err = tableExists(&nftables.Conn{}); return err }); err != nil || !there {
		t.Fatalf("table in the given namespace: %v, %v", there, err)
	}
	if err := r.DeleteTable(); err != nil {
		t.Fatal(err)
	}
}
