package usermode

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/network/nft"
)

func TestResolvConf(t *testing.T) {
	host := []byte("# made by resolved\nnameserver 127.0.0.53\nsearch example.test lan\noptions edns0 trust-ad\n")
	if got, want := string(ResolvConf(Pasta, host)), "search example.test lan\noptions edns0 trust-ad\nnameserver 169.254.1.1\n"; got != want {
		t.Errorf("pasta: %q, want %q", got, want)
	}
	if got, want := string(ResolvConf(Slirp, nil)), "nameserver 10.0.2.3\n"; got != want {
		t.Errorf("slirp4netns: %q, want %q", got, want)
	}
}

func TestPastaPorts(t *testing.T) {
	if got := pastaPorts(nil); len(got) != 4 || got[1] != "none" || got[3] != "none" {
		t.Errorf("no ports: %q", got)
	}
	var ports []nft.Port
	for _, s := range []string{"127.0.0.1:8080:80", "9000:90", "5353:53/udp"} {
		p, err := nft.ParsePort(s)
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, p)
	}
	if got, want := strings.Join(pastaPorts(ports), " "), "--tcp-ports 127.0.0.1/8080:80,9000:90 --udp-ports 5353:53"; got != want {
		t.Errorf("pastaPorts: %q, want %q", got, want)
	}
}

func TestChoose(t *testing.T) {
	if _, err := Choose("vde"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Choose(vde): %v, want an invalid argument", err)
	}
}
