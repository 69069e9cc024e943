package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func allAlive(string) bool { return true }

func openPool(t *testing.T, subnet string) *Pool {
	t.Helper()
	p, err := Open(filepath.Join(t.TempDir(), "testnet"), netip.MustParsePrefix(subnet))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustAllocate(t *testing.T, p *Pool, owner string, alive func(string) bool) string {
	t.Helper()
	a, err := p.Allocate(owner, alive)
	if err != nil {
		t.Fatalf("Allocate(%s): %v", owner, err)
	}
	return a.String()
}

func TestOpenCreatesState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "bridge")
	p, err := Open(dir, netip.MustParsePrefix("10.88.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{lockName, stateName} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("Open did not create %s: %v", f, err)
		}
	}
	if g := p.Gateway().String(); g != "10.88.0.1" {
		t.Errorf("Gateway() = %s, want 10.88.0.1", g)
	}
	if owners, err := p.Owners(); err != nil || len(owners) != 0 {
		t.Errorf("fresh pool: Owners() = %v, %v", owners, err)
	}
}

func TestOpenRejectsBadSubnets(t *testing.T) {
	for _, s := range []string{"10.0.0.0/31", "10.0.0.0/32", "fd00::/64", "10.0.0.1/24"} {
		_, err := Open(filepath.Join(t.TempDir(), "n"), netip.MustParsePrefix(s))
		if err == nil || !strings.HasPrefix(err.Error(), "network n: invalid subnet "+s+": ") {
			t.Errorf("Open(%s): %v", s, err)
		}
	}
	_, err := Open(filepath.Join(t.TempDir(), "n"), netip.Prefix{})
	if err == nil {
		t.Error("Open accepted the zero prefix")
	}
}

func TestOpenRejectsOtherSubnet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n")
	if _, err := Open(dir, netip.MustParsePrefix("10.1.0.0/24")); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, netip.MustParsePrefix("10.2.0.0/24"))
	if err == nil || !strings.Contains(err.Error(), "for subnet 10.1.0.0/24, not 10.2.0.0/24") {
		t.Errorf("reopen with another subnet: %v", err)
	}
}

func TestAllocationOrder(t *testing.T) {
	p := openPool(t, "10.9.0.0/29") // containers: .2 .. .6
	var got []string
	for i := range 5 {
		got = append(got, mustAllocate(t, p, fmt.Sprint("c", i), allAlive))
	}
	want := "[10.9.0.2 10.9.0.3 10.9.0.4 10.9.0.5 10.9.0.6]"
	if fmt.Sprint(got) != want {
		t.Fatalf("allocated %v, want %s (never .0 network, .1 gateway, .7 broadcast)", got, want)
	}
	_, err := p.Allocate("c5", allAlive)
	if !errors.Is(err, ErrFull) || err.Error() != "network testnet: no free addresses in 10.9.0.0/29" {
		t.Fatalf("full pool: %v", err)
	}
	// Round-robin: the search starts after the last address handed out
	// (.6), so it wraps around and finds .3 before .5.
	for _, o := range []string{"c3", "c1"} {
		if err := p.Release(o); err != nil {
			t.Fatal(err)
		}
	}
	if a := mustAllocate(t, p, "c5", allAlive); a != "10.9.0.3" {
		t.Errorf("after freeing .3 and .5: got %s, want 10.9.0.3 (first free after wrap)", a)
	}
	if a := mustAllocate(t, p, "c6", allAlive); a != "10.9.0.5" {
		t.Errorf("got %s, want 10.9.0.5", a)
	}
}

func TestRoundRobinAvoidsQuickReuse(t *testing.T) {
	p := openPool(t, "10.9.0.0/24")
	a := mustAllocate(t, p, "a", allAlive)
	mustAllocate(t, p, "b", allAlive)
	p.Release("a")
	if c := mustAllocate(t, p, "c", allAlive); c == a {
		t.Errorf("address %s of a released container was handed out again at once", a)
	}
}

