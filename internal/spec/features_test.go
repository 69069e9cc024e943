package spec

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestNamespacesFollowValidate: the reported namespaces are those a
// config may list, and a refused type is not reported.
func TestNamespacesFollowValidate(t *testing.T) {
	got := Namespaces()
	if !slices.IsSorted(got) || !slices.Contains(got, "user") || !slices.Contains(got, "cgroup") {
		t.Errorf("Namespaces() = %v", got)
	}
	for ty := range namespaceTypes {
		if slices.Contains(got, string(ty)) == (namespaceRefused(ty) != "") {
			t.Errorf("%s: reported %v, refused %q", ty, slices.Contains(got, string(ty)), namespaceRefused(ty))
		}
	}
	if slices.Contains(got, string(specs.TimeNamespace)) {
		t.Error("time namespaces are refused by Validate but reported")
	}
}
