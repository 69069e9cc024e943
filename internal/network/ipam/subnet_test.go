package ipam

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseSubnet(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "10.88.0.0/16", want: "10.88.0.0/16"},
		{in: "10.89.0.0/24", want: "10.89.0.0/24"},
		{in: "192.168.7.4/30", want: "192.168.7.4/30"},
		{in: "10.0.0.0/33", err: `invalid --subnet "10.0.0.0/33": use an IPv4 CIDR such as 10.89.0.0/24`},
		{in: "10.0.0.0", err: `invalid --subnet "10.0.0.0": use an IPv4 CIDR such as 10.89.0.0/24`},
		{in: "", err: `invalid --subnet "": use an IPv4 CIDR such as 10.89.0.0/24`},
		{in: "bridge", err: `invalid --subnet "bridge": use an IPv4 CIDR such as 10.89.0.0/24`},
		{in: "fd00::/64", err: `invalid --subnet "fd00::/64": use an IPv4 CIDR such as 10.89.0.0/24`},
		{in: "::ffff:10.0.0.0/120", err: `invalid --subnet "::ffff:10.0.0.0/120": use an IPv4 CIDR`},
		{in: "10.0.0.1/24", err: `invalid --subnet "10.0.0.1/24": host bits are set; did you mean 10.0.0.0/24?`},
		{in: "10.0.0.0/31", err: `invalid --subnet "10.0.0.0/31": too small: a network needs at least a /30`},
		{in: "10.0.0.1/32", err: `too small`},
		{in: "127.0.0.0/16", err: `overlaps loopback`},
		{in: "0.0.0.0/0", err: `overlaps "this network"`},
		{in: "224.1.0.0/16", err: `overlaps multicast`},
		{in: "128.0.0.0/1", err: `overlaps multicast`},
	} {
		got, err := ParseSubnet(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSubnet(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.err)
			} else if strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseSubnet(%q): error spans lines: %q", tc.in, err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseSubnet(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestOverlaps(t *testing.T) {
	pfx := netip.MustParsePrefix
	routes := []netip.Prefix{
		pfx("0.0.0.0/0"), // default route: ignored
		pfx("fd00::/8"),  // other family: ignored
		pfx("192.168.1.0/24"),
		pfx("10.88.5.0/24"),
		pfx("172.16.0.0/12"),
		pfx("10.0.0.0/8"),
	}
	for _, tc := range []struct {
		subnet, want string
	}{
		{"10.88.0.0/16", "10.88.5.0/24"},     // a route inside the subnet
		{"172.17.0.0/16", "172.16.0.0/12"},   // the subnet inside a route
		{"192.168.1.0/24", "192.168.1.0/24"}, // equal
		{"192.168.1.252/30", "192.168.1.0/24"},
		{"192.168.2.0/24", ""}, // adjacent, not overlapping
		{"100.64.0.0/10", ""},
		{"11.0.0.0/8", ""},
	} {
		got, ok := Overlaps(pfx(tc.subnet), routes)
		if ok != (tc.want != "") || ok && got.String() != tc.want {
			t.Errorf("Overlaps(%s) = %v, %v; want %q", tc.subnet, got, ok, tc.want)
		}
	}
	if r, ok := Overlaps(pfx("10.1.0.0/16"), nil); ok {
		t.Errorf("no routes: overlap with %v", r)
	}
}

func TestHostRange(t *testing.T) {
	for _, tc := range []struct{ subnet, first, last string }{
		{"10.88.0.0/16", "10.88.0.2", "10.88.255.254"},
		{"10.0.0.4/30", "10.0.0.6", "10.0.0.6"},
		{"10.0.0.0/8", "10.0.0.2", "10.255.255.254"},
		{"192.168.0.0/29", "192.168.0.2", "192.168.0.6"},
	} {
		first, last := hostRange(netip.MustParsePrefix(tc.subnet))
		if fromU32(first).String() != tc.first || fromU32(last).String() != tc.last {
			t.Errorf("hostRange(%s) = %s..%s; want %s..%s", tc.subnet, fromU32(first), fromU32(last), tc.first, tc.last)
		}
	}
}
