package container

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestWritePidFileIgnoresPlantedLinks: links planted at the old temporary
// name and at the pid file itself are not written through.
func TestWritePidFileIgnoresPlantedLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "host-file")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "pid")
	for _, name := range []string{path + ".tmp", path} {
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := writePidFile(path, 1234); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the link's target was written: %q", b)
	}
	if st, err := os.Lstat(path); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("pid file: %v %v", st, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "1234" {
		t.Errorf("pid file holds %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestWithDefaultDeviceRules(t *testing.T) {
	defaults := len(spec.DefaultDeviceRules()) - 1
	if r := withDefaultDeviceRules(nil); r == nil || len(r.Devices) != defaults {
		t.Errorf("no resources: %+v, want the %d default rules", r, defaults)
	}
	r := withDefaultDeviceRules(&specs.LinuxResources{Devices: spec.DefaultDeviceRules()[:1]})
	if len(r.Devices) != defaults+1 || r.Devices[0].Allow {
		t.Errorf("the config's rules come first, then the defaults: %+v", r.Devices)
	}
	// A config that lists them already (Docker's, berth's own) gets no
	// second copy: each rule is a write into the cgroup at every start.
	all := spec.DefaultDeviceRules()
	if r := withDefaultDeviceRules(&specs.LinuxResources{Devices: all}); len(r.Devices) != len(all) {
		t.Errorf("defaults listed already: %d rules, want %d: %+v", len(r.Devices), len(all), r.Devices)
	}
	// What a later rule could undo is appended again: after a deny of
	// /dev/null, its allow and that of mknod of any character device
	// (c *:* m covers it); everything after a rule of every type.
	major, minor := int64(1), int64(3)
	null := specs.LinuxDeviceCgroup{Type: "c", Major: &major, Minor: &minor, Access: "rwm"}
	r = withDefaultDeviceRules(&specs.LinuxResources{Devices: append(append([]specs.LinuxDeviceCgroup(nil), all...), null)})
	if len(r.Devices) != len(all)+3 || !sameDeviceRule(r.Devices[len(r.Devices)-2], all[1]) || !sameDeviceRule(r.Devices[len(r.Devices)-1], specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}) {
		t.Errorf("after a deny of /dev/null: %+v, want the allows of c *:* m and c 1:3 appended", r.Devices)
	}
	r = withDefaultDeviceRules(&specs.LinuxResources{Devices: append(append([]specs.LinuxDeviceCgroup(nil), all...), specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"})})
	if len(r.Devices) != len(all)+1+defaults {
		t.Errorf("after an allow of every device: %d rules, want %d", len(r.Devices), len(all)+1+defaults)
	}
}
