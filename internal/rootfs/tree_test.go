package rootfs

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCgroupSources(t *testing.T) {
	v1 := []string{"cpu,cpuacct", "name=systemd", "pids"}
	want := []string{"/sys/fs/cgroup/cpu,cpuacct/libpod_parent/libpod-x", "/sys/fs/cgroup/systemd/libpod_parent/libpod-x", "/sys/fs/cgroup/pids/libpod_parent/libpod-x"}
	if got := cgroupSources(v1, "/libpod_parent/libpod-x"); !reflect.DeepEqual(got, want) {
		t.Errorf("v1: %q, want %q", got, want)
	}
	if got := cgroupSources(nil, "/berth/id"); !reflect.DeepEqual(got, []string{"/sys/fs/cgroup/berth/id"}) {
		t.Errorf("v2: %q", got)
	}
}

func TestMountsCgroups(t *testing.T) {
	if mountsCgroups([]Mount{{Type: "tmpfs"}, {Type: "proc"}, {Type: "cgroup", Flags: unix.MS_BIND | unix.MS_REC}}) {
		t.Error("no cgroup mount reported as one")
	}
	for _, typ := range []string{"cgroup", "cgroup2"} {
		if !mountsCgroups([]Mount{{Type: "tmpfs"}, {Type: typ}}) {
			t.Errorf("%s not seen", typ)
		}
	}
}
