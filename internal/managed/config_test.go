package managed

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSpecBesideRecord: the last run's OCI config is kept beside the
// record, not in it, and a container that never ran has none.
func TestSpecBesideRecord(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	owner, err := s.Create(Record{ID: "aaaa1111", Name: "web", Config: &Config{Rootfs: "/"}})
	if err != nil {
		t.Fatal(err)
	}
	owner.Release()
	if _, err := s.Spec("aaaa1111"); !errors.Is(err, ErrNotExist) {
		t.Errorf("spec of a container that never ran: %v", err)
	}
	if err := s.SaveSpec("aaaa1111", &specs.Spec{Hostname: "box"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Spec("aaaa1111")
	if err != nil || got.Hostname != "box" {
		t.Errorf("spec: %+v, %v", got, err)
	}
	b, _ := os.ReadFile(filepath.Join(s.Dir, "aaaa1111", "container.json"))
	if len(b) == 0 || strings.Contains(string(b), "box") {
		t.Errorf("the spec went into the record: %s", b)
	}
}

// TestConfigVolumes: the volumes a configuration mounts, anonymous ones
// named from the container's ID.
func TestConfigVolumes(t *testing.T) {
	c := &Config{Mounts: []spec.MountRequest{
		{Type: spec.MountVolume, Source: "data", Destination: "/d"},
		{Type: spec.MountVolume, Destination: "/anon"},
		{Type: spec.MountBind, Source: "/srv", Destination: "/srv"},
	}}
	got := c.Volumes("id1", func(id, dst string) string { return id + dst })
	if len(got) != 2 || got[0] != "data" || got[1] != "id1/anon" {
		t.Errorf("volumes: %v", got)
	}
	if (*Config)(nil).Volumes("x", nil) != nil {
		t.Error("a record without Config has volumes")
	}
}

func TestMatchesLabel(t *testing.T) {
	c := &Config{Labels: map[string]string{"tier": "web", "empty": ""}}
	for filter, want := range map[string]bool{"tier": true, "tier=web": true, "tier=db": false, "empty": true, "empty=": true, "none": false} {
		if got := c.MatchesLabel(filter); got != want {
			t.Errorf("label=%s: %v, want %v", filter, got, want)
		}
	}
	if (*Config)(nil).MatchesLabel("tier") {
		t.Error("a record without config matched")
	}
}
