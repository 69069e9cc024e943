package network

import (
	"errors"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
)

func TestFileOptionsCheck(t *testing.T) {
	good := FileOptions{ExtraHosts: []string{"db:10.0.0.5", "gw:host-gateway", "v6:fd00::1", "new=192.0.2.1", "b:[::1]"},
		DNS: []string{"1.1.1.1", "2606:4700::1111"}, DNSSearch: []string{"example.org", "."}, DNSOptions: []string{"ndots:2"}}
	if err := good.Check(); err != nil {
		t.Errorf("good options: %v", err)
	}
	for _, bad := range []FileOptions{
		{ExtraHosts: []string{"noip"}}, {ExtraHosts: []string{":1.2.3.4"}}, {ExtraHosts: []string{"x:notanip"}},
		{DNS: []string{"dns.example"}}, {DNSSearch: []string{"a b"}}, {DNSOptions: []string{""}},
	} {
		if err := bad.Check(); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestCustomResolvConf(t *testing.T) {
	host := "# host\nnameserver 10.0.0.1\nsearch corp.example\noptions edns0\n"
	got := customResolvConf(host, FileOptions{DNS: []string{"1.1.1.1", "8.8.8.8"}, DNSSearch: []string{"a.example", "b.example"}, DNSOptions: []string{"ndots:2"}})
	want := "# host\nnameserver 1.1.1.1\nnameserver 8.8.8.8\nsearch a.example b.example\noptions ndots:2\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := customResolvConf(host, FileOptions{DNSSearch: []string{"."}}); got != "# host\nnameserver 10.0.0.1\noptions edns0\n" {
		t.Errorf("--dns-search .: %q", got)
	}
}
