package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoMonitorHoldsNoHugePages: a Go monitor that stays for a container's
// life (here: a terminal) is started with the Go runtime's switch against
// transparent huge pages for its heap (GODEBUG=disablethp=1), or on a host
// whose THP mode is "always" it would hold a 2 MiB page all along. The
// environment is checked on every host; where the mode is "always", what
// the monitor holds is too.
func TestGoMonitorHoldsNoHugePages(t *testing.T) {
	needRoot(t)
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
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range bytes.Split(environ, []byte{0}) {
		found = found || string(v) == "GODEBUG=disablethp=1"
	}
	if !found {
		t.Errorf("the Go monitor's environment lacks GODEBUG=disablethp=1: %q", environ)
	}
	if mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err == nil && strings.Contains(string(mode), "[always]") {
		rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(rollup), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "AnonHugePages:" && f[1] != "0" {
				t.Errorf("the Go monitor holds huge pages: %s", line)
			}
		}
	}
	if r := berth(t, "", "rm", "-f", "gomon"); r.code != 0 {
		t.Fatalf("rm -f: %+v", r)
	}
	checkNoLeaks(t, before)
}
