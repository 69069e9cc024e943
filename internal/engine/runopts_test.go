package engine

import (
	"errors"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
)

// TestCreateRefusesBadOptions: a bad option is refused by Create with
// invalid argument, and no record is made.
func TestCreateRefusesBadOptions(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	for _, cfg := range []managed.Config{
		{CapAdd: []string{"CAP_NOPE"}}, {SecurityOpt: []string{"apparmor=docker-default"}}, {GroupAdd: []string{""}},
	} {
		cfg.Rootfs, cfg.NetworkMode = "/", "none"
		if _, _, err := e.Create(cfg, CreateOptions{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%+v: %v, want invalid argument", cfg, err)
		}
	}
	if recs := e.Containers().List(); len(recs) != 0 {
		t.Errorf("records left: %d", len(recs))
	}
}
