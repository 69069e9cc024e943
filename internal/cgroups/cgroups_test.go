package cgroups

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64 { return &v }

func TestDeviceRuleString(t *testing.T) {
	for _, c := range []struct {
		rule specs.LinuxDeviceCgroup
		want string
	}{
		{specs.LinuxDeviceCgroup{Access: "rwm"}, "a *:* rwm"},
		{specs.LinuxDeviceCgroup{Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}, "c 1:3 rwm"},
		{specs.LinuxDeviceCgroup{Type: "c", Major: i64(136), Access: "rw"}, "c 136:* rw"},
		{specs.LinuxDeviceCgroup{Type: "b", Major: i64(-1), Minor: i64(-1), Access: "m"}, "b *:* m"},
		{specs.LinuxDeviceCgroup{Type: "c", Major: i64(1), Minor: i64(5)}, "c 1:5 rwm"},
	} {
		if got := DeviceRuleString(c.rule); got != c.want {
			t.Errorf("DeviceRuleString(%+v) = %q, want %q", c.rule, got, c.want)
		}
	}
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 1, 2: 1, 1024: 39, 262144: 10000, 1 << 30: 10000} {
		if got := SharesToWeight(shares); got != want {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

func TestNewRejectsRootCgroup(t *testing.T) {
	for _, p := range []string{"/", "", "/../.."} {
		if _, err := New(p, nil); err == nil {
			t.Errorf("New(%q) accepted the root cgroup", p)
		}
	}
}

func TestPidsValue(t *testing.T) {
	if PidsValue(0) != "max" || PidsValue(-1) != "max" || PidsValue(64) != "64" {
		t.Error("PidsValue maps limits wrongly")
	}
}

func TestSystemdPath(t *testing.T) {
	for in, want := range map[string]string{
		"system.slice:docker:abc":        "/system.slice/docker-abc.scope",
		"machine-libpod.slice:libpod:c1": "/machine.slice/machine-libpod.slice/libpod-c1.scope",
		":berth:x":                       "/system.slice/berth-x.scope",
		"/plain/path":                    "/plain/path",
	} {
		if got, err := SystemdPath(in); err != nil || got != want {
			t.Errorf("SystemdPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := SystemdPath("nosuffix:p:n"); err == nil {
		t.Error("a slice without .slice was accepted")
	}
}

func TestIOStat(t *testing.T) {
	dir := t.TempDir()
	v2 := filepath.Join(dir, "io.stat")
	os.WriteFile(v2, []byte("8:0 rbytes=4096 wbytes=100 rios=1 wios=1 dbytes=0 dios=0\n259:0 rbytes=1 wbytes=2 rios=1\n"), 0o644)
	if r, w := ioStatV2(v2); r != 4097 || w != 102 {
		t.Errorf("v2: %d %d", r, w)
	}
	v1 := filepath.Join(dir, "blkio")
	os.WriteFile(v1, []byte("8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\nTotal 12288\n"), 0o644)
	if r, w := ioStatV1(v1); r != 4096 || w != 8192 {
		t.Errorf("v1: %d %d", r, w)
	}
}

func TestMountData(t *testing.T) {
	for dir, want := range map[string]string{
		"memory": "memory", "cpu,cpuacct": "cpu,cpuacct", "net_cls,net_prio": "net_cls,net_prio",
		"systemd": "name=systemd", "elogind": "name=elogind",
	} {
		if got := MountData(dir); got != want {
			t.Errorf("MountData(%q) = %q, want %q", dir, got, want)
		}
	}
}
