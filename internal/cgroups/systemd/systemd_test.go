package systemd

import (
	"bytes"
	"errors"
	"testing"

	sd "github.com/coreos/go-systemd/v22/dbus"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParsePath(t *testing.T) {
	for _, c := range []struct{ in, id, name, slice, path string }{
		{"system.slice:docker:abc", "x", "docker-abc.scope", "system.slice", "/system.slice/docker-abc.scope"},
		{":crio:abc", "x", "crio-abc.scope", "system.slice", "/system.slice/crio-abc.scope"},
		{"", "abc", "berth-abc.scope", "system.slice", "/system.slice/berth-abc.scope"},
		{"kubepods-besteffort-pod1.slice:cri-containerd:abc", "x", "cri-containerd-abc.scope", "kubepods-besteffort-pod1.slice",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope"},
		{"machine.slice::abc", "x", "-abc.scope", "machine.slice", "/machine.slice/-abc.scope"}, // runc's dash
		{"system.slice:p:pod-x.slice", "x", "pod-x.slice", "system.slice", "/system.slice/pod-x.slice"},
		{"-.slice:p:abc", "x", "p-abc.scope", "-.slice", "/p-abc.scope"},
	} {
		u, err := ParsePath(c.in, c.id)
		if err != nil || u.Name != c.name || u.Slice != c.slice || u.Path != c.path {
			t.Errorf("ParsePath(%q) = %+v, %v; want %s in %s at %s", c.in, u, err, c.name, c.slice, c.path)
		}
	}
	for _, bad := range []string{"/berth/abc", "a:b", "a:b:c:d", "system:p:abc", "system.slice:p:", "a--b.slice:p:n",
		"sys/tem.slice:p:n", "system.slice:p:a/b", ".slice:p:n", "system.slice:p:-bad-.slice"} {
		if u, err := ParsePath(bad, "x"); !errors.Is(err, ErrPath) {
			t.Errorf("ParsePath(%q) = %+v, %v; want ErrPath", bad, u, err)
		}
	}
}

func TestRangeToBits(t *testing.T) {
	for in, want := range map[string][]byte{
		"0": {0x01}, "0-2,7": {0x87}, "1,9": {0x02, 0x02}, " 3 , 8-9 ,": {0x08, 0x03}, "15": {0x00, 0x80},
	} {
		if got, err := RangeToBits(in); err != nil || !bytes.Equal(got, want) {
			t.Errorf("RangeToBits(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ",", "a", "3-1", "1-", "-1"} {
		if got, err := RangeToBits(bad); err == nil {
			t.Errorf("RangeToBits(%q) = %x; want an error", bad, got)
		}
	}
}

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func props(t *testing.T, r *specs.LinuxResources) map[string]any {
	t.Helper()
	list, err := Properties(r)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	for _, p := range list {
		m[p.Name] = p.Value.Value()
	}
	return m
}

func TestProperties(t *testing.T) {
	got := props(t, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Reservation: i64(32 << 20), Swap: i64(96 << 20)},
		CPU:    &specs.LinuxCPU{Shares: u64(1024), Quota: i64(50000), Period: u64(100000), Cpus: "0-1", Mems: "0"},
		Pids:   &specs.LinuxPids{Limit: i64(8)},
	})
	want := map[string]any{
		"MemoryMax": uint64(64 << 20), "MemoryLow": uint64(32 << 20), "MemorySwapMax": uint64(32 << 20),
		"CPUWeight": uint64(39), "CPUQuotaPeriodUSec": uint64(100000), "CPUQuotaPerSecUSec": uint64(500000),
		"AllowedCPUs": []byte{0x03}, "AllowedMemoryNodes": []byte{0x01}, "TasksMax": uint64(8),
	}
	if len(got) != len(want) {
		t.Errorf("Properties = %v; want %v", got, want)
	}
	for k, v := range want {
		if b, ok := v.([]byte); ok {
			if !bytes.Equal(got[k].([]byte), b) {
				t.Errorf("%s = %v; want %v", k, got[k], v)
			}
		} else if got[k] != v {
			t.Errorf("%s = %v; want %v", k, got[k], v)
		}
	}
}

func TestPropertiesLimitsAndRounding(t *testing.T) {
	got := props(t, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1)},
		CPU:    &specs.LinuxCPU{Quota: i64(12345)}, // 12.345% of a CPU: rounded up to 13%
		Pids:   &specs.LinuxPids{Limit: i64(-1)},
	})
	if got["MemoryMax"] != infinity || got["MemorySwapMax"] != infinity || got["TasksMax"] != infinity {
		t.Errorf("unlimited values = %v; want infinity", got)
	}
	if got["CPUQuotaPerSecUSec"] != uint64(130000) {
		t.Errorf("CPUQuotaPerSecUSec = %v; want 130000", got["CPUQuotaPerSecUSec"])
	}
	if _, ok := got["CPUQuotaPeriodUSec"]; ok {
		t.Errorf("CPUQuotaPeriodUSec set without a period: %v", got)
	}
	if got := props(t, &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}); len(got) != 0 {
		t.Errorf("device rules gave properties %v; the device program handles them", got)
	}
}

func TestUnifiedProperties(t *testing.T) {
	got := props(t, &specs.LinuxResources{Unified: map[string]string{
		"memory.high": "1048576", "memory.max": "max", "pids.max": " 20 ", "cpu.weight": "300",
		"cpu.max": "max 50000", "cpuset.cpus": "1", "io.weight": "default 100",
	}})
	want := map[string]any{
		"MemoryHigh": uint64(1 << 20), "MemoryMax": infinity, "TasksMax": uint64(20), "CPUWeight": uint64(300),
		"CPUQuotaPeriodUSec": uint64(50000), "CPUQuotaPerSecUSec": infinity,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v; want %v", k, got[k], v)
		}
	}
	if _, ok := got["IOWeight"]; ok {
		t.Errorf("io.weight was translated: %v", got)
	}
	for _, bad := range []map[string]string{{"memory.max": "lots"}, {"cpu.max": "1 2 3"}, {"cpuset.cpus": "x"}} {
		if _, err := Properties(&specs.LinuxResources{Unified: bad}); err == nil {
			t.Errorf("Properties(unified %v) accepted it", bad)
		}
	}
}

func TestUnitProperties(t *testing.T) {
	names := func(ps []sd.Property) map[string]any {
		m := map[string]any{}
		for _, p := range ps {
			m[p.Name] = p.Value.Value()
		}
		return m
	}
	scope := names(unitProperties(Unit{Name: "berth-a.scope", Slice: "system.slice"}, 42, "a"))
	if scope["Slice"] != "system.slice" || scope["Delegate"] != true || scope["DefaultDependencies"] != false {
		t.Errorf("scope properties = %v", scope)
	}
	if pids, _ := scope["PIDs"].([]uint32); len(pids) != 1 || pids[0] != 42 {
		t.Errorf("scope PIDs = %v; want [42]", scope["PIDs"])
	}
	slice := names(unitProperties(Unit{Name: "pod.slice", Slice: "system.slice"}, 0, "a"))
	if _, ok := slice["Delegate"]; ok || slice["Wants"] == nil {
		t.Errorf("slice properties = %v; want Wants and no Delegate", slice)
	}
	if w := Without(unitProperties(Unit{Name: "x.scope", Slice: "s.slice"}, 1, "a"), "PIDs", "Slice"); len(names(w)) != len(scope)-2 {
		t.Errorf("Without left %v", names(w))
	}
}
