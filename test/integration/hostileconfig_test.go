package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// hostDiskSecret is what the test's stand-in for a host disk holds.
const hostDiskSecret = "berth-host-secret"

// loopDevice attaches a file holding hostDiskSecret to a free loop
// device, a real block device standing for the host's disk (this host's
// own disk cannot be opened even by root, and the v2 VM has none), and
// returns its numbers.
func loopDevice(t *testing.T) (major, minor uint32) {
	t.Helper()
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		exec.Command("modprobe", "loop").Run()
	}
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("no loop devices: %v", err)
	}
	defer ctl.Close()
	backing, err := os.CreateTemp(t.TempDir(), "disk")
	if err != nil {
		t.Fatal(err)
	}
	defer backing.Close()
	if _, err := backing.Write(append([]byte(hostDiskSecret), make([]byte, 4096-len(hostDiskSecret))...)); err != nil {
		t.Fatal(err)
	}
	// Other tests may take the free device first: try again.
	for attempt := 0; attempt < 20; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			t.Fatalf("LOOP_CTL_GET_FREE: %v", err)
		}
		path := fmt.Sprintf("/dev/loop%d", n)
		var dev *os.File
		for i := 0; i < 50 && dev == nil; i++ {
			if dev, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
				time.Sleep(10 * time.Millisecond) // devtmpfs makes the node
			}
		}
		if dev == nil {
			t.Fatalf("open %s: %v", path, err)
		}
		if err := unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_SET_FD, int(backing.Fd())); err != nil {
			dev.Close()
			continue
		}
		t.Cleanup(func() {
			unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_CLR_FD, 0)
			dev.Close()
		})
		var st unix.Stat_t
		if err := unix.Fstat(int(dev.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		return unix.Major(st.Rdev), unix.Minor(st.Rdev)
	}
	t.Fatal("no free loop device")
	return 0, 0
}

// TestOCIDeviceCgroupWithoutRules: a config with no device rules (none
// listed, or no resources at all) still gets the device cgroup's deny-all
// plus the default devices, on v1 and v2: a container with CAP_MKNOD
// makes a node for the stand-in host disk, and opening it fails. The
// same container allowed that device by a rule reads it, so the denial is
// the device cgroup's doing.
func TestOCIDeviceCgroupWithoutRules(t *testing.T) {
	needRoot(t)
	major, minor := loopDevice(t)
	// The node is made in /dev: a nodev mount (the v2 VM's /tmp, where the
	// bundle is) would refuse it with EACCES whatever the cgroup says.
	script := fmt.Sprintf("mknod /dev/disk b %d %d || exit 9; head -c %d /dev/disk 2>&1; echo; head -c1 /dev/zero | wc -c",
		major, minor, len(hostDiskSecret))
	for _, c := range []struct {
		name string
		edit func(*specs.Spec)
		open bool
	}{
		{"no device rules", func(s *specs.Spec) { s.Linux.Resources.Devices = nil }, false},
		{"no resources", func(s *specs.Spec) { s.Linux.Resources = nil }, false},
		{"an allow rule for the disk", func(s *specs.Spec) {
			maj, min := int64(major), int64(minor)
			s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Type: "b", Major: &maj, Minor: &min, Access: "r"}}
		}, true},
	} {
		bundle := ociBundle(t, []string{"sh", "-c", script}, c.edit)
		r := oci(t, "run", "--bundle", bundle, "devices")
		if r.code != 0 {
			t.Errorf("%s: %+v", c.name, r)
			continue
		}
		read := strings.Contains(r.stdout, hostDiskSecret)
		if read != c.open {
			t.Errorf("%s: the container read the disk: %v, want %v (%q)", c.name, read, c.open, r.stdout)
		}
		if !c.open && !strings.Contains(r.stdout, "Operation not permitted") {
			t.Errorf("%s: opening the disk did not fail with EPERM: %q", c.name, r.stdout)
		}
		if !strings.HasSuffix(r.stdout, "\n1\n") {
			t.Errorf("%s: /dev/zero, a default device, is not readable: %q", c.name, r.stdout)
		}
	}
}

// TestOCIPidFileNotRedirected: a symlink planted where the pid file's
// temporary copy used to be written (pidfile.tmp, pointing at a host file)
// does not redirect the write; the pid file is a regular file with the PID.
func TestOCIPidFileNotRedirected(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	hostFile := filepath.Join(dir, "host-file")
	if err := os.WriteFile(hostFile, []byte("host content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "pidfile")
	if err := os.Symlink(hostFile, pidFile+".tmp"); err != nil {
		t.Fatal(err)
	}
	ociCreate(t, "pidfile", ociBundle(t, []string{"sleep", "1000"}, nil), "--pid-file", pidFile)
	if b, _ := os.ReadFile(hostFile); string(b) != "host content\n" {
		t.Errorf("the host file was overwritten through the planted link: %q", b)
	}
	if st, err := os.Lstat(pidFile); err != nil || !st.Mode().IsRegular() {
		t.Errorf("the pid file is not a regular file: %v %v", st, err)
	}
	if b, _ := os.ReadFile(pidFile); string(b) != strconv.Itoa(ociState(t, "pidfile").Pid) {
		t.Errorf("pid file holds %q, want the container's PID", b)
	}
	if st, err := os.Lstat(pidFile + ".tmp"); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the planted link was touched: %v %v", st, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".pidfile*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestStopNeverSignalsUnverifiedPid: berth stop signals a container's
// monitor (between two runs) only if the recorded PID still names the
// process that was recorded, by its start time. The record here names a
// host process in its place, as a recycled PID would: it survives.
func TestStopNeverSignalsUnverifiedPid(t *testing.T) {
	needRoot(t)
	victim := exec.Command("sleep", "1000")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		victim.Process.Kill()
		victim.Wait()
	}()
	id := strings.Repeat("ab", 32)
	dir := filepath.Join(storeRoot, "containers", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	rec := map[string]any{
		"Id": id, "Name": "recycled", "Created": time.Now().UTC(), "Args": []string{}, "RestartPolicy": map[string]any{"Name": "no"},
		// A monitor that started at boot: not the sleep that has its PID now.
		"State": map[string]any{"Status": "running", "Pid": victim.Process.Pid, "MonitorPid": victim.Process.Pid, "MonitorStart": 1},
	}
	b, _ := json.Marshal(rec)
	if err := os.WriteFile(filepath.Join(dir, "container.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	// The lifetime lock is held, as by a live monitor, and released
	// after a while so that stop returns.
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(3 * time.Second)
		lock.Close()
	}()
	if r, ok := within(t, 20*time.Second, berthCommand("stop", "-t", "1", id)); !ok {
		t.Fatalf("stop did not return: %+v", r)
	}
	time.Sleep(100 * time.Millisecond)
	if !isAlive(victim.Process.Pid) {
		t.Errorf("berth stop signalled PID %d, which the record names but which is another process now", victim.Process.Pid)
	}
}
