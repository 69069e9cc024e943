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
// would notice it gone; it once came through internal/hugeheap and left
// with it. internal/hugeheap itself saved berth-oci no time for 2 MiB of
// peak RSS (docs/design.md, Process model).
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
	if slices.Contains(deps, mod+"hugeheap") {
		t.Error("berth-oci links internal/hugeheap: 2 MiB more peak RSS, and no time saved")
	}
}