func TestSlash30(t *testing.T) {
	p := openPool(t, "192.168.50.4/30")
	if g := p.Gateway().String(); g != "192.168.50.5" {
		t.Errorf("Gateway() = %s", g)
	}
	if a := mustAllocate(t, p, "only", allAlive); a != "192.168.50.6" {
		t.Errorf("a /30 gave %s, want 192.168.50.6", a)
	}
	_, err := p.Allocate("second", allAlive)
	if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "no free addresses in 192.168.50.4/30") {
		t.Errorf("second container in a /30: %v", err)
	}
	p.Release("only")
	if a := mustAllocate(t, p, "second", allAlive); a != "192.168.50.6" {
		t.Errorf("after release a /30 gave %s", a)
	}
}

func TestAllocateIsIdempotent(t *testing.T) {
	p := openPool(t, "10.9.0.0/24")
	a := mustAllocate(t, p, "x", allAlive)
	mustAllocate(t, p, "y", allAlive)
	// alive reports x dead, but x is the one asking: it keeps its address.
	if b := mustAllocate(t, p, "x", func(string) bool { return false }); b != a {
		t.Errorf("second Allocate for x gave %s, first gave %s", b, a)
	}
	owners, _ := p.Owners()
	if len(owners) != 1 || owners["x"].String() != a {
		t.Errorf("owners %v: want only x (y was dead)", owners)
	}
}

func TestReleaseIsIdempotent(t *testing.T) {
	p := openPool(t, "10.9.0.0/24")
	mustAllocate(t, p, "x", allAlive)
	for range 2 {
		if err := p.Release("x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Release("never"); err != nil {
		t.Fatal(err)
	}
	if owners, _ := p.Owners(); len(owners) != 0 {
		t.Errorf("owners after release: %v", owners)
	}
	os.RemoveAll(p.dir) // the network was removed
	if err := p.Release("x"); err != nil {
		t.Errorf("release in a removed network: %v", err)
	}
	if _, err := p.Allocate("x", allAlive); err == nil {
		t.Error("allocation in a removed network succeeded")
	}
}

func TestStaleOwnersReclaimed(t *testing.T) {
	p := openPool(t, "10.9.0.0/29") // five container addresses
	for i := range 5 {
		mustAllocate(t, p, fmt.Sprint("c", i), allAlive)
	}
	dead := map[string]bool{"c1": true, "c3": true}
	var asked []string
	alive := func(o string) bool { asked = append(asked, o); return !dead[o] }
	a := mustAllocate(t, p, "new", alive)
	if a != "10.9.0.3" {
		t.Errorf("got %s, want 10.9.0.3 (c1's, reclaimed)", a)
	}
	if len(asked) != 5 {
		t.Errorf("alive asked about %v: want the five existing owners", asked)
	}
	owners, _ := p.Owners()
	if _, ok := owners["c1"]; ok || len(owners) != 4 {
		t.Errorf("owners %v: c1 and c3 should be gone", owners)
	}
	if _, ok := owners["c3"]; ok {
		t.Error("c3 not reclaimed")
	}
}

func TestStatePersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n")
	subnet := netip.MustParsePrefix("10.9.0.0/24")
	p, _ := Open(dir, subnet)
	mustAllocate(t, p, "a", allAlive)
	b := mustAllocate(t, p, "b", allAlive)
	p.Release("a")

	q, err := Open(dir, subnet)
	if err != nil {
		t.Fatal(err)
	}
	owners, err := q.Owners()
	if err != nil || len(owners) != 1 || owners["b"].String() != b {
		t.Fatalf("reopened: %v, %v", owners, err)
	}
	// The round-robin position survives too.
	if c := mustAllocate(t, q, "c", allAlive); c != "10.9.0.4" {
		t.Errorf("reopened pool gave %s, want 10.9.0.4", c)
	}
}

