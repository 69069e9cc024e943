package rootfs

import (
	"reflect"
	"testing"
)

func TestKernelFSMounts(t *testing.T) {
	mountinfo := `22 1 0:21 / /proc rw,nosuid shared:5 - proc proc rw
23 1 0:22 / /sys rw shared:6 - sysfs sysfs rw
24 22 0:23 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw
25 1 0:21 /sys /mnt/procsys rw - proc proc rw
26 1 8:1 / /srv/ctr/rootfs rw - ext4 /dev/sda1 rw
27 26 0:30 / /srv/ctr/rootfs/proc rw - proc proc rw
28 26 0:31 / /srv/ctr/rootfs/sys ro - sysfs sysfs ro
29 1 0:32 / /with\040space rw - proc proc rw
30 1 0:33 / /srv/ctr/rootfs2 rw - sysfs sysfs rw
`
	got := kernelFSMounts(mountinfo, "/srv/ctr/rootfs")
	want := []string{"/proc", "/sys", "/with space", "/srv/ctr/rootfs2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kernelFSMounts = %q, want %q (whole procfs/sysfs outside the rootfs only)", got, want)
	}
}
