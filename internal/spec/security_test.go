package spec_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCapsDockerOrder: names with or without CAP_, in any case; drops
// before adds; ALL on either side as Docker's TweakCapabilities.
func TestCapsDockerOrder(t *testing.T) {
	all := spec.AllCapabilities()
	cases := []struct {
		name      string
		add, drop []string
		want      func([]string) bool
	}{
		{"drop one, add one", []string{"net_admin"}, []string{"CAP_CHOWN"}, func(c []string) bool {
			return slices.Contains(c, "CAP_NET_ADMIN") && !slices.Contains(c, "CAP_CHOWN") && len(c) == len(spec.DefaultCapabilities)
		}},
		{"drop ALL add one", []string{"Sys_Time"}, []string{"all"}, func(c []string) bool { return slices.Equal(c, []string{"CAP_SYS_TIME"}) }},
		{"add ALL drop one", []string{"ALL"}, []string{"mknod"}, func(c []string) bool {
			return len(c) == len(all)-1 && !slices.Contains(c, "CAP_MKNOD")
		}},
		{"drop ALL", nil, []string{"ALL"}, func(c []string) bool { return len(c) == 0 }},
		{"add and drop the same: drop first", []string{"CHOWN"}, []string{"CHOWN"}, func(c []string) bool { return slices.Contains(c, "CAP_CHOWN") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := runOpts(t)
			o.CapAdd, o.CapDrop = c.add, c.drop
			s := mustFromRunOptions(t, o)
			caps := s.Process.Capabilities
			if !c.want(caps.Bounding) || !slices.Equal(caps.Bounding, caps.Effective) || !slices.Equal(caps.Bounding, caps.Permitted) {
				t.Errorf("bounding %q effective %q", caps.Bounding, caps.Effective)
			}
		})
	}
	t.Run("non-root: bounding only", func(t *testing.T) {
		o := runOpts(t)
		o.User, o.CapAdd = "1000", []string{"NET_ADMIN"}
		s := mustFromRunOptions(t, o)
		if c := s.Process.Capabilities; !slices.Contains(c.Bounding, "CAP_NET_ADMIN") || len(c.Effective) != 0 {
			t.Errorf("caps %+v", c)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		o := runOpts(t)
		o.CapAdd = []string{"CAP_FLY"}
		if _, err := spec.FromRunOptions(o); err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "--cap-add") {
			t.Errorf("unknown capability: %v", err)
		}
	})
}

func TestSecurityOpts(t *testing.T) {
	cases := []struct {
		opt  string
		want func(*specs.Spec) bool
	}{
		{"no-new-privileges", func(s *specs.Spec) bool { return s.Process.NoNewPrivileges }},
		{"no-new-privileges=false", func(s *specs.Spec) bool { return !s.Process.NoNewPrivileges }},
		{"no-new-privileges:false", func(s *specs.Spec) bool { return !s.Process.NoNewPrivileges }},
		{"seccomp=unconfined", func(s *specs.Spec) bool { return s.Linux.Seccomp == nil }},
		{"systempaths=unconfined", func(s *specs.Spec) bool { return len(s.Linux.MaskedPaths)+len(s.Linux.ReadonlyPaths) == 0 }},
		{"unmask=ALL", func(s *specs.Spec) bool { return len(s.Linux.MaskedPaths)+len(s.Linux.ReadonlyPaths) == 0 }},
		{"unmask=/proc/kcore:/proc/sys", func(s *specs.Spec) bool {
			return !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") && !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") && len(s.Linux.MaskedPaths) > 0
		}},
		{"mask=/etc/hostname:/opt", func(s *specs.Spec) bool {
			return slices.Contains(s.Linux.MaskedPaths, "/etc/hostname") && slices.Contains(s.Linux.MaskedPaths, "/opt")
		}},
		{"apparmor=unconfined", func(s *specs.Spec) bool { return s.Linux.Seccomp != nil }},
		{"label=disable", func(s *specs.Spec) bool { return s.Process.SelinuxLabel == "" }},
	}
	for _, c := range cases {
		t.Run(c.opt, func(t *testing.T) {
			o := runOpts(t)
			o.SecurityOpt = []string{c.opt}
			if s := mustFromRunOptions(t, o); !c.want(s) {
				t.Errorf("%s not applied", c.opt)
			}
		})
	}
	for _, bad := range []string{"seccomp", "no-new-privileges=maybe", "systempaths=confined", "mask=relative", "unmask=/a/../b",
		"label=bogus", "label=user", "apparmor=docker-default", "frobnicate=1", "seccomp={not json"} {
		o := runOpts(t)
		o.SecurityOpt = []string{bad}
		_, err := spec.FromRunOptions(o)
		if err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--security-opt %s: %v, want one line, invalid argument", bad, err)
		}
	}
}

