package engine

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
)

func TestCheckNetOptions(t *testing.T) {
	ok := []managed.Config{
		{NetworkMode: "bridge", Ports: []string{"80", "127.0.0.1::80/udp", "8000-8010:80", "8000-8001:80-81", "9/sctp"}},
		{NetworkMode: "bridge", PublishAll: true, Expose: []string{"80-82/udp", "90"}},
		{NetworkMode: "web", IPAddress: "10.90.0.9", MacAddress: "02:42:0a:5a:00:09", Aliases: []string{"db", "pg.local"}},
		{NetworkMode: "bridge", MacAddress: "02:42:0a:5a:00:09"},
	}
	for _, c := range ok {
		if err := checkNetOptions(c); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	bad := []struct {
		cfg  managed.Config
		want string
	}{
		{managed.Config{NetworkMode: "bridge", Ports: []string{"8000-8001:80-82"}}, "differ in length"},
		{managed.Config{NetworkMode: "bridge", Expose: []string{"http"}}, "invalid exposed port"},
		{managed.Config{NetworkMode: "bridge", IPAddress: "10.88.0.9"}, "user-defined networks only"},
		{managed.Config{NetworkMode: "bridge", Aliases: []string{"x"}}, "user-defined networks only"},
		{managed.Config{NetworkMode: "web", IPAddress: "fd00::1"}, "invalid --ip"},
		{managed.Config{NetworkMode: "web", IPAddress: "10.90.0"}, "invalid --ip"},
		{managed.Config{NetworkMode: "web", MacAddress: "01:00:5e:00:00:01"}, "invalid --mac-address"},
		{managed.Config{NetworkMode: "web", MacAddress: "00:00:00:00:00:00"}, "invalid --mac-address"},
		{managed.Config{NetworkMode: "web", MacAddress: "02:42"}, "invalid --mac-address"},
		{managed.Config{NetworkMode: "web", Aliases: []string{"a b"}}, "invalid --network-alias"},
		{managed.Config{NetworkMode: "none", MacAddress: "02:42:0a:5a:00:09"}, "--network none has none"},
		{managed.Config{NetworkMode: "container:x", IPAddress: "10.90.0.9"}, "--network container:x"},
		{managed.Config{NetworkMode: "bridge", UserModeNetwork: "pasta", PublishAll: true}, "-P publishes on random host ports"},
	}
	for _, c := range bad {
		err := checkNetOptions(c.cfg)
		if err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an invalid argument containing %q", c.cfg, err, c.want)
		}
	}
}

func TestFixedPorts(t *testing.T) {
	if p, err := fixedPorts([]string{"8080:80", "127.0.0.1:53:53/udp"}); err != nil || len(p) != 2 || p[1].String() != "127.0.0.1:53:53/udp" {
		t.Errorf("fixedPorts: %v %v", p, err)
	}
	for _, s := range []string{"80", "8000-8010:80"} {
		if _, err := fixedPorts([]string{s}); err == nil || !strings.Contains(err.Error(), "given host ports only") {
			t.Errorf("fixedPorts(%s): %v", s, err)
		}
	}
}

// TestLeave: leaving a network connect added drops it; leaving the first
// makes the next one first, with its address and aliases, or none.
func TestLeave(t *testing.T) {
	cfg := &managed.Config{NetworkMode: "front", IPAddress: "10.1.0.5", Aliases: []string{"a"}, Ports: []string{"80"},
		Networks: []managed.NetworkConnection{{Name: "back", IPAddress: "10.2.0.5", Aliases: []string{"b"}}, {Name: "side"}}}
	leave(cfg, "side")
	if len(cfg.Networks) != 1 || cfg.NetworkMode != "front" {
		t.Fatalf("after leaving side: %+v", cfg)
	}
	leave(cfg, "front")
	if cfg.NetworkMode != "back" || cfg.IPAddress != "10.2.0.5" || !slices.Equal(cfg.Aliases, []string{"b"}) || len(cfg.Networks) != 0 || len(cfg.Ports) != 1 {
		t.Fatalf("after leaving front: %+v", cfg)
	}
	leave(cfg, "back")
	if cfg.NetworkMode != "none" || cfg.IPAddress != "" || cfg.Aliases != nil || cfg.Ports != nil {
		t.Fatalf("after leaving back: %+v", cfg)
	}
}
