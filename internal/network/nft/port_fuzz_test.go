package nft

import (
	"testing"
)

// FuzzParsePort feeds -p values through ParsePort. It must never panic, and
// every mapping it accepts must be well-formed (ports 1-65535, tcp or udp,
// an IPv4 host address or none) and read back the same from its String.
func FuzzParsePort(f *testing.F) {
	for _, seed := range []string{
		"8080:80", "8080:80/udp", "127.0.0.1:8080:80", "127.0.0.1:18083:80/tcp",
		"0.0.0.0:1:65535", ":8080:80", "18083:80",
		// Refused: bare container port, ranges, IPv6, bad numbers.
		"80", "80/udp", "127.0.0.1::80", ":80", "", "8080:80/sctp", "8080:80/icmp", "8080:80/",
		"0:80", "8080:65536", "8080:http", "x:8080:80", "1-2:3", "8080:80-81",
		"[::1]:8080:80", "::1:8080:80", "::ffff:127.0.0.1:80:80", "127.0.0.1:8080:80:90",
		"127.000.0.1:80:80", "+80:80", "080:0080", "8080:80/tcp/udp", "\x00:80",
		"255.255.255.255:65535:65535/udp", "127.0.0.1%lo:80:80",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePort(s)
		if err != nil {
			if p != (Port{}) {
				t.Errorf("ParsePort(%q) = %+v with error %v; want the zero Port", s, p, err)
			}
			return
		}
		if err := p.validate(); err != nil {
			t.Errorf("ParsePort(%q) accepted an invalid mapping: %v", s, err)
		}
		if p.HostPort == 0 || p.ContainerPort == 0 {
			t.Errorf("ParsePort(%q) = %+v: port 0", s, p)
		}
		if p.HostIP.IsValid() && (!p.HostIP.Is4() || p.HostIP.IsUnspecified() || p.HostIP.Zone() != "") {
			t.Errorf("ParsePort(%q) = %+v: host address is not a specific IPv4 address", s, p)
		}
		again, err := ParsePort(p.String())
		if err != nil || again != p {
			t.Errorf("ParsePort(%q) = %+v, but its String %q reads back as %+v, %v", s, p, p.String(), again, err)
		}
	})
}