// TestSeccompProfileDockerFormat: a profile file in Docker's format is
// read once, rules filtered by the container's capabilities, and a bad
// one refused before anything is made.
func TestSeccompProfileDockerFormat(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "profile.json")
	os.WriteFile(file, []byte(`{
  "defaultAction": "SCMP_ACT_ALLOW",
  "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
  "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "comment": "no directories"},
    {"names": ["chown"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}}
  ]
}`), 0o644)
	opts, err := spec.ReadSeccompProfiles([]string{"seccomp=" + file, "no-new-privileges"})
	if err != nil || len(opts) != 2 || !strings.HasPrefix(opts[0], "seccomp={") || opts[1] != "no-new-privileges" {
		t.Fatalf("ReadSeccompProfiles: %q %v", opts, err)
	}
	os.Remove(file) // the container keeps the profile it was made with
	o := runOpts(t)
	o.SecurityOpt = opts
	s := mustFromRunOptions(t, o)
	p := s.Linux.Seccomp
	if p == nil || p.DefaultAction != specs.ActAllow || len(p.Syscalls) != 1 || !slices.Equal(p.Syscalls[0].Names, []string{"mkdir", "mkdirat"}) {
		t.Fatalf("profile %+v", p)
	}
	if !slices.Equal(p.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86}) {
		t.Errorf("architectures %q", p.Architectures)
	}
	o.CapAdd = []string{"SYS_ADMIN"}
	if s := mustFromRunOptions(t, o); len(s.Linux.Seccomp.Syscalls) != 2 {
		t.Errorf("with CAP_SYS_ADMIN: %d rules, want the included one too", len(s.Linux.Seccomp.Syscalls))
	}
	for name, body := range map[string]string{"bad.json": `{"defaultAction": "SCMP_ACT_NOPE"}`, "nojson": `not json`, "unknown.json": `{"defaultAction": "SCMP_ACT_ALLOW", "bogus": 1}`} {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
		if _, err := spec.ReadSeccompProfiles([]string{"seccomp=" + filepath.Join(dir, name)}); err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := spec.ReadSeccompProfiles([]string{"seccomp=" + filepath.Join(dir, "missing.json")}); err == nil {
		t.Error("a missing profile file was accepted")
	}
}

func TestGroupAdd(t *testing.T) {
	o := runOpts(t)
	o.Rootfs = fakeRootfs(t, testPasswd, testGroup)
	o.User, o.GroupAdd = "alice", []string{"users", "4242", "staff"}
	s := mustFromRunOptions(t, o)
	// alice is in staff (50), docker (999) and wheel (10) already; users
	// (100) and 4242 join, staff not twice.
	if got := s.Process.User.AdditionalGids; !sameElements(got, []uint32{50, 999, 10, 100, 4242}) {
		t.Errorf("additional gids %v", got)
	}
	if _, err := spec.ParseGroupAdd([]string{"99999999999"}); err == nil {
		t.Error("a gid out of range was accepted")
	}
}

func TestCheckExtras(t *testing.T) {
	if err := spec.CheckExtras(spec.Extras{CapAdd: []string{"NET_ADMIN"}, GroupAdd: []string{"wheel", "10"}}, "bridge"); err != nil {
		t.Errorf("good options: %v", err)
	}
	for _, x := range []spec.Extras{
		{CapDrop: []string{"nope"}}, {GroupAdd: []string{""}}, {SecurityOpt: []string{"seccomp"}},
	} {
		if err := spec.CheckExtras(x, "bridge"); err == nil {
			t.Errorf("%+v accepted", x)
		}
	}
}
