package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
)

func TestPorts(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	rec := managed.Record{Name: "web", State: managed.State{Status: managed.Running},
		Network: &managed.Network{Ports: []string{"8443:443/tcp", "127.0.0.1:8080:80/tcp", "5353:53/udp", "8081:80/tcp"}}}
	got, err := e.Ports(rec, "")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range got {
		lines = append(lines, p.String())
	}
	want := "53/udp -> 0.0.0.0:5353|80/tcp -> 127.0.0.1:8080|80/tcp -> 0.0.0.0:8081|443/tcp -> 0.0.0.0:8443"
	if strings.Join(lines, "|") != want {
		t.Errorf("ports:\n%s\nwant\n%s", strings.Join(lines, "|"), want)
	}
	if got, err := e.Ports(rec, "80"); err != nil || len(got) != 2 || got[0].Public() != "127.0.0.1:8080" {
		t.Errorf("port 80: %+v %v", got, err)
	}
	if got, err := e.Ports(rec, "53/udp"); err != nil || len(got) != 1 || got[0].Public() != "0.0.0.0:5353" {
		t.Errorf("port 53/udp: %+v %v", got, err)
	}
	if _, err := e.Ports(rec, "53"); !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "No public port '53/tcp' published for web" {
		t.Errorf("unpublished port: %v", err)
	}
	for _, bad := range []string{"x", "0", "70000", "80/icmp"} {
		if _, err := e.Ports(rec, bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: %v, want invalid argument", bad, err)
		}
	}
	rec.State.Status = managed.Exited
	if got, err := e.Ports(rec, ""); err != nil || len(got) != 0 {
		t.Errorf("stopped container: %+v %v", got, err)
	}
}
