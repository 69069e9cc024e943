package spec_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func namespaceOf(s *specs.Spec, t specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	i := slices.IndexFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == t })
	if i < 0 {
		return specs.LinuxNamespace{}, false
	}
	return s.Linux.Namespaces[i], true
}

// TestNamespaceModes: --ipc, --pid and --uts host drop the namespace;
// container:NAME joins the path the caller resolved.
func TestNamespaceModes(t *testing.T) {
	o := runOpts(t)
	o.IPC, o.PID, o.UTS, o.Hostname = "host", "host", "host", "thehost"
	s := mustFromRunOptions(t, o)
	for _, typ := range []specs.LinuxNamespaceType{specs.IPCNamespace, specs.PIDNamespace, specs.UTSNamespace} {
		if _, ok := namespaceOf(s, typ); ok {
			t.Errorf("%s namespace kept with host", typ)
		}
	}
	if s.Hostname != "" || !slices.Contains(s.Process.Env, "HOSTNAME=thehost") {
		t.Errorf("uts host: hostname %q env %q", s.Hostname, s.Process.Env)
	}
	if m := findMount(s, "/dev/shm"); m == nil || m.Source != "/dev/shm" || m.Type != "bind" {
		t.Errorf("ipc host: /dev/shm %+v", m)
	}
	o = runOpts(t)
	o.IPC, o.PID, o.IPCFrom, o.PIDFrom, o.Domainname = "container:db", "container:db", "/proc/1/fd/7", "/proc/1/fd/8", "example.org"
	s = mustFromRunOptions(t, o)
	if ns, _ := namespaceOf(s, specs.IPCNamespace); ns.Path != "/proc/1/fd/7" {
		t.Errorf("ipc container: %+v", ns)
	}
	if ns, _ := namespaceOf(s, specs.PIDNamespace); ns.Path != "/proc/1/fd/8" {
		t.Errorf("pid container: %+v", ns)
	}
	if s.Domainname != "example.org" {
		t.Errorf("domainname %q", s.Domainname)
	}
}

func TestNamespaceModesRefused(t *testing.T) {
	for _, c := range []struct {
		x        spec.Extras
		hostname bool
	}{
		{spec.Extras{IPC: "none"}, false}, {spec.Extras{PID: "private"}, false}, {spec.Extras{UTS: "private"}, false},
		{spec.Extras{UTS: "host"}, true}, {spec.Extras{UTS: "host", Domainname: "x"}, false}, {spec.Extras{PID: "container:"}, false},
	} {
		if err := spec.CheckNamespaceModes(c.x, c.hostname); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%+v hostname %v: %v", c.x, c.hostname, err)
		}
	}
	if err := spec.CheckExtras(spec.Extras{IPC: "host", Sysctls: map[string]string{"kernel.shmmax": "1"}}, "none"); err == nil {
		t.Error("an IPC sysctl with --ipc host was accepted")
	}
	if err := spec.CheckExtras(spec.Extras{IPC: "container:db", PID: "container:db", Sysctls: map[string]string{"kernel.shmmax": "1"}}, "none"); err != nil {
		t.Errorf("container: modes at create time: %v", err)
	}
}
