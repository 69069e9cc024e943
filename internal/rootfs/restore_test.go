package rootfs

import "testing"

func TestUnderTmpfs(t *testing.T) {
	mounts := []Mount{
		{Destination: "/dev", Type: "tmpfs"},
		{Destination: "/run/", Type: "tmpfs"},
		{Destination: "/data", Type: "tmpfs", Flags: 1 << 12}, // MS_BIND: not a tmpfs
		{Destination: "/sys", Type: "sysfs"},
	}
	for dest, want := range map[string]bool{
		"/dev": false, "/dev/pts": true, "dev/shm": true, "/devices": false,
		"/run/.containerenv": true, "/run": false, "/data/x": false, "/sys/fs/cgroup": false, "/": false,
	} {
		if got := underTmpfs(dest, mounts); got != want {
			t.Errorf("underTmpfs(%q) = %v, want %v", dest, got, want)
		}
	}
	if !underTmpfs("/a", []Mount{{Destination: "/", Type: "tmpfs"}}) {
		t.Error("a tmpfs root: /a is below it")
	}
}