func TestCorruptState(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":   "{not json",
		"version":   `{"version":7,"subnet":"10.9.0.0/24","allocations":{}}`,
		"outside":   `{"version":1,"subnet":"10.9.0.0/24","allocations":{"a":"10.10.0.2"}}`,
		"gateway":   `{"version":1,"subnet":"10.9.0.0/24","allocations":{"a":"10.9.0.1"}}`,
		"broadcast": `{"version":1,"subnet":"10.9.0.0/24","allocations":{"a":"10.9.0.255"}}`,
		"duplicate": `{"version":1,"subnet":"10.9.0.0/24","allocations":{"a":"10.9.0.2","b":"10.9.0.2"}}`,
		"badaddr":   `{"version":1,"subnet":"10.9.0.0/24","allocations":{"a":"10.9.0.300"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			p := openPool(t, "10.9.0.0/24")
			path := filepath.Join(p.dir, stateName)
			os.WriteFile(path, []byte(content), 0o600)
			_, err := p.Allocate("x", allAlive)
			if err == nil || !strings.HasPrefix(err.Error(), "network testnet: corrupt address state "+path+": ") {
				t.Errorf("Allocate: %v", err)
			}
			if _, err := p.Owners(); err == nil {
				t.Error("Owners read a corrupt state")
			}
			if _, err := Open(p.dir, p.subnet); err == nil {
				t.Error("Open accepted a corrupt state")
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Error("the corrupt state was overwritten")
			}
		})
	}
}

func TestStateFileFormat(t *testing.T) {
	p := openPool(t, "10.9.0.0/24")
	mustAllocate(t, p, "c1", allAlive)
	mustAllocate(t, p, "c2", allAlive)
	b, err := os.ReadFile(filepath.Join(p.dir, stateName))
	if err != nil {
		t.Fatal(err)
	}
	want := `{
	"version": 1,
	"subnet": "10.9.0.0/24",
	"last": "10.9.0.3",
	"allocations": {
		"c1": "10.9.0.2",
		"c2": "10.9.0.3"
	}
}
`
	if string(b) != want {
		t.Errorf("state file:\n%s\nwant:\n%s", b, want)
	}
}

func TestEmptyOwner(t *testing.T) {
	p := openPool(t, "10.9.0.0/24")
	if _, err := p.Allocate("", allAlive); err == nil {
		t.Error("allocated to an empty owner")
	}
}

// TestEmptyStateAfterCrash: an empty state file, what a machine crash
// can leave, is no allocation rather than corruption.
func TestEmptyStateAfterCrash(t *testing.T) {
	dir := t.TempDir()
	subnet := netip.MustParsePrefix("10.77.0.0/24")
	p, err := Open(dir, subnet)
	if err != nil {
		t.Fatal(err)
	}
	alive := func(string) bool { return true }
	if _, err := p.Allocate("a", alive); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, stateName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	owners, err := p.Owners()
	if err != nil || len(owners) != 0 {
		t.Errorf("after an empty state file: %v, %v", owners, err)
	}
	if _, err := p.Allocate("b", alive); err != nil {
		t.Errorf("allocate after an empty state file: %v", err)
	}
}

func TestAllocateAddr(t *testing.T) {
	p, err := Open(t.TempDir(), netip.MustParsePrefix("10.90.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	want := netip.MustParseAddr("10.90.0.50")
	if err := p.AllocateAddr("a", want, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.AllocateAddr("a", want, nil); err != nil {
		t.Errorf("the same address again: %v", err)
	}
	if err := p.AllocateAddr("b", want, nil); !errors.Is(err, ErrInUse) {
		t.Errorf("another owner's address: %v", err)
	}
	if err := p.AllocateAddr("b", want, func(string) bool { return false }); err != nil {
		t.Errorf("a dead owner's address: %v", err)
	}
	for _, bad := range []string{"10.90.0.0", "10.90.0.1", "10.90.0.255", "10.91.0.5"} {
		if err := p.AllocateAddr("c", netip.MustParseAddr(bad), nil); err == nil {
			t.Errorf("%s allocated", bad)
		}
	}
	// The next automatic allocation skips it.
	for i := 0; i < 60; i++ {
		if a, err := p.Allocate(fmt.Sprint("x", i), nil); err != nil || a == want {
			t.Fatalf("Allocate gave %v, %v", a, err)
		}
	}
}
