package nft

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParsePort(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	ok := []struct {
		in   string
		want Port
	}{
		{"8080:80", Port{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		{"8080:80/tcp", Port{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		{"5353:53/udp", Port{HostPort: 5353, ContainerPort: 53, Proto: "udp"}},
		{"127.0.0.1:8080:80", Port{HostIP: lo, HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		{"127.0.0.1:8080:80/udp", Port{HostIP: lo, HostPort: 8080, ContainerPort: 80, Proto: "udp"}},
		{"0.0.0.0:1:65535", Port{HostPort: 1, ContainerPort: 65535, Proto: "tcp"}},
		{":8080:80", Port{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
	}
	for _, c := range ok {
		got, err := ParsePort(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParsePort(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, msg string }{
		{"80", "a host port is required, as in HOSTPORT:80"},
		{"80/udp", "a host port is required"},
		{"127.0.0.1::80", "a host port is required"},
		{":80", "a host port is required"},
		{"", "a host port is required"},
		{"8080:80/icmp", `protocol "icmp" is not tcp, udp or sctp`},
		{"8080:80/", `protocol "" is not tcp, udp or sctp`},
		{"0:80", `host port "0" is not a number from 1 to 65535`},
		{"8080:65536", `container port "65536" is not a number`},
		{"8080:http", `container port "http" is not a number`},
		{"x:8080:80", `host address "x" is not an IPv4 address`},
		{"8000-8010:80", "port ranges are not supported"},
		{"[::1]:8080:80", "IPv6 host addresses are not supported"},
		{"::1:8080:80", "IPv6 host addresses are not supported"},
	}
	for _, c := range bad {
		_, err := ParsePort(c.in)
		if err == nil || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParsePort(%q) error = %v, want one line containing %q", c.in, err, c.msg)
		}
	}
}

func TestPortStringRoundTrip(t *testing.T) {
	for _, s := range []string{"8080:80/tcp", "127.0.0.1:5353:53/udp"} {
		p, err := ParsePort(s)
		if err != nil || p.String() != s {
			t.Errorf("ParsePort(%q).String() = %q, %v", s, p.String(), err)
		}
	}
}

func TestTags(t *testing.T) {
	p := Port{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, ContainerPort: 80, Proto: "udp"}
	tag := ownerTag("abc", p, netip.MustParseAddr("10.88.0.2"))
	if tag != "owner:abc udp 127.0.0.1:8080 10.88.0.2:80" {
		t.Fatalf("ownerTag = %q", tag)
	}
	got, ok := parsePublished(commentOf(comment(tag)))
	if !ok || got.owner != "abc" || got.port != p {
		t.Fatalf("parsePublished = %+v, %v", got, ok)
	}
	all, _ := parsePublished(ownerTag("x", Port{HostPort: 8080, ContainerPort: 2, Proto: "udp"}, netip.MustParseAddr("10.0.0.1")))
	if !all.port.allAddrs() || !all.port.Overlaps(p) {
		t.Errorf("0.0.0.0 tag read back as %+v", all.port)
	}
	for _, bad := range [][]byte{{0, 200, 'a'}, {1}, {}, nil} {
		if s := commentOf(bad); s != "" {
			t.Errorf("commentOf(%v) = %q", bad, s)
		}
	}
}

func TestOverlaps(t *testing.T) {
	lo, other := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.0.0.1")
	all := Port{HostPort: 8080, ContainerPort: 1, Proto: "tcp"}
	cases := []struct {
		q    Port
		want bool
	}{
		{Port{HostPort: 8080, ContainerPort: 9, Proto: "tcp"}, true},
		{Port{HostIP: lo, HostPort: 8080, ContainerPort: 9, Proto: "tcp"}, true},
		{Port{HostPort: 8080, ContainerPort: 1, Proto: "udp"}, false},
		{Port{HostPort: 8081, ContainerPort: 1, Proto: "tcp"}, false},
	}
	for _, c := range cases {
		if got := all.Overlaps(c.q); got != c.want {
			t.Errorf("%v overlaps %v = %v", all, c.q, got)
		}
	}
	a := Port{HostIP: lo, HostPort: 8080, ContainerPort: 1, Proto: "tcp"}
	if a.Overlaps(Port{HostIP: other, HostPort: 8080, ContainerPort: 1, Proto: "tcp"}) {
		t.Errorf("different host addresses overlap")
	}
}
