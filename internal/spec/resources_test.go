package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "0-3": 4, "0-1,4,6-7": 5, "": 0, " 2 ": 1} {
		got, err := ParseCPUList(in)
		if err != nil || len(got) != want {
			t.Errorf("ParseCPUList(%q) = %v, %v; want %d members", in, got, err, want)
		}
	}
	for _, in := range []string{"a", "3-1", "-1", "1,", "1-", "0-99999999"} {
		if _, err := ParseCPUList(in); err == nil {
			t.Errorf("ParseCPUList(%q) accepted", in)
		}
	}
}

func TestCheckCPUSet(t *testing.T) {
	online := filepath.Join(t.TempDir(), "online")
	os.WriteFile(online, []byte("0-1\n"), 0o644)
	if err := CheckCPUSet("--cpuset-cpus", "0,1", online); err != nil {
		t.Error(err)
	}
	if err := CheckCPUSet("--cpuset-cpus", "2", online); err == nil {
		t.Error("CPU 2 of 0-1 accepted")
	}
	// No node list (no NUMA): node 0 only.
	if err := CheckCPUSet("--cpuset-mems", "0", filepath.Join(t.TempDir(), "none")); err != nil {
		t.Error(err)
	}
}

func TestParseDeviceRate(t *testing.T) {
	cases := []struct {
		in    string
		bytes bool
		path  string
		rate  uint64
		ok    bool
	}{
		{"/dev/sda:1mb", true, "/dev/sda", 1 << 20, true},
		{"/dev/sda:512k", true, "/dev/sda", 512 << 10, true},
		{"/dev/sda:10", true, "/dev/sda", 10, true},
		{"/dev/sda:1gb", true, "/dev/sda", 1 << 30, true},
		{"/dev/sda:100", false, "/dev/sda", 100, true},
		{"/dev/sda:1mb", false, "", 0, false},
		{"/dev/sda:fast", true, "", 0, false},
		{"/dev/sda", true, "", 0, false},
		{"sda:1mb", true, "", 0, false},
		{"/dev/sda:", true, "", 0, false},
	}
	for _, c := range cases {
		path, rate, err := ParseDeviceRate("--x", c.in, c.bytes)
		if (err == nil) != c.ok || path != c.path || rate != c.rate {
			t.Errorf("ParseDeviceRate(%q, %v) = %q, %d, %v", c.in, c.bytes, path, rate, err)
		}
	}
}

