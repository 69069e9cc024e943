package spec_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestProcessOptions(t *testing.T) {
	o := runOpts(t)
	adj := -500
	o.Ulimits = []string{"nofile=1024:2048", "nproc=-1", "nofile=100:200"}
	o.OOMScoreAdj = &adj
	o.ShmSize = "128m"
	o.Sysctls = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"}
	s := mustFromRunOptions(t, o)
	want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}, {Type: "RLIMIT_NPROC", Soft: ^uint64(0), Hard: ^uint64(0)}}
	if !slices.Equal(s.Process.Rlimits, want) {
		t.Errorf("rlimits %+v", s.Process.Rlimits)
	}
	if s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj != -500 {
		t.Errorf("oom score adj %v", s.Process.OOMScoreAdj)
	}
	if m := findMount(s, "/dev/shm"); m == nil || !slices.Contains(m.Options, "size=134217728") || slices.Contains(m.Options, "size=65536k") {
		t.Errorf("/dev/shm %+v", m)
	}
	if s.Linux.Sysctl["net.ipv4.ip_forward"] != "1" {
		t.Errorf("sysctl %v", s.Linux.Sysctl)
	}
	bad := []func(*spec.RunOptions){
		func(o *spec.RunOptions) { o.Ulimits = []string{"nofile=2048:1024"} },
		func(o *spec.RunOptions) { o.Ulimits = []string{"bogus=1"} },
		func(o *spec.RunOptions) { o.Ulimits = []string{"nofile=lots"} },
		func(o *spec.RunOptions) { v := 1001; o.OOMScoreAdj = &v },
		func(o *spec.RunOptions) { o.ShmSize = "0" },
		func(o *spec.RunOptions) { o.ShmSize = "big" },
		func(o *spec.RunOptions) { o.Sysctls = map[string]string{"vm.swappiness": "1"} },
		func(o *spec.RunOptions) {
			o.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"}
			o.Network = "host"
		},
		func(o *spec.RunOptions) { o.GroupAdd = []string{"nosuchgroup"} },
	}
	for i, set := range bad {
		o := runOpts(t)
		set(&o)
		if _, err := spec.FromRunOptions(o); err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("case %d: %v, want invalid argument", i, err)
		}
	}
}

// TestCheckExtrasSysctls: CheckExtras refuses a sysctl the container's
// network mode leaves on the host, and a bad --ulimit.
func TestCheckExtrasSysctls(t *testing.T) {
	if err := spec.CheckExtras(spec.Extras{Sysctls: map[string]string{"net.core.somaxconn": "1024"}}, "bridge"); err != nil {
		t.Errorf("a net sysctl with its own network: %v", err)
	}
	for _, x := range []spec.Extras{{Sysctls: map[string]string{"kernel.core_pattern": "x"}}, {Ulimits: []string{"nofile"}}} {
		if err := spec.CheckExtras(x, "bridge"); err == nil {
			t.Errorf("%+v accepted", x)
		}
	}
	if err := spec.CheckExtras(spec.Extras{Sysctls: map[string]string{"net.core.somaxconn": "1"}}, "host"); err == nil {
		t.Error("a net sysctl with --network host was accepted")
	}
}
