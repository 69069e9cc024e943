package nft

import "testing"

// The generation moves with every change, berth's or anyone's, and not
// when EnsureNetwork finds its rules in place: network.ensure trusts an
// unchanged generation to skip listing the rules.
func TestGeneration(t *testing.T) {
	r := newRules(t)
	gen := func() uint32 {
		t.Helper()
		g, err := Generation()
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g0 := gen()
	if err := r.EnsureNetwork("berth0", subnet0); err != nil {
		t.Fatal(err)
	}
	g1 := gen()
	if g1 == g0 {
		t.Fatalf("generation %d unchanged after EnsureNetwork wrote its rules", g0)
	}
	if err := r.EnsureNetwork("berth0", subnet0); err != nil {
		t.Fatal(err)
	}
	if g2 := gen(); g2 != g1 {
		t.Fatalf("EnsureNetwork with its rules in place moved the generation %d to %d", g1, g2)
	}
	run(t, "nft", "add", "table", "ip", "someone-else")
	if g3 := gen(); g3 == g1 {
		t.Fatalf("generation %d unchanged after another program's change", g1)
	}
}
