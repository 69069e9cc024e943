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
}