func TestParseDevice(t *testing.T) {
	cases := map[string]DeviceRequest{
		"/dev/fuse":                 {"/dev/fuse", "/dev/fuse", "rwm"},
		"/dev/fuse:r":               {"/dev/fuse", "/dev/fuse", "r"},
		"/dev/zero:/dev/z":          {"/dev/zero", "/dev/z", "rwm"},
		"/dev/zero:/dev/z:rw":       {"/dev/zero", "/dev/z", "rw"},
		"/dev/zero:/dev/../dev/z:m": {"/dev/zero", "/dev/z", "m"},
	}
	for in, want := range cases {
		if got, err := ParseDevice(in); err != nil || got != want {
			t.Errorf("ParseDevice(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"dev/fuse", "/dev/zero:z", "/dev/zero:/dev/z:rwx", "/dev/zero:/dev/z:rr", "/a:/b:r:x", "/dev/zero:/"} {
		if _, err := ParseDevice(in); err == nil {
			t.Errorf("ParseDevice(%q) accepted", in)
		}
	}
	if !IsCDIName("nvidia.com/gpu=0") || IsCDIName("/dev/zero") || IsCDIName("/dev/a=b/c") {
		t.Error("IsCDIName")
	}
}

func TestParseDeviceCgroupRule(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	cases := map[string]specs.LinuxDeviceCgroup{
		"c 1:3 rwm":   {Allow: true, Type: "c", Major: i(1), Minor: i(3), Access: "rwm"},
		"b *:* r":     {Allow: true, Type: "b", Access: "r"},
		"a 10:* mw":   {Allow: true, Type: "a", Major: i(10), Access: "mw"},
		" c  7:0  m ": {Allow: true, Type: "c", Major: i(7), Minor: i(0), Access: "m"},
	}
	for in, want := range cases {
		got, err := ParseDeviceCgroupRule(in)
		if err != nil || deviceRuleText(got) != deviceRuleText(want) {
			t.Errorf("ParseDeviceCgroupRule(%q) = %s, %v; want %s", in, deviceRuleText(got), err, deviceRuleText(want))
		}
	}
	for _, in := range []string{"x 1:3 rwm", "c 1 rwm", "c 1:3", "c 1:3 rwx", "c -1:3 r", "c a:3 r", "cc 1:3 r"} {
		if _, err := ParseDeviceCgroupRule(in); err == nil {
			t.Errorf("ParseDeviceCgroupRule(%q) accepted", in)
		}
	}
}

func TestParseMemorySwap(t *testing.T) {
	limit := int64(64 << 20)
	if v, err := ParseMemorySwap("128m", &limit); err != nil || v != 128<<20 {
		t.Errorf("128m: %d, %v", v, err)
	}
	if v, err := ParseMemorySwap("-1", &limit); err != nil || v != -1 {
		t.Errorf("-1: %d, %v", v, err)
	}
	for _, bad := range []string{"32m", "lots"} {
		if _, err := ParseMemorySwap(bad, &limit); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := ParseMemorySwap("1g", nil); err == nil {
		t.Error("accepted without --memory")
	}
}

func TestApplyResourceOptions(t *testing.T) {
	swappiness := int64(10)
	s := Default("/", []string{"/bin/true"})
	o := RunOptions{Memory: "64m", ResourceOptions: ResourceOptions{
		MemorySwap: "-1", MemoryReservation: "32m", MemorySwappiness: &swappiness, OomKillDisable: true,
		CPUPeriod: 50000, CPUQuota: 25000, BlkioWeight: 300, CgroupnsMode: "host",
		DeviceCgroupRules: []string{"c 10:200 rwm"}, Devices: []string{"/dev/null:/dev/berthnull:r"},
	}}
	if err := applyResources(s, o); err != nil {
		t.Fatal(err)
	}
	r := s.Linux.Resources
	if *r.Memory.Swap != -1 || *r.Memory.Reservation != 32<<20 || *r.Memory.Swappiness != 10 || !*r.Memory.DisableOOMKiller {
		t.Errorf("memory = %+v", r.Memory)
	}
	if *r.CPU.Period != 50000 || *r.CPU.Quota != 25000 || *r.BlockIO.Weight != 300 {
		t.Errorf("cpu %+v blkio %+v", r.CPU, r.BlockIO)
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.CgroupNamespace {
			t.Error("--cgroupns host kept a cgroup namespace")
		}
	}
	found := false
	for _, d := range s.Linux.Devices {
		found = found || d.Path == "/dev/berthnull" && d.Major == 1 && d.Minor == 3
	}
	if !found {
		t.Errorf("devices = %+v", s.Linux.Devices)
	}
	n := len(r.Devices)
	if n < 2 || r.Devices[n-1].Access != "rwm" || r.Devices[n-2].Access != "r" {
		t.Errorf("device rules = %+v", r.Devices)
	}
	// --cpus with --cpu-quota is refused, as Docker does.
	o = RunOptions{CPUs: "1", ResourceOptions: ResourceOptions{CPUQuota: 50000}}
	if err := applyResources(Default("/", []string{"/bin/true"}), o); err == nil {
		t.Error("--cpus with --cpu-quota accepted")
	}
}

func deviceRuleText(r specs.LinuxDeviceCgroup) string {
	n := func(p *int64) string {
		if p == nil {
			return "*"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("%v %s %s:%s %s", r.Allow, r.Type, n(r.Major), n(r.Minor), r.Access)
}
