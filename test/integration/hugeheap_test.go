package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoMonitorHoldsNoHugePages: berth starts with its heap on huge pages
// (internal/hugeheap), but a Go monitor that stays for a container's life
// (here: a terminal) is started without them, or it would hold a 2 MiB one
// all along.
func TestGoMonitorHoldsNoHugePages(t *testing.T) {
	needRoot(t)
	// With "always" any process may get huge pages without asking.
	if mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || !strings.Contains(string(mode), "[madvise]") {
		t.Skip("transparent huge pages are not in madvise mode on this kernel")
	}
	before := snapshot(t)
	if r := berth(t, "", "run", "-d", "-t", "--name", "gomon", "--network", "none", "--rootfs", rootfsDir,
		"/bin/sh", "-c", "while :; do sleep 1; done"); r.code != 0 {
		t.Fatalf("run -d -t: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "gomon")
	pid := inspectState(t, "gomon").MonitorPid
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || filepath.Base(exe) != "berth" {
		t.Fatalf("the monitor of a container with a terminal runs %q (%v), want berth", exe, err)
	}
	rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(rollup), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "AnonHugePages:" && f[1] != "0" {
			t.Errorf("the Go monitor holds huge pages: %s", line)
		}
	}
	if r := berth(t, "", "rm", "-f", "gomon"); r.code != 0 {
		t.Fatalf("rm -f: %+v", r)
	}
	checkNoLeaks(t, before)
}
