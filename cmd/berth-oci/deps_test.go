package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestStartPackages: what berth-oci links for its start. internal/cpubusy,
// whose init gives the process one P when the CPUs are all taken (fifty
// starts at once), is imported for its side effect only, so nothing else
// would notice it gone; it once came through internal/hugeheap (since
// removed) and left with it.
func TestStartPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	const mod = "github.com/berth-runtime/berth/internal/"
	if !slices.Contains(deps, mod+"cpubusy") {
		t.Error("berth-oci does not link internal/cpubusy: fifty starts at once would each run two Ps")
	}
}
