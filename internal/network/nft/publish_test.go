package nft

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParsePublish(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	spec := func(ip netip.Addr, min, max, c uint16, proto string) PortSpec {
		return PortSpec{HostIP: ip, HostMin: min, HostMax: max, ContainerPort: c, Proto: proto}
	}
	var any netip.Addr
	ok := []struct {
		in   string
		want []PortSpec
	}{
		{"80", []PortSpec{spec(any, 0, 0, 80, "tcp")}},
		{"80/udp", []PortSpec{spec(any, 0, 0, 80, "udp")}},
		{"127.0.0.1::80", []PortSpec{spec(lo, 0, 0, 80, "tcp")}},
		{":80", []PortSpec{spec(any, 0, 0, 80, "tcp")}},
		{"0:80", []PortSpec{spec(any, 0, 0, 80, "tcp")}},
		{"0.0.0.0::80/sctp", []PortSpec{spec(any, 0, 0, 80, "sctp")}},
		{"8080:80", []PortSpec{spec(any, 8080, 8080, 80, "tcp")}},
		{"127.0.0.1:8080:80/sctp", []PortSpec{spec(lo, 8080, 8080, 80, "sctp")}},
		{"8000-8002:80-82", []PortSpec{spec(any, 8000, 8000, 80, "tcp"), spec(any, 8001, 8001, 81, "tcp"), spec(any, 8002, 8002, 82, "tcp")}},
		{"8000-8010:80", []PortSpec{spec(any, 8000, 8010, 80, "tcp")}},
		{"127.0.0.1:8000-8010:80/udp", []PortSpec{spec(lo, 8000, 8010, 80, "udp")}},
		{"80-81", []PortSpec{spec(any, 0, 0, 80, "tcp"), spec(any, 0, 0, 81, "tcp")}},
		{"127.0.0.1::80-81", []PortSpec{spec(lo, 0, 0, 80, "tcp"), spec(lo, 0, 0, 81, "tcp")}},
		{"9000-9000:90", []PortSpec{spec(any, 9000, 9000, 90, "tcp")}},
	}
	for _, c := range ok {
		got, err := ParsePublish(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParsePublish(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
		// Each spec reads back as itself.
		for _, s := range got {
			again, err := ParsePublish(s.String())
			if err != nil || len(again) != 1 || again[0] != s {
				t.Errorf("%+v as %q reads back as %+v, %v", s, s.String(), again, err)
			}
		}
	}
	bad := []struct{ in, want string }{
		{"8000-8001:80-82", "differ in length"},
		{"8080:80-81", "differ in length"},
		{"8002-8000:80", "ends before it starts"},
		{"8080:0", `container port "0"`},
		{"8080:", `container port ""`},
		{"", `container port ""`},
		{"0-5:80", `host port "0"`},
		{"8080:80/icmp", `protocol "icmp" is not tcp, udp or sctp`},
		{"8080:80/", `protocol ""`},
		{"[::1]:8080:80", "IPv4 only"},
		{"::1:8080:80", "IPv4 only"},
		{"x:8080:80", `host address "x"`},
		{"127.0.0.1:80", `host port "127.0.0.1"`},
		{"8080:http", `container port "http"`},
		{"+80:80", `host port "+80"`},
		{"65536:80", `host port "65536"`},
		{"1-2-3:80", `host port "2-3"`},
		{"8080:80/tcp/udp", "protocol"},
	}
	for _, c := range bad {
		got, err := ParsePublish(c.in)
		if err == nil || got != nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParsePublish(%q) = %+v, %v; want one line containing %q", c.in, got, err, c.want)
		}
	}
}

func TestParseExpose(t *testing.T) {
	got, err := ParseExpose("80-82/udp")
	if err != nil || len(got) != 3 || got[2] != (PortSpec{ContainerPort: 82, Proto: "udp"}) {
		t.Errorf("ParseExpose(80-82/udp) = %+v, %v", got, err)
	}
	if got, err := ParseExpose("443"); err != nil || len(got) != 1 || got[0].Proto != "tcp" || !got[0].Random() {
		t.Errorf("ParseExpose(443) = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "http", "80/icmp", "90-80", "1:2"} {
		if got, err := ParseExpose(bad); err == nil || got != nil {
			t.Errorf("ParseExpose(%q) = %+v, nil error", bad, got)
		}
	}
}
